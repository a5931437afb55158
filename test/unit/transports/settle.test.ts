/**
 * The consume path shared by the transports to real brokers (src/transports/common.ts): the
 * buffer between push() and next(), a settlement that is complete on return (SETTLED) freeing
 * its prefetch slot at once, a lease starting at the time the transport read for its batch, and
 * a message id kept as bytes until read. An in-process NetTransport stands in for the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ManualClock } from '../../../src/core/clock.js';
import { SETTLED } from '../../../src/transports/common.js';
import { localSubscription, type LocalSubscription } from './local.js';

function setup(prefetch: number, leaseMs = 1000): { clock: ManualClock; sub: LocalSubscription } {
  return localSubscription(prefetch, leaseMs);
}

test('next() hands out pushed deliveries in order across refills larger than the buffer compaction point', async () => {
  const { sub } = setup(10_000);
  const seen: string[] = [];
  let pushed = 0;
  // Take fewer than are pushed each round, so the buffer never empties and has to compact.
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 1500; i++) sub.deliver(String(pushed++));
    for (let i = 0; i < 1000; i++) {
      const r = await sub.next();
      assert.equal(r.done, false);
      seen.push(r.value!.id);
      await r.value!.ack();
    }
  }
  while (seen.length < pushed) seen.push((await sub.next()).value!.id);
  assert.deepEqual(seen, Array.from({ length: pushed }, (_, i) => String(i)));
  await sub.close();
});

test('an ack whose transport work is done on return (SETTLED) frees its prefetch slot before ack() returns', async () => {
  const { sub } = setup(2);
  sub.deliver('a');
  sub.deliver('b');
  assert.equal(sub.credit(), 0);
  const a = (await sub.next()).value!;
  const p = a.ack();
  assert.equal(p, SETTLED);
  assert.equal(sub.credit(), 1);
  assert.equal(sub.credits, 1);
  await sub.close();
});

test('an ack with broker work in flight frees its slot only when that work ends, one onCredit for acks sharing it', async () => {
  const { sub } = setup(3);
  let finish!: () => void;
  const work = new Promise<void>((r) => (finish = r));
  sub.ackResult = () => work;
  for (const id of ['a', 'b', 'c']) sub.deliver(id);
  const ds = [(await sub.next()).value!, (await sub.next()).value!, (await sub.next()).value!];
  for (const d of ds) void d.ack();
  assert.equal(sub.credit(), 0);
  finish();
  await work;
  await Promise.resolve();
  assert.equal(sub.credit(), 3);
  assert.equal(sub.credits, 1);
  await sub.close();
});

test('a lease starts at the time the transport read for its batch, not at construction', () => {
  const { clock, sub } = setup(10, 100);
  const batchRead = clock.now();
  clock.advance(40);
  sub.deliver('late', batchRead);
  clock.advance(59);
  assert.deepEqual(sub.expired, []);
  clock.advance(1);
  assert.deepEqual(sub.expired, ['late']);
});

test('a message id given as bytes reads as its UTF-8 string, the same string every time', async () => {
  const { sub } = setup(10);
  const d = sub.deliver(Buffer.from('ab12-é', 'utf8'));
  assert.equal(d.id, 'ab12-é');
  assert.equal(d.id, d.id);
  await sub.close();
});

test('a buffer read empty starts again at the front: a smaller refill hands out only the new deliveries, then next() waits', async () => {
  const { sub } = setup(100);
  for (const id of ['a', 'b', 'c', 'd', 'e']) sub.deliver(id);
  const first: string[] = [];
  for (let i = 0; i < 5; i++) first.push((await sub.next()).value!.id);
  sub.deliver('f');
  sub.deliver('g');
  const second = [(await sub.next()).value!.id, (await sub.next()).value!.id];
  const waiting = sub.next();
  let settled = false;
  void waiting.then(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false, 'next() must wait, not hand out a slot left from the first fill');
  sub.deliver('h');
  assert.equal((await waiting).value!.id, 'h');
  assert.deepEqual([first, second], [['a', 'b', 'c', 'd', 'e'], ['f', 'g']]);
  await sub.close();
});
