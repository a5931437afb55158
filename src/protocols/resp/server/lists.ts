/**
 * Redis lists over engine topics: list `k` is topic `k` consumed by group 'default' (the group
 * every protocol's queue consumers share), so `LPUSH q` / `RPOP q` and an AMQP queue `q` are one
 * queue.
 *
 * A Redis list is a deque; the engine's log is append-only with consumption at the oldest end.
 * Each key has an *orientation*: the end whose pushes append to the log (the "tail"). The other
 * end is the "head", where the oldest ready message is:
 *
 *   orientation 'L' (default): LPUSH appends, RPOP/BRPOP take the oldest → LPUSH+RPOP is FIFO
 *   orientation 'R':           RPUSH appends, LPOP/BLPOP take the oldest → RPUSH+LPOP is FIFO
 *
 * The first push to an empty list sets the orientation (persisted in meta/resp only when it
 * flips), so both FIFO idioms run at log speed: a push is one append, a pop of n elements is one
 * `Group.takeBatch(n)` (remove and settle, no lease). A message published by another protocol is
 * appended to the log, i.e. pushed at the tail.
 *
 * Popping at the tail (LIFO use: LPUSH+LPOP, RPUSH+RPOP) takes the newest messages off the
 * log's end (`Group.takeNewest`): a decode and a settle per element, like a head pop.
 *
 * Everything else edits the deque elsewhere and is served by a *rewrite* under the key's lock:
 * pushing at the head, a tail pop when the tail is not plain (messages returned by another
 * protocol, delayed or expiring ones, priority lanes) or for LMOVE, LSET, LREM, LINSERT, LTRIM.
 * A rewrite takes every ready message (`get()` leases), appends the new list as one batch, then
 * acks the old messages — a crash in between duplicates the list, never loses it. Cost: O(n)
 * reads and one O(n) append per operation (about 1 µs per element in memory): correct, not fast.
 *
 * Read-only views (LRANGE, LINDEX, LPOS) are the group's ready messages in delivery order
 * (`Group.peekReady`): messages another protocol returned to the queue (nack/requeue) are at the
 * head, where the next pop takes them; leased ones are not shown. LLEN is the ready count.
 *
 * It does NOT implement TTLs on keys, or lists longer than memory for rewrites (a rewrite holds
 * the whole list in memory).
 */
import type { Engine } from '../../../engine/engine.js';
import type { BodyVisitor, DeliveryImpl, Group } from '../../../engine/group.js';
import { decodeBatch, FORMAT_NATIVE, type DecodedRecord, type RecordInput } from '../../../engine/record.js';
import { DEFAULT_GROUP, type Lane } from '../../../engine/topic.js';
import type { ReadLease } from '../../../engine/storage/types.js';
import type { RespMeta } from './meta.js';
import { KeyLocks } from './mutex.js';

export type End = 'L' | 'R';

/** A value to push: a client's bytes, or a record moved from another list (keeps its properties). */
export type ListValue = Buffer | DecodedRecord;

function toInput(v: ListValue, now: number): RecordInput {
  if (Buffer.isBuffer(v)) return { body: v, timestamp: now, priority: 0 };
  // Priority 0 keeps the rewritten list in one lane, i.e. in the order it was written.
  return { body: v.body, key: v.key, headers: v.headers, timestamp: v.timestamp, priority: 0, props: v.props, propsFormat: v.propsFormat };
}

export function bodyOf(v: ListValue): Buffer {
  return Buffer.isBuffer(v) ? v : v.body;
}

export interface BlockHandle {
  cancel(): void;
}

export class Lists {
  readonly locks = new KeyLocks();
  readonly #blocked = new Map<string, KeyWaiters>();

  constructor(
    private readonly engine: Engine,
    private readonly meta: RespMeta,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** The end whose pushes append to the log. */
  tail(key: string): End {
    return this.meta.orient.get(key) ?? 'L';
  }

  existingGroup(key: string): Group | undefined {
    const g = this.engine.getTopic(key)?.groups.get(DEFAULT_GROUP);
    return g && !g.closed ? g : undefined;
  }

  async group(key: string): Promise<Group> {
    return this.existingGroup(key) ?? (await this.engine.group(key, DEFAULT_GROUP));
  }

  /** Ready messages (LLEN). A topic without the default group counts its whole log. */
  length(key: string): number {
    const t = this.engine.getTopic(key);
    if (!t) return 0;
    const g = t.groups.get(DEFAULT_GROUP);
    if (g && !g.closed) return g.readyCount;
    let n = 0;
    for (const lane of t.lanes.values()) n += lane.store.endOffset - lane.store.startOffset;
    return n;
  }

  #append(key: string, values: readonly ListValue[]): Promise<unknown> {
    const now = Date.now();
    return this.engine.publish(key, values.map((v) => toInput(v, now)), { partition: 0 });
  }

  // --- pushes -----------------------------------------------------------------------------------

  /**
   * LPUSH/RPUSH (and the X variants): returns the new length (0 for X on a missing list).
   *
   * Pushes from different clients to one key while an earlier operation holds its lock are
   * combined: the first queues a batch, later ones (same end) join it until it starts, and the
   * batch runs as ONE push of all their values (one append, one durability wait), each caller
   * getting the length after its own values. On file:// a push holds the lock through its
   * durability wait, so without this 50 pipelining clients were served one write at a time.
   * Joining is only possible while the batch waits, i.e. it is concurrent with everything it
   * overtakes, so the combined order is one a client could observe anyway. `values` must be an
   * array the caller does not use afterwards: the batch may keep it and append to it.
   */
  push(key: string, end: End, values: ListValue[], onlyIfExists = false): Promise<number> {
    if (onlyIfExists) return this.locks.run(key, () => this.pushLocked(key, end, values, true));
    // Nothing runs on the key: no batch can be waiting for its lock either (a batch is taken out
    // of #pushBatches when it starts, and it waits only while the lock is held), so nobody could
    // join this push before it starts. It runs at once without a batch: the usual case for a
    // client sending one command per round trip (one object, two promise reactions and a map
    // insert and delete less per push).
    if (!this.locks.isLocked(key)) return this.locks.run(key, () => this.pushLocked(key, end, values));
    const count = values.length;
    const open = this.#pushBatches.get(key);
    if (open !== undefined && open.end === end) {
      // A loop, not push(...values): a spread of 100,000+ values overflows the call stack.
      const all = open.values;
      for (let i = 0; i < count; i++) all.push(values[i]!);
      const after = all.length;
      return open.done.then((base) => base + after);
    }
    // `values` is the caller's fresh array (an argument slice): the batch keeps it rather than a
    // copy, and joiners append to it (1,000-value LPUSH: one 8 KB array less per command).
    const batch: PushBatch = { end, values, done: undefined! };
    this.#pushBatches.set(key, batch);
    batch.done = this.locks.run(key, async () => {
      if (this.#pushBatches.get(key) === batch) this.#pushBatches.delete(key);
      // The length before the batch: each caller adds the count up to and including its values.
      return (await this.pushLocked(key, end, batch.values)) - batch.values.length;
    });
    return batch.done.then((base) => base + count);
  }

  /** Push batches waiting for their key's lock, open for joining (see push()). */
  readonly #pushBatches = new Map<string, PushBatch>();

  /** push() with the key's lock already held. */
  pushLocked(key: string, end: End, values: readonly ListValue[], onlyIfExists = false): Promise<number> {
    const n = this.length(key);
    if (onlyIfExists && n === 0) return Promise.resolve(0);
    // The usual push, appending at the log's tail of a key that has its group (an empty list
    // whose orientation is already this end needs no orientation record either): one promise
    // reaction between the engine's publish and the reply, not an async function's three.
    if (end === this.tail(key) && this.existingGroup(key) !== undefined) {
      const len = n + values.length;
      return this.#append(key, values).then(() => len);
    }
    return this.#pushSlow(key, end, values, n);
  }

  async #pushSlow(key: string, end: End, values: readonly ListValue[], n: number): Promise<number> {
    const g = this.existingGroup(key) ?? (await this.group(key));
    let tail = this.tail(key);
    if (n === 0 && g.readyCount === 0 && tail !== end) {
      // First push to an empty list decides which end is the log's tail; durable before the data.
      await this.meta.write({ t: 'orient', k: key, o: end }, true);
      tail = end;
    }
    if (end === tail) await this.#append(key, values);
    else await this.#rewrite(key, g, (old) => [...[...values].reverse(), ...old]);
    return n + values.length;
  }

  // --- pops -------------------------------------------------------------------------------------

  /**
   * Pops up to `count` elements from `end`. `beforeAck` runs after the elements are chosen and
   * before they are acknowledged (LMOVE pushes to its destination there: a crash duplicates an
   * element rather than losing it). Returns [] when the list is empty.
   */
  pop(key: string, end: End, count: number, beforeAck?: (vals: DecodedRecord[]) => Promise<unknown>): Promise<DecodedRecord[]> {
    if (beforeAck) return this.locks.run(key, () => this.popLocked(key, end, count, beforeAck));
    // An idle key: nothing to join (see push()); the pop runs at once, without a batch.
    if (!this.locks.isLocked(key)) return this.locks.run(key, () => this.popLocked(key, end, count));
    // Pops from different clients waiting for the key's lock are combined like pushes (see
    // push()): one pop of their total count, handed out in the order they joined.
    const open = this.#popBatches.get(key);
    if (open !== undefined && open.end === end) {
      const from = open.total;
      open.total += count;
      return open.done.then((all) => all.slice(from, from + count));
    }
    const batch: PopBatch = { end, total: count, done: undefined! };
    this.#popBatches.set(key, batch);
    batch.done = this.locks.run(key, () => {
      if (this.#popBatches.get(key) === batch) this.#popBatches.delete(key);
      return this.popLocked(key, end, batch.total);
    });
    return batch.done.then((all) => (all.length > count ? all.slice(0, count) : all));
  }

  /**
   * pop() with each body handed to `visit` as a byte range, for a caller that writes them out
   * (RPOP's reply). The usual pop (an idle key, popped at its head) takes them undecoded
   * (Group.takeBodies); any other goes through pop() and hands over its records' bodies. Resolves
   * with how many were popped; the ranges stay valid until the leases pushed to `holds` are
   * released.
   */
  popBodies(key: string, end: End, count: number, visit: BodyVisitor, holds: ReadLease[]): Promise<number> {
    if (count > 0 && !this.locks.isLocked(key)) {
      const g = this.existingGroup(key);
      if (g !== undefined && end !== this.tail(key)) return this.locks.run(key, () => g.takeBodies(count, visit, holds));
    }
    return this.pop(key, end, count).then((vals) => {
      for (const v of vals) visit(v.body, 0, v.body.byteLength);
      return vals.length;
    });
  }

  /** Pop batches waiting for their key's lock, open for joining (see pop()). */
  readonly #popBatches = new Map<string, PopBatch>();

  popLocked(key: string, end: End, count: number, beforeAck?: (vals: DecodedRecord[]) => Promise<unknown>): Promise<DecodedRecord[]> {
    const n = this.length(key);
    if (n === 0 || count <= 0) return Promise.resolve([]);
    // The usual pop, at the head of an existing list: the group's takeBatch is the whole
    // operation, returned as it is (no async function around it).
    const g = this.existingGroup(key);
    if (g !== undefined && beforeAck === undefined && end !== this.tail(key)) return g.takeBatch(count);
    return this.#popSlow(key, end, count, beforeAck, n);
  }

  async #popSlow(key: string, end: End, count: number, beforeAck: ((vals: DecodedRecord[]) => Promise<unknown>) | undefined, n: number): Promise<DecodedRecord[]> {
    const g = this.existingGroup(key) ?? (await this.group(key));
    const tail = this.tail(key);
    if (end !== tail) return this.#popHead(g, count, beforeAck);
    if (n <= 1 || count >= n) {
      // Popping everything from the tail is popping everything from the head, reversed.
      const all = await this.#popHead(g, count, beforeAck, true);
      return all;
    }
    // Popping at the tail (a stack): the newest messages come off the log's end when it is plain.
    if (!beforeAck) {
      const newest = await g.takeNewest(count);
      if (newest !== undefined) return newest;
    }
    let taken: DecodedRecord[] = [];
    await this.#rewrite(
      key,
      g,
      (old) => {
        taken = old.slice(Math.max(0, old.length - count)).reverse();
        return old.slice(0, Math.max(0, old.length - count));
      },
      beforeAck ? () => beforeAck(taken) : undefined,
    );
    return taken;
  }

  async #popHead(g: Group, count: number, beforeAck: ((vals: DecodedRecord[]) => Promise<unknown>) | undefined, reverse = false): Promise<DecodedRecord[]> {
    if (!beforeAck) {
      if (!reverse) return g.takeBatch(count);
      return (await g.takeBatch(count)).reverse();
    }
    // A move (LMOVE) must be able to give the elements back if the push to its destination
    // fails: lease them, push, then ack.
    const ds: DeliveryImpl[] = [];
    while (ds.length < count) {
      const d = await g.get();
      if (!d) break;
      ds.push(d);
    }
    const recs = ds.map((d) => d.rec);
    if (reverse) recs.reverse();
    if (recs.length > 0) {
      try {
        await beforeAck(recs);
      } catch (e) {
        for (const d of ds) await d.nack();
        throw e;
      }
    }
    for (const d of ds) await d.ack();
    return recs;
  }

  // --- rewrites ---------------------------------------------------------------------------------

  /**
   * Replaces the whole ready list (head→tail order) by fn's result; null = unchanged (messages go
   * back in their order). Lock held by the caller.
   */
  async #rewrite(key: string, g: Group, fn: (old: DecodedRecord[]) => ListValue[] | null, beforeAck?: () => Promise<unknown>): Promise<void> {
    const ds: DeliveryImpl[] = [];
    for (;;) {
      const d = await g.get();
      if (!d) break;
      ds.push(d);
    }
    let next: ListValue[] | null;
    try {
      next = fn(ds.map((d) => d.rec));
      if (next !== null && next.length > 0) await this.#append(key, next);
      if (next !== null && beforeAck) await beforeAck();
    } catch (e) {
      for (const d of ds) await d.nack();
      throw e;
    }
    if (next === null) {
      for (const d of ds) await d.nack();
      return;
    }
    for (const d of ds) await d.ack();
  }

  /** Edits the list in left→right terms: fn gets the elements and returns the new list or null. */
  edit<T>(key: string, fn: (lr: DecodedRecord[]) => { list: ListValue[] | null; result: T }): Promise<T | undefined> {
    return this.locks.run(key, async () => {
      if (this.length(key) === 0) return undefined;
      const g = this.existingGroup(key) ?? (await this.group(key));
      const headIsLeft = this.tail(key) === 'R';
      let result: T | undefined;
      await this.#rewrite(key, g, (ht) => {
        const lr = headIsLeft ? ht : [...ht].reverse();
        const r = fn(lr);
        result = r.result;
        if (r.list === null) return null;
        return headIsLeft ? r.list : [...r.list].reverse();
      });
      return result;
    });
  }

  // --- read-only view ---------------------------------------------------------------------------

  /** Ready elements left→right (LRANGE/LINDEX/LPOS). `limit` bounds how many are read from the head. */
  view(key: string): Promise<DecodedRecord[]> {
    return this.locks.run(key, async () => {
      const ht = await this.#readReady(key);
      return this.tail(key) === 'R' ? ht : ht.reverse();
    });
  }

  async #readReady(key: string): Promise<DecodedRecord[]> {
    const t = this.engine.getTopic(key);
    if (!t) return [];
    const g = this.existingGroup(key);
    const out: DecodedRecord[] = [];
    if (!g) {
      for (const lane of t.lanes.values()) await readLane(lane.store, lane.start, out);
      return out;
    }
    return g.peekReady();
  }

  // --- blocking ---------------------------------------------------------------------------------

  /**
   * Blocking pops (BLPOP/BRPOP/BLMPOP/BLMOVE/BRPOPLPUSH): runs `attempt` (the non-blocking form)
   * and, while it finds nothing, waits for a message on any of `keys`. Waiting is an engine group
   * consumer (prefetch 1) on each key, so a publish through any protocol wakes the waiter with no
   * polling. A message delivered to the waiter at the head end is the popped element itself
   * (`direct` settles it); otherwise (tail end, or no `direct`) it is returned to the queue in
   * place and `attempt` runs again.
   *
   * timeoutMs: 0 = forever, < 0 = do not wait (inside MULTI). Clients blocked on one key are
   * served in the order they blocked (one shared consumer per key, see #waiters).
   */
  async blocking<T>(
    keys: readonly string[],
    end: End,
    timeoutMs: number,
    register: (h: BlockHandle | undefined) => void,
    attempt: () => Promise<T | null>,
    direct: ((key: string, d: DeliveryImpl) => Promise<T>) | undefined,
  ): Promise<T | null> {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    for (;;) {
      const r = await attempt();
      if (r !== null) return r;
      if (timeoutMs < 0 || Date.now() >= deadline) return null;
      const woke = await this.#wait(keys, end, deadline, register, direct !== undefined);
      if (woke === null) return null;
      if (woke === 'retry') continue;
      try {
        return await this.locks.run(woke.key, () => direct!(woke.key, woke.d));
      } catch (e) {
        if (woke.d.state === 0) await woke.d.nack();
        throw e;
      } finally {
        woke.release();
      }
    }
  }

  async #wait(
    keys: readonly string[],
    end: End,
    deadline: number,
    register: (h: BlockHandle | undefined) => void,
    allowDirect: boolean,
  ): Promise<Woken | 'retry' | null> {
    const queues: KeyWaiters[] = [];
    for (const key of keys) queues.push(await this.#waiters(key));
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w: Waiter = {
        done: false,
        end,
        allowDirect,
        finish: (v) => {
          if (w.done) return;
          w.done = true;
          if (timer) clearTimeout(timer);
          register(undefined);
          for (const q of queues) this.#leave(q, w);
          resolve(v);
        },
      };
      register({ cancel: () => w.finish(null) });
      if (deadline !== Infinity) timer = setTimeout(() => w.finish(null), Math.max(0, deadline - Date.now()));
      for (const q of queues) q.fifo.push(w);
    });
  }

  /**
   * The waiters of one key: a FIFO of blocked clients sharing ONE engine consumer (prefetch 1) on
   * the key's group, so each delivery goes to the client that blocked first, as Redis serves
   * blocked clients (per-client consumers would get the group's round-robin order instead).
   */
  async #waiters(key: string): Promise<KeyWaiters> {
    const existing = this.#blocked.get(key);
    if (existing && !existing.g.closed) return existing;
    const g = this.existingGroup(key) ?? (await this.group(key));
    const again = this.#blocked.get(key);
    if (again && !again.g.closed) return again;
    const q: KeyWaiters = { key, g, fifo: [], consumer: undefined, outstanding: 0 };
    q.consumer = g.addConsumer({ prefetch: 1, push: (d: DeliveryImpl) => this.#deliver(q, d) });
    this.#blocked.set(key, q);
    return q;
  }

  #deliver(q: KeyWaiters, d: DeliveryImpl): void {
    let w: Waiter | undefined;
    while ((w = q.fifo[0]) && w.done) q.fifo.shift();
    if (!w) {
      d.nack().catch(this.onError);
      this.#maybeClose(q);
      return;
    }
    // At the head end this delivery is the element; at the tail end (with others ready) it goes
    // back and the waiter retries a normal pop (a rewrite).
    if (w.allowDirect && (this.tail(q.key) !== w.end || this.length(q.key) === 0)) {
      q.outstanding++;
      w.finish({
        key: q.key,
        d,
        release: () => {
          q.outstanding--;
          this.#maybeClose(q);
        },
      });
      return;
    }
    const waiter = w;
    waiter.finish('retry');
    d.nack().catch(this.onError);
  }

  #leave(q: KeyWaiters, w: Waiter): void {
    const i = q.fifo.indexOf(w);
    if (i >= 0) q.fifo.splice(i, 1);
    this.#maybeClose(q);
  }

  /** Drops the key's consumer once nobody waits and its delivery (if any) is settled. */
  #maybeClose(q: KeyWaiters): void {
    if (q.fifo.length > 0 || q.outstanding > 0 || !q.consumer) return;
    if (this.#blocked.get(q.key) === q) this.#blocked.delete(q.key);
    const c = q.consumer;
    q.consumer = undefined;
    if (!q.g.closed) q.g.removeConsumer(c);
  }
}

interface PopBatch {
  readonly end: End;
  total: number;
  done: Promise<DecodedRecord[]>;
}

interface PushBatch {
  readonly end: End;
  readonly values: ListValue[];
  done: Promise<number>;
}

interface Woken {
  key: string;
  d: DeliveryImpl;
  release: () => void;
}

interface Waiter {
  done: boolean;
  readonly end: End;
  readonly allowDirect: boolean;
  finish(v: Woken | 'retry' | null): void;
}

interface KeyWaiters {
  readonly key: string;
  readonly g: Group;
  /** Blocked clients in the order they blocked (finished ones are skipped lazily). */
  readonly fifo: Waiter[];
  consumer: ReturnType<Group['addConsumer']> | undefined;
  /** Deliveries handed to a waiter and not yet settled (the consumer must stay until then). */
  outstanding: number;
}

/** Reads every record of one lane from `from` (a topic no group consumes yet). */
async function readLane(store: Lane['store'], from: number, out: DecodedRecord[]): Promise<void> {
  let off = from;
  while (off < store.endOffset) {
    const batches = await store.read(off, 1 << 20);
    if (batches.length === 0) break;
    const before = off;
    for (const b of batches) {
      const next = b.baseOffset + b.count;
      if (next <= off) continue;
      if (b.format === FORMAT_NATIVE) decodeBatch(b.payload, b.baseOffset, b.count, off, (r) => out.push(r));
      off = next;
    }
    if (off === before) break;
  }
}
