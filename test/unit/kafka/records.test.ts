/** RecordBatch v2, CRC-32C, legacy message sets, snappy / lz4 / gzip / zstd handling. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import {
  KafkaCodecError,
  KafkaErrorCode,
  buildControlBatch,
  buildMessageSet,
  buildRecordBatch,
  controlRecordType,
  crc32c,
  decodeRecordBatch,
  decompress,
  lz4FrameDecompress,
  messageSetToRecordBatch,
  parseMessageSet,
  patchBaseOffset,
  readBatchHeader,
  recordsMagic,
  setLogAppendTime,
  snappyDecompress,
  splitRecordBatches,
  validateRecordBatches,
} from '../../../src/protocols/kafka/index.js';
import { lz4FrameCompress, snappyCompress, xerialSnappyCompress } from './compressors.js';

const codeOf = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KafkaCodecError, `expected KafkaCodecError, got ${String(e)}`);
    return e.kafkaCode;
  }
  assert.fail('did not throw');
};

test('CRC-32C check values (RFC 3720 B.4 and the CRC catalogue)', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  assert.equal(crc32c(inc), 0x46dd794e);
  const dec = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
  assert.equal(crc32c(dec), 0x113fdb5c);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  // Chaining and offsets agree with one pass, at every split point (slicing-by-8 tail handling).
  const data = Buffer.from('The quick brown fox jumps over the lazy dog, twice over.');
  for (let k = 0; k <= data.length; k++) assert.equal(crc32c(data, k, data.length, crc32c(data, 0, k)), crc32c(data));
});

test('CRC-32C equals the bit-at-a-time definition at every alignment and length (word-view fast path)', () => {
  const bitwise = (b: Uint8Array, start: number, end: number): number => {
    let c = ~0;
    for (let i = start; i < end; i++) {
      c ^= b[i]!;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return ~c >>> 0;
  };
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(7), fc.nat(7), (bytes, pre, cut) => {
      // A view at byte offset `pre` of its ArrayBuffer: 4-byte misalignment of the start.
      const backing = new Uint8Array(pre + bytes.length);
      backing.set(bytes, pre);
      const view = Buffer.from(backing.buffer, pre, bytes.length);
      const start = Math.min(cut, view.length);
      assert.equal(crc32c(view, start, view.length), bitwise(view, start, view.length));
    }),
    { numRuns: 300 },
  );
});

test('RecordBatch build → validate → decode round trip (fast-check), headers and nulls', () => {
  const rec = fc.record({
    key: fc.option(fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)), { nil: null }),
    value: fc.option(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), { nil: null }),
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: fc.option(fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)), { nil: null }) }).map((h) => ({ ...h })), { maxLength: 3 }),
    timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  });
  fc.assert(
    fc.property(fc.array(rec, { minLength: 1, maxLength: 20 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 50 }), (recs, gzip, base) => {
      const batch = buildRecordBatch(recs, { compression: gzip ? 1 : 0, producerId: 7, producerEpoch: 1, baseSequence: 3 });
      const [v] = validateRecordBatches(batch, { single: true });
      assert.equal(v!.recordCount, recs.length);
      assert.equal(v!.compression, gzip ? 1 : 0);
      patchBaseOffset(batch, 0, base);
      validateRecordBatches(batch); // CRC unaffected by the patch
      const d = decodeRecordBatch(batch);
      assert.equal(d.header.baseOffset, base);
      assert.equal(d.header.producerId, 7);
      assert.equal(d.header.baseSequence, 3);
      assert.equal(d.header.maxTimestamp, Math.max(...recs.map((r) => r.timestamp)));
      assert.equal(d.records.length, recs.length);
      d.records.forEach((r, i) => {
        const x = recs[i]!;
        assert.equal(r.offset, base + i);
        assert.equal(r.timestamp, x.timestamp);
        assert.deepEqual(r.key, x.key);
        assert.deepEqual(r.value, x.value);
        assert.deepEqual(r.headers, x.headers);
      });
    }),
    { numRuns: 200 },
  );
});

test('hand-built RecordBatch from the spec layout parses field by field', () => {
  // One record: key "k", value "hello", header ("h","v"), baseOffset 5, timestamps 1000/1003.
  const rec = Buffer.from([
    0x00, // attributes
    0x06, // timestampDelta 3 (zig-zag 6)
    0x00, // offsetDelta 0
    0x02, 0x6b, // key length 1, "k"
    0x0a, 0x68, 0x65, 0x6c, 0x6c, 0x6f, // value length 5, "hello"
    0x02, // 1 header
    0x02, 0x68, 0x02, 0x76, // "h" → "v"
  ]);
  const records = Buffer.concat([Buffer.from([rec.length * 2]), rec]);
  const b = Buffer.alloc(61 + records.length);
  b.writeBigInt64BE(5n, 0);
  b.writeInt32BE(49 + records.length, 8);
  b.writeInt32BE(-1, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(0, 21);
  b.writeInt32BE(0, 23);
  b.writeBigInt64BE(1000n, 27);
  b.writeBigInt64BE(1003n, 35);
  b.writeBigInt64BE(-1n, 43);
  b.writeInt16BE(-1, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(1, 57);
  records.copy(b, 61);
  b.writeUInt32BE(crc32c(b, 21), 17);
  const [v] = validateRecordBatches(b);
  assert.equal(v!.baseOffset, 5);
  const d = decodeRecordBatch(b);
  assert.deepEqual(
    d.records.map((r) => ({ o: r.offset, t: r.timestamp, k: r.key?.toString(), v: r.value?.toString(), h: r.headers.map((h) => [h.key, h.value?.toString()]) })),
    [{ o: 5, t: 1003, k: 'k', v: 'hello', h: [['h', 'v']] }],
  );
  // Our builder produces the same bytes.
  const built = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('hello'), headers: [{ key: 'h', value: Buffer.from('v') }], timestamp: 1003 }], {
    baseOffset: 5,
    baseTimestamp: 1000,
  });
  assert.ok(built.equals(b));
});

test('validation: CRC, magic, truncation, counts, control batches, several batches', () => {
  const b = buildRecordBatch([{ value: Buffer.from('a') }, { value: Buffer.from('b') }], { baseTimestamp: 1 });
  const bad = Buffer.from(b);
  bad[bad.length - 1]! ^= 1;
  assert.equal(codeOf(() => validateRecordBatches(bad)), KafkaErrorCode.CORRUPT_MESSAGE);
  assert.equal(validateRecordBatches(bad, { checkCrc: false }).length, 1);
  assert.equal(codeOf(() => validateRecordBatches(b.subarray(0, b.length - 1))), KafkaErrorCode.CORRUPT_MESSAGE);
  assert.equal(codeOf(() => validateRecordBatches(Buffer.alloc(0))), KafkaErrorCode.CORRUPT_MESSAGE);
  const m3 = Buffer.from(b);
  m3.writeInt8(3, 16);
  assert.equal(codeOf(() => validateRecordBatches(m3)), KafkaErrorCode.CORRUPT_MESSAGE);
  const old = buildMessageSet([{ value: Buffer.from('x') }]);
  assert.equal(recordsMagic(old), 1);
  assert.equal(codeOf(() => validateRecordBatches(old)), KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
  const wrongDelta = Buffer.from(b);
  wrongDelta.writeInt32BE(5, 23);
  wrongDelta.writeUInt32BE(crc32c(wrongDelta, 21), 17);
  assert.equal(codeOf(() => validateRecordBatches(wrongDelta)), KafkaErrorCode.CORRUPT_MESSAGE);
  const ctl = buildControlBatch({ type: 1, producerId: 9, producerEpoch: 0, baseOffset: 0, timestamp: 5 });
  assert.equal(codeOf(() => validateRecordBatches(ctl)), KafkaErrorCode.INVALID_RECORD);
  const dc = decodeRecordBatch(ctl);
  assert.ok(dc.header.isControl && dc.header.isTransactional);
  assert.equal(controlRecordType(dc.records[0]!.key), 1);
  const two = Buffer.concat([b, b]);
  assert.equal(validateRecordBatches(two).length, 2);
  assert.equal(codeOf(() => validateRecordBatches(two, { single: true })), KafkaErrorCode.CORRUPT_MESSAGE);
  // splitRecordBatches ignores a trailing partial batch (fetch responses cut at max bytes).
  assert.equal(splitRecordBatches(Buffer.concat([b, b.subarray(0, 30)])).length, 1);
});

test('LogAppendTime rewrite keeps the batch valid and every record takes maxTimestamp', () => {
  const b = buildRecordBatch([{ value: Buffer.from('a'), timestamp: 10 }, { value: Buffer.from('b'), timestamp: 20 }]);
  setLogAppendTime(b, 0, 99);
  validateRecordBatches(b);
  assert.equal(readBatchHeader(b).timestampType, 1);
  assert.deepEqual(decodeRecordBatch(b).records.map((r) => r.timestamp), [99, 99]);
});

test('magic 0/1 message sets: CRC-32, gzip wrapper, conversion to RecordBatch v2', () => {
  const msgs = [
    { key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: 1_700_000_000_000 },
    { key: null, value: Buffer.from('v2'), timestamp: 1_700_000_000_001 },
    { value: null, timestamp: 1_700_000_000_002 },
  ];
  for (const magic of [0, 1] as const) {
    for (const compression of [0, 1, 2, 3]) {
      const compressor = compression === 2 ? (b: Buffer) => xerialSnappyCompress(b) : compression === 3 ? (b: Buffer) => lz4FrameCompress(b) : undefined;
      const set = buildMessageSet(msgs, { magic, compression, compressor });
      const parsed = parseMessageSet(set);
      assert.deepEqual(parsed.map((m) => m.offset), [0, 1, 2], `magic ${magic} codec ${compression}`);
      assert.deepEqual(parsed.map((m) => m.value?.toString() ?? null), ['v1', 'v2', null]);
      assert.deepEqual(parsed.map((m) => m.timestamp), magic === 1 ? msgs.map((m) => m.timestamp) : [-1, -1, -1]);
      const conv = messageSetToRecordBatch(set, 42)!;
      assert.equal(conv.count, 3);
      const [v] = validateRecordBatches(conv.batch);
      assert.equal(v!.recordCount, 3);
      const d = decodeRecordBatch(conv.batch);
      assert.deepEqual(d.records.map((r) => r.key?.toString() ?? null), ['k1', null, null]);
      assert.deepEqual(d.records.map((r) => r.timestamp), magic === 1 ? msgs.map((m) => m.timestamp) : [42, 42, 42]);
    }
  }
  // A hand-checked v0 message: CRC-32 over magic..value.
  const one = buildMessageSet([{ key: null, value: Buffer.from('x') }], { magic: 0 });
  assert.equal(one.readInt32BE(8), 4 + 1 + 1 + 4 + 4 + 1);
  assert.equal(one.readUInt32BE(12), crc32(one.subarray(16)));
  const bad = Buffer.from(one);
  bad[bad.length - 1] = 0x79;
  assert.equal(codeOf(() => parseMessageSet(bad)), KafkaErrorCode.CORRUPT_MESSAGE);
  // Relative inner offsets of a magic 1 wrapper (wrapper = absolute offset of the last inner message).
  const wrapped = buildMessageSet(msgs, { magic: 1, compression: 1, baseOffset: 100 });
  assert.deepEqual(parseMessageSet(wrapped).map((m) => m.offset), [100, 101, 102]);
});

test('snappy: raw and xerial-framed, every element type, hand-made vector', () => {
  // Hand-made from the format description: length 9; literal "abc"; copy-1 len 4 offset 3; literal "zz".
  const v = Buffer.from([0x09, 0x08, 0x61, 0x62, 0x63, 0x01, 0x03, 0x04, 0x7a, 0x7a]);
  assert.equal(snappyDecompress(v).toString(), 'abcabcazz');
  // copy-2 and copy-4 (len 3, offset 2) after literal "xy": "xyxyx"
  assert.equal(snappyDecompress(Buffer.from([0x05, 0x04, 0x78, 0x79, 0x0a, 0x02, 0x00])).toString(), 'xyxyx');
  assert.equal(snappyDecompress(Buffer.from([0x05, 0x04, 0x78, 0x79, 0x0b, 0x02, 0x00, 0x00, 0x00])).toString(), 'xyxyx');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 16 }), fc.boolean(), (raw, alphabet, copy4) => {
      const input = Buffer.from(raw.map((x) => x % alphabet)); // small alphabets ⇒ many matches
      assert.ok(snappyDecompress(snappyCompress(input, { copy4 })).equals(input));
      assert.ok(snappyDecompress(xerialSnappyCompress(input, 700)).equals(input));
    }),
    { numRuns: 200 },
  );
  const big = Buffer.alloc(200_000, 'abcdefgh'); // long literals (60-63 tags) and long copies
  const rnd = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251));
  assert.ok(snappyDecompress(snappyCompress(big)).equals(big));
  assert.ok(snappyDecompress(snappyCompress(rnd)).equals(rnd));
  assert.equal(codeOf(() => snappyDecompress(Buffer.from([0x05, 0x01, 0x05, 0x00]))), KafkaErrorCode.CORRUPT_MESSAGE);
  assert.equal(codeOf(() => snappyDecompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 1 << 20)), KafkaErrorCode.CORRUPT_MESSAGE);
});

test('lz4 frames: our test encoder and the lz4 command-line tool (dependent blocks, checksums)', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 16 }), fc.boolean(), (raw, alphabet, stored) => {
      const input = Buffer.from(raw.map((x) => x % alphabet));
      assert.ok(lz4FrameDecompress(lz4FrameCompress(input, { blockSize: 1024, storeUncompressed: stored })).equals(input));
    }),
    { numRuns: 200 },
  );
  // Hand-made block: literal "abcd", match offset 4 length 8, then 5 literal bytes.
  const blk = Buffer.from([0x44, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x50, 0x31, 0x32, 0x33, 0x34, 0x35]);
  const frame = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]), Buffer.from([blk.length, 0, 0, 0]), blk, Buffer.alloc(4)]);
  assert.equal(lz4FrameDecompress(frame).toString(), 'abcdabcdabcd12345');
  let lz4ok = true;
  try {
    execFileSync('lz4', ['--version'], { stdio: 'pipe' });
  } catch {
    lz4ok = false;
  }
  if (!lz4ok) return t.skip('lz4 CLI not installed');
  const text = Buffer.from(Array.from({ length: 300_000 }, (_, i) => `line ${i % 977} of the test corpus\n`).join(''));
  for (const args of [['-c', '-1'], ['-c', '-9', '-BD'], ['-c', '-B4', '--content-size', '-BX'], ['-c', '--no-frame-crc']]) {
    const z = execFileSync('lz4', args, { input: text, maxBuffer: 1 << 26 });
    assert.ok(lz4FrameDecompress(z).equals(text), `lz4 ${args.join(' ')}`);
  }
});

test('decompress by codec id; zstd reports UNSUPPORTED_COMPRESSION_TYPE; bombs are capped', () => {
  const data = Buffer.from('hello hello hello hello');
  assert.ok(decompress(0, data).equals(data));
  assert.equal(codeOf(() => decompress(4, data)), KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  assert.equal(codeOf(() => decompress(1, Buffer.from('not gzip'))), KafkaErrorCode.CORRUPT_MESSAGE);
  const zeros = Buffer.alloc(4 << 20);
  const gz = buildRecordBatch([{ value: zeros }], { compression: 1 }).subarray(61);
  assert.equal(codeOf(() => decompress(1, gz, 1 << 20)), KafkaErrorCode.CORRUPT_MESSAGE);
  assert.equal(codeOf(() => lz4FrameDecompress(lz4FrameCompress(zeros), 1 << 20)), KafkaErrorCode.CORRUPT_MESSAGE);
  // A zstd batch is still a valid batch for storage: validation does not decompress.
  const z = buildRecordBatch([{ value: data }], { compression: 4, compressor: (b) => b });
  assert.equal(validateRecordBatches(z)[0]!.compression, 4);
  assert.equal(codeOf(() => decodeRecordBatch(z)), KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
});
