/**
 * The Kafka view of an engine partition log: stored batches → RecordBatch v2 bytes as served by
 * Fetch, and single-record lookups (ListOffsets by timestamp).
 *
 * - FORMAT_KAFKA batches (produced over Kafka) are served as stored, with a 16-byte copy of their
 *   prefix carrying the stored base offset and leader epoch 0 — the stored bytes are never
 *   modified (they may be shared with other readers), no CRC is recomputed.
 * - FORMAT_NATIVE batches (AMQP, RESP, STOMP, the embedded API) are converted on the fly into an
 *   uncompressed RecordBatch v2 with the same offsets: key (UTF-8), body, string headers,
 *   timestamp. No cache: a batch converted twice costs twice (~1 µs per small record); consumers
 *   that read the same native data repeatedly pay that each time. Records of priority lanes > 0
 *   are not in the log view (the engine's priority-0 lane is the partition), see kafka.md.
 * - FORMAT_GAP frames (offsets emptied by log compaction) are served as an empty RecordBatch
 *   spanning them (recordsCount 0, lastOffsetDelta = count - 1), as Kafka's cleaner leaves.
 * - Other formats are skipped (nothing else exists today).
 */
import type { Engine } from '../../../engine/engine.js';
import { FORMAT_KAFKA, FORMAT_NATIVE, decodeBatch } from '../../../engine/record.js';
import type { StoredBatch } from '../../../engine/storage/types.js';
import { buildRecordBatch, decodeRecordBatch, type RecordInput as KafkaRecordInput } from '../records/index.js';
import { SERVED_PREFIX_BYTES, servedPrefix } from './batch-header.js';
import { FORMAT_GAP } from '../../../engine/compaction.js';
import { emptyRecordBatch } from '../compaction.js';

/** Leader epoch of every partition (one node, never re-elected). */
export const LEADER_EPOCH = 0;

/** A native batch as a RecordBatch v2. */
export function nativeToRecordBatch(b: StoredBatch): Buffer | undefined {
  const recs: KafkaRecordInput[] = [];
  let first = -1;
  decodeBatch(b.payload, b.baseOffset, b.count, b.baseOffset, (r) => {
    const ts = Math.trunc(r.timestamp);
    if (first < 0) first = ts;
    const headers = [];
    for (const k in r.headers) headers.push({ key: k, value: Buffer.from(r.headers[k]!, 'utf8') });
    recs.push({
      key: r.key === undefined ? null : Buffer.from(r.key, 'utf8'),
      value: r.body,
      headers,
      timestamp: ts,
      offsetDelta: r.offset - b.baseOffset,
    });
  });
  if (recs.length === 0) return undefined;
  return buildRecordBatch(recs, { baseOffset: b.baseOffset, partitionLeaderEpoch: LEADER_EPOCH, baseTimestamp: first });
}

/** Appends the served bytes of `b` to `out`; returns the byte count (0 if not servable). */
export function serveBatch(b: StoredBatch, out: Buffer[]): number {
  if (b.format === FORMAT_KAFKA) {
    if (b.payload.length < SERVED_PREFIX_BYTES) return 0;
    out.push(servedPrefix(b.payload, b.baseOffset, LEADER_EPOCH), b.payload.subarray(SERVED_PREFIX_BYTES));
    return b.payload.length;
  }
  if (b.format === FORMAT_NATIVE) {
    const rb = nativeToRecordBatch(b);
    if (!rb) return 0;
    out.push(rb);
    return rb.length;
  }
  if (b.format === FORMAT_GAP) {
    // Offsets emptied by compaction: an empty batch, so the client's next fetch starts after them.
    const rb = emptyRecordBatch(b.baseOffset, b.count, b.timestamp, LEADER_EPOCH);
    out.push(rb);
    return rb.length;
  }
  return 0;
}

/**
 * The first record at or after `timestamp` (Kafka ListOffsets semantics): the engine's time index
 * finds the batch (by its max timestamp), then the batch's records are scanned for the exact one.
 * Undefined when no record is that new. A batch that cannot be decoded (zstd) answers with its
 * base offset and max timestamp.
 */
export async function offsetForTime(engine: Engine, topic: string, partition: number, timestamp: number, logStart: number): Promise<{ offset: number; timestamp: number } | undefined> {
  const { end } = engine.logBounds(topic, partition);
  let off = Math.max(await engine.offsetForTimestamp(topic, partition, timestamp), logStart);
  while (off < end) {
    const batches = await engine.readLog(topic, partition, off, 1);
    const b = batches[0];
    if (!b) return undefined;
    const hit = findInBatch(b, timestamp, off);
    if (hit) return hit;
    off = b.baseOffset + b.count;
  }
  return undefined;
}

function findInBatch(b: StoredBatch, timestamp: number, from: number): { offset: number; timestamp: number } | undefined {
  if (b.format === FORMAT_NATIVE) {
    let hit: { offset: number; timestamp: number } | undefined;
    decodeBatch(b.payload, b.baseOffset, b.count, from, (r) => {
      if (!hit && r.timestamp >= timestamp) hit = { offset: r.offset, timestamp: Math.trunc(r.timestamp) };
    });
    return hit;
  }
  if (b.format === FORMAT_KAFKA) {
    try {
      const d = decodeRecordBatch(b.payload);
      for (const r of d.records) {
        const offset = b.baseOffset + (r.offset - d.header.baseOffset);
        if (offset >= from && r.timestamp >= timestamp) return { offset, timestamp: r.timestamp };
      }
      return undefined;
    } catch {
      return b.timestamp >= timestamp ? { offset: Math.max(b.baseOffset, from), timestamp: b.timestamp } : undefined;
    }
  }
  return undefined;
}
