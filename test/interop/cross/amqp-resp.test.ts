/**
 * AMQP ⇄ RESP over one engine: Omnibus's AMQP and RESP listeners share a memory:// engine, and
 * real clients (amqplib, ioredis) talk to each. A queue `q` is the list `q`; a stream queue `s` is
 * the stream `s` (docs/protocols/mapping.md).
 *
 * What crosses: the body, byte for byte. A Redis list holds bytes only, so RPOP returns the body
 * and nothing of the AMQP properties/headers; they are not lost, though: they stay on the record
 * (the publisher's encoded property bytes), so a message that stays in the queue — even through a
 * list rewrite such as a push at the head end — reaches an AMQP consumer with every property.
 * A message pushed with LPUSH carries no properties, so AMQP consumers see none.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { Redis } from 'ioredis';
import { startOmnibus, type OmnibusPair } from '../../differential/targets.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let omni: OmnibusPair;
let conn: ChannelModel;
let ch: ConfirmChannel;
let redis: Redis;

before(async () => {
  omni = await startOmnibus();
  conn = await amqp.connect(omni.amqp.url);
  ch = await conn.createConfirmChannel();
  redis = new Redis({ host: '127.0.0.1', port: omni.resp.port, maxRetriesPerRequest: 1 });
});
after(async () => {
  redis.disconnect();
  await conn.close();
  await omni.stop();
});

/** Collects `n` deliveries of a consumer on `queue` (acked), with consume arguments. */
async function consumeN(queue: string, n: number, args?: Record<string, unknown>): Promise<ConsumeMessage[]> {
  const c = await conn.createChannel();
  await c.prefetch(100);
  const got: ConsumeMessage[] = [];
  const { consumerTag } = await c.consume(
    queue,
    (m) => {
      if (!m) return;
      got.push(m);
      c.ack(m);
    },
    args ? { arguments: args } : {},
  );
  const end = Date.now() + 5000;
  while (got.length < n && Date.now() < end) await sleep(10);
  await c.cancel(consumerTag);
  await c.close();
  return got;
}

test('a message published with amqplib to queue q is RPOP-able with ioredis from list q: the body intact, the properties not carried into Redis', async () => {
  await ch.assertQueue('q', { durable: true });
  const body = Buffer.from([0x00, 0xff, 0x10, ...Buffer.from(' binary ünïcode')]);
  ch.sendToQueue('q', body, { contentType: 'application/octet-stream', headers: { trace: 't-1', n: 7 }, messageId: 'm-1', priority: 1 });
  ch.sendToQueue('q', Buffer.from('second'), { persistent: true });
  await ch.waitForConfirms();
  assert.equal(await redis.llen('q'), 2);
  assert.equal(await redis.type('q'), 'list');
  assert.deepEqual(await redis.rpopBuffer('q'), body); // a list element is bytes: no properties, no headers
  assert.equal(await redis.rpop('q'), 'second');
  assert.equal(await redis.rpop('q'), null);
  assert.equal((await ch.checkQueue('q')).messageCount, 0);
});

test('LPUSH with ioredis to list q2 is consumed by amqplib from queue q2 in push order, the bodies intact and without properties', async () => {
  assert.equal(await redis.lpush('q2', 'first', 'second'), 2);
  await redis.lpush('q2', Buffer.from([0xc3, 0x28, 0x00]));
  assert.equal((await ch.assertQueue('q2', { durable: true })).messageCount, 3);
  const got = await consumeN('q2', 3);
  assert.deepEqual(
    got.map((m) => m.content),
    [Buffer.from('first'), Buffer.from('second'), Buffer.from([0xc3, 0x28, 0x00])],
  );
  for (const m of got) {
    assert.equal(m.fields.redelivered, false);
    assert.equal(m.properties.contentType, undefined);
    assert.equal(m.properties.messageId, undefined);
    assert.ok(m.properties.headers === undefined || Object.keys(m.properties.headers).length === 0, JSON.stringify(m.properties.headers));
  }
  assert.equal(await redis.llen('q2'), 0);
});

test('AMQP properties stay on a message a Redis list rewrite moves, and reach the AMQP consumer', async () => {
  await ch.assertQueue('q3', { durable: true });
  ch.sendToQueue('q3', Buffer.from('with-props'), { contentType: 'text/plain', headers: { trace: 't-3' }, messageId: 'm-3' });
  await ch.waitForConfirms();
  // Pushing at the other end of the list than the queue's appends rewrites the list.
  assert.equal(await redis.rpush('q3', 'from-redis'), 2);
  assert.deepEqual(await redis.lrange('q3', 0, -1), ['with-props', 'from-redis']);
  const got = await consumeN('q3', 2);
  assert.deepEqual(got.map((m) => m.content.toString()), ['from-redis', 'with-props']);
  const m = got[1]!;
  assert.deepEqual([m.properties.contentType, m.properties.messageId, m.properties.headers], ['text/plain', 'm-3', { trace: 't-3' }]);
});

test('an AMQP stream queue s published to with amqplib is readable with ioredis XRANGE s, headers and routing key as fields', async () => {
  await ch.assertQueue('s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  const t0 = Date.now();
  for (const b of ['e1', 'e2', 'e3']) ch.sendToQueue('s', Buffer.from(b), { headers: { k: b } });
  await ch.waitForConfirms();
  const entries = await redis.xrange('s', '-', '+');
  assert.equal(entries.length, 3);
  // Records from other protocols read as id <timestamp>-<offset>, the body in field `body`, the
  // routing key in `key`, and the string headers as further fields.
  entries.forEach(([id, fields], i) => {
    const [ms, seq] = id.split('-').map(Number);
    assert.ok(ms! >= t0 - 1000 && ms! <= Date.now() + 1000, id);
    assert.equal(seq, i);
    assert.deepEqual(fields, ['body', `e${i + 1}`, 'key', 's', 'k', `e${i + 1}`]);
  });
  assert.equal(await redis.xlen('s'), 3);
  assert.equal(await redis.type('s'), 'stream');
  // Reading does not consume: AMQP stream consumers still see every entry.
  assert.deepEqual((await consumeN('s', 3, { 'x-stream-offset': 'first' })).map((m) => m.content.toString()), ['e1', 'e2', 'e3']);
});

test('XADD with ioredis to s2 is consumed by an amqplib stream consumer with x-stream-offset first, in order, keyed by the entry id', async () => {
  const ids = [await redis.xadd('s2', '*', 'body', 'hello'), await redis.xadd('s2', '*', 'body', 'world')];
  assert.equal((await ch.assertQueue('s2', { durable: true, arguments: { 'x-queue-type': 'stream' } })).queue, 's2');
  const got = await consumeN('s2', 2, { 'x-stream-offset': 'first' });
  assert.deepEqual(got.map((m) => m.fields.routingKey), ids);
  assert.deepEqual(got.map((m) => m.properties.headers?.['x-stream-offset']), [0, 1]);
  // The log is not consumed: XRANGE still answers both entries.
  assert.deepEqual((await redis.xrange('s2', '-', '+')).map(([id]) => id), ids);
});

test(
  'an XADD entry reaches AMQP with its body field as the message body and its other fields as headers',
  async () => {
    await redis.xadd('s3', '*', 'body', 'payload', 'trace', 't-9');
    await ch.assertQueue('s3', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    const [m] = await consumeN('s3', 1, { 'x-stream-offset': 'first' });
    assert.equal(m?.content.toString(), 'payload');
    assert.equal(m?.properties.headers?.['trace'], 't-9');
    // And Redis still reads the exact entry back.
    const [[, fields]] = (await redis.xrange('s3', '-', '+')) as [string, string[]][];
    assert.deepEqual(fields, ['body', 'payload', 'trace', 't-9']);
  },
);
