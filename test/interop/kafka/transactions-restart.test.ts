/**
 * The transaction coordinator's state across a restart on file storage (raw requests through the
 * generated codec; the brokers are real listeners over real engines on one data directory):
 *
 * - a transaction whose commit was decided but whose markers were not all written (a storage
 *   failure injected on the second partition's marker, then a stop) is completed by the next
 *   start, before any client asks: both partitions committed, the staged group offset stored;
 * - a transaction still ongoing at the stop is aborted at the next start and its producer fenced:
 *   the old epoch gets INVALID_PRODUCER_EPOCH (47), not INVALID_PRODUCER_ID_MAPPING, and
 *   InitProducerId keeps the transactional id's producer id with a higher epoch.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { buildRecordBatch, decodeRecordBatch, splitRecordBatches } from '../../../src/protocols/kafka/records/index.js';
import { rawCall, startBroker, type Broker } from './helpers.js';

const call = rawCall;

const init = (b: Broker, id: string) => call(b, 22, 1, { transactionalId: id, transactionTimeoutMs: 60_000 });
const addPartitions = (b: Broker, id: string, pid: number, epoch: number, topic: string, partitions: number[]) =>
  call(b, 24, 1, { v3AndBelowTransactionalId: id, v3AndBelowProducerId: pid, v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: [{ name: topic, partitions }] });
const produceTx = (b: Broker, id: string, pid: number, epoch: number, topic: string, partition: number, value: string, seq = 0) =>
  call(b, 0, 7, {
    transactionalId: id,
    acks: -1,
    timeoutMs: 1000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: buildRecordBatch([{ value: Buffer.from(value) }], { producerId: pid, producerEpoch: epoch, baseSequence: seq, isTransactional: true }) }] }],
  });
const endTxn = (b: Broker, id: string, pid: number, epoch: number, committed: boolean) => call(b, 26, 1, { transactionalId: id, producerId: pid, producerEpoch: epoch, committed });

/** A read_committed Fetch v11 of one partition: last stable offset, aborted transactions, record values. */
async function readCommitted(b: Broker, topic: string, partition: number): Promise<{ lso: number; hw: number; aborted: number[]; values: string[] }> {
  const r = await call(b, 1, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 1,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, 0);
  // What a read_committed client keeps: records of an aborted transaction (from its first offset
  // to its producer's next marker) are dropped; markers are not records.
  const aborted: { producerId: number; firstOffset: number }[] = (p.abortedTransactions ?? []).map((a: { producerId: number; firstOffset: number }) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) }));
  const listed = aborted.map((a) => a.producerId);
  const dropping = new Set<number>();
  const values: string[] = [];
  for (const bv of splitRecordBatches(Buffer.concat([p.records ?? Buffer.alloc(0)].flat()))) {
    // Each aborted transaction starts dropping once, at its first offset (as Kafka's consumer does).
    const i = aborted.findIndex((a) => a.producerId === bv.producerId && bv.baseOffset >= a.firstOffset);
    if (i >= 0 && !bv.isControl) dropping.add(aborted.splice(i, 1)[0]!.producerId);
    if (bv.isControl) {
      dropping.delete(bv.producerId);
      continue;
    }
    if (bv.isTransactional && dropping.has(bv.producerId)) continue;
    for (const rec of decodeRecordBatch(bv.bytes).records) values.push(rec.value!.toString());
  }
  return { lso: Number(p.lastStableOffset), hw: Number(p.highWatermark), aborted: listed, values };
}

const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-kafka-txr-'));
let b2: Broker;
let e2: Engine;
const first = { decided: { pid: -1, epoch: -1 }, open: { pid: -1, epoch: -1 }, endTxnAnswer: undefined as unknown };

before(async () => {
  const e1 = await Engine.open({ storage: await FileStorage.open(dir) });
  const b1 = await startBroker({ engine: e1 });
  const admin = b1.kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'txr-atomic', numPartitions: 2 }, { topic: 'txr-open', numPartitions: 1 }] });
  await admin.disconnect();

  // A commit decided, its second marker failing (injected storage error), then a stop.
  const d = await init(b1, 'txr-decided');
  first.decided = { pid: Number(d.producerId), epoch: d.producerEpoch };
  const { pid, epoch } = first.decided;
  assert.equal((await addPartitions(b1, 'txr-decided', pid, epoch, 'txr-atomic', [0, 1])).resultsByTopicV3AndBelow[0].resultsByPartition[1].partitionErrorCode, 0);
  for (const p of [0, 1]) assert.equal((await produceTx(b1, 'txr-decided', pid, epoch, 'txr-atomic', p, `a${p}`)).responses[0].partitionResponses[0].errorCode, 0);
  assert.equal((await call(b1, 25, 1, { transactionalId: 'txr-decided', producerId: pid, producerEpoch: epoch, groupId: 'txr-in' })).errorCode, 0);
  const toc = await call(b1, 28, 1, { transactionalId: 'txr-decided', groupId: 'txr-in', producerId: pid, producerEpoch: epoch, topics: [{ name: 'txr-atomic', partitions: [{ partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: 'm' }] }] });
  assert.equal(toc.topics[0].partitions[0].errorCode, 0);
  const appendRaw = e1.appendRaw.bind(e1);
  (e1 as { appendRaw: Engine['appendRaw'] }).appendRaw = (topic, partition, batch) => {
    if (topic === 'txr-atomic' && partition === 1 && (Buffer.from(batch.payload).readInt16BE(21) & 0x20) !== 0) return Promise.reject(new Error('injected: disk full'));
    return appendRaw(topic, partition, batch);
  };
  first.endTxnAnswer = await endTxn(b1, 'txr-decided', pid, epoch, true);
  assert.equal(e1.logBounds('txr-atomic', 0).end, 2, 'partition 0: record and commit marker');
  assert.equal(e1.logBounds('txr-atomic', 1).end, 1, 'partition 1: the record, no marker');
  assert.equal(e1.committedOffset('txr-in', 'txr-atomic', 0), undefined, 'the staged offset is not stored yet');

  // A transaction still ongoing at the stop.
  const o = await init(b1, 'txr-open');
  first.open = { pid: Number(o.producerId), epoch: o.producerEpoch };
  await addPartitions(b1, 'txr-open', first.open.pid, first.open.epoch, 'txr-open', [0]);
  assert.equal((await produceTx(b1, 'txr-open', first.open.pid, first.open.epoch, 'txr-open', 0, 'open')).responses[0].partitionResponses[0].errorCode, 0);

  await b1.close();
  await e1.close();
  e2 = await Engine.open({ storage: await FileStorage.open(dir) });
  b2 = await startBroker({ engine: e2 });
});

after(async () => {
  await b2?.close();
  await e2?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a commit decided before a stop is completed at the next start: every partition committed, the staged offset stored', async () => {
  assert.notEqual((first.endTxnAnswer as { errorCode?: number }).errorCode, 0, 'EndTxn did not succeed before the stop');
  assert.equal(e2.logBounds('txr-atomic', 1).end, 2, 'the missing marker is written at start, before any request');
  assert.deepEqual(e2.committedOffset('txr-in', 'txr-atomic', 0), { offset: 7, metadata: 'm' });
  for (const p of [0, 1]) {
    const r = await readCommitted(b2, 'txr-atomic', p);
    assert.deepEqual(r, { lso: r.hw, hw: r.hw, aborted: [], values: [`a${p}`] }, `partition ${p} committed`);
  }
  const again = await init(b2, 'txr-decided');
  assert.equal(again.errorCode, 0);
  assert.equal(Number(again.producerId), first.decided.pid, 'the transactional id keeps its producer id');
  assert.equal(again.producerEpoch, first.decided.epoch + 1);
});

test('a transaction ongoing at a stop is aborted at the next start and its producer fenced with INVALID_PRODUCER_EPOCH', async () => {
  const { pid, epoch } = first.open;
  assert.equal(e2.logBounds('txr-open', 0).end, 2, 'the abort marker is written at start');
  const r = await readCommitted(b2, 'txr-open', 0);
  assert.equal(r.lso, r.hw, 'nothing holds read_committed readers back');
  assert.deepEqual(r.aborted, [pid], 'the record is listed as aborted');
  assert.deepEqual(r.values, []);
  assert.equal((await endTxn(b2, 'txr-open', pid, epoch, true)).errorCode, 47, 'the old epoch is fenced');
  assert.equal((await produceTx(b2, 'txr-open', pid, epoch, 'txr-open', 0, 'zombie', 1)).responses[0].partitionResponses[0].errorCode, 47);
  const again = await init(b2, 'txr-open');
  assert.equal(Number(again.producerId), pid, 'same producer id');
  assert.ok(again.producerEpoch > epoch + 1, `epoch ${again.producerEpoch} above the fenced one`);
  // The new incarnation works: a committed transaction after the restart.
  await addPartitions(b2, 'txr-open', pid, again.producerEpoch, 'txr-open', [0]);
  assert.equal((await produceTx(b2, 'txr-open', pid, again.producerEpoch, 'txr-open', 0, 'fresh')).responses[0].partitionResponses[0].errorCode, 0);
  assert.equal((await endTxn(b2, 'txr-open', pid, again.producerEpoch, true)).errorCode, 0);
  assert.deepEqual((await readCommitted(b2, 'txr-open', 0)).values, ['fresh']);
});

test('clients cannot commit offsets to the groups that hold the server state (INVALID_GROUP_ID)', async () => {
  const before = e2.committedOffset('__omnibus.kafka.txn-state', 'txr-open', 0);
  assert.ok(before, 'the state entry of txr-open exists');
  await b2.engine.topic('txr-open');
  const r = await call(b2, 8, 2, { groupId: '__omnibus.kafka.txn-state', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 'txr-open', partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: 'x' }] }] });
  assert.equal(r.topics[0].partitions[0].errorCode, 24);
  const { producerId, producerEpoch } = await init(b2, 'txr-reserved');
  assert.equal((await call(b2, 25, 1, { transactionalId: 'txr-reserved', producerId, producerEpoch, groupId: '__omnibus.kafka.txn-state' })).errorCode, 24);
  assert.deepEqual(e2.committedOffset('__omnibus.kafka.txn-state', 'txr-open', 0)?.offset, before?.offset);
});
