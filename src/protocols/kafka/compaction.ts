/**
 * Log compaction of stored Kafka batches (FORMAT_KAFKA), registered with the engine's compaction
 * pass (engine/compaction.ts), and the empty RecordBatch that Fetch serves for a compacted gap.
 *
 * - Keys: the record key bytes (UTF-8 text as is, so a key produced over Kafka and the same key
 *   published natively by another protocol are one key; other bytes by their hex form).
 *   A record with a null value is a tombstone. A null-key record is kept.
 * - A batch that loses some records is rebuilt uncompressed (a compressed batch is decompressed
 *   once; Kafka's cleaner recompresses, this does not: the rewrite may be larger than the
 *   producer's compressed batch) with the original base offset, lastOffsetDelta (so a fetch
 *   continues after the batch even when its last record is gone), offset deltas, timestamps,
 *   timestamp type, leader epoch and producer id/epoch/base sequence; CRC-32C recomputed.
 * - Control and transactional batches, and batches that cannot be decoded (zstd, corrupt), are
 *   kept untouched and their keys are ignored.
 */
import { registerBatchCompactor, type CompactionRecord } from '../../engine/compaction.js';
import { FORMAT_KAFKA } from '../../engine/record.js';
import type { StoredBatch } from '../../engine/storage/types.js';
import { buildRecordBatch, decodeRecordBatch, recomputeCrc, RECORD_BATCH_HEADER_SIZE, type DecodedRecordBatch } from './records/index.js';

/** The compaction identity of a key. */
export function keyIdentity(key: Buffer): string {
  const s = key.toString('utf8');
  return Buffer.byteLength(s, 'utf8') === key.length && Buffer.from(s, 'utf8').equals(key) ? s : `\u0000x${key.toString('hex')}`;
}

function decode(b: StoredBatch): DecodedRecordBatch | undefined {
  try {
    const d = decodeRecordBatch(b.payload);
    if (d.header.isControl || d.header.isTransactional) return undefined;
    return d;
  } catch {
    return undefined;
  }
}

function records(b: StoredBatch): CompactionRecord[] | undefined {
  const d = decode(b);
  if (!d) return undefined;
  const shift = b.baseOffset - d.header.baseOffset;
  return d.records.map((r) => ({
    offset: r.offset + shift,
    key: r.key === null ? undefined : keyIdentity(r.key),
    tombstone: r.value === null,
    timestamp: r.timestamp,
    start: 0,
    end: 0,
  }));
}

function rebuild(b: StoredBatch, keep: readonly CompactionRecord[]): { count: number; timestamp: number; format: number; payload: Buffer }[] {
  const d = decode(b)!;
  const h = d.header;
  const shift = b.baseOffset - h.baseOffset;
  const wanted = new Set(keep.map((r) => r.offset));
  const recs = d.records
    .filter((r) => wanted.has(r.offset + shift))
    .map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offset - h.baseOffset }));
  const out = buildRecordBatch(recs, {
    baseOffset: b.baseOffset,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    timestampType: h.timestampType === 1 ? 1 : 0,
    baseTimestamp: h.baseTimestamp,
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
  });
  // Kafka keeps the batch's offset span: the next batch starts at baseOffset + lastOffsetDelta + 1.
  out.writeInt32BE(b.count - 1, 23);
  if (h.timestampType === 1) out.writeBigInt64BE(BigInt(h.maxTimestamp), 35);
  recomputeCrc(out, 0);
  let ts = -Infinity;
  for (const r of keep) ts = Math.max(ts, r.timestamp);
  return [{ count: b.count, timestamp: h.timestampType === 1 ? h.maxTimestamp : ts, format: FORMAT_KAFKA, payload: out }];
}

registerBatchCompactor(FORMAT_KAFKA, { records, rebuild });

/**
 * An empty RecordBatch v2 spanning [baseOffset, baseOffset + count): what Fetch serves for a
 * compacted gap (Kafka's own cleaner leaves such batches too, to keep producer state). Clients
 * skip it and continue at baseOffset + lastOffsetDelta + 1.
 */
export function emptyRecordBatch(baseOffset: number, count: number, timestamp: number, leaderEpoch: number): Buffer {
  const b = Buffer.alloc(RECORD_BATCH_HEADER_SIZE);
  b.writeBigInt64BE(BigInt(baseOffset), 0);
  b.writeInt32BE(RECORD_BATCH_HEADER_SIZE - 12, 8);
  b.writeInt32BE(leaderEpoch, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(0, 21);
  b.writeInt32BE(count - 1, 23);
  const ts = BigInt(Number.isFinite(timestamp) ? Math.trunc(timestamp) : -1);
  b.writeBigInt64BE(ts, 27);
  b.writeBigInt64BE(ts, 35);
  b.writeBigInt64BE(-1n, 43);
  b.writeInt16BE(-1, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(0, 57);
  recomputeCrc(b, 0);
  return b;
}

/**
 * True when a produced batch holds a record without a key, which a compacted topic refuses
 * (Kafka's LogValidator: INVALID_RECORD, "Compacted topic cannot accept message without key").
 * Decodes the batch (decompressing it): paid only by produce to compacted topics. A batch that
 * cannot be decoded here (zstd) is let through; compaction then keeps it as it is.
 */
export function hasKeylessRecord(batch: Buffer): boolean {
  let d: DecodedRecordBatch;
  try {
    d = decodeRecordBatch(batch);
  } catch {
    return false;
  }
  if (d.header.isControl) return false;
  return d.records.some((r) => r.key === null);
}
