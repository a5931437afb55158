/**
 * Redis streams over engine topics: stream `s` is topic `s`'s log (partition 0), the same log an
 * AMQP stream queue or a Kafka consumer of topic `s` reads.
 *
 * Entry encoding (one native record per entry):
 *   key        the entry id "ms-seq" (so ids survive restarts with the data)
 *   timestamp  the id's ms part — ids are monotonic in offset, so batch timestamps are too, and
 *              `offsetForTimestamp(ms)` + a short forward scan finds any id in O(log n + k)
 *   body       the field/value pairs as a RESP2 multibulk (`*2n $f $v …`, binary-safe)
 *   props      one byte, propsFormat PROPS_RESP_STREAM, marking the record as a stream entry
 * A record appended by another protocol (no marker) reads as id `<timestamp>-<offset>` with one
 * field `body`; that id is monotonic only if those publishers' timestamps are.
 *
 * XDEL is logical (a tombstone set in meta/resp). XTRIM/MAXLEN/MINID record the trim point and
 * move the engine log's start (`truncateLog`), which deletes the whole segments below it.
 *
 * Consumer groups are kept here, not as engine groups: an engine group would let the engine
 * delete log segments once the group settled them (queue semantics), while a stream keeps its
 * entries for XRANGE until trimmed, and Redis groups need XGROUP SETID, XCLAIM ownership and
 * per-consumer pending lists that engine groups do not model. The pending-entries list (PEL) is
 * in memory; the group's resume point is persisted lazily as "just before the oldest pending
 * entry", so after a restart every entry that was pending is delivered again by `XREADGROUP >`
 * (at-least-once; Redis would keep it pending instead). See docs/protocols/resp.md.
 *
 * Records appended by other protocols are part of the stream (entryOf), and wake XREAD/
 * XREADGROUP BLOCK (waitForAppend). Ids above 2^53 are refused (JS numbers).
 */
import type { Engine } from '../../../engine/engine.js';
import { GONE_HEADER, nativeFromForeign } from '../../../engine/formats.js';
import { decodeBatch, FORMAT_NATIVE, type DecodedRecord } from '../../../engine/record.js';
import type { StoredBatch } from '../../../engine/storage/types.js';
import type { RespMeta, StreamMeta } from './meta.js';
import { KeyLocks } from './mutex.js';

/** propsFormat of a stream entry record ('R'); see the module comment. */
export const PROPS_RESP_STREAM = 0x52;
/** Marker of an entry whose only field is `body`: the record body is the raw value (see record()). */
const MARKER_BODY = Buffer.from([2]);
/** props = 3 + the entry's fields with the first `body` field's value left out (it is the record body). */
const MARKER_FIELDS = 3;
const MAX = Number.MAX_SAFE_INTEGER;

/**
 * Calls `f` for each record of a stored batch at or after `from`. Foreign batches (Kafka's
 * FORMAT_KAFKA) are decoded through their registered decoder (`nativeFromForeign`); a batch of a
 * format without a decoder is skipped, and so are placeholders of records that no longer exist
 * (GONE_HEADER).
 */
export function eachRecord(b: StoredBatch, from: number, f: (r: DecodedRecord) => void): void {
  const nb = b.format === FORMAT_NATIVE ? b : nativeFromForeign(b);
  if (!nb) return;
  decodeBatch(nb.payload, nb.baseOffset, nb.count, from, (r) => {
    if (nb !== b && r.headers[GONE_HEADER] !== undefined) return;
    f(r);
  });
}

export interface StreamId {
  ms: number;
  seq: number;
}

export const ZERO_ID: StreamId = { ms: 0, seq: 0 };
export const MAX_ID: StreamId = { ms: MAX, seq: MAX };

export function cmpId(a: StreamId, b: StreamId): number {
  return a.ms - b.ms || a.seq - b.seq;
}

export function fmtId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

export function nextId(id: StreamId): StreamId | null {
  if (id.seq < MAX) return { ms: id.ms, seq: id.seq + 1 };
  if (id.ms < MAX) return { ms: id.ms + 1, seq: 0 };
  return null;
}

export function prevId(id: StreamId): StreamId | null {
  if (id.seq > 0) return { ms: id.ms, seq: id.seq - 1 };
  if (id.ms > 0) return { ms: id.ms - 1, seq: MAX };
  return null;
}

const DIGITS = /^\d+$/;

/** Parses "ms-seq" or "ms" (seq = missingSeq). Returns null if invalid. */
export function parseId(s: string, missingSeq = 0): StreamId | null {
  const dash = s.indexOf('-');
  const a = dash < 0 ? s : s.slice(0, dash);
  const b = dash < 0 ? undefined : s.slice(dash + 1);
  if (!DIGITS.test(a) || (b !== undefined && !DIGITS.test(b))) return null;
  const ms = Number(a);
  const seq = b === undefined ? missingSeq : Number(b);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) return null;
  return { ms, seq };
}

export interface Entry {
  offset: number;
  id: StreamId;
  /** Field/value pairs, flat. */
  fields: Buffer[];
}

export function encodeFields(fields: readonly Buffer[]): Buffer {
  let size = 16;
  for (const f of fields) size += f.length + 16;
  const out = Buffer.allocUnsafe(size);
  let p = out.write(`*${fields.length}\r\n`, 0, 'latin1');
  for (const f of fields) {
    p += out.write(`$${f.length}\r\n`, p, 'latin1');
    f.copy(out, p);
    p += f.length;
    out[p++] = 13;
    out[p++] = 10;
  }
  return out.subarray(0, p);
}

function decodeFields(b: Buffer): Buffer[] | null {
  let p = 0;
  const line = (): number | null => {
    const e = b.indexOf(13, p);
    if (e < 0) return null;
    const n = Number(b.toString('latin1', p + 1, e));
    p = e + 2;
    return Number.isInteger(n) ? n : null;
  };
  if (b[0] !== 42) return null;
  const n = line();
  if (n === null) return null;
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    if (b[p] !== 36) return null;
    const len = line();
    if (len === null || p + len > b.length) return null;
    out.push(b.subarray(p, p + len));
    p += len + 2;
  }
  return out;
}

const BODY_FIELD = Buffer.from('body');
const EMPTY = Buffer.alloc(0);

/** Index of the first field named `body` (field names sit at even indexes), or -1. */
function bodyFieldIndex(fields: readonly Buffer[]): number {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.equals(BODY_FIELD)) return i;
  return -1;
}
const KEY_FIELD = Buffer.from('key');

/**
 * The stream entry of a record. A RESP entry carries its id in the record key. Any other record
 * (Kafka, AMQP, MQTT, STOMP, the embedded API) reads as id `<timestamp>-<offset>` — stable, and
 * unique because offsets are — with the fields `body` <value>, then `key` <record key> when it
 * has one, then one field per header (name, value) in the record's header order.
 */
export function entryOf(r: DecodedRecord): Entry {
  if (r.propsFormat === PROPS_RESP_STREAM && r.key !== undefined) {
    const id = parseId(r.key);
    if (id && r.props?.[0] === 2) return { offset: r.offset, id, fields: [BODY_FIELD, r.body] };
    if (id && r.props?.[0] === MARKER_FIELDS) {
      const fields = decodeFields(r.props.subarray(1));
      if (fields) {
        const at = bodyFieldIndex(fields);
        if (at >= 0) fields[at + 1] = r.body;
        return { offset: r.offset, id, fields };
      }
    }
    const fields = decodeFields(r.body);
    if (id && fields) return { offset: r.offset, id, fields };
  }
  const fields = [BODY_FIELD, r.body];
  if (r.key !== undefined) fields.push(KEY_FIELD, Buffer.from(r.key));
  for (const h in r.headers) fields.push(Buffer.from(h), Buffer.from(r.headers[h]!));
  return { offset: r.offset, id: { ms: Math.max(0, Math.trunc(r.timestamp)), seq: r.offset }, fields };
}

export interface PendingEntry {
  id: StreamId;
  offset: number;
  consumer: string;
  /** Last delivery time (ms). */
  time: number;
  count: number;
}

export interface StreamConsumer {
  name: string;
  seen: number;
  active: number;
  pending: number;
}

export class StreamGroup {
  readonly pel = new Map<string, PendingEntry>();
  readonly consumers = new Map<string, StreamConsumer>();
  /** False when the PEL map's insertion order is not id order (after SETID backwards). */
  sorted = true;
  #lastPel: StreamId = ZERO_ID;
  /** Offset from which to look for entries after lastId (a hint; undefined = search). */
  nextOffset: number | undefined;
  constructor(
    readonly name: string,
    public lastId: StreamId,
    public entriesRead: number,
  ) {}

  consumer(name: string, now: number, create = true): StreamConsumer | undefined {
    let c = this.consumers.get(name);
    if (!c && create) this.consumers.set(name, (c = { name, seen: now, active: -1, pending: 0 }));
    if (c) c.seen = now;
    return c;
  }

  addPending(e: Entry, consumer: StreamConsumer, now: number): void {
    const k = fmtId(e.id);
    const old = this.pel.get(k);
    if (old) {
      const prev = this.consumers.get(old.consumer);
      if (prev) prev.pending--;
      old.consumer = consumer.name;
      old.time = now;
      old.count++;
    } else {
      if (cmpId(e.id, this.#lastPel) < 0) this.sorted = false;
      else this.#lastPel = e.id;
      this.pel.set(k, { id: e.id, offset: e.offset, consumer: consumer.name, time: now, count: 1 });
    }
    consumer.pending++;
  }

  removePending(k: string): boolean {
    const p = this.pel.get(k);
    if (!p) return false;
    this.pel.delete(k);
    const c = this.consumers.get(p.consumer);
    if (c) c.pending--;
    return true;
  }

  /** Pending entries in id order. */
  pendingSorted(): PendingEntry[] {
    const all = [...this.pel.values()];
    if (!this.sorted) {
      all.sort((a, b) => cmpId(a.id, b.id));
      this.pel.clear();
      for (const p of all) this.pel.set(fmtId(p.id), p);
      this.sorted = true;
      this.#lastPel = all.length > 0 ? all[all.length - 1]!.id : ZERO_ID;
    }
    return all;
  }

  /** Where a restart resumes: just before the oldest pending entry, else lastId. */
  resumePoint(): StreamId {
    let min: StreamId | undefined;
    for (const p of this.pel.values()) if (!min || cmpId(p.id, min) < 0) min = p.id;
    if (min && cmpId(min, this.lastId) <= 0) return prevId(min) ?? ZERO_ID;
    return this.lastId;
  }
}

export class StreamState {
  readonly groups = new Map<string, StreamGroup>();
  readonly waiters = new Set<() => void>();
  constructor(
    readonly key: string,
    readonly meta: StreamMeta,
    public lastId: StreamId,
  ) {}
  notify(): void {
    const w = [...this.waiters];
    this.waiters.clear();
    for (const f of w) f();
  }
}

interface XaddBatch {
  readonly entries: (readonly Buffer[])[];
  done: Promise<StreamId[]>;
}

export class Streams {
  readonly locks = new KeyLocks();
  readonly #states = new Map<string, StreamState>();
  readonly #loading = new Map<string, Promise<StreamState>>();
  readonly #dirty = new Set<StreamGroup>();
  #dirtyOwner = new Map<StreamGroup, string>();
  #flushScheduled = false;

  constructor(
    readonly engine: Engine,
    readonly meta: RespMeta,
  ) {}

  isStream(key: string): boolean {
    return this.meta.streams.has(key);
  }

  /** The in-memory state of an existing stream (loaded on first use), or undefined. */
  async state(key: string): Promise<StreamState | undefined> {
    const m = this.meta.streams.get(key);
    if (!m) return undefined;
    const s = this.#states.get(key);
    if (s && s.meta === m) return s;
    let p = this.#loading.get(key);
    if (!p) {
      p = this.#load(key, m);
      this.#loading.set(key, p);
      p.finally(() => this.#loading.delete(key)).catch(() => {});
    }
    return p;
  }

  async #load(key: string, m: StreamMeta): Promise<StreamState> {
    let last: StreamId = ZERO_ID;
    if (!this.engine.getTopic(key)) await this.engine.topic(key, { partitions: 1 });
    const { start, end } = this.engine.logBounds(key, 0);
    if (end > start) {
      const e = await this.readOne(key, end - 1, true);
      if (e) last = e.id;
    }
    const st = new StreamState(key, m, last);
    for (const [name, g] of m.groups) {
      const id = parseId(g.lastId) ?? ZERO_ID;
      st.groups.set(name, new StreamGroup(name, id, g.entriesRead));
    }
    this.#states.set(key, st);
    return st;
  }

  readonly #createWaiters = new Map<string, Set<() => void>>();

  /** Calls `f` once when `key` becomes a stream (XREAD BLOCK on a key that does not exist yet). */
  onCreate(key: string, f: () => void): void {
    let set = this.#createWaiters.get(key);
    if (!set) this.#createWaiters.set(key, (set = new Set()));
    set.add(f);
  }

  offCreate(key: string, f: () => void): void {
    const set = this.#createWaiters.get(key);
    if (set?.delete(f) && set.size === 0) this.#createWaiters.delete(key);
  }

  /** Auto-id XADD batches waiting for their key's lock, open for joining (see appendAuto()). */
  readonly #xaddBatches = new Map<string, XaddBatch>();

  /**
   * An auto-id XADD (no trimming): appends `fields` as one entry, returns its id once durable.
   * XADDs to one key while an earlier one holds its lock (from other clients, or later commands
   * of one client's pipeline) are combined, as list pushes are (Lists.push): the first queues a
   * batch, later ones join it until it starts, and it runs as ONE append of all their entries
   * with consecutive ids (one durability wait), each caller getting its own id. With `--fsync
   * always` an XADD holds the key's lock through its fsync, so without this concurrent producers
   * to one stream were served one fsync each. A joined XADD is concurrent with everything it
   * overtakes, so the combined order is one a client could observe anyway. The caller's place in
   * the key's order is taken synchronously (the pipelined session relies on it).
   */
  appendAuto(key: string, fields: readonly Buffer[]): Promise<StreamId> {
    const open = this.#xaddBatches.get(key);
    if (open) {
      const i = open.entries.push(fields) - 1;
      return open.done.then((ids) => ids[i]!);
    }
    const batch: XaddBatch = { entries: [fields], done: undefined! };
    this.#xaddBatches.set(key, batch);
    batch.done = this.locks.run(key, async () => {
      if (this.#xaddBatches.get(key) === batch) this.#xaddBatches.delete(key);
      const st = await this.create(key);
      const now = Date.now();
      const ids: StreamId[] = [];
      let last = st.lastId;
      for (let i = 0; i < batch.entries.length; i++) {
        last = now > last.ms ? { ms: now, seq: 0 } : nextId(last)!;
        ids.push(last);
      }
      st.lastId = last;
      await this.engine.publish(key, batch.entries.map((f, i) => Streams.record(ids[i]!, f)), { partition: 0 });
      st.notify();
      return ids;
    });
    return batch.done.then((ids) => ids[0]!);
  }

  /** Creates the stream (topic + meta record, durable) if absent. */
  async create(key: string): Promise<StreamState> {
    if (!this.meta.streams.has(key)) {
      await this.engine.topic(key, { partitions: 1 });
      await this.meta.write({ t: 'stream', k: key }, true);
    }
    const st = (await this.state(key))!;
    const w = this.#createWaiters.get(key);
    if (w) {
      this.#createWaiters.delete(key);
      for (const f of w) f();
    }
    return st;
  }

  async drop(key: string): Promise<void> {
    const st = this.#states.get(key);
    this.#states.delete(key);
    await this.meta.write({ t: 'drop', k: key }, true);
    await this.engine.deleteTopic(key);
    st?.notify();
  }

  forgetAll(): void {
    for (const st of this.#states.values()) st.notify();
    this.#states.clear();
  }

  /** Logical first offset. */
  first(key: string, m: StreamMeta): number {
    return Math.max(m.trimStart, this.engine.logBounds(key, 0).start);
  }

  end(key: string): number {
    return this.engine.logBounds(key, 0).end;
  }

  length(key: string, m: StreamMeta): number {
    return Math.max(0, this.end(key) - this.first(key, m) - m.deleted.size);
  }

  /** One entry by offset; `raw` ignores trim/delete. */
  async readOne(key: string, offset: number, raw = false): Promise<Entry | undefined> {
    const m = this.meta.streams.get(key);
    if (!raw && m && (offset < m.trimStart || m.deleted.has(offset))) return undefined;
    const { start, end } = this.engine.logBounds(key, 0);
    if (offset < start || offset >= end) return undefined;
    const batches = await this.engine.readLog(key, 0, offset, 1);
    let found: Entry | undefined;
    for (const b of batches) {
      if (b.baseOffset > offset || b.baseOffset + b.count <= offset) continue;
      eachRecord(b, offset, (r) => {
        if (r.offset === offset) found = entryOf(r);
      });
    }
    return found;
  }

  /**
   * Entries from offset `from` (ascending) while `accept(id)` holds, at most `count`, skipping
   * trimmed and deleted ones. `stopAt` (exclusive offset) bounds the scan.
   */
  async scan(key: string, from: number, count: number, accept: (id: StreamId) => boolean, stopAt = Infinity): Promise<Entry[]> {
    const m = this.meta.streams.get(key);
    const out: Entry[] = [];
    if (!m) return out;
    let off = Math.max(from, this.first(key, m));
    let stop = false;
    while (!stop && out.length < count && off < Math.min(stopAt, this.end(key))) {
      const batches = await this.engine.readLog(key, 0, off, 256 * 1024);
      if (batches.length === 0) break;
      for (const b of batches) {
        const next = b.baseOffset + b.count;
        if (next <= off) continue;
        eachRecord(b, off, (r) => {
          if (stop || out.length >= count || r.offset >= stopAt) {
            stop = true;
            return;
          }
          if (m.deleted.has(r.offset)) return;
          const e = entryOf(r);
          if (!accept(e.id)) {
            stop = true;
            return;
          }
          out.push(e);
        });
        off = next;
        if (stop || out.length >= count) break;
      }
    }
    return out;
  }

  /** First offset whose id is >= id (or > id when exclusive); end offset if none. */
  async offsetOf(key: string, id: StreamId, exclusive: boolean): Promise<number> {
    const m = this.meta.streams.get(key);
    if (!m) return 0;
    const first = this.first(key, m);
    const end = this.end(key);
    if (id.ms === 0 && id.seq === 0 && !exclusive) return first;
    let off = Math.max(first, await this.engine.offsetForTimestamp(key, 0, id.ms));
    // offsetForTimestamp works on batch timestamps (the newest in the batch): back up to be safe
    // when it lands inside a multi-record batch of another protocol.
    while (off < end) {
      const batches = await this.engine.readLog(key, 0, off, 64 * 1024);
      if (batches.length === 0) return end;
      let found = -1;
      for (const b of batches) {
        if (b.baseOffset + b.count <= off) continue;
        eachRecord(b, off, (r) => {
          if (found >= 0) return;
          const c = cmpId(entryOf(r).id, id);
          if (exclusive ? c > 0 : c >= 0) found = r.offset;
        });
        if (found >= 0) return found;
        off = b.baseOffset + b.count;
      }
    }
    return end;
  }

  /** Entries with from <= id <= to (ids), ascending. */
  async range(key: string, from: StreamId, to: StreamId, count: number, fromExclusive = false): Promise<Entry[]> {
    const start = await this.offsetOf(key, from, fromExclusive);
    return this.scan(key, start, count, (id) => cmpId(id, to) <= 0);
  }

  /** Entries with from <= id <= to, descending (XREVRANGE). */
  async revRange(key: string, from: StreamId, to: StreamId, count: number): Promise<Entry[]> {
    const m = this.meta.streams.get(key);
    if (!m) return [];
    const lo = Math.max(await this.offsetOf(key, from, false), this.first(key, m));
    let pos = await this.offsetOf(key, to, true);
    const out: Entry[] = [];
    while (pos > lo && out.length < count) {
      const chunk = Math.max(lo, pos - 256);
      const part = await this.scan(key, chunk, Infinity, () => true, pos);
      for (let i = part.length - 1; i >= 0 && out.length < count; i--) {
        const e = part[i]!;
        if (cmpId(e.id, from) >= 0 && cmpId(e.id, to) <= 0) out.push(e);
      }
      pos = chunk;
    }
    return out;
  }

  async firstEntry(key: string): Promise<Entry | undefined> {
    const m = this.meta.streams.get(key);
    if (!m) return undefined;
    return (await this.scan(key, this.first(key, m), 1, () => true))[0];
  }

  async lastEntry(key: string): Promise<Entry | undefined> {
    return (await this.revRange(key, ZERO_ID, MAX_ID, 1))[0];
  }

  /** Logical trim to at most maxLen entries, or below minId. Returns entries removed. */
  async trim(key: string, st: StreamState, maxLen: number | undefined, minId: StreamId | undefined): Promise<number> {
    const m = st.meta;
    const first = this.first(key, m);
    const end = this.end(key);
    let newStart = first;
    if (maxLen !== undefined) {
      let len = this.length(key, m);
      while (len > maxLen && newStart < end) {
        if (!m.deleted.has(newStart)) len--;
        newStart++;
      }
    } else if (minId !== undefined) {
      newStart = Math.max(first, await this.offsetOf(key, minId, false));
    }
    if (newStart <= first) return 0;
    let removed = 0;
    for (let o = first; o < newStart; o++) if (!m.deleted.has(o)) removed++;
    const lastRemoved = newStart - 1 >= first ? await this.readOne(key, newStart - 1, true) : undefined;
    const maxDel = lastRemoved && cmpId(lastRemoved.id, parseId(m.maxDeletedId) ?? ZERO_ID) > 0 ? fmtId(lastRemoved.id) : m.maxDeletedId;
    await this.meta.write({ t: 'trim', k: key, s: newStart, m: maxDel }, true);
    // Frees storage: moves the log's logical start for every reader (Kafka, AMQP stream consumers,
    // the 'default' group) and deletes whole segments below it; persisted by the engine.
    await this.engine.truncateLog(key, 0, newStart);
    return removed;
  }

  /** Marks a group's resume point for a lazy meta write. */
  touch(key: string, g: StreamGroup): void {
    this.#dirty.add(g);
    this.#dirtyOwner.set(g, key);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const groups = [...this.#dirty];
      this.#dirty.clear();
      const owners = this.#dirtyOwner;
      this.#dirtyOwner = new Map();
      for (const grp of groups) {
        const k = owners.get(grp)!;
        const m = this.meta.streams.get(k);
        if (!m || !m.groups.has(grp.name) || this.#states.get(k)?.groups.get(grp.name) !== grp) continue;
        const id = fmtId(grp.resumePoint());
        const cur = m.groups.get(grp.name)!;
        if (cur.lastId === id && cur.entriesRead === grp.entriesRead) continue;
        this.meta.writeLazy({ t: 'group', k, g: grp.name, id, n: grp.entriesRead });
      }
    });
  }

  /** Builds the record for an entry. */
  static record(
    id: StreamId,
    fields: readonly Buffer[],
  ): { body: Buffer; key: string; headers?: Record<string, string>; timestamp: number; priority: number; props: Buffer; propsFormat: number } {
    // An entry whose only field is `body` stores the raw value: other protocols (an AMQP stream
    // consumer, Kafka) then read exactly that value, the mirror of how their records read here.
    if (fields.length === 2 && fields[0]!.equals(BODY_FIELD)) {
      return { body: fields[1]!, key: fmtId(id), timestamp: id.ms, priority: 0, props: MARKER_BODY, propsFormat: PROPS_RESP_STREAM };
    }
    // Otherwise the `body` field (if any) is the record body and the other fields are string
    // headers, so AMQP/Kafka/STOMP consumers see body + headers; the exact field list (binary
    // names/values, order, duplicates) is kept in props, without repeating the body's bytes.
    const at = bodyFieldIndex(fields);
    const rest = fields.slice();
    if (at >= 0) rest[at + 1] = EMPTY;
    const headers: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) if (i !== at) headers[fields[i]!.toString()] = fields[i + 1]!.toString();
    const props = Buffer.concat([Buffer.from([MARKER_FIELDS]), encodeFields(rest)]);
    return { body: at >= 0 ? fields[at + 1]! : EMPTY, key: fmtId(id), headers, timestamp: id.ms, priority: 0, props, propsFormat: PROPS_RESP_STREAM };
  }

  /**
   * Adopts an engine topic created by another protocol (Kafka topic, AMQP stream queue, embedded
   * API) as a Redis stream: from now on TYPE says `stream` and list commands answer WRONGTYPE.
   * Not adopted: a topic whose 'default' group has ready messages (it is a list in use; the
   * caller answers WRONGTYPE). The meta record is lazy: a crash before it is written only means
   * the next stream command adopts the topic again.
   */
  adopt(key: string, listInUse: boolean): boolean {
    if (this.isStream(key)) return true;
    const t = this.engine.getTopic(key);
    if (!t || listInUse) return false;
    this.meta.writeLazy({ t: 'stream', k: key });
    return true;
  }

  /**
   * Resolves when the stream's log grows past its current end by any protocol's append, or when
   * `signal` aborts (XREAD/XREADGROUP BLOCK).
   */
  waitForAppend(key: string, signal: AbortSignal): Promise<void> {
    if (!this.engine.getTopic(key)) return new Promise(() => {});
    return this.engine.waitForData(key, 0, this.end(key), signal);
  }
}
