/**
 * Produce frames recycled through the listener's frame pool (server/frame-pool.ts) on file
 * storage: kcat (librdkafka) pipelines ~1 MB Produce requests, each spread over socket reads, so
 * their buffers are reused for later requests once the storage has copied them. If a buffer came
 * back while an append still needed it, later records would overwrite earlier ones: the records
 * read back must equal the input byte for byte (count and SHA-256), and the pool must actually
 * have been used. 200,000 × 128 B (~26 MB, ~26 requests), a few seconds. Skipped without kcat.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { hasKcat, kcat, kcatReadPartition, startBroker, type Broker } from './helpers.js';

const N = 200_000;
const LINE = 128;

const skip = hasKcat() ? false : 'kcat is not installed';

let b: Broker;
let engine: Engine;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'omnibus-kafka-pool-'));
  engine = await Engine.open({ storage: await FileStorage.open(join(dir, 'data')), fsync: 'interval' });
  b = await startBroker({ engine });
});
after(async () => {
  if (skip) return;
  await b.close();
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

test('pipelined 1 MB Produce frames reuse pooled buffers on file storage and every record reads back intact', { skip, timeout: 120_000 }, async () => {
  // Every record differs from its neighbours (sequence number and a rotating filler), so a reused
  // buffer overwritten too early shows up as a wrong checksum.
  const buf = Buffer.allocUnsafe(N * LINE);
  for (let i = 0; i < N; i++) {
    const off = i * LINE;
    buf.write(String(i).padStart(10, '0'), off, 'latin1');
    for (let k = 10; k < LINE - 1; k++) buf[off + k] = 97 + ((i + k) % 26);
    buf[off + LINE - 1] = 10;
  }
  const input = join(dir, 'in.txt');
  writeFileSync(input, buf);
  await engine.topic('pooled', { partitions: 1 });
  assert.equal(b.server.broker.framePool.freeBytes, 0);

  const prod = await kcat(['-b', b.bootstrap, '-P', '-t', 'pooled', '-p', '0', '-X', 'acks=1', '-l', input]);
  assert.equal(prod.code, 0, prod.stderr);
  assert.equal(engine.logBounds('pooled', 0).end, N, 'every record appended');
  assert.ok(b.server.broker.framePool.freeBytes >= 1 << 20, 'Produce frames went back to the pool');

  const cons = await kcatReadPartition(b.bootstrap, 'pooled', 0);
  assert.equal(cons.code, 0, cons.stderr);
  assert.equal(cons.bytes, N * LINE, 'bytes read back');
  assert.equal(cons.sha, createHash('sha256').update(buf).digest('hex'), 'payload checksum');
});
