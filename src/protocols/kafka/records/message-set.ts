/**
 * Legacy message sets (magic 0 and 1, Kafka < 0.11; docs/implementation.html "Old Message Format"),
 * as sent in Produce v0-v2 by old clients (kafka-python with api_version < 0.11, librdkafka with
 * broker.version.fallback < 0.11):
 *
 *   MessageSet = (Offset:INT64 MessageSize:INT32 Message)*
 *   Message v0 = Crc:UINT32 Magic:INT8 (0) Attributes:INT8 Key:BYTES Value:BYTES
 *   Message v1 = Crc:UINT32 Magic:INT8 (1) Attributes:INT8 Timestamp:INT64 Key:BYTES Value:BYTES
 *   Crc        = CRC-32 (IEEE, zlib's) of Magic .. end of Value
 *   Attributes = bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4), bit 3 timestamp type (v1)
 *
 * A compressed message is a wrapper whose Value is a compressed inner MessageSet. In magic 1 the
 * inner offsets are relative (0..n-1) and the wrapper carries the absolute offset of the last
 * inner message; in magic 0 the inner offsets are whatever the producer wrote (we use their order).
 * Nesting deeper than one wrapper level is refused (Kafka refuses it too).
 *
 * The broker converts message sets to one RecordBatch v2 (uncompressed) on produce, so storage
 * only ever holds magic 2. Fetch v0-v3 clients (kafka-python with api_version < (0, 11), librdkafka
 * with broker.version.fallback < 0.11) can only read magic 0/1: recordBatchesToMessageSet
 * down-converts the served batches for them, as Kafka's broker does (LazyDownConversionRecords).
 */
import { crc32, gzipSync as gzip } from 'node:zlib';
import { corruptMessage } from '../codec/errors.js';
import { decompress } from './compression.js';
import { ATTR_CONTROL, RECORD_BATCH_HEADER_SIZE, buildRecordBatch, decodeRecordBatch, type RecordInput } from './record-batch.js';

export interface LegacyMessage {
  offset: number;
  magic: 0 | 1;
  attributes: number;
  /** -1 for magic 0. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

const TWO_32 = 4294967296;

/**
 * Parses a message set (decompressing wrappers; zstd does not exist in magic 0/1). Checks each
 * CRC. `allowPartial`: ignore a truncated trailing message (as fetch responses contain) instead of
 * throwing CORRUPT_MESSAGE.
 */
export function parseMessageSet(buf: Buffer, opts: { allowPartial?: boolean; checkCrc?: boolean } = {}, depth = 0): LegacyMessage[] {
  const out: LegacyMessage[] = [];
  const checkCrc = opts.checkCrc ?? true;
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 12) {
      if (opts.allowPartial) break;
      throw corruptMessage('truncated message set entry');
    }
    const offset = buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
    const size = buf.readInt32BE(pos + 8);
    if (size < 14 || size > buf.length - pos - 12) {
      if (opts.allowPartial && size >= 14) break;
      throw corruptMessage(`message size ${size} out of range`);
    }
    const m = pos + 12;
    const end = m + size;
    const magic = buf.readInt8(m + 4);
    if (magic !== 0 && magic !== 1) throw corruptMessage(`message magic ${magic}`);
    if (checkCrc) {
      const crc = buf.readUInt32BE(m);
      const actual = crc32(buf.subarray(m + 4, end));
      if (crc !== actual) throw corruptMessage(`message CRC 0x${actual.toString(16)} ≠ stored 0x${crc.toString(16)}`);
    }
    const attributes = buf.readInt8(m + 5);
    let p = m + 6;
    let timestamp = -1;
    if (magic === 1) {
      if (end - p < 8) throw corruptMessage('truncated message timestamp');
      timestamp = buf.readInt32BE(p) * TWO_32 + buf.readUInt32BE(p + 4);
      p += 8;
    }
    const readBytes = (): Buffer | null => {
      if (end - p < 4) throw corruptMessage('truncated message key/value');
      const len = buf.readInt32BE(p);
      p += 4;
      if (len === -1) return null;
      if (len < 0 || len > end - p) throw corruptMessage(`message key/value length ${len} out of range`);
      const v = buf.subarray(p, p + len);
      p += len;
      return v;
    };
    const key = readBytes();
    const value = readBytes();
    const codec = attributes & 0x07;
    if (codec === 0) {
      out.push({ offset, magic, attributes, timestamp, key, value });
    } else {
      if (depth > 0) throw corruptMessage('nested compressed message');
      if (codec > 3) throw corruptMessage(`message codec ${codec}`);
      if (value === null) throw corruptMessage('compressed message without value');
      const inner = parseMessageSet(decompress(codec, value), { checkCrc }, depth + 1);
      if (magic === 1 && inner.length > 0) {
        // Relative inner offsets: absolute = wrapper offset - (last relative) + relative.
        const last = inner[inner.length - 1]!.offset;
        for (const im of inner) im.offset = offset - last + im.offset;
      }
      // Magic 1 wrappers with LogAppendTime (bit 3) stamp their timestamp on every inner message.
      if (magic === 1 && attributes & 0x08) for (const im of inner) im.timestamp = timestamp;
      out.push(...inner);
    }
    pos = end;
  }
  return out;
}

/**
 * Converts a produced message set to one uncompressed RecordBatch v2 (baseOffset 0, offsets
 * renumbered 0..n-1 in order, producer id -1). Magic 0 messages have no timestamp: they get
 * `now` (Kafka uses -1 = NO_TIMESTAMP; librdkafka and kafkajs then show 1970, so we stamp arrival
 * time instead). Returns null for an empty set.
 */
export function messageSetToRecordBatch(buf: Buffer, now = Date.now()): { batch: Buffer; count: number } | null {
  const msgs = parseMessageSet(buf);
  if (msgs.length === 0) return null;
  const recs: RecordInput[] = msgs.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp >= 0 ? m.timestamp : now }));
  const first = recs[0]!.timestamp!;
  const logAppend = msgs.some((m) => m.magic === 1 && (m.attributes & 0x08) !== 0);
  return { batch: buildRecordBatch(recs, { baseTimestamp: first, timestampType: logAppend ? 1 : 0 }), count: msgs.length };
}

/** Builds a magic 0/1 message set (tests: what old clients send). Offsets 0..n-1; optional gzip wrapper. */
export function buildMessageSet(
  messages: readonly { key?: Buffer | null; value: Buffer | null; timestamp?: number }[],
  opts: { magic?: 0 | 1; compression?: number; compressor?: (raw: Buffer) => Buffer; baseOffset?: number } = {},
): Buffer {
  const magic = opts.magic ?? 1;
  const one = (offset: number, attributes: number, ts: number, key: Buffer | null, value: Buffer | null): Buffer => {
    const b = Buffer.alloc(messageSize(magic, key, value));
    writeLegacyMessage(b, 0, offset, magic, attributes, ts, key, value);
    return b;
  };
  const inner = Buffer.concat(messages.map((m, i) => one(i, 0, m.timestamp ?? 0, m.key ?? null, m.value)));
  const codec = opts.compression ?? 0;
  if (codec === 0) {
    if ((opts.baseOffset ?? 0) === 0) return inner;
    return Buffer.concat(messages.map((m, i) => one((opts.baseOffset ?? 0) + i, 0, m.timestamp ?? 0, m.key ?? null, m.value)));
  }
  const compressed = opts.compressor ? opts.compressor(inner) : (() => {
    if (codec !== 1) throw corruptMessage('buildMessageSet: only gzip without a compressor');
    return gzip(inner);
  })();
  const lastOffset = (opts.baseOffset ?? 0) + messages.length - 1;
  return one(lastOffset, codec, messages[messages.length - 1]?.timestamp ?? 0, null, compressed);
}


/**
 * Down-conversion for Fetch v0-v3: the RecordBatch v2 bytes a fetch would serve (`batches`, as
 * chunks — a served batch may span two) → one magic 0 (Fetch v0/v1) or magic 1 (Fetch v2/v3)
 * message set of UNCOMPRESSED messages with their absolute offsets.
 *
 * - Compressed batches are decompressed and sent uncompressed, not re-wrapped in a compressed
 *   wrapper of the same codec as Kafka does: re-compressing costs the broker CPU on every fetch of
 *   every old consumer (gzip level 6 runs at ~30-60 MB/s, an order of magnitude slower than
 *   decompressing), whereas sending uncompressed only costs wire bytes (typically 2-5x for
 *   text); it also avoids magic 0's non-standard LZ4 frame checksum (KAFKA-3160) and magic 0/1's
 *   lack of zstd. Every old client reads uncompressed messages.
 * - Magic 1 messages keep the record's timestamp and the batch's timestamp type (attributes bit 3
 *   for LogAppendTime); magic 0 has no timestamp. Record headers are dropped (magic 0/1 have none),
 *   as Kafka does.
 * - Control batches (transaction markers) are skipped, as Kafka does; so are records below
 *   `fromOffset` (the head of the batch containing the fetch offset) — old clients skip those too.
 * - Whole batches are converted: output stops before the next batch once it holds `maxBytes`, so
 *   it may exceed `maxBytes` by one converted batch (as v4+ fetches serve whole batches, KIP-74).
 *   Cutting inside a batch would make the next fetch decode (and decompress) that batch again
 *   from its start: with 1 MB producer batches, measured ~2x the broker CPU per record. Memory
 *   is bounded by `maxBytes` plus one converted batch.
 *
 * zstd batches cannot be decompressed (compression.ts): UNSUPPORTED_COMPRESSION_TYPE is thrown if
 * nothing was converted before one, else the output ends before it — Kafka answers old fetches of
 * zstd data with that same error.
 */
export function recordBatchesToMessageSet(batches: readonly Buffer[], magic: 0 | 1, fromOffset: number, maxBytes: number): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  // Batches are gathered one at a time from the chunks (a served batch is usually a 16-byte prefix
  // plus the stored rest): only the batches converted are copied, not the whole read.
  let ci = 0;
  let carry: Buffer | undefined;
  const next = (): Buffer | undefined => {
    let buf = carry ?? batches[ci++];
    carry = undefined;
    if (buf === undefined) return undefined;
    while (buf.length < 12 || buf.length < 12 + buf.readInt32BE(8)) {
      if (ci >= batches.length) return undefined; // a partial trailing batch
      buf = Buffer.concat([buf, batches[ci++]!]);
    }
    const need = 12 + buf.readInt32BE(8);
    if (buf.length > need) {
      carry = buf.subarray(need);
      buf = buf.subarray(0, need);
    }
    return buf;
  };
  for (let buf = next(); buf !== undefined; buf = next()) {
    if (buf.length < RECORD_BATCH_HEADER_SIZE) break;
    if ((buf.readInt16BE(21) & ATTR_CONTROL) !== 0) continue;
    let decoded;
    try {
      decoded = decodeRecordBatch(buf);
    } catch (e) {
      if (out.length > 0) break;
      throw e;
    }
    const logAppend = magic === 1 && decoded.header.timestampType === 1;
    // One buffer per batch: sizes first, then every message written in place.
    let bytes = 0;
    let first = 0;
    const recs = decoded.records;
    while (first < recs.length && recs[first]!.offset < fromOffset) first++;
    for (let i = first; i < recs.length; i++) bytes += messageSize(magic, recs[i]!.key, recs[i]!.value);
    if (bytes > 0) {
      const b = Buffer.allocUnsafe(bytes);
      let p = 0;
      for (let i = first; i < recs.length; i++) {
        const r = recs[i]!;
        p = writeLegacyMessage(b, p, r.offset, magic, logAppend ? 0x08 : 0, r.timestamp, r.key, r.value);
      }
      out.push(b);
      size += bytes;
    }
    if (size >= maxBytes) break;
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out, size);
}

/** Bytes of one message set entry. */
function messageSize(magic: 0 | 1, key: Buffer | null, value: Buffer | null): number {
  return 12 + 4 + 1 + 1 + (magic === 1 ? 8 : 0) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0);
}

/** Writes one message set entry (Offset Size Crc Magic Attributes [Timestamp] Key Value) at `at`; returns its end. */
function writeLegacyMessage(b: Buffer, at: number, offset: number, magic: 0 | 1, attributes: number, ts: number, key: Buffer | null, value: Buffer | null): number {
  const end = at + messageSize(magic, key, value);
  const hi = Math.floor(offset / TWO_32);
  b.writeInt32BE(hi, at);
  b.writeUInt32BE(offset - hi * TWO_32, at + 4);
  b.writeInt32BE(end - at - 12, at + 8);
  let p = at + 16;
  b.writeInt8(magic, p++);
  b.writeInt8(attributes, p++);
  if (magic === 1) {
    const th = Math.floor(ts / TWO_32);
    b.writeInt32BE(th, p);
    b.writeUInt32BE(ts - th * TWO_32, p + 4);
    p += 8;
  }
  for (const x of [key, value]) {
    if (x === null) {
      b.writeInt32BE(-1, p);
      p += 4;
    } else {
      b.writeInt32BE(x.length, p);
      x.copy(b, p + 4);
      p += 4 + x.length;
    }
  }
  b.writeUInt32BE(crc32(b.subarray(at + 16, end)), at + 12);
  return end;
}
