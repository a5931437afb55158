/**
 * amqplib against the queue features: dead-lettering with x-death, TTL (queue and per-message),
 * max-length (drop-head and reject-publish), priorities, direct reply-to RPC, x-delayed-message,
 * stream queues, x-expires.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { startBroker, waitFor, sleep, type Broker } from './helpers.js';

let b: Broker;
let conn: amqp.ChannelModel;
before(async () => {
  b = await startBroker();
  conn = await amqp.connect(b.url);
});
after(async () => {
  await conn.close();
  await b.close();
});

async function drain(ch: amqp.Channel, q: string): Promise<amqp.GetMessage[]> {
  const out: amqp.GetMessage[] = [];
  for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) out.push(m);
  return out;
}

test('reject without requeue dead-letters with an x-death table like RabbitMQ', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('dlx', 'direct');
  await ch.assertQueue('dlq');
  await ch.bindQueue('dlq', 'dlx', 'dead');
  await ch.assertQueue('work-q', { arguments: { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' } });
  ch.publish('', 'work-q', Buffer.from('poison'), { headers: { keep: 'me' } });
  await ch.waitForConfirms();
  const m = await waitFor(() => ch.get('work-q'));
  ch.reject(m, false);
  const d = await waitFor(() => ch.get('dlq', { noAck: true }));
  assert.equal(d.content.toString(), 'poison');
  assert.equal(d.fields.exchange, 'dlx');
  assert.equal(d.fields.routingKey, 'dead');
  const h = d.properties.headers!;
  assert.equal(h['keep'], 'me');
  assert.equal(h['x-first-death-reason'], 'rejected');
  assert.equal(h['x-first-death-queue'], 'work-q');
  const xd = h['x-death'] as Record<string, unknown>[];
  assert.equal(xd.length, 1);
  assert.equal(xd[0]!['count'], 1);
  assert.equal(xd[0]!['reason'], 'rejected');
  assert.equal(xd[0]!['queue'], 'work-q');
  assert.equal(xd[0]!['exchange'], '');
  assert.deepEqual(xd[0]!['routing-keys'], ['work-q']);
  assert.ok(xd[0]!['time'] instanceof Date || typeof xd[0]!['time'] === 'object' || typeof xd[0]!['time'] === 'number');
});

test('queue TTL and per-message expiration dead-letter with reason expired (to the default exchange)', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('ttl-dlq');
  await ch.assertQueue('ttl-q', { arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttl-dlq' } });
  await ch.assertQueue('exp-q', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttl-dlq' } });
  ch.sendToQueue('ttl-q', Buffer.from('old'));
  ch.sendToQueue('exp-q', Buffer.from('short'), { expiration: '30' });
  ch.sendToQueue('exp-q', Buffer.from('long'), { expiration: '600000' });
  await ch.waitForConfirms();
  const all: amqp.GetMessage[] = [];
  await waitFor(async () => {
    all.push(...(await drain(ch, 'ttl-dlq')));
    return all.length >= 2;
  });
  assert.deepEqual(all.map((m) => m.content.toString()).sort(), ['old', 'short']);
  for (const m of all) {
    const xd = m.properties.headers!['x-death'] as Record<string, unknown>[];
    assert.equal(xd[0]!['reason'], 'expired');
    if (m.content.toString() === 'short') {
      assert.equal(xd[0]!['original-expiration'], '30');
      assert.equal(m.properties.expiration, undefined);
    }
  }
  const left = await ch.get('exp-q', { noAck: true });
  assert.ok(left);
  assert.equal(left.content.toString(), 'long');
});

test('x-max-length drop-head keeps the newest; reject-publish nacks the overflow', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('maxlen-q', { arguments: { 'x-max-length': 3 } });
  for (let i = 0; i < 6; i++) ch.sendToQueue('maxlen-q', Buffer.from(String(i)));
  await ch.waitForConfirms();
  await sleep(50);
  assert.deepEqual((await drain(ch, 'maxlen-q')).map((m) => m.content.toString()), ['3', '4', '5']);

  await ch.assertQueue('reject-q', { arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
  const results: boolean[] = [];
  await Promise.all(
    [0, 1, 2, 3].map((i) => new Promise<void>((res) => ch.sendToQueue('reject-q', Buffer.from(String(i)), {}, (e) => (results[i] = !e, res())))),
  );
  assert.deepEqual(results, [true, true, false, false]);
  assert.equal((await ch.checkQueue('reject-q')).messageCount, 2);
});

test('x-max-priority delivers higher priorities first', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('prio-q', { arguments: { 'x-max-priority': 10 } });
  ch.sendToQueue('prio-q', Buffer.from('low'), { priority: 1 });
  ch.sendToQueue('prio-q', Buffer.from('none'));
  ch.sendToQueue('prio-q', Buffer.from('high'), { priority: 9 });
  ch.sendToQueue('prio-q', Buffer.from('capped'), { priority: 200 });
  await ch.waitForConfirms();
  const order = (await drain(ch, 'prio-q')).map((m) => m.content.toString());
  assert.deepEqual(order, ['capped', 'high', 'low', 'none']);
});

test('consumer priorities: the x-priority consumer gets messages while it has credit', async () => {
  const ch = await conn.createChannel();
  await ch.assertQueue('cprio-q');
  await ch.prefetch(2);
  const high: string[] = [];
  const low: string[] = [];
  await ch.consume('cprio-q', (m) => m && low.push(m.content.toString()), { priority: 0 });
  await ch.consume('cprio-q', (m) => m && high.push(m.content.toString()), { priority: 10 });
  for (const b of ['1', '2', '3']) ch.sendToQueue('cprio-q', Buffer.from(b));
  for (let i = 0; i < 200 && high.length + low.length < 3; i++) await sleep(10);
  assert.deepEqual(high, ['1', '2'], 'the high-priority consumer fills its prefetch first');
  assert.deepEqual(low, ['3']);
  await ch.close();
});

test('direct reply-to: RPC through amq.rabbitmq.reply-to', async () => {
  const server = await conn.createChannel();
  await server.assertQueue('rpc-q');
  await server.consume('rpc-q', (m) => {
    if (!m) return;
    server.sendToQueue(m.properties.replyTo as string, Buffer.from(`re:${m.content.toString()}`), { correlationId: m.properties.correlationId as string });
    server.ack(m);
  });
  const client = await conn.createChannel();
  const reply = new Promise<ConsumeMessage>((res) => {
    void client.consume('amq.rabbitmq.reply-to', (m) => m && res(m), { noAck: true });
  });
  await sleep(20);
  client.sendToQueue('rpc-q', Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c1' });
  const r = await reply;
  assert.equal(r.content.toString(), 're:ping');
  assert.equal(r.properties.correlationId, 'c1');
});

test('x-delayed-message exchange delays delivery by the x-delay header', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('delayed-x', 'x-delayed-message', { arguments: { 'x-delayed-type': 'direct' } });
  await ch.assertQueue('delayed-q');
  await ch.bindQueue('delayed-q', 'delayed-x', 'k');
  const t0 = Date.now();
  ch.publish('delayed-x', 'k', Buffer.from('later'), { headers: { 'x-delay': 300 } });
  ch.publish('delayed-x', 'k', Buffer.from('now'));
  await ch.waitForConfirms();
  const got: { body: string; at: number }[] = [];
  await ch.consume('delayed-q', (m) => m && (got.push({ body: m.content.toString(), at: Date.now() - t0 }), ch.ack(m)));
  await waitFor(() => got.length === 2);
  assert.equal(got[0]!.body, 'now');
  assert.equal(got[1]!.body, 'later');
  assert.ok(got[1]!.at >= 280, `delayed by ${got[1]!.at} ms`);
});

test('stream queue: consumers read the log from x-stream-offset, independently', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('events-s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  for (let i = 0; i < 5; i++) ch.sendToQueue('events-s', Buffer.from(`e${i}`));
  await ch.waitForConfirms();
  const readFrom = async (offset: unknown, n: number): Promise<ConsumeMessage[]> => {
    const c = await conn.createChannel();
    await c.prefetch(10);
    const got: ConsumeMessage[] = [];
    await c.consume('events-s', (m) => m && (got.push(m), c.ack(m)), { arguments: { 'x-stream-offset': offset } });
    await waitFor(() => got.length >= n);
    await sleep(30);
    await c.close();
    return got;
  };
  const first = await readFrom('first', 5);
  assert.deepEqual(first.map((m) => m.content.toString()), ['e0', 'e1', 'e2', 'e3', 'e4']);
  assert.equal(first[2]!.properties.headers!['x-stream-offset'], 2);
  const fromTwo = await readFrom(2, 3);
  assert.deepEqual(fromTwo.map((m) => m.content.toString()), ['e2', 'e3', 'e4']);
  // 'next' sees only what is published after it subscribed; the log is kept for everyone.
  const c = await conn.createChannel();
  await c.prefetch(10);
  const live: string[] = [];
  await c.consume('events-s', (m) => m && (live.push(m.content.toString()), c.ack(m)), { arguments: { 'x-stream-offset': 'next' } });
  await sleep(30);
  ch.sendToQueue('events-s', Buffer.from('e5'));
  await ch.waitForConfirms();
  await waitFor(() => live.length === 1);
  assert.deepEqual(live, ['e5']);
  assert.equal((await readFrom('first', 6)).length, 6);
  await c.close();
});

test('x-expires deletes an unused queue', async () => {
  const ch = await conn.createChannel();
  await ch.assertQueue('expiring-q', { arguments: { 'x-expires': 100 } });
  await waitFor(() => !b.server.broker.queues.has('expiring-q'), 2000);
});
