/**
 * RecordBatch v2 (magic 2), Kafka's record format since 0.11 (docs/implementation.html §5.3.1):
 *
 *   offset  field                  type     notes
 *   0       baseOffset             INT64    assigned by the broker: patched in place on append
 *   8       batchLength            INT32    bytes after this field (total size = batchLength + 12)
 *   12      partitionLeaderEpoch   INT32    set by the broker (outside the CRC)
 *   16      magic                  INT8     2
 *   17      crc                    UINT32   CRC-32C of bytes [21, end)
 *   21      attributes             INT16    bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
 *                                           bit 3 timestampType (1 = LogAppendTime), bit 4 isTransactional,
 *                                           bit 5 isControl, bit 6 hasDeleteHorizonMs
 *   23      lastOffsetDelta        INT32
 *   27      baseTimestamp          INT64
 *   35      maxTimestamp           INT64
 *   43      producerId             INT64
 *   51      producerEpoch          INT16
 *   53      baseSequence           INT32
 *   57      recordsCount           INT32
 *   61      records                Record[recordsCount], compressed as a whole when codec ≠ 0
 *
 *   Record = length:VARINT attributes:INT8 timestampDelta:VARLONG offsetDelta:VARINT
 *            keyLength:VARINT key  valueLength:VARINT value  headersCount:VARINT Header*
 *   Header = headerKeyLength:VARINT headerKey(UTF-8) headerValueLength:VARINT value   (length -1 = null)
 *   Control record (isControl): key = version:INT16 type:INT16 (0 abort, 1 commit), value = version:INT16 coordinatorEpoch:INT32
 *
 * Because baseOffset, batchLength, partitionLeaderEpoch and magic precede the CRC'd region, the
 * broker stores a producer's batch verbatim and only patches baseOffset (and the leader epoch):
 * no decompression, no CRC recomputation, every codec incl. zstd works.
 *
 * This module: header parsing, produce-side validation (framing, magic, CRC, counts — without
 * decompressing), in-place patches, record decoding (with decompression) and batch building
 * (uncompressed or gzip; for tests and for converting old formats). It does not check producer
 * sequences or transactions (engine/session state).
 */
import { KafkaCodecError, KafkaErrorCode, corruptMessage } from '../codec/errors.js';
import { crc32c } from './crc32c.js';
import { compress, decompress } from './compression.js';

export const RECORD_BATCH_HEADER_SIZE = 61;
/** Bytes counted by batchLength that precede the records (61 - 12). */
const BATCH_LENGTH_OVERHEAD = 49;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_TYPE = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;
export const ATTR_DELETE_HORIZON = 0x40;

export const NO_PRODUCER_ID = -1;
export const NO_TIMESTAMP = -1;

const TWO_32 = 4294967296;
const i64 = (b: Buffer, o: number): number => b.readInt32BE(o) * TWO_32 + b.readUInt32BE(o + 4);
function w64(b: Buffer, o: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  b.writeInt32BE(hi, o);
  b.writeUInt32BE(v - hi * TWO_32, o + 4);
}

export interface RecordBatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: number;
  /** 0 CreateTime, 1 LogAppendTime. */
  timestampType: number;
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Parses the 61-byte header at buf[pos]. Throws CORRUPT_MESSAGE if fewer bytes remain or magic ≠ 2. */
export function readBatchHeader(buf: Buffer, pos = 0): RecordBatchHeader {
  if (buf.length - pos < RECORD_BATCH_HEADER_SIZE) throw corruptMessage('record batch shorter than its 61-byte header');
  const magic = buf.readInt8(pos + 16);
  if (magic !== 2) throw corruptMessage(`record batch magic ${magic}, expected 2`);
  const attributes = buf.readInt16BE(pos + 21);
  return {
    baseOffset: i64(buf, pos),
    batchLength: buf.readInt32BE(pos + 8),
    partitionLeaderEpoch: buf.readInt32BE(pos + 12),
    magic,
    crc: buf.readUInt32BE(pos + 17),
    attributes,
    compression: attributes & ATTR_COMPRESSION_MASK,
    timestampType: (attributes & ATTR_TIMESTAMP_TYPE) >> 3,
    isTransactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTR_CONTROL) !== 0,
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    baseTimestamp: i64(buf, pos + 27),
    maxTimestamp: i64(buf, pos + 35),
    producerId: i64(buf, pos + 43),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordCount: buf.readInt32BE(pos + 57),
  };
}

/** One batch inside a RECORDS field: its header and a view of its bytes. */
export interface BatchView extends RecordBatchHeader {
  /** Position of the batch in the RECORDS buffer. */
  position: number;
  /** The batch bytes (a view, not a copy): batchLength + 12 bytes. */
  bytes: Buffer;
}

/** The magic byte of the first batch / message in a RECORDS field (byte 16), or -1 if too short. */
export function recordsMagic(records: Buffer): number {
  return records.length > 16 ? records.readInt8(16) : -1;
}

export interface ValidateOptions {
  /** Check the CRC-32C (default true). ~1 GB/s: 1 µs per KiB. */
  checkCrc?: boolean;
  /** Refuse control batches (clients may not produce them; default true). */
  rejectControl?: boolean;
  /** Require exactly one batch, as Kafka does for Produce v3+ (default false). */
  single?: boolean;
}

/**
 * Splits and validates the RECORDS of a produce request (magic 2 only), without decompressing or
 * copying. Per batch: complete framing (batchLength ≥ 49 and within the buffer), magic 2, CRC-32C,
 * recordCount ≥ 1 and lastOffsetDelta = recordCount - 1 (what Kafka's LogValidator enforces for
 * produced batches), no control batch. Throws KafkaCodecError CORRUPT_MESSAGE (or
 * UNSUPPORTED_FOR_MESSAGE_FORMAT for magic 0/1, which callers convert with message-set.ts first).
 */
export function validateRecordBatches(records: Buffer, opts: ValidateOptions = {}): BatchView[] {
  const checkCrc = opts.checkCrc ?? true;
  const rejectControl = opts.rejectControl ?? true;
  const out: BatchView[] = [];
  let pos = 0;
  if (records.length === 0) throw corruptMessage('empty record set');
  while (pos < records.length) {
    // Magic first (byte 16 in both formats), so an old message set is recognised even when short.
    const magic = records.length - pos > 16 ? records.readInt8(pos + 16) : -1;
    if (magic === 0 || magic === 1) throw new KafkaCodecError(KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `message set magic ${magic} inside a record batch list`);
    if (records.length - pos < RECORD_BATCH_HEADER_SIZE) throw corruptMessage(`truncated record batch at ${pos}`);
    if (magic !== 2) throw corruptMessage(`record batch magic ${magic}`);
    const batchLength = records.readInt32BE(pos + 8);
    if (batchLength < BATCH_LENGTH_OVERHEAD || batchLength > records.length - pos - 12) {
      throw corruptMessage(`record batch length ${batchLength} at ${pos} does not fit the ${records.length - pos} bytes left`);
    }
    const size = batchLength + 12;
    const h = readBatchHeader(records, pos);
    if (checkCrc) {
      const actual = crc32c(records, pos + 21, pos + size);
      if (actual !== h.crc) throw corruptMessage(`record batch CRC-32C 0x${actual.toString(16)} ≠ stored 0x${h.crc.toString(16)}`);
    }
    if (h.recordCount <= 0) throw corruptMessage(`record batch count ${h.recordCount}`);
    if (h.lastOffsetDelta !== h.recordCount - 1) throw corruptMessage(`lastOffsetDelta ${h.lastOffsetDelta} ≠ count ${h.recordCount} - 1`);
    if (rejectControl && h.isControl) throw new KafkaCodecError(KafkaErrorCode.INVALID_RECORD, 'clients may not produce control batches');
    if (h.compression > 4) throw new KafkaCodecError(KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression codec ${h.compression}`);
    out.push({ ...h, position: pos, bytes: records.subarray(pos, pos + size) });
    pos += size;
  }
  if (opts.single && out.length !== 1) throw corruptMessage(`expected exactly one record batch, got ${out.length}`);
  return out;
}

/**
 * Splits stored/fetched RECORDS into batches without validation (client side). A trailing
 * partial batch — brokers cut fetch responses at max bytes — is ignored.
 */
export function splitRecordBatches(records: Buffer): BatchView[] {
  const out: BatchView[] = [];
  let pos = 0;
  while (records.length - pos >= RECORD_BATCH_HEADER_SIZE) {
    const batchLength = records.readInt32BE(pos + 8);
    if (batchLength < BATCH_LENGTH_OVERHEAD || batchLength > records.length - pos - 12) break;
    const size = batchLength + 12;
    out.push({ ...readBatchHeader(records, pos), position: pos, bytes: records.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

/** Writes baseOffset in place (outside the CRC: no recomputation). `pos` is the batch position. */
export function patchBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  w64(buf, pos, baseOffset);
}

/** Writes partitionLeaderEpoch in place (outside the CRC). */
export function patchPartitionLeaderEpoch(buf: Buffer, pos: number, epoch: number): void {
  buf.writeInt32BE(epoch, pos + 12);
}

/** Recomputes and writes the CRC-32C of the batch at `pos` (after changing CRC'd fields). */
export function recomputeCrc(buf: Buffer, pos = 0): void {
  const size = buf.readInt32BE(pos + 8) + 12;
  buf.writeUInt32BE(crc32c(buf, pos + 21, pos + size), pos + 17);
}

/**
 * Sets LogAppendTime on a batch in place (topic config message.timestamp.type=LogAppendTime):
 * timestampType bit and maxTimestamp, then the CRC (~1 µs per KiB).
 */
export function setLogAppendTime(buf: Buffer, pos: number, timestamp: number): void {
  buf.writeInt16BE(buf.readInt16BE(pos + 21) | ATTR_TIMESTAMP_TYPE, pos + 21);
  w64(buf, pos + 35, timestamp);
  recomputeCrc(buf, pos);
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  /** Absolute offset: baseOffset + offsetDelta. */
  offset: number;
  /** baseTimestamp + timestampDelta, or maxTimestamp for LogAppendTime batches. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  attributes: number;
}

export interface DecodedRecordBatch {
  header: RecordBatchHeader;
  records: KafkaRecord[];
}

/** Cursor over decompressed record bytes; errors are CORRUPT_MESSAGE. */
class RecCursor {
  constructor(
    readonly b: Buffer,
    public p: number,
    readonly end: number,
  ) {}
  uvar(): number {
    let r = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.p >= this.end) throw corruptMessage('truncated varint in record');
      const x = this.b[this.p++]!;
      r += (x & 0x7f) * mul;
      if ((x & 0x80) === 0) return r;
      mul *= 128;
    }
    throw corruptMessage('varint too long in record');
  }
  varint(): number {
    const u = this.uvar();
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }
  int8(): number {
    if (this.p >= this.end) throw corruptMessage('truncated record');
    return this.b.readInt8(this.p++);
  }
  bytes(): Buffer | null {
    const len = this.varint();
    if (len < 0) {
      if (len === -1) return null;
      throw corruptMessage(`bad length ${len} in record`);
    }
    if (len > this.end - this.p) throw corruptMessage('record field overruns the batch');
    const v = this.b.subarray(this.p, this.p + len);
    this.p += len;
    return v;
  }
}

/**
 * Decodes every record of one batch (decompressing if needed; zstd throws
 * UNSUPPORTED_COMPRESSION_TYPE). Keys/values are views into the batch or the decompressed buffer.
 * The header's record count is trusted only as far as the bytes allow (a record takes ≥ 7 bytes).
 */
export function decodeRecordBatch(batch: Buffer, pos = 0): DecodedRecordBatch {
  const header = readBatchHeader(batch, pos);
  const end = pos + header.batchLength + 12;
  if (header.batchLength < BATCH_LENGTH_OVERHEAD || end > batch.length) throw corruptMessage('record batch length out of range');
  let data: Buffer;
  let p: number;
  let e: number;
  if (header.compression === 0) {
    data = batch;
    p = pos + RECORD_BATCH_HEADER_SIZE;
    e = end;
  } else {
    data = decompress(header.compression, batch.subarray(pos + RECORD_BATCH_HEADER_SIZE, end));
    p = 0;
    e = data.length;
  }
  const c = new RecCursor(data, p, e);
  const records: KafkaRecord[] = [];
  const count = header.recordCount;
  // Each record takes at least 7 bytes; a larger count than that is corrupt (no huge loop).
  if (count < 0 || count > (e - p) / 7 + 1) throw corruptMessage(`record count ${count} does not fit the batch`);
  const logAppend = header.timestampType === 1;
  for (let i = 0; i < count; i++) {
    const len = c.varint();
    if (len < 0 || len > e - c.p) throw corruptMessage(`record length ${len} overruns the batch`);
    const recEnd = c.p + len;
    const rc = new RecCursor(data, c.p, recEnd);
    const attributes = rc.int8();
    const tsDelta = rc.varint();
    const offDelta = rc.varint();
    const key = rc.bytes();
    const value = rc.bytes();
    const nh = rc.varint();
    if (nh < 0 || nh > recEnd - rc.p) throw corruptMessage(`header count ${nh} in record`);
    const headers: RecordHeader[] = [];
    for (let h = 0; h < nh; h++) {
      const k = rc.bytes();
      if (k === null) throw corruptMessage('null header key');
      headers.push({ key: k.toString('utf8'), value: rc.bytes() });
    }
    c.p = recEnd;
    records.push({
      offset: header.baseOffset + offDelta,
      timestamp: logAppend ? header.maxTimestamp : header.baseTimestamp + tsDelta,
      key,
      value,
      headers,
      attributes,
    });
  }
  return { header, records };
}

export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: readonly RecordHeader[];
  /** Default: the batch's baseTimestamp. */
  timestamp?: number;
  /** Default: the record's index (set explicitly to build compacted-looking batches). */
  offsetDelta?: number;
}

export interface BuildBatchOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  /** 0 none or 1 gzip, unless `compressor` is given. */
  compression?: number;
  /** Custom compressor for codec `compression` (tests: snappy/lz4 encoders). */
  compressor?: (raw: Buffer) => Buffer;
  timestampType?: 0 | 1;
  isTransactional?: boolean;
  isControl?: boolean;
  /** Default: the first record's timestamp, else Date.now(). */
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

function uvarLen(u: number): number {
  let n = 1;
  while (u >= 128) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}
const zz = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);
const varLen = (v: number): number => uvarLen(zz(v));
function putVar(b: Buffer, p: number, v: number): number {
  let u = zz(v);
  while (u >= 128) {
    b[p++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  b[p++] = u;
  return p;
}

/** Encodes records (the part after the 61-byte header) without compression. */
export function encodeRecords(records: readonly RecordInput[], baseTimestamp: number): Buffer {
  const sizes: number[] = [];
  let total = 0;
  records.forEach((r, i) => {
    const key = r.key ?? null;
    const ts = (r.timestamp ?? baseTimestamp) - baseTimestamp;
    let body = 1 + varLen(ts) + varLen(r.offsetDelta ?? i);
    body += key === null ? 1 : varLen(key.length) + key.length;
    body += r.value === null ? 1 : varLen(r.value.length) + r.value.length;
    const hs = r.headers ?? [];
    body += varLen(hs.length);
    for (const h of hs) {
      const kl = Buffer.byteLength(h.key, 'utf8');
      body += varLen(kl) + kl + (h.value === null ? 1 : varLen(h.value.length) + h.value.length);
    }
    sizes.push(body);
    total += varLen(body) + body;
  });
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  records.forEach((r, i) => {
    const key = r.key ?? null;
    p = putVar(out, p, sizes[i]!);
    out[p++] = 0;
    p = putVar(out, p, (r.timestamp ?? baseTimestamp) - baseTimestamp);
    p = putVar(out, p, r.offsetDelta ?? i);
    if (key === null) p = putVar(out, p, -1);
    else {
      p = putVar(out, p, key.length);
      out.set(key, p);
      p += key.length;
    }
    if (r.value === null) p = putVar(out, p, -1);
    else {
      p = putVar(out, p, r.value.length);
      out.set(r.value, p);
      p += r.value.length;
    }
    const hs = r.headers ?? [];
    p = putVar(out, p, hs.length);
    for (const h of hs) {
      const kb = Buffer.from(h.key, 'utf8');
      p = putVar(out, p, kb.length);
      out.set(kb, p);
      p += kb.length;
      if (h.value === null) p = putVar(out, p, -1);
      else {
        p = putVar(out, p, h.value.length);
        out.set(h.value, p);
        p += h.value.length;
      }
    }
  });
  return out;
}

/** Builds a complete RecordBatch v2 with a valid CRC-32C. */
export function buildRecordBatch(records: readonly RecordInput[], opts: BuildBatchOptions = {}): Buffer {
  if (records.length === 0) throw new KafkaCodecError(KafkaErrorCode.INVALID_RECORD, 'a record batch needs at least one record');
  const baseTimestamp = opts.baseTimestamp ?? records[0]!.timestamp ?? Date.now();
  let maxTs = -Infinity;
  let lastDelta = 0;
  records.forEach((r, i) => {
    maxTs = Math.max(maxTs, r.timestamp ?? baseTimestamp);
    lastDelta = Math.max(lastDelta, r.offsetDelta ?? i);
  });
  const codec = opts.compression ?? 0;
  const raw = encodeRecords(records, baseTimestamp);
  const body = codec === 0 ? raw : opts.compressor ? opts.compressor(raw) : compress(codec, raw);
  const out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_SIZE + body.length);
  w64(out, 0, opts.baseOffset ?? 0);
  out.writeInt32BE(BATCH_LENGTH_OVERHEAD + body.length, 8);
  out.writeInt32BE(opts.partitionLeaderEpoch ?? -1, 12);
  out.writeInt8(2, 16);
  let attrs = codec & ATTR_COMPRESSION_MASK;
  if (opts.timestampType === 1) attrs |= ATTR_TIMESTAMP_TYPE;
  if (opts.isTransactional) attrs |= ATTR_TRANSACTIONAL;
  if (opts.isControl) attrs |= ATTR_CONTROL;
  out.writeInt16BE(attrs, 21);
  out.writeInt32BE(lastDelta, 23);
  w64(out, 27, baseTimestamp);
  w64(out, 35, maxTs);
  w64(out, 43, opts.producerId ?? NO_PRODUCER_ID);
  out.writeInt16BE(opts.producerEpoch ?? -1, 51);
  out.writeInt32BE(opts.baseSequence ?? -1, 53);
  out.writeInt32BE(records.length, 57);
  out.set(body, RECORD_BATCH_HEADER_SIZE);
  out.writeUInt32BE(crc32c(out, 21, out.length), 17);
  return out;
}

/** Control record types (key of a control batch's single record). */
export const ControlType = { Abort: 0, Commit: 1 } as const;

/** Builds a transaction marker batch (control batch with one record), as the coordinator writes. */
export function buildControlBatch(opts: {
  type: 0 | 1;
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch?: number;
  baseOffset?: number;
  timestamp?: number;
  partitionLeaderEpoch?: number;
}): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(opts.type, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(opts.coordinatorEpoch ?? 0, 2);
  const ts = opts.timestamp ?? Date.now();
  return buildRecordBatch([{ key, value, timestamp: ts }], {
    baseOffset: opts.baseOffset ?? 0,
    partitionLeaderEpoch: opts.partitionLeaderEpoch ?? -1,
    isTransactional: true,
    isControl: true,
    baseTimestamp: ts,
    producerId: opts.producerId,
    producerEpoch: opts.producerEpoch,
    baseSequence: -1,
  });
}

/** Reads the control type (0 abort, 1 commit) of a control record key, or -1 if not a control key. */
export function controlRecordType(key: Buffer | null): number {
  if (key === null || key.length < 4) return -1;
  return key.readInt16BE(2);
}
