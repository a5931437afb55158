/**
 * Hot-path rates (reported as diagnostics; thresholds are loose floors for a busy 2-core CI box):
 * Produce v7 request decode (+ batch validation with CRC-32C) and Fetch v11 response encode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, buildRecordBatch, decodeRequest, encodeRequest, encodeResponse, isRequest, validateRecordBatches, Writer } from '../../../src/protocols/kafka/index.js';

function rate(fn: () => void, ms = 400): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

test('Produce v7 decode and Fetch v11 encode rates', (t) => {
  const recs = Array.from({ length: 100 }, (_, i) => ({ value: Buffer.alloc(128, i) }));
  const batch = buildRecordBatch(recs, { baseTimestamp: 1 });
  const req = encodeRequest(ApiKey.Produce, 7, 1, 'bench', {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 'bench', partitionData: [{ index: 0, records: batch }] }],
  }).subarray(4);
  const decodeOnly = rate(() => {
    decodeRequest(req);
  });
  const decodeValidate = rate(() => {
    const d = decodeRequest(req);
    if (!isRequest(d, ApiKey.Produce)) throw new Error();
    validateRecordBatches(d.body.topicData[0]!.partitionData[0]!.records!);
  });
  // The decoded records are a view of the request frame, not a copy.
  const d = decodeRequest(req);
  assert.ok(isRequest(d, ApiKey.Produce));
  assert.equal(d.body.topicData[0]!.partitionData[0]!.records!.buffer, req.buffer);

  const fetchBatch = buildRecordBatch(Array.from({ length: 100 }, () => ({ value: Buffer.alloc(160, 1) })), { baseTimestamp: 1 });
  const parts = Array.from({ length: 10 }, (_, p) => ({
    partitionIndex: p,
    errorCode: 0,
    highWatermark: 1000,
    lastStableOffset: 1000,
    logStartOffset: 0,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: [fetchBatch, fetchBatch],
  }));
  const resp = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: 'bench', partitions: parts }] };
  let bytes = 0;
  const encodeRate = rate(() => {
    const chunks = encodeResponse(ApiKey.Fetch, 11, 1, resp, new Writer(1024));
    bytes = chunks.reduce((a, c) => a + c.length, 0);
  });
  const mb = (x: number, size: number): string => ((x * size) / 1e6).toFixed(0);
  t.diagnostic(`Produce v7 decode: ${decodeOnly.toFixed(0)} req/s (${((decodeOnly * 100) / 1e6).toFixed(1)} M records/s at 100×128 B per batch)`);
  t.diagnostic(`Produce v7 decode + validate (CRC-32C of ${batch.length} B): ${decodeValidate.toFixed(0)} req/s = ${((decodeValidate * 100) / 1e6).toFixed(2)} M records/s, ${mb(decodeValidate, batch.length)} MB/s`);
  t.diagnostic(`Fetch v11 encode (10 partitions × 2 batches, ${bytes} B, zero-copy): ${encodeRate.toFixed(0)} resp/s = ${((encodeRate * 2000) / 1e6).toFixed(1)} M records/s, ${mb(encodeRate, bytes)} MB/s`);
  assert.ok(decodeOnly > 5_000, `produce decode ${decodeOnly}/s`);
  assert.ok(encodeRate > 500, `fetch encode ${encodeRate}/s`);
});
