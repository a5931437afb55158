/**
 * The queue state machine (ready → leased → settled | ready | delayed | dead), driven by a manual
 * clock so leases, delays and TTLs need no sleeps. Runs on in-memory storage; the persistence of
 * the same state is covered by recovery.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import type { RecordInput } from '../../src/engine/record.js';
import { rec, settle, Sink } from './helpers.js';

async function setup() {
  const clock = new ManualClock();
  const engine = await Engine.open({ storage: new MemoryStorage(), clock });
  return { clock, engine };
}

test('messages published before the group exists are delivered to it in order', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c')]);
  const g = await engine.group('q', 'g');
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['a', 'b', 'c']);
  assert.deepEqual(s.got.map((d) => d.attempt), [1, 1, 1]);
  await engine.close();
});

test('a group never holds more unsettled deliveries for a consumer than its prefetch', async () => {
  const { engine } = await setup();
  await engine.publish('q', Array.from({ length: 10 }, (_, i) => rec(String(i))));
  const g = await engine.group('q', 'g');
  const s = new Sink(3);
  g.addConsumer(s);
  await settle();
  assert.equal(s.got.length, 3);
  await s.got[0]!.ack();
  await settle();
  assert.equal(s.got.length, 4);
  await s.got[1]!.ack();
  await s.got[2]!.ack();
  await settle();
  assert.equal(s.got.length, 6);
  assert.equal(g.leasedCount, 3);
  await engine.close();
});

test('competing consumers in one group share the messages, two groups each get all', async () => {
  const { engine } = await setup();
  await engine.publish('q', Array.from({ length: 6 }, (_, i) => rec(String(i))));
  const g1 = await engine.group('q', 'one');
  const g2 = await engine.group('q', 'two');
  const a = new Sink(), b = new Sink(), c = new Sink();
  g1.addConsumer(a);
  g1.addConsumer(b);
  g2.addConsumer(c);
  await settle();
  assert.equal(a.got.length + b.got.length, 6);
  assert.ok(a.got.length > 0 && b.got.length > 0);
  assert.equal(c.got.length, 6);
  await engine.close();
});

test('a nacked message is redelivered first, with attempt 2 and redelivered set', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b')]);
  const g = await engine.group('q', 'g');
  const s = new Sink(1);
  g.addConsumer(s);
  await settle();
  await s.got[0]!.nack();
  await settle();
  assert.equal(s.got[1]!.body.toString(), 'a');
  assert.equal(s.got[1]!.attempt, 2);
  assert.equal(s.got[1]!.redelivered, true);
  await engine.close();
});

test('nack with delay redelivers after the delay, not before', async () => {
  const { clock, engine } = await setup();
  await engine.publish('q', [rec('a')]);
  const g = await engine.group('q', 'g');
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  await s.got[0]!.nack({ delayMs: 5000 });
  clock.advance(4999);
  await settle();
  assert.equal(s.got.length, 1);
  clock.advance(1);
  await settle();
  assert.equal(s.got.length, 2);
  assert.equal(s.got[1]!.attempt, 2);
  await engine.close();
});

test('a message published with a delay is held until it is due while later ones flow', async () => {
  const { clock, engine } = await setup();
  const now = clock.now();
  await engine.publish('q', [rec('late', { deliverAt: now + 60_000 }), rec('now')]);
  const g = await engine.group('q', 'g');
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['now']);
  assert.equal(g.delayedCount, 1);
  await s.got[0]!.ack();
  clock.advance(60_000);
  await settle();
  assert.deepEqual(s.bodies(), ['now', 'late']);
  await engine.close();
});

test('an expired lease aborts the delivery signal and redelivers; a late ack rejects with MQ_ERR_LEASE_LOST', async () => {
  const { clock, engine } = await setup();
  await engine.publish('q', [rec('a')]);
  const g = await engine.group('q', 'g', { leaseMs: 1000 });
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  const first = s.got[0]!;
  const signal = first.signal;
  clock.advance(999);
  assert.equal(signal.aborted, false);
  clock.advance(1);
  assert.equal(signal.aborted, true);
  await settle();
  assert.equal(s.got.length, 2);
  assert.equal(s.got[1]!.attempt, 2);
  await assert.rejects(first.ack(), { code: 'MQ_ERR_LEASE_LOST' });
  await engine.close();
});

test('extend keeps a lease alive past its original deadline', async () => {
  const { clock, engine } = await setup();
  await engine.publish('q', [rec('a')]);
  const g = await engine.group('q', 'g', { leaseMs: 1000 });
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  clock.advance(900);
  await s.got[0]!.extend(1000);
  clock.advance(900);
  assert.equal(s.got[0]!.signal.aborted, false);
  await settle();
  assert.equal(s.got.length, 1);
  await s.got[0]!.ack();
  await engine.close();
});

test('the first settlement wins: ack after nack resolves and changes nothing', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a')]);
  const g = await engine.group('q', 'g');
  const s = new Sink(1);
  g.addConsumer(s);
  await settle();
  await s.got[0]!.nack();
  await s.got[0]!.ack();
  await s.got[0]!.reject('x');
  await settle();
  assert.equal(s.got.length, 2);
  await engine.close();
});

test('after maxAttempts a nacked message is dead-lettered with reason and attempt headers', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('poison', { headers: { k: 'v' } })]);
  const g = await engine.group('q', 'g', { maxAttempts: 2, deadLetter: { topic: 'q.dlq' } });
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  await s.got[0]!.nack();
  await settle();
  await s.got[1]!.nack();
  await settle();
  assert.equal(s.got.length, 2);
  const dg = await engine.group('q.dlq', 'd');
  const d = new Sink();
  dg.addConsumer(d);
  await settle();
  assert.equal(d.got.length, 1);
  assert.equal(d.got[0]!.body.toString(), 'poison');
  assert.equal(d.got[0]!.headers['x-death-reason'], 'max-attempts');
  assert.equal(d.got[0]!.headers['x-attempts'], '2');
  assert.equal(d.got[0]!.headers['x-original-topic'], 'q');
  assert.equal(d.got[0]!.headers['k'], 'v');
  await engine.close();
});

test('reject dead-letters at once with the reason as x-error-message', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('bad')]);
  const g = await engine.group('q', 'g', { deadLetter: { topic: 'dlq' } });
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  await s.got[0]!.reject('cannot parse');
  const d = new Sink();
  (await engine.group('dlq', 'd')).addConsumer(d);
  await settle();
  assert.equal(d.got[0]!.headers['x-death-reason'], 'rejected');
  assert.equal(d.got[0]!.headers['x-error-message'], 'cannot parse');
  await engine.close();
});

test('higher priorities are delivered first among ready messages', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('low1'), rec('high', { priority: 9 }), rec('low2'), rec('mid', { priority: 5 })]);
  const g = await engine.group('q', 'g');
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['high', 'mid', 'low1', 'low2']);
  await engine.close();
});

test('a message past its TTL is not delivered and is dead-lettered as expired', async () => {
  const { clock, engine } = await setup();
  await engine.publish('q', [rec('old', { expiresAt: clock.now() + 100 }), rec('fresh')]);
  const g = await engine.group('q', 'g', { deadLetter: { topic: 'dead' } });
  clock.advance(100);
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['fresh']);
  const d = new Sink();
  (await engine.group('dead', 'd')).addConsumer(d);
  await settle();
  assert.equal(d.got[0]!.headers['x-death-reason'], 'expired');
  await engine.close();
});

test('removing a consumer returns its unsettled messages to the others', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b')]);
  const g = await engine.group('q', 'g');
  const s1 = new Sink();
  const c1 = g.addConsumer(s1);
  await settle();
  assert.equal(s1.got.length, 2);
  const s2 = new Sink();
  g.addConsumer(s2);
  g.removeConsumer(c1);
  await settle();
  assert.deepEqual(s2.bodies(), ['a', 'b']);
  assert.equal(s1.got[0]!.signal.aborted, true);
  await engine.close();
});

test('a group filter settles non-matching messages without delivering them', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a', { headers: { color: 'red' } }), rec('b', { headers: { color: 'blue' } })]);
  const g = await engine.group('q', 'g', { filter: (r) => r.headers['color'] === 'blue' });
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['b']);
  await engine.close();
});

test('purge drops ready messages and keeps leased ones', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c')]);
  const g = await engine.group('q', 'g');
  const s = new Sink(1);
  g.addConsumer(s);
  await settle();
  assert.equal(g.purge(), 2);
  await s.got[0]!.ack();
  await settle();
  assert.equal(s.got.length, 1);
  await engine.publish('q', [rec('d')]);
  await settle();
  assert.deepEqual(s.bodies(), ['a', 'd']);
  await engine.close();
});

test('keyed messages land on the same partition and keep their order', async () => {
  const { engine } = await setup();
  await engine.topic('k', { partitions: 4 });
  const msgs: RecordInput[] = [];
  for (let i = 0; i < 40; i++) msgs.push(rec(`${i % 4}:${i}`, { key: `key${i % 4}` }));
  await engine.publish('k', msgs);
  const g = await engine.group('k', 'g');
  const s = new Sink(1000);
  g.addConsumer(s);
  await settle();
  assert.equal(s.got.length, 40);
  const byKey = new Map<string, number[]>();
  for (const d of s.got) {
    const [k, i] = d.body.toString().split(':');
    byKey.set(k!, [...(byKey.get(k!) ?? []), Number(i)]);
    const parts = new Set(s.got.filter((x) => x.key === d.key).map((x) => x.partition));
    assert.equal(parts.size, 1);
  }
  for (const seq of byKey.values()) assert.deepEqual(seq, [...seq].sort((a, b) => a - b));
  await engine.close();
});

test('a publish with a body over the limit is refused before anything is appended', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage(), maxMessageBytes: 10 });
  await assert.rejects(engine.publish('q', [rec('ok'), rec('x'.repeat(11))]), { code: 'MQ_ERR_PAYLOAD_TOO_LARGE' });
  assert.equal(engine.logBounds('q', 0).end, 0);
  await engine.close();
});

test('settled segments are deleted once every group has passed them', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage(), segmentBytes: 4096 });
  const body = 'x'.repeat(500);
  for (let i = 0; i < 50; i++) await engine.publish('q', [rec(body)]);
  const g = await engine.group('q', 'g');
  const s = new Sink(1000);
  g.addConsumer(s);
  await settle();
  assert.equal(s.got.length, 50);
  for (const d of s.got) await d.ack();
  await settle();
  const b = engine.logBounds('q', 0);
  assert.ok(b.start > 40, `expected old segments gone, start=${b.start}`);
  await engine.close();
});

test('get takes one ready message at a time and returns nothing on an empty queue', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b')]);
  const g = await engine.group('q', 'g');
  const first = await g.get();
  assert.equal(first?.body.toString(), 'a');
  const second = await g.get();
  assert.equal(second?.body.toString(), 'b');
  assert.equal(await g.get(), undefined);
  await first!.nack();
  const again = await g.get();
  assert.equal(again?.body.toString(), 'a');
  assert.equal(again?.attempt, 2);
  await engine.close();
});

test('takeBatch removes up to n ready messages in order and settles them without a lease', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c'), rec('d'), rec('e')]);
  const g = await engine.group('q', 'g');
  const first = await g.takeBatch(3);
  assert.deepEqual(first.map((r) => r.body.toString()), ['a', 'b', 'c']);
  assert.equal(g.readyCount, 2);
  assert.equal(g.leasedCount, 0);
  const rest = await g.takeBatch(10);
  assert.deepEqual(rest.map((r) => r.body.toString()), ['d', 'e']);
  assert.deepEqual(await g.takeBatch(10), []);
  assert.equal(g.readyCount, 0);
  await engine.close();
});

test('takeBatch takes a returned message first, then the log, and leaves leased ones alone', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c'), rec('d')]);
  const g = await engine.group('q', 'g');
  const a = await g.get();
  const b = await g.get();
  await a!.nack();
  const got = await g.takeBatch(10);
  assert.deepEqual(got.map((r) => r.body.toString()), ['a', 'c', 'd']);
  assert.equal(b!.state, 0, 'b is still leased');
  await b!.nack();
  assert.deepEqual((await g.takeBatch(10)).map((r) => r.body.toString()), ['b']);
  await engine.close();
});

test('takeBatch dead-letters expired messages instead of returning them and skips delayed ones', async () => {
  const { clock, engine } = await setup();
  const g = await engine.group('q', 'g', { deadLetter: { topic: 'dlx' } });
  const now = clock.now();
  await engine.publish('q', [rec('old', { expiresAt: now + 10 }), rec('later', { deliverAt: now + 1000 }), rec('fresh')]);
  clock.advance(20);
  assert.deepEqual((await g.takeBatch(10)).map((r) => r.body.toString()), ['fresh']);
  const d = await (await engine.group('dlx', 'd')).takeBatch(10);
  assert.deepEqual(d.map((r) => r.body.toString()), ['old']);
  clock.advance(1000);
  await settle();
  assert.deepEqual((await g.takeBatch(10)).map((r) => r.body.toString()), ['later']);
  await engine.close();
});

/** takeBodies' results as strings: the ranges it handed out, read after it resolved. */
async function takeBodies(g: Awaited<ReturnType<Engine['group']>>, max: number): Promise<string[]> {
  const out: [Buffer, number, number][] = [];
  const n = await g.takeBodies(max, (b, s, e) => void out.push([b, s, e]), []);
  assert.equal(n, out.length);
  return out.map(([b, s, e]) => b.toString('utf8', s, e));
}

test('takeBodies hands out what takeBatch would, in order: plain records as ranges, the others decoded', async () => {
  const { engine } = await setup();
  const props = Buffer.from([1, 2, 3]);
  const mixed = [
    rec('plain'),
    rec('keyed', { key: 'k' }),
    rec('with-headers', { headers: { h: '1' } }),
    rec('with-props', { props, propsFormat: 1 }),
    rec('produced', { producer: { id: 'p', seq: 0 } }),
    rec(''),
    rec('x'.repeat(3000)),
  ];
  await engine.publish('q', mixed);
  await engine.publish('r', mixed);
  const q = await engine.group('q', 'g');
  const r = await engine.group('r', 'g');
  const want = (await q.takeBatch(100)).map((x) => x.body.toString());
  assert.equal(want.length, mixed.length);
  assert.deepEqual(await takeBodies(r, 3), want.slice(0, 3));
  assert.equal(r.readyCount, mixed.length - 3);
  assert.deepEqual(await takeBodies(r, 100), want.slice(3));
  assert.equal(r.readyCount, 0);
  assert.equal(r.readyBytes, 0);
  assert.deepEqual(await takeBodies(r, 100), []);
  // The plain records came as ranges of their stored batch (not decoded); the one with headers
  // was decoded and came as its own body.
  await engine.publish('r', [rec('plain'), rec('h', { headers: { h: '1' } })]);
  const ranges: [Buffer, number, number][] = [];
  await r.takeBodies(10, (b, s, e) => void ranges.push([b, s, e]), []);
  assert.ok(ranges[0]![1] > 0 && ranges[0]![0].length > ranges[0]![2] - ranges[0]![1], 'plain: a range of the batch');
  assert.equal(ranges[1]![1], 0, 'with headers: its decoded body');
  await engine.close();
});

test('takeBodies takes returned messages first, dead-letters expired ones and schedules delayed ones', async () => {
  const { clock, engine } = await setup();
  const g = await engine.group('q', 'g', { deadLetter: { topic: 'dlx' } });
  const now = clock.now();
  await engine.publish('q', [rec('a'), rec('old', { expiresAt: now + 10 }), rec('later', { deliverAt: now + 1000 }), rec('b'), rec('c')]);
  const a = await g.get();
  await a!.nack();
  clock.advance(20);
  assert.deepEqual(await takeBodies(g, 10), ['a', 'b', 'c']);
  assert.deepEqual((await (await engine.group('dlx', 'd')).takeBatch(10)).map((x) => x.body.toString()), ['old']);
  clock.advance(1000);
  await settle();
  assert.deepEqual(await takeBodies(g, 10), ['later']);
  await engine.close();
});

test('takeBodies skips what takeNewest took from the read-ahead, and a consumer gets only the rest', async () => {
  const { engine } = await setup();
  await engine.publish('q', Array.from({ length: 8 }, (_, i) => rec(String(i))));
  const g = await engine.group('q', 'g');
  assert.deepEqual(await takeBodies(g, 2), ['0', '1']);
  assert.deepEqual((await g.takeNewest(2))?.map((x) => x.body.toString()), ['7', '6']);
  assert.deepEqual(await takeBodies(g, 3), ['2', '3', '4']);
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['5']);
  await engine.close();
});

test('a consumer added after takeBatch receives only what takeBatch left', async () => {
  const { engine } = await setup();
  await engine.publish('q', Array.from({ length: 6 }, (_, i) => rec(String(i))));
  const g = await engine.group('q', 'g');
  await g.takeBatch(4);
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['4', '5']);
  await engine.close();
});

test('takeNewest removes the newest ready messages, and delivery later skips them', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c')]);
  await engine.publish('q', [rec('d'), rec('e')]);
  const g = await engine.group('q', 'g');
  assert.deepEqual((await g.takeNewest(1))?.map((r) => r.body.toString()), ['e']);
  assert.deepEqual((await g.takeNewest(2))?.map((r) => r.body.toString()), ['d', 'c']);
  assert.equal(g.readyCount, 2);
  await engine.publish('q', [rec('f')]);
  assert.equal(g.readyCount, 3);
  assert.deepEqual((await g.peekReady()).map((r) => r.body.toString()), ['a', 'b', 'f']);
  assert.deepEqual((await g.takeBatch(10)).map((r) => r.body.toString()), ['a', 'b', 'f']);
  assert.equal(g.readyCount, 0);
  assert.deepEqual(await g.takeNewest(5), []);
  await engine.close();
});

test('takeNewest reaches into the read-ahead and leaves leased messages alone', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c'), rec('d')]);
  const g = await engine.group('q', 'g');
  const a = await g.get(); // the read-ahead now holds b, c, d
  assert.deepEqual((await g.takeNewest(2))?.map((r) => r.body.toString()), ['d', 'c']);
  assert.equal(g.readyCount, 1);
  assert.deepEqual((await g.takeNewest(5))?.map((r) => r.body.toString()), ['b']);
  assert.equal(a!.state, 0);
  await a!.nack();
  assert.equal(await g.takeNewest(1), undefined, 'a returned message is not at the plain tail');
  assert.deepEqual((await g.takeBatch(5)).map((r) => r.body.toString()), ['a']);
  const s = new Sink();
  g.addConsumer(s);
  await engine.publish('q', [rec('e')]);
  await settle();
  assert.deepEqual(s.bodies(), ['e']);
  await engine.close();
});

test('peekReady lists ready messages in delivery order without taking any', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('a'), rec('b'), rec('c'), rec('d')]);
  const g = await engine.group('q', 'g');
  const a = await g.get();
  const b = await g.get();
  await b!.nack();
  // a is leased (hidden), b was returned (delivered next, so listed first).
  assert.deepEqual((await g.peekReady()).map((r) => r.body.toString()), ['b', 'c', 'd']);
  assert.deepEqual((await g.peekReady(2)).map((r) => r.body.toString()), ['b', 'c']);
  await a!.ack();
  await g.takeBatch(1);
  assert.deepEqual((await g.peekReady()).map((r) => r.body.toString()), ['c', 'd']);
  assert.equal(g.readyCount, 2);
  await engine.close();
});

test('max length with drop-head dead-letters the oldest ready messages', async () => {
  const { engine } = await setup();
  const g = await engine.group('q', 'g', { maxLength: 2, overflow: 'drop-head', deadLetter: { topic: 'dropped' } });
  await engine.publish('q', [rec('1'), rec('2'), rec('3'), rec('4')]);
  await g.whenIdle();
  const s = new Sink();
  g.addConsumer(s);
  await settle();
  assert.deepEqual(s.bodies(), ['3', '4']);
  const d = new Sink();
  (await engine.group('dropped', 'd')).addConsumer(d);
  await settle();
  assert.deepEqual(d.bodies(), ['1', '2']);
  assert.equal(d.got[0]!.headers['x-death-reason'], 'maxlen');
  await engine.close();
});

test('max length with reject-publish refuses a publish that does not fit', async () => {
  const { engine } = await setup();
  await engine.group('q', 'g', { maxLength: 2, overflow: 'reject-publish' });
  await engine.publish('q', [rec('1'), rec('2')]);
  await assert.rejects(engine.publish('q', [rec('3')]), { code: 'MQ_ERR_REJECTED' });
  await engine.close();
});

test('a queue TTL expires messages at the head without any consumer and dead-letters them', async () => {
  const { clock, engine } = await setup();
  await engine.group('q', 'g', { messageTtlMs: 1000, deadLetter: { topic: 'dlx' } });
  const d = new Sink();
  (await engine.group('dlx', 'd')).addConsumer(d);
  await engine.publish('q', [rec('a', { timestamp: clock.now() })]);
  await settle();
  assert.equal(d.got.length, 0);
  clock.advance(1000);
  await settle();
  assert.deepEqual(d.bodies(), ['a']);
  assert.equal(d.got[0]!.headers['x-death-reason'], 'expired');
  await engine.close();
});

test('protocol properties are carried byte-for-byte next to the string headers', async () => {
  const { engine } = await setup();
  const props = Buffer.from([0, 1, 2, 255, 0xce]);
  await engine.publish('q', [rec('a', { props, propsFormat: 1, headers: { h: 'v' }, key: 'k' }), rec('b')]);
  const g = await engine.group('q', 'g');
  const a = await g.get();
  assert.deepEqual(a?.rec.props, props);
  assert.equal(a?.rec.propsFormat, 1);
  assert.equal(a?.headers['h'], 'v');
  assert.equal(a?.body.toString(), 'a');
  const b = await g.get();
  assert.equal(b?.rec.props, undefined);
  assert.equal(b?.rec.propsFormat, 0);
  await engine.close();
});

test('a higher-priority consumer gets the messages while it has credit', async () => {
  const { engine } = await setup();
  await engine.publish('q', [rec('1'), rec('2'), rec('3')]);
  const g = await engine.group('q', 'g');
  const low = new Sink(10);
  const high = Object.assign(new Sink(2), { priority: 5 });
  g.addConsumer(low);
  g.addConsumer(high);
  await settle();
  assert.deepEqual(high.bodies(), ['1', '2']);
  assert.deepEqual(low.bodies(), ['3']);
  await engine.close();
});

test('topic deletion is announced to listeners', async () => {
  const { engine } = await setup();
  await engine.topic('gone');
  const seen: string[] = [];
  const off = engine.onTopicDeleted((n) => seen.push(n));
  await engine.deleteTopic('gone');
  off();
  assert.deepEqual(seen, ['gone']);
  await engine.close();
});
