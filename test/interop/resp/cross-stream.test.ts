/**
 * Cross-protocol stream view: one engine behind the RESP, Kafka and AMQP listeners.
 *  - kafkajs produces to topic `s` (FORMAT_KAFKA batches) → ioredis XRANGE/XREVRANGE/XREAD/XLEN/
 *    XINFO/XREADGROUP read the records, fields `body`, `key`, then the headers; XREAD BLOCK is woken
 *    by a Kafka produce;
 *  - an AMQP stream queue (amqplib, x-queue-type stream) published to is read with XRANGE, and
 *    XADD … body v is consumed by an AMQP stream consumer (x-stream-offset first) as body v;
 *  - XTRIM moves the engine log's start (Kafka and AMQP readers see the trim too).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { startAmqpServer, type AmqpServer } from '../../../src/protocols/amqp/listener.js';
import { startKafkaServer, type KafkaServer } from '../../../src/protocols/kafka/listener.js';
import { startServer, type TestServer } from './helpers.js';

let srv: TestServer;
let kafkaSrv: KafkaServer;
let amqpSrv: AmqpServer;
let r: Redis;
before(async () => {
  srv = await startServer();
  kafkaSrv = await startKafkaServer(srv.engine, { port: 0 });
  amqpSrv = await startAmqpServer(srv.engine, { port: 0 });
  r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
});
after(async () => {
  r.disconnect();
  await kafkaSrv.close();
  await amqpSrv.close();
  await srv.close();
});

const kafka = () => new Kafka({ clientId: 'cross', brokers: [`127.0.0.1:${kafkaSrv.port}`], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } });

test('Kafka produce → XRANGE/XREVRANGE/XLEN/XREAD/XREADGROUP; XREAD BLOCK woken by a Kafka produce', async () => {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 's', numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka().producer();
  await producer.connect();
  await producer.send({
    topic: 's',
    messages: [
      { key: 'k1', value: 'v1', headers: { h: 'x' } },
      { value: 'v2' },
    ],
  });
  const all = await r.xrange('s', '-', '+');
  assert.equal(all.length, 2);
  assert.deepEqual(all[0]![1], ['body', 'v1', 'key', 'k1', 'h', 'x']);
  assert.deepEqual(all[1]![1], ['body', 'v2']);
  assert.match(all[0]![0], /^\d+-0$/);
  assert.match(all[1]![0], /^\d+-1$/);
  assert.equal(await r.type('s'), 'stream');
  assert.equal(await r.xlen('s'), 2);
  assert.deepEqual((await r.xrevrange('s', '+', '-', 'COUNT', 1)).map((e) => e[0]), [all[1]![0]]);
  // The ids are stable: a second read agrees, and XRANGE from an id finds it.
  assert.deepEqual(await r.xrange('s', all[1]![0], '+'), [all[1]]);
  assert.deepEqual(await r.xread('STREAMS', 's', all[0]![0]), [['s', [all[1]]]]);
  await r.xgroup('CREATE', 's', 'g', '0');
  const viaGroup = (await r.xreadgroup('GROUP', 'g', 'c', 'STREAMS', 's', '>')) as [string, [string, string[]][]][];
  assert.deepEqual(viaGroup[0]![1].map((e) => e[1][1]), ['v1', 'v2']);
  const info = (await r.xinfo('STREAM', 's')) as unknown[];
  assert.equal(info[info.indexOf('length') + 1], 2);

  // BLOCK: woken by a Kafka produce (not an XADD).
  const blocked = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    const p = blocked.xread('BLOCK', 5000, 'STREAMS', 's', '$');
    await new Promise((res) => setTimeout(res, 100));
    const t0 = Date.now();
    await producer.send({ topic: 's', messages: [{ value: 'v3' }] });
    const res = (await p) as [string, [string, string[]][]][];
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(res[0]![1][0]![1], ['body', 'v3']);
    // XREADGROUP BLOCK too.
    const p2 = blocked.xreadgroup('GROUP', 'g', 'c', 'BLOCK', 5000, 'STREAMS', 's', '>') as Promise<[string, [string, string[]][]][]>;
    await new Promise((res) => setTimeout(res, 50));
    // v3 was already pending-free for the group: it is delivered at once.
    assert.deepEqual((await p2)[0]![1].map((e) => e[1][1]), ['v3']);
    const p3 = blocked.xreadgroup('GROUP', 'g', 'c', 'BLOCK', 5000, 'STREAMS', 's', '>') as Promise<[string, [string, string[]][]][]>;
    await new Promise((res) => setTimeout(res, 100));
    await producer.send({ topic: 's', messages: [{ value: 'v4' }] });
    assert.deepEqual((await p3)[0]![1].map((e) => e[1][1]), ['v4']);
  } finally {
    blocked.disconnect();
    await producer.disconnect();
  }
});

test('AMQP stream queue ⇄ Redis stream of the same name', async () => {
  const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${amqpSrv.port}`);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue('as', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    ch.sendToQueue('as', Buffer.from('from-amqp'), { headers: { a: '1' } });
    await ch.close();
    const ch2 = await conn.createConfirmChannel();
    await new Promise<void>((res) => setTimeout(res, 100));
    const es = await r.xrange('as', '-', '+');
    assert.equal(es.length, 1);
    assert.equal(es[0]![1][0], 'body');
    assert.equal(es[0]![1][1], 'from-amqp');
    // And the reverse: XADD … body → an AMQP stream consumer from the first offset.
    await r.xadd('as', '*', 'body', 'from-redis');
    await r.xadd('as', '*', 'f1', 'a', 'f2', 'b');
    await ch2.prefetch(10);
    const got: string[] = [];
    const headers: unknown[] = [];
    await ch2.consume('as', (m) => m && (got.push(m.content.toString()), headers.push(m.properties.headers), ch2.ack(m)), { arguments: { 'x-stream-offset': 'first' } });
    for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(got.slice(0, 2), ['from-amqp', 'from-redis']);
    // An entry without a `body` field reaches other protocols as an empty body with its fields as headers.
    assert.equal(got[2], '');
    assert.equal((headers[2] as Record<string, unknown>)['f1'], 'a');
    assert.equal((headers[2] as Record<string, unknown>)['f2'], 'b');
  } finally {
    await conn.close();
  }
});

test('XTRIM frees storage: the engine log start moves for every reader', async () => {
  for (let i = 0; i < 10; i++) await r.xadd('trimmed', '*', 'n', String(i));
  assert.equal(await r.xtrim('trimmed', 'MAXLEN', 3), 7);
  assert.equal(srv.engine.logBounds('trimmed', 0).start, 7);
  assert.equal(await r.xlen('trimmed'), 3);
  assert.deepEqual((await r.xrange('trimmed', '-', '+')).map((e) => e[1][1]), ['7', '8', '9']);
  await r.xadd('trimmed', 'MAXLEN', '2', '*', 'n', '10');
  assert.equal(srv.engine.logBounds('trimmed', 0).start, 9);
  assert.equal(await r.xlen('trimmed'), 2);
});
