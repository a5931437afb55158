/**
 * The conformance suite for kafka:// against Omnibus' own Kafka listener
 * (src/protocols/kafka/listener.ts), started in this process over a file:// engine on a free
 * loopback port. There is no Kafka broker on this machine.
 *
 * `restart` "restarts the broker": the listener is closed (its connections drop), the engine is
 * closed and opened again on the same directory, and the listener starts again on the same port
 * — committed offsets and the logs survive, group membership does not (kafkajs rejoins).
 *
 * librdkafka's mock cluster (rd_kafka_mock_cluster_new, or `test.mock.num.brokers` in a
 * librdkafka client) is not used: kafkajs cannot start it, and no Node binding of librdkafka is
 * installed here (node-rdkafka / @confluentinc/kafka-javascript are not in node_modules) that could
 * start one in-process and expose its bootstrap address. See docs/transports/kafka.md.
 *
 * Judged with delays, dead-lettering and leases ON: they are emulated (capabilities.emulated).
 * Topics are created with 3 partitions, so groups rebalance across members.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { Engine } from '../../src/engine/engine.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { startKafkaServer, type KafkaServer } from '../../src/protocols/kafka/listener.js';
import type { NetCapabilities } from '../../src/transports/common.js';
import type { KafkaTransport } from '../../src/transports/kafka.js';
import { describeTransport } from '../../src/testing/index.js';
import { freePort } from './brokers.js';

const dir = mkdtempSync(join(tmpdir(), 'omnibus-kafka-conformance-'));
const port = await freePort();
let engine: Engine;
let server: KafkaServer;

async function up(): Promise<void> {
  engine = await Engine.open({ storage: await FileStorage.open(dir) });
  server = await startKafkaServer(engine, { port, defaultPartitions: 3, initialRebalanceDelayMs: 0 });
}
async function down(): Promise<void> {
  await server.close();
  await engine.close();
}

await up();
after(async () => {
  await down();
  rmSync(dir, { recursive: true, force: true });
});

const url = `kafka://127.0.0.1:${port}?partitions=3`;
const probe = await connect(url);
const declared = probe.capabilities as NetCapabilities;
await probe.close();

describeTransport(`kafka:// (Omnibus Kafka listener ${port}, file engine)`, {
  connect: () => connect(url),
  capabilities: { ...declared, nativeDelay: true, nativeDeadLetter: true },
  restart: async () => {
    await down();
    await up();
  },
  short: process.env['OMNIBUS_TEST_FULL'] !== '1',
});

test('fetchBytes in the URL becomes the consumer maxBytesPerPartition; without it kafkajs keeps its default', async () => {
  const tuned = (await connect(`${url}&fetchBytes=262144`)) as KafkaTransport;
  const plain = (await connect(url)) as KafkaTransport;
  try {
    assert.equal(tuned.consumerConfig.maxBytesPerPartition, 262144);
    assert.equal('maxBytesPerPartition' in plain.consumerConfig, false);
  } finally {
    await tuned.close();
    await plain.close();
  }
});
