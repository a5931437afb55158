/**
 * Client-side leases of the transports to real brokers (src/transports/common.ts): one timer per
 * subscription over a deadline-ordered list of its open deliveries. Driven by a ManualClock
 * through a minimal in-process NetTransport whose deliveries settle at once, so no broker and no
 * sleeps are needed; the same code runs under every networked transport.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ManualClock } from '../../../src/core/clock.js';
import { localSubscription, type LocalSubscription } from './local.js';

function setup(leaseMs: number, prefetch = 10): { clock: ManualClock; sub: LocalSubscription } {
  const r = localSubscription(prefetch, leaseMs);
  r.sub.ackResult = () => Promise.resolve(); // settlement as broker work, resolved at once
  return r;
}

test('leases run out in delivery order, each at its own deadline, and abort the delivery signal', () => {
  const { clock, sub } = setup(100);
  const a = sub.deliver('a');
  clock.advance(10);
  const b = sub.deliver('b');
  clock.advance(89);
  assert.deepEqual(sub.expired, []);
  clock.advance(1);
  assert.deepEqual(sub.expired, ['a']);
  assert.equal(a.state, 'lost');
  assert.equal(a.signal.aborted, true);
  assert.equal(b.state, 'open');
  clock.advance(10);
  assert.deepEqual(sub.expired, ['a', 'b']);
  assert.equal(sub.credit(), 10);
});

test('extend() with a shorter lease moves a delivery ahead of earlier ones; a longer one moves it behind', async () => {
  const { clock, sub } = setup(100);
  const a = sub.deliver('a');
  const b = sub.deliver('b');
  const c = sub.deliver('c');
  await b.extend(30);
  await a.extend(500);
  clock.advance(30);
  assert.deepEqual(sub.expired, ['b']);
  clock.advance(70);
  assert.deepEqual(sub.expired, ['b', 'c']);
  clock.advance(399);
  assert.equal(a.state, 'open');
  clock.advance(1);
  assert.deepEqual(sub.expired, ['b', 'c', 'a']);
});

test('a settled delivery never expires, later settlements of it are no-ops, and its prefetch slot frees once the ack is done', async () => {
  const { clock, sub } = setup(100, 2);
  const a = sub.deliver('a');
  sub.deliver('b');
  assert.equal(sub.credit(), 0);
  const p = a.ack();
  await a.ack();
  await p;
  assert.equal(sub.credit(), 1);
  clock.advance(100);
  assert.deepEqual(sub.acked, ['a']);
  assert.deepEqual(sub.expired, ['b']);
  assert.equal(a.state, 'settled');
});

test('settling after the lease ran out rejects with MQ_ERR_LEASE_LOST', async () => {
  const { clock, sub } = setup(50);
  const a = sub.deliver('a');
  clock.advance(50);
  await assert.rejects(a.ack(), (e: unknown) => (e as { code?: string }).code === 'MQ_ERR_LEASE_LOST');
  await assert.rejects(a.extend(), (e: unknown) => (e as { code?: string }).code === 'MQ_ERR_LEASE_LOST');
});

test('a lease longer than 2^31 ms (24.8 days) and one with a fractional length expire at their deadlines', () => {
  const long = 2 ** 31 + 5_000;
  const { clock, sub } = setup(long);
  const a = sub.deliver('a');
  clock.advance(0.5);
  const b = sub.deliver('b');
  void b.extend(99.25);
  clock.advance(99);
  assert.deepEqual(sub.expired, []);
  clock.advance(0.25);
  assert.deepEqual(sub.expired, ['b']);
  clock.advance(long - 99.75 - 1);
  assert.equal(a.state, 'open');
  clock.advance(1);
  assert.deepEqual(sub.expired, ['b', 'a']);
});

test('a lease added after the list emptied expires at its own deadline, not at the timer left from the earlier one', async () => {
  const { clock, sub } = setup(100);
  const a = sub.deliver('a');
  clock.advance(10);
  await a.ack();
  clock.advance(40);
  const b = sub.deliver('b');
  clock.advance(50);
  assert.equal(b.state, 'open', 'the timer armed for a (t=100) fires with nothing due');
  clock.advance(49);
  assert.deepEqual(sub.expired, []);
  clock.advance(1);
  assert.deepEqual(sub.expired, ['b']);
});

test('close() loses every open delivery and leaves no lease to expire', async () => {
  const { clock, sub } = setup(100);
  const a = sub.deliver('a');
  const b = sub.deliver('b');
  await b.ack();
  await sub.close();
  assert.equal(a.state, 'lost');
  assert.equal(b.state, 'settled');
  clock.advance(1_000);
  assert.deepEqual(sub.expired, []);
});
