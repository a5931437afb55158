/**
 * Kafka transaction APIs refusing what they must, over raw requests (the protocol's own error
 * codes, the connection stays usable): unknown transactional ids and producer ids, stale epochs,
 * a transactional batch outside a transaction, a produced control batch, an excessive timeout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { encodeRequest, decodeResponse } from '../../../src/protocols/kafka/index.js';
import { buildControlBatch, buildRecordBatch } from '../../../src/protocols/kafka/records/index.js';
import { startBroker, type Broker } from './helpers.js';

let b: Broker;
let s: net.Socket;
let corr = 0;
before(async () => {
  b = await startBroker();
  s = new net.Socket();
  await new Promise<void>((r) => s.connect(b.server.port, '127.0.0.1', r));
});
after(async () => {
  s.destroy();
  await b.close();
});

/** One request on the shared connection; the decoded response body (loosely typed: tests index into it). */
async function call(apiKey: number, version: number, body: unknown): Promise<any> {
  const id = ++corr;
  const resp = await new Promise<Buffer>((resolve) => {
    let acc = Buffer.alloc(0);
    s.removeAllListeners('data');
    s.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) resolve(acc.subarray(4, 4 + acc.readInt32BE(0)));
    });
    s.write(encodeRequest(apiKey as never, version, id, 'raw', body as never));
  });
  return decodeResponse(apiKey as never, version, resp).body;
}

const produce = (topic: string, records: Buffer, transactionalId: string | null) =>
  call(0, 7, { transactionalId, acks: -1, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });

test('transaction requests for unknown ids, stale epochs and bad timeouts get their Kafka error codes', async () => {
  assert.equal((await call(22, 1, { transactionalId: 'raw-tx', transactionTimeoutMs: 16 * 60 * 1000 })).errorCode, 50, 'INVALID_TRANSACTION_TIMEOUT');
  const init = await call(22, 1, { transactionalId: 'raw-tx', transactionTimeoutMs: 60_000 });
  assert.equal(init.errorCode, 0);
  const { producerId, producerEpoch } = init;
  assert.equal((await call(26, 1, { transactionalId: 'nobody', producerId, producerEpoch, committed: true })).errorCode, 49, 'INVALID_PRODUCER_ID_MAPPING');
  assert.equal((await call(26, 1, { transactionalId: 'raw-tx', producerId: producerId + 1, producerEpoch, committed: true })).errorCode, 49);
  const again = await call(22, 1, { transactionalId: 'raw-tx', transactionTimeoutMs: 60_000 });
  assert.equal(again.producerId, producerId);
  assert.equal(again.producerEpoch, producerEpoch + 1);
  assert.equal((await call(25, 1, { transactionalId: 'raw-tx', producerId, producerEpoch, groupId: 'g' })).errorCode, 47, 'INVALID_PRODUCER_EPOCH: fenced');
  const add = await call(24, 1, { v3AndBelowTransactionalId: 'raw-tx', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: again.producerEpoch, v3AndBelowTopics: [{ name: 'no-such-topic', partitions: [0] }] });
  assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION');
  // TxnOffsetCommit without AddOffsetsToTxn first.
  await b.engine.topic('raw-in');
  const toc = await call(28, 1, { transactionalId: 'raw-tx', groupId: 'g', producerId, producerEpoch: again.producerEpoch, topics: [{ name: 'raw-in', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] });
  assert.equal(toc.topics[0].partitions[0].errorCode, 48, 'INVALID_TXN_STATE');
});

test('a transactional batch outside an ongoing transaction, and a produced control batch, are refused', async () => {
  await b.engine.topic('raw-out');
  const init = await call(22, 1, { transactionalId: 'raw-tx2', transactionTimeoutMs: 60_000 });
  const txBatch = buildRecordBatch([{ key: null, value: Buffer.from('v'), timestamp: Date.now() }], { producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: 0, isTransactional: true });
  const r1 = await produce('raw-out', txBatch, 'raw-tx2');
  assert.equal(r1.responses[0].partitionResponses[0].errorCode, 48, 'INVALID_TXN_STATE: the partition was not added');
  const marker = buildControlBatch({ type: 1, producerId: init.producerId, producerEpoch: init.producerEpoch });
  const r2 = await produce('raw-out', marker, 'raw-tx2');
  assert.equal(r2.responses[0].partitionResponses[0].errorCode, 87, 'INVALID_RECORD');
  assert.equal(b.engine.logBounds('raw-out', 0).end, 0, 'nothing appended');
  // Added, the same batch goes in; EndTxn commits it with a marker after it.
  const add = await call(24, 1, { v3AndBelowTransactionalId: 'raw-tx2', v3AndBelowProducerId: init.producerId, v3AndBelowProducerEpoch: init.producerEpoch, v3AndBelowTopics: [{ name: 'raw-out', partitions: [0] }] });
  assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, 0);
  assert.equal((await produce('raw-out', txBatch, 'raw-tx2')).responses[0].partitionResponses[0].errorCode, 0);
  assert.equal((await call(26, 1, { transactionalId: 'raw-tx2', producerId: init.producerId, producerEpoch: init.producerEpoch, committed: true })).errorCode, 0);
  const batches = await b.engine.readLog('raw-out', 0, 0, 1 << 20);
  assert.equal(batches.length, 2);
  assert.equal(batches[1]!.payload.readInt16BE(21) & 0x30, 0x30, 'the marker: transactional and control');
});
