/**
 * The omnibus:// transport against the AMQP listener: it asks the server what it is
 * (connection.start product "Omnibus") and then lays topics out as log queues and groups as group
 * queues (docs/transports/omnibus.md), which is what makes `replay` true. amqp:// against the
 * same server keeps RabbitMQ's layout (a queue per group bound to the topic's exchange).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../../src/index.js';
import type { Delivery, Subscription } from '../../../src/core/types.js';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { startBroker, waitFor, type Broker } from './helpers.js';

let b: Broker;
let port: number;
before(async () => {
  // Small segments, so that freeing what every group settled is visible in the log's start.
  b = await startBroker({ engine: await Engine.open({ storage: new MemoryStorage(), segmentBytes: 4096 }) });
  port = b.server.port;
});
after(() => b.close());

const omnibus = () => connect(`omnibus://guest:guest@127.0.0.1:${port}`);

/** The next n deliveries, leaving the subscription open (breaking out of for-await closes it). */
async function take(sub: Subscription, n: number): Promise<Delivery[]> {
  const it = sub[Symbol.asyncIterator]();
  const out: Delivery[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

test('omnibus:// on an Omnibus server declares replay; amqp:// on the same server does not', async () => {
  const o = await omnibus();
  const a = await connect(`amqp://guest:guest@127.0.0.1:${port}`);
  try {
    assert.equal(o.capabilities.replay, true);
    assert.equal(a.capabilities.replay, false);
    for (const t of [o, a]) assert.deepEqual([...(t.capabilities.emulated ?? [])].sort(), ['attempts', 'deadLetter', 'leases', 'maxAttempts']);
    await a.publish('plain-topic', [{ body: 'x' }]);
    const s = a.subscribe('plain-topic', { group: 'g' });
    await a.publish('plain-topic', [{ body: 'y' }]);
    const [d] = await take(s, 1);
    assert.equal(Buffer.from(d!.body).toString(), 'y', 'amqp:// groups start when they are first subscribed');
    assert.ok(b.engine.getTopic('plain-topic.g'), 'amqp:// keeps a topic per group queue');
  } finally {
    await o.close();
    await a.close();
  }
});

test('a topic is one log: publishes before any subscriber are kept, and each group is a group on that log', async () => {
  const t = await omnibus();
  try {
    await t.publish('orders', [{ body: 'o1' }, { body: 'o2' }]);
    const topic = b.engine.getTopic('orders');
    assert.ok(topic, 'the log queue is the topic');
    assert.equal(topic.groups.size, 0, 'no group holds the log before anyone subscribes');
    const billing = await take(t.subscribe('orders', { group: 'billing' }), 2);
    const plain = await take(t.subscribe('orders'), 2);
    assert.deepEqual(billing.map((d) => Buffer.from(d.body).toString()), ['o1', 'o2']);
    assert.deepEqual(plain.map((d) => Buffer.from(d.body).toString()), ['o1', 'o2']);
    assert.deepEqual([...topic.groups.keys()].sort(), ['orders.billing', `orders.${DEFAULT_GROUP}`]);
    assert.equal(b.engine.getTopic('orders.billing'), undefined, 'a group has no topic of its own');
  } finally {
    await t.close();
  }
});

test('a nack goes back to the nacking group only, with attempt 2, also after a delay', async () => {
  const t = await omnibus();
  try {
    await t.publish('retries', [{ body: 'r' }]);
    const a = t.subscribe('retries', { group: 'a' });
    const bSub = t.subscribe('retries', { group: 'b' });
    const [first] = await take(a, 1);
    await first!.nack({ delayMs: 50 });
    const [again] = await take(a, 1);
    assert.equal(again!.id, first!.id);
    assert.equal(again!.attempt, 2);
    await again!.ack();
    const [other] = await take(bSub, 1);
    assert.equal(other!.attempt, 1);
    await other!.ack();
    const extra = await Promise.race([take(bSub, 1), new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), 200))]);
    assert.equal(extra, 'quiet', "group b got no copy of group a's retry");
  } finally {
    await t.close();
  }
});

test('the log frees what every group has settled, and nothing while one group still holds it', async () => {
  const t = await omnibus();
  try {
    const body = 'x'.repeat(200);
    const n = 100; // ~25 KiB: several 4 KiB segments
    const slow = t.subscribe('freed', { group: 'slow', prefetch: n });
    const fast = t.subscribe('freed', { group: 'fast', prefetch: n });
    await t.publish('freed', Array.from({ length: n }, () => ({ body })));
    for (const d of await take(fast, n)) await d.ack();
    const held = await take(slow, n);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(b.engine.logBounds('freed', 0).start, 0, 'unsettled by one group: kept');
    for (const d of held) await d.ack();
    await waitFor(() => b.engine.logBounds('freed', 0).start > 0);
  } finally {
    await t.close();
  }
});
