/**
 * The in-memory keyspace for Redis's small data types: strings, hashes, sets and sorted sets —
 * what queue libraries keep beside their queues (kombu's `_kombu.binding.*` sets and its unacked
 * hash + sorted-set index, redis-py locks, celery's results and chord counters).
 *
 * These values are small and few, so they live in memory (lists and streams are engine topics
 * and never live here). On durable storage every mutation is appended to a small op log,
 * `meta/resp-kv`, on the engine's storage (like meta.ts; not a topic, invisible to other
 * protocols), replayed at startup; a snapshot record replaces the history every 4096 ops or when
 * the ops since the last snapshot exceed 2× its size (min 1 MiB), so replay costs O(live data).
 * Durability is group-committed: a reply is sent when the op is appended, its fsync follows in
 * the same event-loop turn (a crash can lose the last few milliseconds of writes — Redis's
 * default `appendfsync everysec` loses up to a second).
 *
 * Memory: every entry's size is estimated (key + payload bytes + a fixed per-element overhead:
 * 48 B per key, 32 B per hash field, 24 B per set member, 48 B per zset member) and the total is
 * bounded by `maxBytes` (OMNIBUS_RESP_MAXMEMORY, default 256 MiB): commands that may grow memory
 * are refused with Redis's `-OOM` error above it (noeviction policy; nothing is evicted).
 *
 * Expiry: absolute ms deadlines read from an injected clock; one deadline heap and one timer for
 * active expiry, plus lazy expiry on every access. An expired key is deleted (and the deletion
 * logged), as Redis propagates a DEL.
 *
 * Sorted sets are a member→score map plus an array sorted by (score, member) with binary-search
 * insertion: O(log n) lookups, O(n) inserts — fine for the thousands of members queue libraries
 * keep (kombu's unacked index holds at most the prefetch count of every consumer), not for
 * millions (Redis's skiplist is O(log n)).
 *
 * It does NOT hold lists or streams, does not evict, and keys are UTF-8 strings like every RESP
 * key here (field and member names and values are binary-safe: kept as latin1 strings/Buffers).
 */
import type { Engine } from '../../../engine/engine.js';
import { DeadlineHeap } from '../../../engine/deadline-heap.js';
import { FORMAT_NATIVE } from '../../../engine/record.js';
import type { PartitionStore } from '../../../engine/storage/types.js';

export type KvType = 'string' | 'hash' | 'set' | 'zset';

export interface ZItem {
  m: string;
  s: number;
}

/** (score, member) order as Redis sorts: by score, then member bytes. */
export function zcmp(a: ZItem, b: ZItem): number {
  if (a.s !== b.s) return a.s < b.s ? -1 : 1;
  return a.m < b.m ? -1 : a.m > b.m ? 1 : 0;
}

/** A sorted set: member→score plus the members sorted by (score, member). */
export class ZSet {
  readonly scores = new Map<string, number>();
  readonly sorted: ZItem[] = [];

  get size(): number {
    return this.scores.size;
  }

  /** Index of the first item >= it. */
  #lower(it: ZItem): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (zcmp(this.sorted[mid]!, it) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sets a member's score; returns true if the member is new. */
  set(m: string, s: number): boolean {
    const old = this.scores.get(m);
    if (old !== undefined) {
      if (old === s) return false;
      this.sorted.splice(this.#lower({ m, s: old }), 1);
    }
    this.scores.set(m, s);
    this.sorted.splice(this.#lower({ m, s }), 0, { m, s });
    return old === undefined;
  }

  delete(m: string): boolean {
    const old = this.scores.get(m);
    if (old === undefined) return false;
    this.scores.delete(m);
    this.sorted.splice(this.#lower({ m, s: old }), 1);
    return true;
  }

  /** 0-based rank of a member in ascending order. */
  rank(m: string): number | undefined {
    const s = this.scores.get(m);
    return s === undefined ? undefined : this.#lower({ m, s });
  }

  /** First index with score >= min (or > min when exclusive). */
  firstAtLeast(min: number, exclusive: boolean): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const s = this.sorted[mid]!.s;
      if (exclusive ? s <= min : s < min) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index just past the last item with score <= max (or < max when exclusive). */
  endAtMost(max: number, exclusive: boolean): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const s = this.sorted[mid]!.s;
      if (exclusive ? s < max : s <= max) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export interface KvEntry {
  type: KvType;
  value: Buffer | Map<string, Buffer> | Set<string> | ZSet;
  /** Absolute expiry (ms); 0 = none. */
  expireAt: number;
  /** Estimated memory (see the module comment). */
  bytes: number;
}

const KEY_OVERHEAD = 48;
const HASH_FIELD_OVERHEAD = 32;
const SET_MEMBER_OVERHEAD = 24;
const ZSET_MEMBER_OVERHEAD = 48;
const SNAPSHOT_EVERY = 4096;
const MIN_SNAPSHOT_TRIGGER_BYTES = 1024 * 1024;

export const DEFAULT_MAXMEMORY = 256 * 1024 * 1024;

/** One op of the log. Binary values are base64; scores are numbers or 'inf'/'-inf'. */
type Op =
  | { o: 'set'; k: string; v: string; x: number }
  | { o: 'del'; k: string }
  | { o: 'hset'; k: string; f: string[] }
  | { o: 'hdel'; k: string; f: string[] }
  | { o: 'sadd'; k: string; m: string[] }
  | { o: 'srem'; k: string; m: string[] }
  | { o: 'zadd'; k: string; m: [string, number | string][] }
  | { o: 'zrem'; k: string; m: string[] }
  | { o: 'exp'; k: string; x: number }
  | { o: 'ren'; k: string; d: string }
  | { o: 'flush' }
  | { o: 'snap'; e: [string, KvType, number, unknown][] };

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('latin1');
const encScore = (n: number): number | string => (Number.isFinite(n) ? n : n > 0 ? 'inf' : '-inf');
const decScore = (v: number | string): number => (typeof v === 'number' ? v : v === 'inf' ? Infinity : -Infinity);

export interface KeyspaceOptions {
  /** Clock (ms) for expiry; default Date.now. */
  now?: () => number;
  maxBytes?: number;
  /** Called with every key whose value changed (WATCH). */
  onTouch?: (key: string) => void;
  onError?: (e: unknown) => void;
}

export class Keyspace {
  readonly #map = new Map<string, KvEntry>();
  readonly #heap = new DeadlineHeap<{ due: number; key: string }>();
  #timer: NodeJS.Timeout | undefined;
  #timerDue = Infinity;
  #used = 0;
  #expiring = 0;
  readonly now: () => number;
  maxBytes: number;
  onTouch: (key: string) => void;
  readonly #onError: (e: unknown) => void;
  #log: PartitionStore | undefined;
  #opsSince = 0;
  #bytesSince = 0;
  #lastSnapBytes = 0;
  #snapshotting = false;
  #durableQueued = false;
  #replaying = false;

  constructor(opts: KeyspaceOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAXMEMORY;
    this.onTouch = opts.onTouch ?? (() => {});
    this.#onError = opts.onError ?? (() => {});
  }

  /** Opens (and replays) the op log on a persistent engine; in-memory engines keep no log. */
  static async open(engine: Engine, opts: KeyspaceOptions = {}): Promise<Keyspace> {
    const ks = new Keyspace(opts);
    if (!engine.storage.persistent) return ks;
    const log = await engine.storage.open('meta/resp-kv', { fsync: engine.fsync, segmentBytes: 4 * 1024 * 1024 });
    ks.#replaying = true;
    try {
      for (let off = log.startOffset; off < log.endOffset; ) {
        const batches = await log.read(off, 1 << 22);
        if (batches.length === 0) break;
        for (const b of batches) {
          if (b.baseOffset >= off && b.format === FORMAT_NATIVE) {
            ks.#apply(JSON.parse(b.payload.toString('utf8')) as Op);
            ks.#opsSince++;
            ks.#bytesSince += b.payload.length;
          }
          off = b.baseOffset + b.count;
        }
      }
    } finally {
      ks.#replaying = false;
    }
    ks.#log = log;
    // Keys that expired while the broker was down go now (logged, so the next replay agrees);
    // the others get their heap entries (replay does not arm the timer).
    for (const [k, e] of [...ks.#map]) {
      if (e.expireAt === 0) continue;
      if (e.expireAt <= ks.now()) ks.delete(k);
      else ks.#heap.push({ due: e.expireAt, key: k });
    }
    ks.#arm();
    return ks;
  }

  get used(): number {
    return this.#used;
  }

  get size(): number {
    return this.#map.size;
  }

  get expiringCount(): number {
    return this.#expiring;
  }

  /** True when a command that may grow memory must be refused (noeviction). */
  get overLimit(): boolean {
    return this.#used > this.maxBytes;
  }

  // --- reads ------------------------------------------------------------------------------------

  /** The live entry of `key` (lazily expiring it), or undefined. */
  get(key: string): KvEntry | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    if (e.expireAt !== 0 && e.expireAt <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return e;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  typeOf(key: string): KvType | undefined {
    return this.get(key)?.type;
  }

  keys(): string[] {
    const out: string[] = [];
    const now = this.now();
    for (const [k, e] of this.#map) if (e.expireAt === 0 || e.expireAt > now) out.push(k);
    return out;
  }

  // --- whole-key writes -------------------------------------------------------------------------

  /** SET: replaces any value; `expireAt` 0 = no expiry, -1 = keep the current one (KEEPTTL). */
  setString(key: string, v: Buffer, expireAt: number): void {
    const old = this.get(key);
    const x = expireAt === -1 ? (old?.expireAt ?? 0) : expireAt;
    if (old) this.#remove(key, old);
    const e: KvEntry = { type: 'string', value: Buffer.from(v), expireAt: 0, bytes: KEY_OVERHEAD + Buffer.byteLength(key) + v.length };
    this.#insert(key, e);
    this.#setExpiry(key, e, x);
    this.#write({ o: 'set', k: key, v: v.toString('base64'), x });
    this.onTouch(key);
  }

  delete(key: string): boolean {
    const e = this.#map.get(key);
    if (!e) return false;
    this.#remove(key, e);
    this.#write({ o: 'del', k: key });
    this.onTouch(key);
    return true;
  }

  /** Sets (at > 0) or removes (at 0) a key's expiry. A deadline in the past deletes the key. */
  expire(key: string, at: number): boolean {
    const e = this.get(key);
    if (!e) return false;
    if (at !== 0 && at <= this.now()) {
      this.delete(key);
      return true;
    }
    this.#setExpiry(key, e, at);
    this.#write({ o: 'exp', k: key, x: at });
    this.onTouch(key);
    return true;
  }

  rename(src: string, dst: string): boolean {
    const e = this.get(src);
    if (!e) return false;
    if (src === dst) return true;
    const old = this.#map.get(dst);
    if (old) this.#remove(dst, old);
    this.#remove(src, e);
    const keyDelta = Buffer.byteLength(dst) - Buffer.byteLength(src);
    e.bytes += keyDelta;
    const x = e.expireAt;
    e.expireAt = 0;
    this.#insert(dst, e);
    this.#setExpiry(dst, e, x);
    this.#write({ o: 'ren', k: src, d: dst });
    this.onTouch(src);
    this.onTouch(dst);
    return true;
  }

  flush(): void {
    const keys = [...this.#map.keys()];
    this.#map.clear();
    this.#used = 0;
    this.#expiring = 0;
    this.#write({ o: 'flush' });
    for (const k of keys) this.onTouch(k);
  }

  // --- element writes (each creates the key when missing and deletes it when emptied) ------------

  /** Writes hash fields (pairs: field, value, …). Returns how many fields were new. */
  hset(key: string, pairs: readonly Buffer[]): number {
    const e = this.#ensure(key, 'hash');
    const h = e.value as Map<string, Buffer>;
    let added = 0;
    const logged: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const f = pairs[i]!.toString('latin1');
      const v = Buffer.from(pairs[i + 1]!);
      const old = h.get(f);
      if (old) this.#grow(e, v.length - old.length);
      else {
        added++;
        this.#grow(e, HASH_FIELD_OVERHEAD + f.length + v.length);
      }
      h.set(f, v);
      logged.push(b64(f), v.toString('base64'));
    }
    this.#write({ o: 'hset', k: key, f: logged });
    this.onTouch(key);
    return added;
  }

  hdel(key: string, fields: readonly string[]): number {
    const e = this.get(key);
    if (!e) return 0;
    const h = e.value as Map<string, Buffer>;
    const gone: string[] = [];
    for (const f of fields) {
      const v = h.get(f);
      if (v === undefined) continue;
      h.delete(f);
      this.#grow(e, -(HASH_FIELD_OVERHEAD + f.length + v.length));
      gone.push(b64(f));
    }
    if (gone.length === 0) return 0;
    this.#afterShrink(key, e, { o: 'hdel', k: key, f: gone }, h.size);
    return gone.length;
  }

  sadd(key: string, members: readonly string[]): number {
    const e = this.#ensure(key, 'set');
    const s = e.value as Set<string>;
    const added: string[] = [];
    for (const m of members) {
      if (s.has(m)) continue;
      s.add(m);
      this.#grow(e, SET_MEMBER_OVERHEAD + m.length);
      added.push(b64(m));
    }
    if (added.length > 0) {
      this.#write({ o: 'sadd', k: key, m: added });
      this.onTouch(key);
    } else if (s.size === 0) this.delete(key);
    return added.length;
  }

  srem(key: string, members: readonly string[]): number {
    const e = this.get(key);
    if (!e) return 0;
    const s = e.value as Set<string>;
    const gone: string[] = [];
    for (const m of members) {
      if (!s.delete(m)) continue;
      this.#grow(e, -(SET_MEMBER_OVERHEAD + m.length));
      gone.push(b64(m));
    }
    if (gone.length === 0) return 0;
    this.#afterShrink(key, e, { o: 'srem', k: key, m: gone }, s.size);
    return gone.length;
  }

  /** Sets member scores (already decided by the caller's NX/XX/GT/LT logic). */
  zset(key: string, items: readonly ZItem[]): void {
    if (items.length === 0) return;
    const e = this.#ensure(key, 'zset');
    const z = e.value as ZSet;
    for (const it of items) if (z.set(it.m, it.s)) this.#grow(e, ZSET_MEMBER_OVERHEAD + it.m.length);
    this.#write({ o: 'zadd', k: key, m: items.map((it) => [b64(it.m), encScore(it.s)]) });
    this.onTouch(key);
  }

  zrem(key: string, members: readonly string[]): number {
    const e = this.get(key);
    if (!e) return 0;
    const z = e.value as ZSet;
    const gone: string[] = [];
    for (const m of members) {
      if (!z.delete(m)) continue;
      this.#grow(e, -(ZSET_MEMBER_OVERHEAD + m.length));
      gone.push(b64(m));
    }
    if (gone.length === 0) return 0;
    this.#afterShrink(key, e, { o: 'zrem', k: key, m: gone }, z.size);
    return gone.length;
  }

  // --- internals --------------------------------------------------------------------------------

  #ensure(key: string, type: KvType): KvEntry {
    const cur = this.get(key);
    if (cur) return cur;
    const value = type === 'hash' ? new Map<string, Buffer>() : type === 'set' ? new Set<string>() : type === 'zset' ? new ZSet() : Buffer.alloc(0);
    const e: KvEntry = { type, value, expireAt: 0, bytes: KEY_OVERHEAD + Buffer.byteLength(key) };
    this.#insert(key, e);
    return e;
  }

  #afterShrink(key: string, e: KvEntry, op: Op, size: number): void {
    if (size === 0) {
      this.#remove(key, e);
      this.#write({ o: 'del', k: key });
    } else this.#write(op);
    this.onTouch(key);
  }

  #grow(e: KvEntry, delta: number): void {
    e.bytes += delta;
    this.#used += delta;
  }

  #insert(key: string, e: KvEntry): void {
    this.#map.set(key, e);
    this.#used += e.bytes;
  }

  #remove(key: string, e: KvEntry): void {
    this.#map.delete(key);
    this.#used -= e.bytes;
    if (e.expireAt !== 0) this.#expiring--;
  }

  #setExpiry(key: string, e: KvEntry, at: number): void {
    if (e.expireAt === 0 && at !== 0) this.#expiring++;
    else if (e.expireAt !== 0 && at === 0) this.#expiring--;
    e.expireAt = at;
    if (at === 0 || this.#replaying) return;
    this.#heap.push({ due: at, key });
    this.#arm();
  }

  #arm(): void {
    const top = this.#heap.peek();
    if (!top || top.due >= this.#timerDue) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerDue = top.due;
    // At most ~24.8 days per setTimeout; a later deadline re-arms when this one fires.
    this.#timer = setTimeout(() => this.#sweep(), Math.min(2 ** 31 - 1, Math.max(0, top.due - this.now())));
    this.#timer.unref();
  }

  /** Active expiry: deletes every key whose deadline has passed, then re-arms the timer. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.expireDue();
    this.#arm();
  }

  /** Deletes keys whose deadline has passed (exposed for tests with a fake clock). */
  expireDue(): number {
    const now = this.now();
    let n = 0;
    for (;;) {
      const top = this.#heap.peek();
      if (!top || top.due > now) break;
      this.#heap.pop();
      const e = this.#map.get(top.key);
      // Stale heap items (expiry changed or key replaced) are skipped.
      if (e && e.expireAt === top.due) {
        this.delete(top.key);
        n++;
      }
    }
    return n;
  }

  /** Stops the expiry timer (broker shutdown). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  // --- op log -----------------------------------------------------------------------------------

  #write(op: Op): void {
    if (this.#replaying || !this.#log) return;
    const payload = Buffer.from(JSON.stringify(op));
    try {
      this.#log.append([{ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload }]);
    } catch (e) {
      // The engine (and its storage) closed under us: stop logging and expiring; this keyspace
      // is dead (a new engine replays the log into a new one).
      this.#log = undefined;
      this.close();
      if ((e as { code?: string }).code !== 'MQ_ERR_CLOSED') this.#onError(e);
      return;
    }
    this.#opsSince++;
    this.#bytesSince += payload.length;
    if (!this.#durableQueued) {
      this.#durableQueued = true;
      setImmediate(() => {
        this.#durableQueued = false;
        this.#log?.durable().catch(this.#onError);
      });
    }
    if ((this.#opsSince >= SNAPSHOT_EVERY || this.#bytesSince > Math.max(MIN_SNAPSHOT_TRIGGER_BYTES, 2 * this.#lastSnapBytes)) && !this.#snapshotting) {
      this.#snapshot().catch(this.#onError);
    }
  }

  #apply(op: Op): void {
    switch (op.o) {
      case 'set':
        this.setString(op.k, Buffer.from(op.v, 'base64'), op.x);
        return;
      case 'del':
        this.delete(op.k);
        return;
      case 'hset':
        this.hset(
          op.k,
          op.f.map((x) => Buffer.from(x, 'base64')),
        );
        return;
      case 'hdel':
        this.hdel(op.k, op.f.map(unb64));
        return;
      case 'sadd':
        this.sadd(op.k, op.m.map(unb64));
        return;
      case 'srem':
        this.srem(op.k, op.m.map(unb64));
        return;
      case 'zadd':
        this.zset(
          op.k,
          op.m.map(([m, s]) => ({ m: unb64(m), s: decScore(s) })),
        );
        return;
      case 'zrem':
        this.zrem(op.k, op.m.map(unb64));
        return;
      case 'exp': {
        const e = this.#map.get(op.k);
        if (e) this.#setExpiry(op.k, e, op.x);
        return;
      }
      case 'ren':
        this.rename(op.k, op.d);
        return;
      case 'flush':
        this.flush();
        return;
      case 'snap':
        this.flush();
        for (const [k, type, x, data] of op.e) this.#restore(k, type, x, data);
        return;
    }
  }

  #restore(k: string, type: KvType, x: number, data: unknown): void {
    if (type === 'string') this.setString(k, Buffer.from(data as string, 'base64'), x);
    else {
      if (type === 'hash') this.hset(k, (data as string[]).map((v) => Buffer.from(v, 'base64')));
      else if (type === 'set') this.sadd(k, (data as string[]).map(unb64));
      else this.zset(k, (data as [string, number | string][]).map(([m, s]) => ({ m: unb64(m), s: decScore(s) })));
      const e = this.#map.get(k);
      if (e) this.#setExpiry(k, e, x);
    }
  }

  #snapshotOp(): Op {
    const e: [string, KvType, number, unknown][] = [];
    for (const [k, v] of this.#map) {
      let data: unknown;
      if (v.type === 'string') data = (v.value as Buffer).toString('base64');
      else if (v.type === 'hash') {
        const flat: string[] = [];
        for (const [f, val] of v.value as Map<string, Buffer>) flat.push(b64(f), val.toString('base64'));
        data = flat;
      } else if (v.type === 'set') data = [...(v.value as Set<string>)].map(b64);
      else data = (v.value as ZSet).sorted.map((it) => [b64(it.m), encScore(it.s)]);
      e.push([k, v.type, v.expireAt, data]);
    }
    return { o: 'snap', e };
  }

  async #snapshot(): Promise<void> {
    const log = this.#log;
    if (!log) return;
    this.#snapshotting = true;
    try {
      const payload = Buffer.from(JSON.stringify(this.#snapshotOp()));
      const at = log.append([{ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload }]);
      this.#opsSince = 1;
      this.#bytesSince = payload.length;
      this.#lastSnapBytes = payload.length;
      await log.durable();
      await log.truncateBefore(at);
    } finally {
      this.#snapshotting = false;
    }
  }
}
