/** Request/response headers, whole-frame helpers and the frame splitter. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ApiKey,
  FrameSplitter,
  KafkaCodecError,
  KafkaErrorCode,
  Reader,
  Writer,
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  isRequest,
  peekRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  buildRecordBatch,
} from '../../../src/protocols/kafka/index.js';

test('header versions: flexible ⇒ request v2 / response v1; ApiVersions responses always v0', () => {
  assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 2), 1);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 9), 2, 'future ApiVersions versions are flexible too');
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1, 'SaslHandshake has no flexible version');
  assert.equal(requestHeaderVersion(ApiKey.DescribeCluster, 0), 2, 'DescribeCluster is flexible from v0');
  assert.equal(requestHeaderVersion(999, 0), 1);
});

test('request header: client id null and tagged fields; hand-built bytes', () => {
  // Metadata v12 (flexible): header v2 with a null client id and one unknown tagged field.
  const body = new Writer();
  body.compactArrayLength(-1); // topics null
  body.bool(true); // allow auto topic creation
  body.bool(false); // include topic authorized operations
  body.uvarint(0);
  const h = Buffer.from([0x00, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff, 0x01, 0x05, 0x02, 0xaa, 0xbb]);
  const frame = Buffer.concat([h, body.toBuffer()]);
  const d = decodeRequest(frame);
  assert.deepEqual(d.header, { apiKey: 3, apiVersion: 12, correlationId: 42, clientId: null, headerVersion: 2 });
  assert.ok(isRequest(d, ApiKey.Metadata));
  assert.equal(d.body.topics, null);
  assert.equal(d.body.allowAutoTopicCreation, true);
  assert.deepEqual(peekRequestHeader(frame), { apiKey: 3, apiVersion: 12, correlationId: 42 });
  // Trailing bytes and unknown versions are typed errors.
  const e1 = (() => {
    try {
      decodeRequest(Buffer.concat([frame, Buffer.from([0])]));
    } catch (e) {
      return e;
    }
  })();
  assert.ok(e1 instanceof KafkaCodecError && e1.kafkaCode === KafkaErrorCode.INVALID_REQUEST);
  const v99 = Buffer.from(frame);
  v99.writeInt16BE(99, 2);
  assert.throws(() => decodeRequest(v99), (e: unknown) => e instanceof KafkaCodecError && e.kafkaCode === KafkaErrorCode.UNSUPPORTED_VERSION);
  const k999 = Buffer.from(frame);
  k999.writeInt16BE(999, 0);
  assert.throws(() => decodeRequest(k999), (e: unknown) => e instanceof KafkaCodecError && e.kafkaCode === KafkaErrorCode.UNSUPPORTED_VERSION);
  // An ApiVersions v9 request header still decodes (answered at v0 by the session).
  const av = encodeRequest(ApiKey.ApiVersions, 3, 1, 'c', { clientSoftwareName: 'n', clientSoftwareVersion: 'v' });
  av.writeInt16BE(9, 6);
  const r = new Reader(av, 4);
  assert.equal(decodeRequestHeader(r).apiVersion, 9);
});

test('response frames: ApiVersions v3 header has no tagged fields; flexible responses do', () => {
  const av = Buffer.concat(encodeResponse(ApiKey.ApiVersions, 3, 7, { errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }] }));
  // size, correlation id, then directly error code 35 (no tag byte).
  assert.equal(av.readInt32BE(0), av.length - 4);
  assert.equal(av.readInt32BE(4), 7);
  assert.equal(av.readInt16BE(8), 35);
  const hb = Buffer.concat(encodeResponse(ApiKey.Heartbeat, 4, 8, { errorCode: 0 }));
  assert.deepEqual([...hb], [0, 0, 0, 12, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(decodeResponse(ApiKey.Heartbeat, 4, hb.subarray(4)), { correlationId: 8, body: { throttleTimeMs: 0, errorCode: 0 } });
  // v0 ApiVersions error answer, what a broker sends for an unsupported version.
  const v0 = Buffer.concat(encodeResponse(ApiKey.ApiVersions, 0, 1, { errorCode: 35, apiKeys: [] }));
  assert.deepEqual([...v0], [0, 0, 0, 10, 0, 0, 0, 1, 0, 35, 0, 0, 0, 0]);
});

test('fetch response encoding references large batches instead of copying them', () => {
  const batch = buildRecordBatch([{ value: Buffer.alloc(10_000, 1) }], { baseTimestamp: 1 });
  const chunks = encodeResponse(ApiKey.Fetch, 11, 5, {
    responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1, records: [batch, batch] }] }],
  });
  assert.ok(chunks.some((c) => c === batch), 'the batch itself is one of the output chunks');
  const whole = Buffer.concat(chunks);
  assert.equal(whole.readInt32BE(0), whole.length - 4);
  const back = decodeResponse(ApiKey.Fetch, 11, whole.subarray(4));
  const recs = back.body.responses[0]!.partitions[0]!.records as Buffer;
  assert.ok(recs.equals(Buffer.concat([batch, batch])));
});

test('non-ignorable fields cannot be silently dropped at old versions; non-nullable nulls are refused', () => {
  // FetchResponse.PreferredReadReplica (11+) is not ignorable.
  assert.throws(() => encodeResponse(ApiKey.Fetch, 10, 1, { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 0, preferredReadReplica: 3, records: null }] }] }), /PreferredReadReplica/);
  // ...but the default value is fine.
  encodeResponse(ApiKey.Fetch, 10, 1, { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 0, preferredReadReplica: -1, records: null }] }] });
  // Metadata topics are nullable from v1 only.
  assert.throws(() => encodeRequest(ApiKey.Metadata, 0, 1, null, { topics: null }), /not nullable/);
});

test('frame splitter: any chunking yields the same frames; views when a frame fits a chunk', () => {
  const frames = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.from('hello')];
  const stream = Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >>> 24, (f.length >> 16) & 255, (f.length >> 8) & 255, f.length & 255]), f]));
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const s = new FrameSplitter();
      const got: Buffer[] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        if (p > prev) s.push(stream.subarray(prev, p), (f) => got.push(Buffer.from(f)));
        prev = p;
      }
      assert.deepEqual(got, frames);
      assert.equal(s.pending, 0);
    }),
    { numRuns: 200 },
  );
  const s = new FrameSplitter();
  const views: Buffer[] = [];
  s.push(stream, (f) => views.push(f));
  assert.ok(views.every((v) => v.buffer === stream.buffer), 'whole frames inside a chunk are views');
});

test('frame splitter: negative and oversized sizes are fatal typed errors, without allocating', () => {
  const s = new FrameSplitter(1024);
  assert.throws(
    () => s.push(Buffer.from([0, 0, 4, 1]), () => {}),
    (e: unknown) => e instanceof KafkaCodecError && e.fatal && e.kafkaCode === KafkaErrorCode.INVALID_REQUEST,
  );
  assert.throws(() => s.push(Buffer.from([0]), () => {}), KafkaCodecError, 'refuses input after a fatal error');
  const n = new FrameSplitter();
  assert.throws(() => n.push(Buffer.from([0xff, 0xff, 0xff, 0xfe]), () => {}), (e: unknown) => e instanceof KafkaCodecError && e.fatal);
  // Split size prefix: detected once the 4th byte arrives.
  const p = new FrameSplitter(1024);
  p.push(Buffer.from([0, 0]), () => {});
  assert.throws(() => p.push(Buffer.from([8, 0]), () => {}), KafkaCodecError);
  // A huge (but allowed) announced size buffers only what arrived.
  const big = new FrameSplitter();
  big.push(Buffer.from([0x05, 0, 0, 0, 1, 2, 3]), () => assert.fail('no frame yet'));
  assert.equal(big.pending, 7);
});
