/**
 * The transaction log (`meta/txlog`): a redo log that makes a transaction commit crash-atomic on
 * persistent storage (see transaction.ts for the protocol and engine.ts `commitTx` for its use).
 *
 * One *commit record* holds everything the transaction will do: every batch it appends (topic,
 * lane, the exact base offset it will get, the encoded payload) and every ack it applies (topic,
 * group, lane, offset). A record is one storage frame, and a frame is all-or-nothing on disk (its
 * CRC covers it; recovery truncates a torn tail), so the record *is* the commit marker: once it is
 * durable the transaction has happened, and before that it has not. A *done record* follows once
 * the transaction's lane data and group state are themselves durable; replay skips those.
 *
 * Record layout (one single-record batch each, format tag 0 of this meta log):
 *
 *   u8 kind (1 commit, 2 done) | u32 metaLength | meta JSON | payloads back to back
 *
 *   commit meta: { id, p: [[topic, lane, base, count, timestamp, payloadLength], ...],
 *                  a: [[topic, group, lane, offset], ...] }
 *   done meta:   { id }
 *
 * The id of a transaction is the log offset of its first commit record (unique: log offsets are
 * never reused). Recovery may write a second commit record with the same id whose bases moved
 * (see Engine's replay); the latest record of an id wins.
 *
 * Cost: a transaction's payload is written twice (here and in its lanes) and its commit waits for
 * one fsync of this log; the log is truncated as soon as nothing in it is still being applied, so
 * it stays near one segment (1 MiB) under steady load.
 */
import { err } from '../core/errors.js';
import type { PartitionStore } from './storage/types.js';

const KIND_COMMIT = 1;
const KIND_DONE = 2;
/** Truncate the log once it holds this much and nothing before its newest records is pending. */
const COMPACT_BYTES = 1024 * 1024;

export interface TxPart {
  topic: string;
  lane: string;
  base: number;
  count: number;
  timestamp: number;
  payload: Buffer;
}

export interface TxAck {
  topic: string;
  group: string;
  lane: string;
  offset: number;
}

export interface TxRecord {
  id: number;
  parts: TxPart[];
  acks: TxAck[];
}

type CommitMeta = { id: number; p: [string, string, number, number, number, number][]; a: [string, string, string, number][] };

function encode(kind: number, meta: unknown, payloads: readonly Buffer[]): Buffer {
  const m = Buffer.from(JSON.stringify(meta), 'utf8');
  let n = 5 + m.length;
  for (const p of payloads) n += p.length;
  const out = Buffer.allocUnsafe(n);
  out[0] = kind;
  out.writeUInt32LE(m.length, 1);
  m.copy(out, 5);
  let at = 5 + m.length;
  for (const p of payloads) {
    p.copy(out, at);
    at += p.length;
  }
  return out;
}

function decode(buf: Buffer): { kind: number; meta: unknown; rest: Buffer } {
  if (buf.length < 5) throw err('MQ_ERR_CORRUPT', 'transaction log record shorter than its header');
  const len = buf.readUInt32LE(1);
  if (5 + len > buf.length) throw err('MQ_ERR_CORRUPT', 'transaction log record shorter than its meta length');
  return { kind: buf[0]!, meta: JSON.parse(buf.toString('utf8', 5, 5 + len)) as unknown, rest: buf.subarray(5 + len) };
}

export class TxLog {
  /** Transactions committed but not yet done: id → offset of the commit record. */
  readonly #inflight = new Map<number, number>();
  readonly #finishing = new Set<Promise<void>>();
  #compacting = false;

  constructor(
    readonly log: PartitionStore,
    readonly onError: (e: unknown) => void,
  ) {}

  /**
   * Appends a commit record (synchronously: the caller computes the bases in the same turn) and
   * returns the transaction id. `id` is given only when recovery rewrites a record with new bases.
   * The transaction is committed once `durable()` resolves after this call.
   */
  appendCommit(parts: readonly TxPart[], acks: readonly TxAck[], id?: number): number {
    const txId = id ?? this.log.endOffset;
    const meta: CommitMeta = {
      id: txId,
      p: parts.map((x) => [x.topic, x.lane, x.base, x.count, x.timestamp, x.payload.length]),
      a: acks.map((x) => [x.topic, x.group, x.lane, x.offset]),
    };
    const payload = encode(KIND_COMMIT, meta, parts.map((x) => x.payload));
    const at = this.log.append([{ count: 1, timestamp: Date.now(), format: 0, payload }]);
    if (!this.#inflight.has(txId)) this.#inflight.set(txId, at);
    return txId;
  }

  durable(): Promise<void> {
    return this.log.durable();
  }

  /**
   * Writes the done record of `id` once `applied` (the transaction's lanes and group state being
   * made durable) resolves, then truncates the log if nothing older is still pending. A failure
   * leaves the commit record in place: the next open replays it (idempotently).
   */
  finish(id: number, applied: Promise<unknown>): void {
    const p = applied.then(
      () => {
        if (this.#inflight.delete(id)) this.log.append([{ count: 1, timestamp: Date.now(), format: 0, payload: encode(KIND_DONE, { id }, []) }]);
        this.#maybeCompact();
      },
      (e: unknown) => this.onError(e),
    );
    this.#finishing.add(p);
    void p.finally(() => this.#finishing.delete(p));
  }

  /** Forgets a transaction whose commit record could not be made durable (the commit failed). */
  abandon(id: number): void {
    this.#inflight.delete(id);
  }

  /**
   * Waits for every transaction being finished now and makes their done records durable (before
   * a topic or group is deleted, so a replay can never apply an old transaction to a new topic of
   * the same name; and before close).
   */
  async drain(): Promise<void> {
    while (this.#finishing.size > 0) await Promise.all([...this.#finishing]);
    await this.log.durable();
  }

  #maybeCompact(): void {
    if (this.#compacting || this.log.sizeBytes < COMPACT_BYTES) return;
    let min = this.log.endOffset;
    for (const at of this.#inflight.values()) if (at < min) min = at;
    if (min <= this.log.startOffset) return;
    this.#compacting = true;
    // Everything below `min` is done: its lanes and group state are durable, so its commit
    // records are no longer needed whether or not their done records reached the disk.
    this.log
      .truncateBefore(min)
      .catch((e: unknown) => this.onError(e))
      .finally(() => (this.#compacting = false));
  }

  /** Committed transactions without a done record, in commit order, latest record per id. */
  async pending(): Promise<TxRecord[]> {
    const byId = new Map<number, TxRecord>();
    for (let off = this.log.startOffset; off < this.log.endOffset; ) {
      const batches = await this.log.read(off, 1 << 20);
      if (batches.length === 0) break;
      for (const b of batches) {
        if (b.baseOffset >= off) {
          const { kind, meta, rest } = decode(b.payload);
          if (kind === KIND_DONE) byId.delete((meta as { id: number }).id);
          else if (kind === KIND_COMMIT) {
            const m = meta as CommitMeta;
            const parts: TxPart[] = [];
            let at = 0;
            for (const [topic, lane, base, count, timestamp, len] of m.p) {
              if (at + len > rest.length) throw err('MQ_ERR_CORRUPT', `transaction ${m.id}: payload shorter than its meta`);
              parts.push({ topic, lane, base, count, timestamp, payload: Buffer.from(rest.subarray(at, at + len)) });
              at += len;
            }
            const acks = m.a.map(([topic, group, lane, offset]) => ({ topic, group, lane, offset }));
            // A rewrite keeps the first position (commit order, which is base order on every
            // lane two transactions share) but replaces the content.
            byId.set(m.id, { id: m.id, parts, acks });
          } else throw err('MQ_ERR_CORRUPT', `transaction log record of unknown kind ${kind}`);
        }
        off = b.baseOffset + b.count;
      }
    }
    return [...byId.values()];
  }

  /** Empties the log (after recovery applied and made durable everything in it). */
  async clear(): Promise<void> {
    this.#inflight.clear();
    if (this.log.endOffset > this.log.startOffset) await this.log.truncateBefore(this.log.endOffset);
  }
}
