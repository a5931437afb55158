/**
 * Hostile input: random bytes, truncations, bit flips and huge lengths never throw anything but
 * KafkaCodecError, and never allocate from a hostile length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { APIS } from '../../../scripts/gen-kafka.js';
import {
  API_CODECS,
  ApiKey,
  FrameSplitter,
  KafkaCodecError,
  Writer,
  buildMessageSet,
  buildRecordBatch,
  decodeRecordBatch,
  decodeRequest,
  decompress,
  encodeRequest,
  lz4FrameDecompress,
  parseMessageSet,
  snappyDecompress,
  validateRecordBatches,
} from '../../../src/protocols/kafka/index.js';
import { specArb, versionsOf } from './spec-arb.js';
import { lz4FrameCompress, snappyCompress } from './compressors.js';

function onlyCodecErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof KafkaCodecError)) throw new Error(`non-codec error: ${String(e)}`, { cause: e });
  }
}

test('random bytes as request frames: only KafkaCodecError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyCodecErrors(() => decodeRequest(Buffer.from(b)))),
    { numRuns: 5000 },
  );
  // Random bodies behind a valid header of every API and version.
  fc.assert(
    fc.property(fc.constantFrom(...API_CODECS.values()), fc.nat(20), fc.uint8Array({ maxLength: 200 }), (c, vv, body) => {
      const v = c.minVersion + (vv % (c.generatedMaxVersion - c.minVersion + 1));
      const h = Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0x61, 0]);
      h.writeInt16BE(c.apiKey, 0);
      h.writeInt16BE(v, 2);
      const head = c.flexibleFrom !== null && v >= c.flexibleFrom ? h : h.subarray(0, 11);
      onlyCodecErrors(() => decodeRequest(Buffer.concat([head, body])));
    }),
    { numRuns: 5000 },
  );
});

test('every API/version: truncations and byte flips of valid requests fail only with KafkaCodecError', () => {
  for (const api of APIS) {
    const key = ApiKey[api];
    const arb = specArb(`${api}Request.json`);
    for (const v of versionsOf(`${api}Request.json`)) {
      fc.assert(
        fc.property(arb.messageArb(v), fc.nat(), fc.nat(255), (x, at, flip) => {
          const frame = encodeRequest(key as never, v, 1, 'c', x as never).subarray(4);
          onlyCodecErrors(() => decodeRequest(frame.subarray(0, at % frame.length)));
          const m = Buffer.from(frame);
          const i = 8 + (at % Math.max(1, m.length - 8));
          if (i < m.length) m[i] = flip;
          onlyCodecErrors(() => decodeRequest(m));
        }),
        { numRuns: 15 },
      );
    }
  }
});

test('huge array / string / bytes lengths are refused before allocation', () => {
  // Produce v3: transactional id null, acks, timeout, then a topic count of 2^31-1.
  const w = new Writer();
  w.int16(ApiKey.Produce);
  w.int16(3);
  w.int32(1);
  w.nullableString('c');
  w.nullableString(null);
  w.int16(1);
  w.int32(1000);
  w.int32(0x7fffffff);
  const f = w.toBuffer();
  const t0 = process.hrtime.bigint();
  assert.throws(() => decodeRequest(f), KafkaCodecError);
  assert.ok(process.hrtime.bigint() - t0 < 50_000_000n, 'fails fast');
  // Flexible: compact array count 2^32-2.
  const fw = new Writer();
  fw.int16(ApiKey.Metadata);
  fw.int16(12);
  fw.int32(1);
  fw.nullableString(null);
  fw.uvarint(0);
  fw.uvarint(0xffffffff);
  assert.throws(() => decodeRequest(fw.toBuffer()), KafkaCodecError);
  // Records field claiming 2 GiB.
  const pw = new Writer();
  pw.int16(ApiKey.Produce);
  pw.int16(7);
  pw.int32(1);
  pw.nullableString(null);
  pw.nullableString(null);
  pw.int16(1);
  pw.int32(1000);
  pw.int32(1);
  pw.string('t');
  pw.int32(1);
  pw.int32(0);
  pw.int32(0x7ffffff0);
  assert.throws(() => decodeRequest(pw.toBuffer()), KafkaCodecError);
  // Over-long varints.
  const vw = new Writer();
  vw.int16(ApiKey.Metadata);
  vw.int16(12);
  vw.int32(1);
  vw.nullableString(null);
  vw.raw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.throws(() => decodeRequest(vw.toBuffer()), KafkaCodecError);
});

test('record-level decoders: random bytes and mutations of valid batches give only KafkaCodecError', () => {
  const valid = [
    buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'.repeat(50)), headers: [{ key: 'h', value: null }] }, { value: null }], { baseTimestamp: 1 }),
    buildRecordBatch([{ value: Buffer.from('gzip me '.repeat(20)) }], { compression: 1, baseTimestamp: 1 }),
    buildRecordBatch([{ value: Buffer.from('snappy '.repeat(20)) }], { compression: 2, compressor: (b) => snappyCompress(b), baseTimestamp: 1 }),
    buildRecordBatch([{ value: Buffer.from('lz4 '.repeat(20)) }], { compression: 3, compressor: (b) => lz4FrameCompress(b), baseTimestamp: 1 }),
    buildMessageSet([{ value: Buffer.from('old') }], { magic: 1, compression: 1 }),
  ];
  fc.assert(
    fc.property(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat(), (b, flips, cut) => {
      const m = Buffer.from(b);
      for (const [i, x] of flips) m[i % m.length] = x;
      const t = m.subarray(0, cut % (m.length + 1));
      for (const buf of [m, t]) {
        onlyCodecErrors(() => validateRecordBatches(buf));
        onlyCodecErrors(() => decodeRecordBatch(buf));
        onlyCodecErrors(() => parseMessageSet(buf));
        onlyCodecErrors(() => snappyDecompress(buf.subarray(61)));
        onlyCodecErrors(() => lz4FrameDecompress(buf.subarray(61)));
        onlyCodecErrors(() => decompress(1, buf.subarray(61)));
      }
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (raw) => {
      const b = Buffer.from(raw);
      onlyCodecErrors(() => validateRecordBatches(b));
      onlyCodecErrors(() => decodeRecordBatch(b));
      onlyCodecErrors(() => parseMessageSet(b));
      onlyCodecErrors(() => snappyDecompress(b, 1 << 20));
      onlyCodecErrors(() => lz4FrameDecompress(b, 1 << 20));
    }),
    { numRuns: 3000 },
  );
});

test('frame splitter on random streams: frames or a fatal KafkaCodecError, never more buffered than the input', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const s = new FrameSplitter(1000);
      let total = 0;
      onlyCodecErrors(() => {
        for (const c of chunks) {
          total += c.length;
          s.push(Buffer.from(c), () => {});
          assert.ok(s.pending <= total);
        }
      });
    }),
    { numRuns: 3000 },
  );
});
