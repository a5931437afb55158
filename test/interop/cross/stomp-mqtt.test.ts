/**
 * Cross-protocol: the AMQP, RESP, STOMP and MQTT listeners in-process on one memory:// engine,
 * each driven by its usual client (amqplib, ioredis, stompit, mqtt.js).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import amqp from 'amqplib';
import Redis from 'ioredis';
import mqtt from 'mqtt';
import { startOmnibus } from '../../differential/targets.js';
import { startStompServer } from '../../../src/protocols/stomp/listener.js';
import { startMqttServer } from '../../../src/protocols/mqtt/listener.js';

const require = createRequire(import.meta.url);
interface StompitClient {
  send(headers: Record<string, string>, opts?: { onReceipt?: () => void }): { end(body: string): void };
  disconnect(): void;
  on(ev: 'error', cb: (e: Error) => void): void;
}
const stompit = require('stompit') as { connect(opts: unknown, cb: (e: Error | null, c: StompitClient) => void): void };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}

const omnibus = await startOmnibus();
const stomp = await startStompServer(omnibus.engine, { port: 0, host: '127.0.0.1' });
const mqttServer = await startMqttServer(omnibus.engine, { port: 0, host: '127.0.0.1' });
after(async () => {
  await mqttServer.close();
  await stomp.close();
  await omnibus.stop();
});

function stompSend(destination: string, body: string): Promise<void> {
  return new Promise((resolve, reject) =>
    stompit.connect({ host: '127.0.0.1', port: stomp.port, connectHeaders: { host: '/', 'heart-beat': '0,0', 'accept-version': '1.2' } }, (e, c) => {
      if (e) return reject(e);
      c.on('error', reject);
      c.send({ destination, persistent: 'true' }, { onReceipt: () => (c.disconnect(), resolve()) }).end(body);
    }),
  );
}

async function mqttClient(): Promise<mqtt.MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${mqttServer.port}`, { reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

test('an MQTT publish to a/b/c reaches an AMQP queue bound to amq.topic with a.*.c', async () => {
  const conn = await amqp.connect(omnibus.amqp.url);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', 'a.*.c');
    const c = await mqttClient();
    await c.publishAsync('a/b/c', 'from mqtt', { qos: 1 });
    await c.publishAsync('a/b/d', 'not bound', { qos: 1 });
    await c.endAsync();
    const m = await waitFor(async () => (await ch.get(queue, { noAck: true })) || undefined);
    assert.equal(m.content.toString(), 'from mqtt');
    assert.equal(m.fields.routingKey, 'a.b.c');
    await sleep(100);
    assert.equal(await ch.get(queue, { noAck: true }), false);
  } finally {
    await conn.close();
  }
});

test('an AMQP publish to amq.topic with key x.y reaches an MQTT subscriber of x/+ on topic x/y', async () => {
  const c = await mqttClient();
  const got: Array<[string, string]> = [];
  c.on('message', (topic, payload) => got.push([topic, payload.toString()]));
  await c.subscribeAsync('x/+', { qos: 1 });
  const conn = await amqp.connect(omnibus.amqp.url);
  try {
    const ch = await conn.createConfirmChannel();
    ch.publish('amq.topic', 'x.y', Buffer.from('from amqp'));
    await ch.waitForConfirms();
    await waitFor(() => got.length >= 1);
    assert.deepEqual(got, [['x/y', 'from amqp']]);
  } finally {
    await conn.close();
    await c.endAsync();
  }
});

test('a STOMP SEND to /queue/x is consumed by amqplib from queue x', async () => {
  await stompSend('/queue/x', 'from stomp');
  const conn = await amqp.connect(omnibus.amqp.url);
  try {
    const ch = await conn.createChannel();
    const m = await waitFor(async () => (await ch.get('x', { noAck: false })) || undefined);
    assert.equal(m.content.toString(), 'from stomp');
    ch.ack(m);
  } finally {
    await conn.close();
  }
});

test('a STOMP SEND to /queue/x2 is AMQP queue x2 and RPOP-able with ioredis from list x2', async () => {
  await stompSend('/queue/x2', 'one');
  await stompSend('/queue/x2', 'two');
  const conn = await amqp.connect(omnibus.amqp.url);
  try {
    const ch = await conn.createChannel();
    const q = await ch.checkQueue('x2');
    assert.equal(q.messageCount, 2);
  } finally {
    await conn.close();
  }
  const redis = new Redis({ host: '127.0.0.1', port: omnibus.resp.port, lazyConnect: true });
  await redis.connect();
  try {
    // STOMP/AMQP queues are FIFO; a Redis list used as a queue is LPUSH + RPOP: RPOP takes the oldest.
    assert.equal(await redis.rpop('x2'), 'one');
    assert.equal(await redis.rpop('x2'), 'two');
    assert.equal(await redis.rpop('x2'), null);
  } finally {
    redis.disconnect();
  }
});
