/**
 * amqplib against the Omnibus extension for consumer groups on a log (docs/protocols/amqp.md, "Log
 * queues and group queues"): a queue declared with x-omnibus-log stores what is routed to it and
 * has no consumers of its own; a queue declared with x-omnibus-group-of is one consumer group of
 * that log, starting at the earliest message still stored (or, with x-omnibus-start: latest, at
 * the end), and the log keeps a message until every group has settled it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { startBroker, waitFor, type Broker } from './helpers.js';

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

const LOG = { durable: true, arguments: { 'x-omnibus-log': true } };
const groupOf = (log: string, start?: 'earliest' | 'latest') => ({
  durable: true,
  arguments: { 'x-omnibus-group-of': log, ...(start ? { 'x-omnibus-start': start } : {}) },
});

async function publish(ch: amqp.ConfirmChannel, exchange: string, key: string, bodies: string[]): Promise<void> {
  for (const body of bodies) ch.publish(exchange, key, Buffer.from(body), { persistent: true });
  await ch.waitForConfirms();
}

/** Channel errors surface as a rejected operation and close the channel: a fresh one per check. */
async function refused(fn: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    await fn(ch);
  } catch (e) {
    return (e as Error).message;
  }
  await ch.close();
  throw new Error('expected a channel error');
}

async function drainGet(ch: amqp.Channel, q: string): Promise<string[]> {
  const out: string[] = [];
  for (let m = await ch.get(q); m; m = await ch.get(q)) {
    out.push(m.content.toString());
    ch.ack(m);
  }
  return out;
}

test('a group queue declared after the publishes receives every message its log stored, and each group gets all of them', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('orders-x', 'fanout', { durable: true });
  await ch.assertQueue('orders', LOG);
  await ch.bindQueue('orders', 'orders-x', '');
  await publish(ch, 'orders-x', '', ['a', 'b', 'c']);
  const ok = await ch.assertQueue('orders.billing', groupOf('orders'));
  assert.equal(ok.messageCount, 3, 'declare-ok counts the group backlog');
  await ch.assertQueue('orders.shipping', groupOf('orders'));
  await publish(ch, '', 'orders', ['d']);
  assert.deepEqual(await drainGet(ch, 'orders.billing'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await drainGet(ch, 'orders.shipping'), ['a', 'b', 'c', 'd']);
  await ch.close();
});

test('x-omnibus-start latest begins after what the log held when the group was declared', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('late-log', LOG);
  await ch.assertQueue('late-log.keep', groupOf('late-log'));
  await publish(ch, '', 'late-log', ['old']);
  await ch.assertQueue('late-log.new', groupOf('late-log', 'latest'));
  await publish(ch, '', 'late-log', ['new']);
  assert.deepEqual(await drainGet(ch, 'late-log.new'), ['new']);
  assert.deepEqual(await drainGet(ch, 'late-log.keep'), ['old', 'new']);
  await ch.close();
});

test('consumers of one group queue compete, requeue counts as redelivery, and a DLX on the group queue gets x-death', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('jobs', LOG);
  await ch.assertExchange('jobs-dlx', 'fanout');
  await ch.assertQueue('jobs-dead');
  await ch.bindQueue('jobs-dead', 'jobs-dlx', '');
  await ch.assertQueue('jobs.workers', { durable: true, arguments: { 'x-omnibus-group-of': 'jobs', 'x-dead-letter-exchange': 'jobs-dlx' } });
  await publish(ch, '', 'jobs', Array.from({ length: 20 }, (_, i) => `job-${i}`));
  const c1 = await conn.createChannel();
  const c2 = await conn.createChannel();
  await c1.prefetch(1);
  await c2.prefetch(1);
  const byConsumer: [string[], string[]] = [[], []];
  let requeued: ConsumeMessage | undefined;
  let poisoned = false;
  for (const [i, c] of [c1, c2].entries()) {
    await c.consume('jobs.workers', (m) => {
      if (!m) return;
      const body = m.content.toString();
      if (body === 'job-3' && !m.fields.redelivered) return void c.nack(m, false, true);
      if (body === 'job-3') requeued = m;
      if (body === 'job-7' && !poisoned) {
        poisoned = true;
        return void c.reject(m, false);
      }
      byConsumer[i]!.push(body);
      c.ack(m);
    });
  }
  await waitFor(() => byConsumer[0].length + byConsumer[1].length === 19);
  assert.ok(byConsumer[0].length > 0 && byConsumer[1].length > 0, `both consumers got work: ${byConsumer[0].length} / ${byConsumer[1].length}`);
  assert.equal(requeued?.fields.redelivered, true);
  const dead = await waitFor(() => ch.get('jobs-dead', { noAck: true }));
  assert.equal(dead.content.toString(), 'job-7');
  const xdeath = (dead.properties.headers?.['x-death'] as { queue: string; reason: string }[])[0]!;
  assert.deepEqual([xdeath.queue, xdeath.reason], ['jobs.workers', 'rejected']);
  await c1.close();
  await c2.close();
  await ch.close();
});

test('the extension is refused where it would not mean what it says', async () => {
  const ch = await conn.createChannel();
  await ch.assertQueue('strict-log', LOG);
  await ch.assertQueue('strict-log.g', groupOf('strict-log'));
  await ch.assertExchange('strict-x', 'fanout');
  await ch.close();
  assert.match(await refused((c) => c.assertQueue('no-log.g', groupOf('no-log'))), /404/);
  assert.match(await refused((c) => c.assertQueue('g.of.g', groupOf('strict-log.g'))), /406.*group queue itself/);
  assert.match(await refused((c) => c.assertQueue('default', groupOf('strict-log'))), /406.*reserved/);
  assert.match(await refused((c) => c.assertQueue('bad-start', { arguments: { 'x-omnibus-start': 'latest' } })), /406.*requires x-omnibus-group-of/);
  assert.match(await refused((c) => c.assertQueue('s-log', { durable: true, arguments: { 'x-omnibus-log': true, 'x-queue-type': 'stream' } })), /406/);
  assert.match(await refused((c) => c.bindQueue('strict-log.g', 'strict-x', '')), /406.*bind 'strict-log' instead/);
  assert.match(await refused((c) => c.consume('strict-log', () => undefined)), /406.*log queue/);
  assert.match(await refused((c) => c.get('strict-log')), /406/);
  assert.match(await refused((c) => c.assertQueue('strict-log.g', { durable: true })), /406.*inequivalent arg 'x-omnibus-group-of'/);
  // The default exchange does not route to a group queue (it has no topic of its own).
  const pc = await conn.createConfirmChannel();
  const returned: string[] = [];
  pc.on('return', (m: ConsumeMessage) => returned.push(m.content.toString()));
  pc.publish('', 'strict-log.g', Buffer.from('direct'), { mandatory: true });
  await pc.waitForConfirms();
  await waitFor(() => returned.length === 1);
  assert.equal(b.engine.getTopic('strict-log.g'), undefined, 'no topic was made for the group queue');
  await pc.close();
});

test('deleting a group queue drops only its group; deleting the log cancels its group queues', async () => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('del-log', LOG);
  await ch.assertQueue('del-log.a', groupOf('del-log'));
  await ch.assertQueue('del-log.b', groupOf('del-log'));
  await publish(ch, '', 'del-log', ['x']);
  await ch.deleteQueue('del-log.a');
  assert.deepEqual(await drainGet(ch, 'del-log.b'), ['x']);
  let cancelled = false;
  await ch.consume('del-log.b', (m) => {
    if (m === null) cancelled = true;
  });
  await ch.deleteQueue('del-log');
  await waitFor(() => cancelled);
  await ch.close();
  assert.match(await refused((c) => c.checkQueue('del-log.b')), /404/, 'the group queue went with its log');
});

test('group queues and what they have not settled survive a restart (file storage)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'omnibus-amqp-groups-'));
  try {
    const open = async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' });
    let fb = await startBroker({ engine: await open() });
    let c = await amqp.connect(fb.url);
    let ch = await c.createConfirmChannel();
    await ch.assertQueue('p-log', LOG);
    await ch.assertQueue('p-log.a', groupOf('p-log'));
    await publish(ch, '', 'p-log', ['1', '2', '3']);
    const m = await waitFor(() => ch.get('p-log.a'));
    ch.ack(m);
    await ch.assertQueue('p-log.b', groupOf('p-log')); // declared after: replays all three
    await ch.close();
    await c.close();
    await fb.close();

    fb = await startBroker({ engine: await open() });
    c = await amqp.connect(fb.url);
    ch = await c.createConfirmChannel();
    ch.on('error', () => undefined);
    await publish(ch, '', 'p-log', ['4']);
    assert.deepEqual(await drainGet(ch, 'p-log.a'), ['2', '3', '4']);
    assert.deepEqual(await drainGet(ch, 'p-log.b'), ['1', '2', '3', '4']);
    assert.match(await ch.assertQueue('p-log.a', { durable: true }).then(() => '', (e: Error) => e.message), /inequivalent arg 'x-omnibus-group-of'/);
    await c.close().catch(() => undefined);
    await fb.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
