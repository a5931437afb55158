/**
 * The engine's idempotent producer: sequence checks per producer and topic, and their recovery
 * from the stamps stored in the records when a durable store is reopened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { ConsumerSink, DeliveryImpl } from '../../src/engine/group.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import type { RecordInput } from '../../src/engine/record.js';

const rec = (body: string, priority = 0): RecordInput => ({ body: Buffer.from(body), timestamp: 1, priority });

/** Consumes `n` messages (file reads are asynchronous: waits for them, up to 5 s), then a little more. */
async function drain(engine: Engine, topic: string, n: number): Promise<{ body: string; headers: Readonly<Record<string, string>> }[]> {
  const got: DeliveryImpl[] = [];
  const sink: ConsumerSink = { prefetch: 1000, push: (d) => void got.push(d) };
  const g = await engine.group(topic, 'reader');
  const c = g.addConsumer(sink);
  const deadline = Date.now() + 5000;
  while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  for (const d of got) await d.ack();
  g.removeConsumer(c);
  return got.map((d) => ({ body: d.body.toString(), headers: d.headers }));
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-idem-'));
}

test('a resent batch is acknowledged as a duplicate after the store is reopened, and the producer continues', async () => {
  const dir = tmpDir();
  try {
    let engine = await Engine.open({ storage: await FileStorage.open(dir) });
    await engine.publish('t', [rec('a'), rec('b')], { producerId: 'p1', sequence: 0 });
    await engine.publish('t', [rec('c')], { producerId: 'p1', sequence: 2 });
    await engine.publish('t', [rec('x')], { producerId: 'p2', sequence: 40 });
    await engine.close();

    engine = await Engine.open({ storage: await FileStorage.open(dir) });
    const again = await engine.publish('t', [rec('c')], { producerId: 'p1', sequence: 2 });
    assert.equal(again.duplicate, true, 'the retry of the last batch before the restart is a duplicate');
    const older = await engine.publish('t', [rec('a'), rec('b')], { producerId: 'p1', sequence: 0 });
    assert.equal(older.duplicate, true);
    await assert.rejects(engine.publish('t', [rec('e')], { producerId: 'p1', sequence: 9 }), { code: 'MQ_ERR_OUT_OF_ORDER_SEQUENCE' });
    assert.equal((await engine.publish('t', [rec('y')], { producerId: 'p2', sequence: 40 })).duplicate, true, 'each producer is recovered');
    await engine.publish('t', [rec('d')], { producerId: 'p1', sequence: 3 });
    const got = await drain(engine, 't', 5);
    assert.deepEqual(
      got.map((g) => g.body),
      ['a', 'b', 'c', 'x', 'd'],
    );
    assert.deepEqual(got[0]!.headers, {}, 'the producer stamp is not shown to consumers');
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a publish that fails validation does not use up its sequence numbers', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage(), maxMessageBytes: 10 });
  await assert.rejects(engine.publish('t', [rec('far too long for the limit')], { producerId: 'p', sequence: 0 }), { code: 'MQ_ERR_PAYLOAD_TOO_LARGE' });
  const r = await engine.publish('t', [rec('ok')], { producerId: 'p', sequence: 0 });
  assert.notEqual(r.duplicate, true);
  assert.deepEqual(
    (await drain(engine, 't', 1)).map((g) => g.body),
    ['ok'],
  );
  await engine.close();
});

test('an unknown producer may start at any sequence; from then on it is held to it', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.publish('t', [rec('a')], { producerId: 'p', sequence: 7 });
  await assert.rejects(engine.publish('t', [rec('b')], { producerId: 'p', sequence: 9 }), { code: 'MQ_ERR_OUT_OF_ORDER_SEQUENCE' });
  assert.equal((await engine.publish('t', [rec('a')], { producerId: 'p', sequence: 7 })).duplicate, true);
  await engine.publish('t', [rec('b', 3)], { producerId: 'p', sequence: 8 });
  assert.deepEqual((await drain(engine, 't', 2)).map((g) => g.body).sort(), ['a', 'b']);
  await engine.close();
});

test('a producer stamp is read without decoding the record, and decoding skips it: every other field round-trips', async () => {
  const { encodeBatch, decodeRecordAt, producerStampAt } = await import('../../src/engine/record.js');
  const full: RecordInput = {
    body: Buffer.from('body'),
    key: 'k',
    headers: { h: 'v' },
    timestamp: 5,
    priority: 7,
    expiresAt: 100,
    deliverAt: 50,
    props: Buffer.from([1, 2, 3]),
    propsFormat: 1,
    producer: { id: 'prod-ü', seq: 41 },
  };
  const plain: RecordInput = { body: Buffer.from('x'), timestamp: 6, priority: 0 };
  const payload = encodeBatch([full, plain]);
  assert.deepEqual(producerStampAt(payload, 0), { id: 'prod-ü', seq: 41 });
  const r = decodeRecordAt(payload, 0, 0);
  assert.equal(r.body.toString(), 'body');
  assert.equal(r.key, 'k');
  assert.deepEqual(r.headers, { h: 'v' });
  assert.equal(r.expiresAt, 100);
  assert.equal(r.deliverAt, 50);
  assert.deepEqual([...r.props!], [1, 2, 3]);
  assert.equal(r.priority, 7);
  assert.equal(producerStampAt(payload, r.size), undefined);
  assert.equal(decodeRecordAt(payload, r.size, 1).body.toString(), 'x');
});
