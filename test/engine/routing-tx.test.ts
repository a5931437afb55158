/** Exchanges over topics, transactions and the idempotent producer, on the engine API. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import type { ConsumerSink, DeliveryImpl } from '../../src/engine/group.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import type { RecordInput } from '../../src/engine/record.js';

const rec = (body: string): RecordInput => ({ body: Buffer.from(body), timestamp: 1, priority: 0 });

async function drain(engine: Engine, topic: string): Promise<string[]> {
  const got: DeliveryImpl[] = [];
  const sink: ConsumerSink = { prefetch: 1000, push: (d) => void got.push(d) };
  const g = await engine.group(topic, 'reader');
  const c = g.addConsumer(sink);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  for (const d of got) await d.ack();
  g.removeConsumer(c);
  return got.map((d) => d.body.toString());
}

test('a topic exchange routes one publish into every queue whose pattern matches', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.exchanges.declare({ name: 'logs', type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} });
  for (const q of ['all', 'errors', 'other']) await engine.topic(q);
  await engine.exchanges.bind('logs', { kind: 'topic', name: 'all' }, 'app.#');
  await engine.exchanges.bind('logs', { kind: 'topic', name: 'errors' }, '*.error');
  await engine.exchanges.bind('logs', { kind: 'topic', name: 'other' }, 'db.*');
  const r = await engine.exchanges.publish('logs', 'app.error', [rec('boom')]);
  assert.deepEqual(r.topics.sort(), ['all', 'errors']);
  assert.deepEqual(await drain(engine, 'all'), ['boom']);
  assert.deepEqual(await drain(engine, 'errors'), ['boom']);
  assert.deepEqual(await drain(engine, 'other'), []);
  await engine.close();
});

test('an unroutable publish is reported, and goes to the alternate exchange when there is one', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const decl = { type: 'direct' as const, durable: false, autoDelete: false, internal: false };
  await engine.exchanges.declare({ name: 'ae', ...decl, type: 'fanout', arguments: {} });
  await engine.exchanges.declare({ name: 'main', ...decl, arguments: { 'alternate-exchange': 'ae' } });
  await engine.exchanges.declare({ name: 'plain', ...decl, arguments: {} });
  await engine.topic('unrouted');
  await engine.exchanges.bind('ae', { kind: 'topic', name: 'unrouted' }, '');
  assert.equal((await engine.exchanges.publish('plain', 'nowhere', [rec('x')])).routed, false);
  assert.deepEqual((await engine.exchanges.publish('main', 'nowhere', [rec('y')])).topics, ['unrouted']);
  assert.deepEqual(await drain(engine, 'unrouted'), ['y']);
  await engine.close();
});

test('redeclaring an exchange with a different type is refused with MQ_ERR_EXISTS', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const d = { name: 'x', type: 'direct' as const, durable: true, autoDelete: false, internal: false, arguments: {} };
  await engine.exchanges.declare(d);
  await engine.exchanges.declare(d);
  await assert.rejects(engine.exchanges.declare({ ...d, type: 'fanout' }), { code: 'MQ_ERR_EXISTS' });
  await engine.close();
});

test('a committed transaction makes all its publishes visible; a rolled-back one none', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const tx = engine.transaction();
  tx.publish('a', [rec('1'), rec('2')]);
  tx.publish('b', [rec('3')]);
  assert.deepEqual(await drain(engine, 'a'), []);
  await tx.commit();
  assert.deepEqual(await drain(engine, 'a'), ['1', '2']);
  assert.deepEqual(await drain(engine, 'b'), ['3']);
  const tx2 = engine.transaction();
  tx2.publish('a', [rec('never')]);
  tx2.rollback();
  assert.throws(() => tx2.publish('a', [rec('x')]), { code: 'MQ_ERR_TX' });
  assert.deepEqual(await drain(engine, 'a'), []);
  await engine.close();
});

test('transactional acks take effect on commit only', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.publish('q', [rec('m')]);
  const got: DeliveryImpl[] = [];
  const g = await engine.group('q', 'g');
  const c = g.addConsumer({ prefetch: 10, push: (d) => void got.push(d) });
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  const tx = engine.transaction();
  tx.ack(got[0]!);
  tx.rollback();
  g.removeConsumer(c); // the un-acked message returns to the queue
  assert.deepEqual(await drain(engine, 'q'), ['m']);
  await engine.close();
});

test('an idempotent producer resending a batch does not append it twice; a gap is refused', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.publish('t', [rec('a'), rec('b')], { producerId: 'p1', sequence: 0 });
  const again = await engine.publish('t', [rec('a'), rec('b')], { producerId: 'p1', sequence: 0 });
  assert.equal(again.duplicate, true);
  await engine.publish('t', [rec('c')], { producerId: 'p1', sequence: 2 });
  await assert.rejects(engine.publish('t', [rec('e')], { producerId: 'p1', sequence: 9 }), { code: 'MQ_ERR_OUT_OF_ORDER_SEQUENCE' });
  assert.deepEqual(await drain(engine, 't'), ['a', 'b', 'c']);
  await engine.close();
});

test('a topic with retention by size is trimmed even when nobody consumes it', async () => {
  const { ManualClock } = await import('../../src/core/clock.js');
  const clock = new ManualClock();
  const engine = await Engine.open({ storage: new MemoryStorage(), clock, segmentBytes: 4096 });
  await engine.topic('log', { retentionBytes: 8192 });
  for (let i = 0; i < 100; i++) await engine.publish('log', [rec('x'.repeat(500))]);
  assert.equal(engine.logBounds('log', 0).start, 0);
  clock.advance(30_000);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  const b = engine.logBounds('log', 0);
  assert.ok(b.start > 50, `expected old segments trimmed, start=${b.start}`);
  assert.equal(b.end, 100);
  await engine.close();
});

test('queue groups read foreign-format batches through a registered decoder', async () => {
  const { registerBatchFormat } = await import('../../src/engine/formats.js');
  registerBatchFormat(200, {
    decode: (payload, _base, count) =>
      payload.toString().split(',').slice(0, count).map((s) => (s === '-' ? undefined : { body: Buffer.from(s), timestamp: 5, priority: 0 })),
  });
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.topic('f');
  await engine.appendRaw('f', 0, { count: 3, timestamp: 5, format: 200, payload: Buffer.from('x,-,z') });
  await engine.appendRaw('f', 0, { count: 1, timestamp: 5, format: 201, payload: Buffer.from('no decoder') });
  await engine.publish('f', [rec('native')]);
  assert.deepEqual(await drain(engine, 'f'), ['x', 'z', 'native']);
  const raw = await engine.readLog('f', 0, 0, 1 << 20);
  assert.equal(raw[0]!.payload.toString(), 'x,-,z', 'the log view serves the stored bytes untouched');
  await engine.close();
});

test('waitForData resolves when a partition grows past the offset, or when aborted', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.topic('w', { partitions: 2 });
  let woke = false;
  const p = engine.waitForData('w', 1, 0).then(() => (woke = true));
  await engine.publish('w', [rec('elsewhere')], { partition: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(woke, false, 'data in another partition does not wake the waiter');
  await engine.publish('w', [rec('here')], { partition: 1 });
  await p;
  assert.equal(woke, true);
  const ac = new AbortController();
  const q = engine.waitForData('w', 1, 5, ac.signal);
  ac.abort();
  await q;
  await engine.setPartitions('w', 3);
  assert.equal(engine.getTopic('w')!.config.partitions, 3);
  assert.deepEqual(engine.logBounds('w', 2), { start: 0, end: 0 });
  await engine.close();
});

test('truncateLog moves the log start mid-segment: log readers and groups skip what is gone', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  for (let i = 0; i < 10; i++) await engine.publish('t', [rec(String(i))]);
  assert.equal(await engine.truncateLog('t', 0, 4), 4);
  assert.deepEqual(engine.logBounds('t', 0), { start: 4, end: 10 });
  await assert.rejects(engine.readLog('t', 0, 2, 1000), { code: 'MQ_ERR_OFFSET_OUT_OF_RANGE' });
  assert.deepEqual(await drain(engine, 't'), ['4', '5', '6', '7', '8', '9']);
  await engine.close();
});

test('committed offsets are listed per group and deleted with the group', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.commitOffset('g1', 'a', 0, 5);
  await engine.commitOffset('g1', 'b', 2, 7, 'meta');
  await engine.commitOffset('g2', 'a', 0, 1);
  assert.deepEqual(engine.committedGroups().sort(), ['g1', 'g2']);
  assert.deepEqual(engine.committedOffsets('g1').sort((x, y) => x.topic.localeCompare(y.topic)), [
    { topic: 'a', partition: 0, offset: 5, metadata: '' },
    { topic: 'b', partition: 2, offset: 7, metadata: 'meta' },
  ]);
  assert.equal(await engine.deleteCommittedOffsets('g1'), 2);
  assert.deepEqual(engine.committedGroups(), ['g2']);
  assert.equal(engine.committedOffset('g1', 'a', 0), undefined);
  await engine.close();
});
