/**
 * Kafka transactions with kafkajs 2.2.4: a transactional producer's commit and abort, a
 * read_committed consumer seeing only committed records (and nothing of an open transaction
 * until it commits), sendOffsets in a consume-transform-produce loop, fencing by a newer epoch,
 * the transaction timeout aborting a stale transaction, and queue consumers of other protocols
 * never seeing transactional or control records.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Consumer, EachMessagePayload, Producer } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../src/core/clock.js';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import type { DeliveryImpl } from '../../../src/engine/group.js';
import { startBroker, waitFor, sleep, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

function txProducer(broker: Broker, id: string, extra: Record<string, unknown> = {}): Producer {
  return broker.kafka().producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1, ...extra });
}

/** Values a consumer of `topic` receives from the beginning until `until` says stop. */
async function consumeAll(topic: string, group: string, readUncommitted: boolean, until: (got: string[]) => boolean): Promise<string[]> {
  const c = b.kafka().consumer({ groupId: group, readUncommitted, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const got: string[] = [];
  await c.run({ eachMessage: async ({ message }: EachMessagePayload) => void got.push(message.value!.toString()) });
  try {
    await waitFor(() => until(got), 10_000, `${group} to read ${topic}`);
  } finally {
    await c.disconnect();
  }
  return got;
}

test('a committed transaction is read by read_committed consumers; an aborted one only by read_uncommitted ones', async () => {
  const admin = b.kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'txo', numPartitions: 2 }] });
  await admin.disconnect();
  const p = txProducer(b, 'tx-commit-abort');
  await p.connect();
  const t1 = await p.transaction();
  await t1.send({ topic: 'txo', messages: [{ key: 'a', value: 'c1' }, { key: 'b', value: 'c2' }, { key: 'c', value: 'c3' }] });
  await t1.commit();
  const t2 = await p.transaction();
  await t2.send({ topic: 'txo', messages: [{ key: 'a', value: 'x1' }, { key: 'b', value: 'x2' }] });
  await t2.abort();
  const t3 = await p.transaction();
  await t3.send({ topic: 'txo', messages: [{ key: 'c', value: 'c4' }] });
  await t3.commit();
  await p.disconnect();

  const committed = await consumeAll('txo', 'rc', false, (g) => g.includes('c4'));
  await sleep(200);
  assert.deepEqual([...committed].sort(), ['c1', 'c2', 'c3', 'c4']);
  const all = await consumeAll('txo', 'ru', true, (g) => g.length >= 6);
  assert.deepEqual([...all].sort(), ['c1', 'c2', 'c3', 'c4', 'x1', 'x2'], 'read_uncommitted sees the aborted records too (they are in the log)');
});

test('a read_committed consumer sees nothing of an open transaction until it commits', async () => {
  const p = txProducer(b, 'tx-open');
  await p.connect();
  const plain = b.kafka().producer();
  await plain.connect();
  await plain.send({ topic: 'txopen', messages: [{ value: 'before' }] });
  const c: Consumer = b.kafka().consumer({ groupId: 'open-reader', maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic: 'txopen', fromBeginning: true });
  const got: string[] = [];
  await c.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
  await waitFor(() => got.includes('before'), 10_000, 'the plain record');
  const t = await p.transaction();
  await t.send({ topic: 'txopen', messages: [{ value: 'in-tx' }] });
  // A plain record after the open transaction is held back too (it is above the LSO).
  await plain.send({ topic: 'txopen', messages: [{ value: 'after' }] });
  // ListOffsets latest, read_committed (kafkajs admin's isolation level): the LSO, not the end.
  const admin = b.kafka().admin();
  await admin.connect();
  assert.equal((await admin.fetchTopicOffsets('txopen'))[0]!.offset, '1');
  await sleep(600);
  assert.deepEqual(got, ['before']);
  await t.commit();
  await waitFor(() => got.length === 3, 10_000, 'the committed record');
  assert.deepEqual(got, ['before', 'in-tx', 'after']);
  assert.equal((await admin.fetchTopicOffsets('txopen'))[0]!.offset, '4', 'after the commit marker');
  await admin.disconnect();
  await c.disconnect();
  await p.disconnect();
  await plain.disconnect();
});

test('consume-transform-produce with sendOffsets: output and input offsets commit together, or neither', async () => {
  const kafka = b.kafka();
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: 'eos-in', messages: ['1', '2', '3'].map((value) => ({ value })) });
  await plain.disconnect();
  const p = txProducer(b, 'tx-eos');
  await p.connect();
  const c = kafka.consumer({ groupId: 'eos', maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic: 'eos-in', fromBeginning: true });
  let n = 0;
  await c.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const t = await p.transaction();
      await t.send({ topic: 'eos-out', messages: [{ value: `x${message.value!.toString()}` }] });
      await t.sendOffsets({ consumerGroupId: 'eos', topics: [{ topic, partitions: [{ partition, offset: String(Number(message.offset) + 1) }] }] });
      // The second message's transaction is aborted: its output and its offset must both vanish.
      if (message.value!.toString() === '2' && n++ === 0) {
        await t.abort();
        return;
      }
      await t.commit();
    },
  });
  await waitFor(() => b.engine.committedOffset('eos', 'eos-in', 0)?.offset === 3, 10_000, 'offset 3 committed');
  await c.disconnect();
  await p.disconnect();
  const out = await consumeAll('eos-out', 'eos-reader', false, (g) => g.length >= 2);
  await sleep(200);
  assert.deepEqual(out, ['x1', 'x3'], 'the aborted transformation of 2 is not visible');
  // The aborted transaction's offset (2) was never stored: the committed offset went 1 → 3.
  const admin = kafka.admin();
  await admin.connect();
  const offs = await admin.fetchOffsets({ groupId: 'eos', topics: ['eos-in'] });
  assert.equal(offs[0]!.partitions[0]!.offset, '3');
  await admin.disconnect();
});

test('a newer producer with the same transactional id fences the older one and aborts its open transaction', async () => {
  const old = txProducer(b, 'tx-fence');
  await old.connect();
  const t = await old.transaction();
  await t.send({ topic: 'fence', messages: [{ value: 'zombie' }] });
  const fresh = txProducer(b, 'tx-fence');
  await fresh.connect();
  // kafkajs sends InitProducerId with the transactional id when the first transaction begins.
  const t2 = await fresh.transaction();
  await assert.rejects(t.commit(), /epoch|fenced/i);
  await t2.send({ topic: 'fence', messages: [{ value: 'alive' }] });
  await t2.commit();
  const got = await consumeAll('fence', 'fence-reader', false, (g) => g.includes('alive'));
  await sleep(200);
  assert.deepEqual(got, ['alive']);
  await fresh.disconnect();
  await old.disconnect().catch(() => {});
});

test('queue consumers of the topic never see transactional records or markers; plain records still come', async () => {
  const p = txProducer(b, 'tx-queue');
  await p.connect();
  const g = await b.engine.group('txq', 'default');
  const seen: DeliveryImpl[] = [];
  g.addConsumer({ prefetch: 100, push: (d) => void seen.push(d) });
  const t1 = await p.transaction();
  await t1.send({ topic: 'txq', messages: [{ value: 'tx-committed' }] });
  await t1.commit();
  const t2 = await p.transaction();
  await t2.send({ topic: 'txq', messages: [{ value: 'tx-aborted' }] });
  await t2.abort();
  const plain = b.kafka().producer();
  await plain.connect();
  await plain.send({ topic: 'txq', messages: [{ value: 'plain' }] });
  await waitFor(() => seen.length > 0, 10_000, 'the plain record');
  await sleep(200);
  assert.deepEqual(seen.map((d) => d.body.toString()), ['plain']);
  await plain.disconnect();
  await p.disconnect();
});

test('a transaction open past its timeout is aborted and its producer fenced', async () => {
  const clock = new ManualClock(Date.now());
  const tb = await startBroker({ clock });
  try {
    const p = txProducer(tb, 'tx-timeout', { transactionTimeout: 5000 });
    await p.connect();
    const t = await p.transaction();
    await t.send({ topic: 'tmo', messages: [{ value: 'stale' }] });
    const end = tb.engine.logBounds('tmo', 0).end;
    clock.advance(5001);
    await waitFor(() => tb.engine.logBounds('tmo', 0).end === end + 1, 5000, 'the abort marker');
    await assert.rejects(t.commit(), /epoch|fenced/i);
    await p.disconnect().catch(() => {});
  } finally {
    await tb.close();
  }
});

test('after a restart, a transaction left open is aborted: read_committed readers see the committed data and what follows', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-kafka-tx-'));
  try {
    const e1 = await Engine.open({ storage: await FileStorage.open(dir) });
    const b1 = await startBroker({ engine: e1 });
    const p = txProducer(b1, 'tx-restart');
    await p.connect();
    const t1 = await p.transaction();
    await t1.send({ topic: 'rst', messages: [{ value: 'kept' }] });
    await t1.commit();
    const t2 = await p.transaction();
    await t2.send({ topic: 'rst', messages: [{ value: 'left-open' }] });
    await p.disconnect();
    await b1.close();
    await e1.close();

    const e2 = await Engine.open({ storage: await FileStorage.open(dir) });
    const b2 = await startBroker({ engine: e2 });
    try {
      const plain = b2.kafka().producer();
      await plain.connect();
      await plain.send({ topic: 'rst', messages: [{ value: 'later' }] });
      await plain.disconnect();
      const c = b2.kafka().consumer({ groupId: 'rst-reader', maxWaitTimeInMs: 100 });
      await c.connect();
      await c.subscribe({ topic: 'rst', fromBeginning: true });
      const got: string[] = [];
      await c.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
      await waitFor(() => got.includes('later'), 10_000, 'the record after the abandoned transaction');
      await sleep(200);
      await c.disconnect();
      assert.deepEqual(got, ['kept', 'later']);
    } finally {
      await b2.close();
      await e2.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
