/**
 * The RESP layer's own durable metadata: facts Redis clients rely on that the engine has no
 * concept of. Kept in one JSON-record log, `meta/resp`, opened directly on the engine's storage
 * (so it is not a topic: it never shows up in KEYS or to other protocols), replayed at startup.
 *
 * What is in it (all small; none of it is per message):
 *  - list orientation per key, written only when it flips (see lists.ts: which end of a Redis
 *    list is the log's tail);
 *  - which topics are Redis streams, their logical trim point (XTRIM/MAXLEN/MINID) and deleted
 *    entries (XDEL) — the log itself is append-only;
 *  - stream consumer groups: name and the point to resume from after a restart.
 *
 * Compaction: every 4096 records a snapshot record replaces the history (one append, fsync,
 * truncate), so the log stays at most a few hundred KiB for normal use.
 *
 * It does NOT keep stream pending-entries lists: see docs/protocols/resp.md ("restart").
 */
import type { Engine } from '../../../engine/engine.js';
import { FORMAT_NATIVE } from '../../../engine/record.js';
import type { PartitionStore } from '../../../engine/storage/types.js';

export interface StreamGroupMeta {
  /** Resume point: entries with a greater id are delivered by the next `XREADGROUP … >`. */
  lastId: string;
  entriesRead: number;
}

export interface StreamMeta {
  /** Logical first offset (entries below it are trimmed). */
  trimStart: number;
  /** Offsets deleted with XDEL, at or above trimStart. */
  deleted: Set<number>;
  /** Largest deleted or trimmed id, for XINFO STREAM. */
  maxDeletedId: string;
  groups: Map<string, StreamGroupMeta>;
}

type MetaRecord =
  | { t: 'orient'; k: string; o: 'L' | 'R' }
  | { t: 'stream'; k: string }
  | { t: 'drop'; k: string }
  | { t: 'trim'; k: string; s: number; m: string }
  | { t: 'xdel'; k: string; o: number[]; m: string }
  | { t: 'group'; k: string; g: string; id: string; n: number }
  | { t: 'ungroup'; k: string; g: string }
  | { t: 'flush' }
  | { t: 'snap'; orient: [string, 'L' | 'R'][]; streams: [string, { s: number; d: number[]; m: string; g: [string, string, number][] }][] };

const SNAPSHOT_EVERY = 4096;

export class RespMeta {
  /** Keys whose orientation is 'R' (RPUSH appends to the log); absent = 'L'. */
  readonly orient = new Map<string, 'L' | 'R'>();
  readonly streams = new Map<string, StreamMeta>();
  #sinceSnapshot = 0;
  #snapshotting = false;

  private constructor(
    private readonly log: PartitionStore,
    private readonly onError: (e: unknown) => void,
  ) {}

  static async open(engine: Engine, onError: (e: unknown) => void): Promise<RespMeta> {
    const log = await engine.storage.open('meta/resp', { fsync: engine.fsync, segmentBytes: 1024 * 1024 });
    const m = new RespMeta(log, onError);
    let n = 0;
    for (let off = log.startOffset; off < log.endOffset; ) {
      const batches = await log.read(off, 1 << 20);
      if (batches.length === 0) break;
      for (const b of batches) {
        if (b.baseOffset >= off && b.format === FORMAT_NATIVE) {
          m.#apply(JSON.parse(b.payload.toString('utf8')) as MetaRecord);
          n++;
        }
        off = b.baseOffset + b.count;
      }
    }
    m.#sinceSnapshot = n;
    return m;
  }

  stream(key: string): StreamMeta | undefined {
    return this.streams.get(key);
  }

  #apply(r: MetaRecord): void {
    switch (r.t) {
      case 'orient':
        if (r.o === 'L') this.orient.delete(r.k);
        else this.orient.set(r.k, r.o);
        return;
      case 'stream':
        if (!this.streams.has(r.k)) this.streams.set(r.k, { trimStart: 0, deleted: new Set(), maxDeletedId: '0-0', groups: new Map() });
        return;
      case 'drop':
        this.streams.delete(r.k);
        this.orient.delete(r.k);
        return;
      case 'trim': {
        const s = this.streams.get(r.k);
        if (!s) return;
        s.trimStart = Math.max(s.trimStart, r.s);
        for (const o of s.deleted) if (o < s.trimStart) s.deleted.delete(o);
        s.maxDeletedId = r.m;
        return;
      }
      case 'xdel': {
        const s = this.streams.get(r.k);
        if (!s) return;
        for (const o of r.o) if (o >= s.trimStart) s.deleted.add(o);
        s.maxDeletedId = r.m;
        return;
      }
      case 'group': {
        const s = this.streams.get(r.k);
        s?.groups.set(r.g, { lastId: r.id, entriesRead: r.n });
        return;
      }
      case 'ungroup':
        this.streams.get(r.k)?.groups.delete(r.g);
        return;
      case 'flush':
        this.orient.clear();
        this.streams.clear();
        return;
      case 'snap':
        this.orient.clear();
        this.streams.clear();
        for (const [k, o] of r.orient) this.orient.set(k, o);
        for (const [k, v] of r.streams) {
          this.streams.set(k, {
            trimStart: v.s,
            deleted: new Set(v.d),
            maxDeletedId: v.m,
            groups: new Map(v.g.map(([g, id, n]) => [g, { lastId: id, entriesRead: n }])),
          });
        }
        return;
    }
  }

  /**
   * Applies a change and appends it. `durable`: resolves after the record is durable per the
   * engine's fsync policy (used where the client's reply promises the fact: XGROUP CREATE, a list
   * orientation flip before its data is appended); otherwise the write is lazy, like the
   * engine's acks — a crash can lose it, and the docs say what that means for each record.
   */
  async write(r: MetaRecord, durable: boolean): Promise<void> {
    this.#apply(r);
    this.#append(r);
    if (durable) await this.log.durable();
  }

  /** Fire-and-forget variant of write(r, false); errors go to onError. */
  writeLazy(r: MetaRecord): void {
    this.#apply(r);
    this.#append(r);
  }

  #append(r: MetaRecord): void {
    this.log.append([{ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload: Buffer.from(JSON.stringify(r)) }]);
    if (++this.#sinceSnapshot >= SNAPSHOT_EVERY && !this.#snapshotting) this.#snapshot().catch(this.onError);
  }

  async #snapshot(): Promise<void> {
    this.#snapshotting = true;
    try {
      const snap: MetaRecord = {
        t: 'snap',
        orient: [...this.orient],
        streams: [...this.streams].map(([k, s]) => [
          k,
          { s: s.trimStart, d: [...s.deleted], m: s.maxDeletedId, g: [...s.groups].map(([g, v]) => [g, v.lastId, v.entriesRead] as [string, string, number]) },
        ]),
      };
      const at = this.log.append([{ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload: Buffer.from(JSON.stringify(snap)) }]);
      this.#sinceSnapshot = 1;
      await this.log.durable();
      await this.log.truncateBefore(at);
    } finally {
      this.#snapshotting = false;
    }
  }
}
