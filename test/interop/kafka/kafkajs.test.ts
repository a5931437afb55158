/** kafkajs 2.2.4 against the Kafka listener: admin, producer (acks, idempotence, gzip), consumer groups, offsets, seek, long poll. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, type Consumer, type EachMessagePayload } from 'kafkajs';
import { startBroker, waitFor, sleep, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

test('admin: create, list, describe configs, alter, add partitions, delete topics; error codes', async () => {
  const admin = b.kafka().admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic: 'adm-a', numPartitions: 3 }, { topic: 'adm-b' }] }), true);
  assert.equal(await admin.createTopics({ topics: [{ topic: 'adm-a', numPartitions: 3 }] }), false, 'already exists: false, not an error');
  await assert.rejects(admin.createTopics({ topics: [{ topic: 'adm-c', numPartitions: 1, replicationFactor: 3 }] }), (e: Error & { errors?: { type: string }[] }) => {
    assert.equal(e.errors?.[0]?.type, 'INVALID_REPLICATION_FACTOR');
    return true;
  });
  await assert.rejects(admin.createTopics({ topics: [{ topic: 'bad name!', numPartitions: 1 }] }));
  const topics = await admin.listTopics();
  assert.ok(topics.includes('adm-a') && topics.includes('adm-b'));
  const md = await admin.fetchTopicMetadata({ topics: ['adm-a'] });
  assert.equal(md.topics[0]!.partitions.length, 3);
  await admin.createPartitions({ topicPartitions: [{ topic: 'adm-a', count: 5 }] });
  assert.equal((await admin.fetchTopicMetadata({ topics: ['adm-a'] })).topics[0]!.partitions.length, 5);
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'adm-a', count: 2 }] }), /INVALID_PARTITIONS|partitions/i);
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'adm-a', configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'cleanup.policy', value: 'compact' }] }] });
  const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: 'adm-a' }] });
  const entries = Object.fromEntries(cfg.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  assert.equal(entries['retention.ms'], '3600000');
  assert.equal(entries['cleanup.policy'], 'compact');
  assert.equal(b.engine.getTopic('adm-a')!.config.retentionMs, 3600000);
  await assert.rejects(admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'adm-a', configEntries: [{ name: 'no.such.config', value: '1' }] }] }), /INVALID_CONFIG|config/i);
  await admin.deleteTopics({ topics: ['adm-b'] });
  assert.ok(!(await admin.listTopics()).includes('adm-b'));
  assert.equal(b.engine.getTopic('adm-b'), undefined);
  await admin.disconnect();
});

test('produce with acks -1, 1 and 0; keys and headers round-trip; offsets are consecutive', async () => {
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'acks', numPartitions: 1 }] });
  const p = kafka.producer();
  await p.connect();
  const r1 = await p.send({ topic: 'acks', acks: -1, messages: [{ key: 'k1', value: 'a', headers: { h1: 'x', h2: Buffer.from('y') } }, { value: 'b' }] });
  assert.equal(r1[0]!.errorCode, 0);
  assert.equal(r1[0]!.baseOffset, '0');
  const r2 = await p.send({ topic: 'acks', acks: 1, messages: [{ value: 'c' }] });
  assert.equal(r2[0]!.baseOffset, '2');
  await p.send({ topic: 'acks', acks: 0, messages: [{ value: 'd' }] });
  await waitFor(() => b.engine.logBounds('acks', 0).end === 4, 3000, 'acks=0 append');
  // The connection still works after an acks=0 request (no response was sent for it).
  const r3 = await p.send({ topic: 'acks', acks: -1, messages: [{ value: 'e' }] });
  assert.equal(r3[0]!.baseOffset, '4');
  const offsets = await admin.fetchTopicOffsets('acks');
  assert.equal(offsets[0]!.high, '5');
  assert.equal(offsets[0]!.low, '0');
  const c = kafka.consumer({ groupId: 'acks-g' });
  const got = await consumeN(c, 'acks', 5);
  assert.deepEqual(got.map((m) => m.message.value!.toString()), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(got.map((m) => m.message.offset), ['0', '1', '2', '3', '4']);
  assert.equal(got[0]!.message.key!.toString(), 'k1');
  assert.equal(got[0]!.message.headers!['h1']!.toString(), 'x');
  assert.equal(got[0]!.message.headers!['h2']!.toString(), 'y');
  assert.equal(got[1]!.message.key, null);
  await c.disconnect();
  await p.disconnect();
  await admin.disconnect();
});

async function consumeN(c: Consumer, topic: string, n: number, fromBeginning = true): Promise<EachMessagePayload[]> {
  await c.connect();
  await c.subscribe({ topic, fromBeginning });
  const got: EachMessagePayload[] = [];
  await new Promise<void>((resolve) => {
    void c.run({
      eachMessage: async (m) => {
        got.push(m);
        if (got.length === n) resolve();
      },
    });
  });
  return got;
}

test('gzip-compressed batches are stored as produced and consumed', async () => {
  const kafka = b.kafka();
  const p = kafka.producer();
  await p.connect();
  const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `gzip value ${i} `.repeat(20) }));
  await p.send({ topic: 'gz', compression: CompressionTypes.GZIP, messages });
  const batches = await b.engine.readLog('gz', 0, 0, 1 << 20);
  assert.equal(batches.length, 1, 'one stored batch');
  assert.equal(batches[0]!.payload.readInt16BE(21) & 7, 1, 'still gzip-compressed');
  const c = kafka.consumer({ groupId: 'gz-g' });
  const got = await consumeN(c, 'gz', 50);
  assert.deepEqual(got.map((m) => m.message.value!.toString()), messages.map((m) => m.value));
  await c.disconnect();
  await p.disconnect();
});

test('idempotent producer: InitProducerId, sequences, duplicates not appended twice', async () => {
  const kafka = b.kafka();
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  for (let i = 0; i < 5; i++) await p.send({ topic: 'idem', acks: -1, messages: [{ value: `m${i}` }, { value: `m${i}b` }] });
  assert.equal(b.engine.logBounds('idem', 0).end, 10);
  const [batch] = await b.engine.readLog('idem', 0, 0, 1 << 20);
  assert.ok(batch!.payload.readInt32BE(43) * 2 ** 32 + batch!.payload.readUInt32BE(47) >= 1000, 'a real producer id');
  // A retry of the last batch (same producer, epoch and sequence) is acknowledged, not appended.
  const last = (await b.engine.readLog('idem', 0, 8, 1 << 20)).at(-1)!;
  const raw = Buffer.from(last.payload);
  const { Socket } = await import('node:net');
  const { encodeRequest, decodeResponse } = await import('../../../src/protocols/kafka/index.js');
  const s = new Socket();
  await new Promise<void>((r) => s.connect(b.server.port, '127.0.0.1', r));
  const req = encodeRequest(0, 7, 1, 'dup', { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'idem', partitionData: [{ index: 0, records: raw }] }] });
  const resp = await new Promise<Buffer>((resolve) => {
    let acc = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) resolve(acc.subarray(4, 4 + acc.readInt32BE(0)));
    });
    s.write(req);
  });
  const body = decodeResponse(0, 7, resp).body;
  assert.equal(body.responses[0]!.partitionResponses[0]!.errorCode, 0);
  assert.equal(body.responses[0]!.partitionResponses[0]!.baseOffset, 8, 'the original offset');
  assert.equal(b.engine.logBounds('idem', 0).end, 10, 'not appended twice');
  // Skipping ahead is OUT_OF_ORDER_SEQUENCE_NUMBER (45).
  raw.writeInt32BE(raw.readInt32BE(53) + 10, 53);
  const { crc32c } = await import('../../../src/protocols/kafka/records/index.js');
  raw.writeUInt32BE(crc32c(raw, 21, raw.length), 17);
  const req2 = encodeRequest(0, 7, 2, 'dup', { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'idem', partitionData: [{ index: 0, records: raw }] }] });
  const resp2 = await new Promise<Buffer>((resolve) => {
    let acc = Buffer.alloc(0);
    s.removeAllListeners('data');
    s.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) resolve(acc.subarray(4, 4 + acc.readInt32BE(0)));
    });
    s.write(req2);
  });
  assert.equal(decodeResponse(0, 7, resp2).body.responses[0]!.partitionResponses[0]!.errorCode, 45);
  s.destroy();
  await p.disconnect();
});

test('consumer group: 2 consumers on 4 partitions get everything exactly once; a third joins, one leaves', async () => {
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'grp', numPartitions: 4 }] });
  const seen = new Map<string, number>();
  const byConsumer = new Map<string, Set<number>>();
  const mk = (name: string) => {
    const c = kafka.consumer({ groupId: 'grp-g', sessionTimeout: 10_000, heartbeatInterval: 300, rebalanceTimeout: 5000, maxWaitTimeInMs: 200 });
    byConsumer.set(name, new Set());
    return {
      c,
      async start() {
        await c.connect();
        await c.subscribe({ topic: 'grp', fromBeginning: true });
        await c.run({
          eachMessage: async ({ partition, message }) => {
            byConsumer.get(name)!.add(partition);
            const v = message.value!.toString();
            seen.set(v, (seen.get(v) ?? 0) + 1);
          },
        });
      },
    };
  };
  const c1 = mk('c1');
  const c2 = mk('c2');
  await Promise.all([c1.start(), c2.start()]);
  const p = kafka.producer();
  await p.connect();
  const send = async (from: number, n: number) => {
    for (let i = from; i < from + n; i++) await p.send({ topic: 'grp', messages: [{ key: `key-${i}`, value: `v${i}` }] });
  };
  await send(0, 100);
  await waitFor(() => seen.size === 100, 15_000, '100 messages');
  assert.ok([...seen.values()].every((n) => n === 1), 'each exactly once');
  assert.ok(byConsumer.get('c1')!.size > 0 && byConsumer.get('c2')!.size > 0, 'both consumers got partitions');
  const c3 = mk('c3');
  await c3.start();
  await send(100, 100);
  await waitFor(() => seen.size === 200, 15_000, '200 messages');
  await c1.c.disconnect(); // leaves the group: its partitions move
  await send(200, 100);
  await waitFor(() => seen.size === 300, 15_000, '300 messages');
  // At-least-once across rebalances: committed offsets keep duplicates rare; nothing is lost.
  for (let i = 0; i < 300; i++) assert.ok(seen.has(`v${i}`), `v${i}`);
  const desc = await admin.describeGroups(['grp-g']);
  assert.equal(desc.groups[0]!.state, 'Stable');
  assert.equal(desc.groups[0]!.members.length, 2);
  await Promise.all([c2.c.disconnect(), c3.c.disconnect(), p.disconnect()]);
  const groups = await admin.listGroups();
  assert.ok(groups.groups.some((g) => g.groupId === 'grp-g'));
  await admin.disconnect();
});

test('committed offsets: a restarted consumer resumes after the last commit; fetchOffsets, resetOffsets, deleteGroups', async () => {
  const kafka = b.kafka();
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: 'resume', messages: Array.from({ length: 10 }, (_, i) => ({ value: `r${i}` })) });
  const c1 = kafka.consumer({ groupId: 'resume-g' });
  const first = await consumeN(c1, 'resume', 10);
  assert.equal(first.length, 10);
  await c1.disconnect(); // commits on disconnect
  const admin = kafka.admin();
  await admin.connect();
  const offs = await admin.fetchOffsets({ groupId: 'resume-g', topics: ['resume'] });
  assert.equal(offs[0]!.partitions[0]!.offset, '10');
  await p.send({ topic: 'resume', messages: [{ value: 'r10' }, { value: 'r11' }] });
  const c2 = kafka.consumer({ groupId: 'resume-g' });
  const second = await consumeN(c2, 'resume', 2);
  assert.deepEqual(second.map((m) => m.message.value!.toString()), ['r10', 'r11']);
  await c2.disconnect();
  await assert.rejects(admin.deleteGroups(['nope-group']));
  await admin.setOffsets({ groupId: 'resume-g', topic: 'resume', partitions: [{ partition: 0, offset: '3' }] });
  assert.equal((await admin.fetchOffsets({ groupId: 'resume-g', topics: ['resume'] }))[0]!.partitions[0]!.offset, '3');
  const del = await admin.deleteGroups(['resume-g']);
  assert.equal(del[0]!.errorCode, 0);
  assert.equal((await admin.fetchOffsets({ groupId: 'resume-g', topics: ['resume'] }))[0]!.partitions[0]!.offset, '-1');
  await admin.disconnect();
  await p.disconnect();
});

test('seek and offsets for timestamps', async () => {
  const kafka = b.kafka();
  const p = kafka.producer();
  await p.connect();
  const t0 = Date.now() - 100_000;
  for (let i = 0; i < 10; i++) await p.send({ topic: 'seek', messages: [{ value: `s${i}`, timestamp: String(t0 + i * 1000) }] });
  const admin = kafka.admin();
  await admin.connect();
  const byTime = await admin.fetchTopicOffsetsByTimestamp('seek', t0 + 4500);
  assert.equal(byTime[0]!.offset, '5');
  const late = await admin.fetchTopicOffsetsByTimestamp('seek', Date.now() + 100_000);
  assert.equal(late[0]!.offset, '10', 'kafkajs maps "no such record" to the high watermark');
  const c = kafka.consumer({ groupId: 'seek-g' });
  await c.connect();
  await c.subscribe({ topic: 'seek', fromBeginning: true });
  const got: string[] = [];
  let seeked = false;
  await new Promise<void>((resolve) => {
    void c.run({
      eachMessage: async ({ message }) => {
        got.push(message.value!.toString());
        if (!seeked && got.length === 3) {
          seeked = true;
          c.seek({ topic: 'seek', partition: 0, offset: '7' });
        }
        if (got.includes('s9')) resolve();
      },
    });
  });
  assert.deepEqual(got.slice(0, 3), ['s0', 's1', 's2']);
  assert.ok(got.includes('s7') && !got.includes('s5'), `seek skipped ahead: ${got.join(',')}`);
  await c.disconnect();
  await admin.disconnect();
  await p.disconnect();
});

test('fetch long-poll: a waiting consumer gets a new message within milliseconds, not at max wait', async () => {
  const kafka = b.kafka();
  const c = kafka.consumer({ groupId: 'lp-g', maxWaitTimeInMs: 5000 });
  await c.connect();
  await c.subscribe({ topic: 'longpoll', fromBeginning: true });
  let resolveGot: (t: number) => void = () => {};
  const gotAt = new Promise<number>((r) => (resolveGot = r));
  await c.run({ eachMessage: async () => resolveGot(Date.now()) });
  await sleep(1500); // the consumer is now parked in a long-polling Fetch
  const p = kafka.producer();
  await p.connect();
  const sentAt = Date.now();
  await p.send({ topic: 'longpoll', messages: [{ value: 'wake' }] });
  const latency = (await gotAt) - sentAt;
  assert.ok(latency < 1000, `latency ${latency} ms`);
  await c.disconnect();
  await p.disconnect();
});
