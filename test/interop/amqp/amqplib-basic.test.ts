/** amqplib against the AMQP listener: queues, consume/ack/nack, get, confirms, mandatory, qos. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { startBroker, waitFor, sleep, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

async function collect(ch: amqp.Channel, q: string, n: number, opts: amqp.Options.Consume = {}, ack = true): Promise<ConsumeMessage[]> {
  const got: ConsumeMessage[] = [];
  let tag = '';
  await new Promise<void>((resolve) => {
    void ch
      .consume(
        q,
        (m) => {
          if (!m) return;
          got.push(m);
          if (ack && !opts.noAck) ch.ack(m);
          if (got.length === n) resolve();
        },
        opts,
      )
      .then((r) => (tag = r.consumerTag));
  });
  await ch.cancel(tag);
  return got;
}

test('server properties advertise Omnibus and the RabbitMQ capabilities', async () => {
  const conn = await amqp.connect(b.url);
  const sp = (conn.connection as unknown as { serverProperties: Record<string, unknown> }).serverProperties;
  assert.equal(sp['product'], 'Omnibus');
  const caps = sp['capabilities'] as Record<string, boolean>;
  for (const c of ['publisher_confirms', 'exchange_exchange_bindings', 'basic.nack', 'consumer_cancel_notify', 'connection.blocked', 'consumer_priorities', 'authentication_failure_close', 'per_consumer_qos', 'direct_reply_to']) {
    assert.equal(caps[c], true, c);
  }
  await conn.close();
});

test('publish, consume with manual ack, properties and headers round-trip', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('basic-q', { durable: true });
  for (let i = 0; i < 10; i++) {
    ch.sendToQueue('basic-q', Buffer.from(`m${i}`), { headers: { n: i, s: 'x', nested: { a: [1, 'b'] } }, contentType: 'text/plain', messageId: `id${i}`, persistent: true });
  }
  await ch.waitForConfirms();
  const got = await collect(ch, 'basic-q', 10);
  assert.deepEqual(got.map((m) => m.content.toString()), Array.from({ length: 10 }, (_, i) => `m${i}`));
  assert.equal(got[3]!.properties.headers!['n'], 3);
  assert.deepEqual(got[3]!.properties.headers!['nested'], { a: [1, 'b'] });
  assert.equal(got[3]!.properties.contentType, 'text/plain');
  assert.equal(got[3]!.properties.messageId, 'id3');
  assert.equal(got[3]!.properties.deliveryMode, 2);
  assert.equal(got[0]!.fields.redelivered, false);
  assert.equal(got[0]!.fields.routingKey, 'basic-q');
  const ok = await ch.checkQueue('basic-q');
  assert.equal(ok.messageCount, 0);
  await conn.close();
});

test('nack with requeue redelivers with redelivered=true; channel close requeues unacked', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('requeue-q');
  ch.sendToQueue('requeue-q', Buffer.from('again'));
  const [first] = await collect(ch, 'requeue-q', 1, {}, false);
  ch.nack(first!, false, true);
  const [second] = await collect(ch, 'requeue-q', 1, {}, false);
  assert.equal(second!.content.toString(), 'again');
  assert.equal(second!.fields.redelivered, true);
  await ch.close(); // unacked: back to the queue
  const ch2 = await conn.createChannel();
  const m = await waitFor(() => ch2.get('requeue-q'));
  assert.equal(m.content.toString(), 'again');
  assert.equal(m.fields.redelivered, true);
  ch2.ack(m);
  await conn.close();
});

test('basic.get, get-empty, message count, and ack multiple', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('get-q');
  assert.equal(await ch.get('get-q'), false);
  for (let i = 0; i < 3; i++) ch.sendToQueue('get-q', Buffer.from(String(i)));
  await ch.waitForConfirms();
  const a = await ch.get('get-q');
  const c = await ch.get('get-q');
  assert.ok(a && c);
  assert.equal(a.content.toString(), '0');
  assert.equal(a.fields.messageCount, 2);
  ch.ack(c, true); // acks a and c
  const last = await ch.get('get-q', { noAck: true });
  assert.ok(last);
  assert.equal(last.content.toString(), '2');
  assert.equal(await ch.get('get-q'), false);
  await conn.close();
});

test('prefetch limits unacked deliveries per consumer', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('qos-q');
  for (let i = 0; i < 20; i++) ch.sendToQueue('qos-q', Buffer.from(String(i)));
  await ch.waitForConfirms();
  await ch.prefetch(5);
  const got: ConsumeMessage[] = [];
  await ch.consume('qos-q', (m) => void (m && got.push(m)));
  await sleep(100);
  assert.equal(got.length, 5);
  ch.ack(got[4]!, true);
  await waitFor(() => got.length === 10);
  await sleep(50);
  assert.equal(got.length, 10);
  ch.ackAll();
  await waitFor(() => got.length === 15);
  ch.ackAll();
  await waitFor(() => got.length === 20);
  ch.ackAll();
  await conn.close();
});

test('publisher confirms: many pipelined publishes all acked in order', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('confirm-q');
  const acked: number[] = [];
  const ps: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) {
    ps.push(new Promise((res, rej) => ch.sendToQueue('confirm-q', Buffer.alloc(100, i), {}, (e) => (e ? rej(e) : (acked.push(i), res())))));
  }
  await Promise.all(ps);
  assert.equal(acked.length, 2000);
  assert.deepEqual(acked, [...acked].sort((x, y) => x - y));
  assert.equal((await ch.checkQueue('confirm-q')).messageCount, 2000);
  await ch.purgeQueue('confirm-q');
  assert.equal((await ch.checkQueue('confirm-q')).messageCount, 0);
  await conn.close();
});

test('mandatory publish without a route comes back as basic.return 312, then is confirmed', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  const returned = new Promise<amqp.Message>((res) => ch.once('return', res));
  ch.publish('amq.direct', 'nowhere', Buffer.from('lost'), { mandatory: true });
  const r = await returned;
  assert.equal(r.content.toString(), 'lost');
  assert.equal((r.fields as unknown as { replyCode: number }).replyCode, 312);
  assert.equal((r.fields as unknown as { replyText: string }).replyText, 'NO_ROUTE');
  await ch.waitForConfirms();
  await conn.close();
});

test('exchanges: direct, fanout, topic, headers and exchange-to-exchange bindings', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('x.topic', 'topic');
  await ch.assertExchange('x.fan', 'fanout');
  await ch.assertExchange('x.hdr', 'headers');
  const qa = (await ch.assertQueue('', { exclusive: true })).queue;
  const qb = (await ch.assertQueue('', { exclusive: true })).queue;
  const qc = (await ch.assertQueue('', { exclusive: true })).queue;
  assert.match(qa, /^amq\.gen-/);
  await ch.bindQueue(qa, 'x.topic', 'app.*.error');
  await ch.bindQueue(qb, 'x.fan', '');
  await ch.bindQueue(qc, 'x.hdr', '', { 'x-match': 'all', kind: 'img' });
  await ch.bindExchange('x.fan', 'x.topic', '#');
  ch.publish('x.topic', 'app.db.error', Buffer.from('t1'));
  ch.publish('x.topic', 'app.info', Buffer.from('t2'));
  ch.publish('x.hdr', '', Buffer.from('h1'), { headers: { kind: 'img' } });
  ch.publish('x.hdr', '', Buffer.from('h2'), { headers: { kind: 'txt' } });
  await ch.waitForConfirms();
  const a = await ch.get(qa, { noAck: true });
  assert.ok(a);
  assert.equal(a.content.toString(), 't1');
  assert.equal(a.fields.exchange, 'x.topic');
  assert.equal(await ch.get(qa), false);
  const bs: string[] = [];
  for (let m = await ch.get(qb, { noAck: true }); m; m = await ch.get(qb, { noAck: true })) bs.push(m.content.toString());
  assert.deepEqual(bs, ['t1', 't2']);
  const c = await ch.get(qc, { noAck: true });
  assert.ok(c);
  assert.equal(c.content.toString(), 'h1');
  assert.equal(await ch.get(qc), false);
  await ch.unbindQueue(qa, 'x.topic', 'app.*.error');
  ch.publish('x.topic', 'app.db.error', Buffer.from('t3'));
  await ch.waitForConfirms();
  assert.equal(await ch.get(qa), false);
  await ch.deleteExchange('x.hdr');
  ch.on('error', () => {});
  await assert.rejects(ch.checkExchange('x.hdr'), /404/);
  await conn.close();
});

test('consumer cancel notify: deleting a queue cancels its consumers', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('doomed-q');
  let cancelled = false;
  await ch.consume('doomed-q', (m) => {
    if (m === null) cancelled = true;
  });
  const ch2 = await conn.createChannel();
  const del = await ch2.deleteQueue('doomed-q');
  assert.equal(del.messageCount, 0);
  await waitFor(() => cancelled);
  await conn.close();
});

test('auto-delete queue goes with its last consumer; exclusive queue with its connection', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('auto-q', { autoDelete: true });
  const { consumerTag } = await ch.consume('auto-q', () => {});
  await ch.cancel(consumerTag);
  await waitFor(() => !b.server.broker.queues.has('auto-q'));
  await ch.assertQueue('excl-q', { exclusive: true });
  await conn.close();
  await waitFor(() => !b.server.broker.queues.has('excl-q'));
  assert.equal(b.engine.getTopic('excl-q'), undefined);
});

test('single active consumer: only the first consumer receives until it cancels', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('sac-q', { arguments: { 'x-single-active-consumer': true } });
  const one: string[] = [];
  const two: string[] = [];
  const c1 = await ch.consume('sac-q', (m) => m && (one.push(m.content.toString()), ch.ack(m)));
  await ch.consume('sac-q', (m) => m && (two.push(m.content.toString()), ch.ack(m)));
  for (let i = 0; i < 5; i++) ch.sendToQueue('sac-q', Buffer.from(String(i)));
  await ch.waitForConfirms();
  await waitFor(() => one.length === 5);
  assert.equal(two.length, 0);
  await ch.cancel(c1.consumerTag);
  ch.sendToQueue('sac-q', Buffer.from('5'));
  await ch.waitForConfirms();
  await waitFor(() => two.length === 1);
  await conn.close();
});

test('heartbeats: an idle connection with heartbeat=1 stays up for several intervals', async () => {
  const conn = await amqp.connect(`${b.url}?heartbeat=1`);
  const ch = await conn.createChannel();
  await ch.assertQueue('hb-q');
  await sleep(2500);
  ch.sendToQueue('hb-q', Buffer.from('x'));
  const m = await waitFor(() => ch.get('hb-q', { noAck: true }));
  assert.equal(m.content.toString(), 'x');
  await conn.close();
});
