/**
 * The fixed 61-byte header of a RecordBatch (magic 2), read in place — what the server needs to
 * store a produced batch without decoding its records: record count, max timestamp, producer id /
 * epoch / base sequence, attributes. Offsets within the header:
 *
 *   0 baseOffset i64 · 8 batchLength i32 · 12 partitionLeaderEpoch i32 · 16 magic i8 · 17 crc u32
 *   21 attributes i16 · 23 lastOffsetDelta i32 · 27 baseTimestamp i64 · 35 maxTimestamp i64
 *   43 producerId i64 · 51 producerEpoch i16 · 53 baseSequence i32 · 57 recordCount i32 · 61 records
 *
 * The CRC-32C covers bytes 21..end, so baseOffset, batchLength and partitionLeaderEpoch may be
 * rewritten without recomputing it (the server rewrites baseOffset and the leader epoch).
 */
export const BATCH_HEADER_BYTES = 61;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_LOG_APPEND = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

export interface BatchHeader {
  baseOffset: number;
  /** Total bytes of the batch including the 12-byte offset+length prefix. */
  size: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

function int64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

/**
 * Reads the header of the batch starting at `pos`; undefined when fewer than 17 bytes remain.
 * For magic 0/1 (old message sets) or a truncated v2 header only baseOffset, size and magic are
 * meaningful; the caller decides whether that is corrupt or an old message set.
 */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader | undefined {
  if (buf.length - pos < 17) return undefined;
  const magic = buf.readInt8(pos + 16);
  const batchLength = buf.readInt32BE(pos + 8);
  if (magic !== 2 || buf.length - pos < BATCH_HEADER_BYTES) {
    return {
      baseOffset: int64(buf, pos),
      size: batchLength + 12,
      partitionLeaderEpoch: buf.readInt32BE(pos + 12),
      magic,
      crc: 0,
      attributes: 0,
      lastOffsetDelta: 0,
      baseTimestamp: -1,
      maxTimestamp: -1,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 0,
    };
  }
  return {
    baseOffset: int64(buf, pos),
    size: batchLength + 12,
    partitionLeaderEpoch: buf.readInt32BE(pos + 12),
    magic,
    crc: buf.readUInt32BE(pos + 17),
    attributes: buf.readInt16BE(pos + 21),
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    baseTimestamp: int64(buf, pos + 27),
    maxTimestamp: int64(buf, pos + 35),
    producerId: int64(buf, pos + 43),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordCount: buf.readInt32BE(pos + 57),
  };
}

/** Bytes of the served prefix (baseOffset, batchLength, partitionLeaderEpoch). */
export const SERVED_PREFIX_BYTES = 16;

/**
 * The first 16 bytes of a stored batch as served: base offset and leader epoch rewritten, the
 * batch length copied. The caller sends `payload.subarray(16)` after it, so the stored bytes are
 * never modified (they may be shared with other readers).
 */
export function servedPrefix(payload: Buffer, baseOffset: number, leaderEpoch: number): Buffer {
  const p = Buffer.allocUnsafe(SERVED_PREFIX_BYTES);
  p.writeInt32BE(Math.floor(baseOffset / 4294967296), 0);
  p.writeUInt32BE(baseOffset >>> 0, 4);
  payload.copy(p, 8, 8, 12);
  p.writeInt32BE(leaderEpoch, 12);
  return p;
}
