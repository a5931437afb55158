/** Keyspace unit tests: expiry with an injected clock, memory accounting, sorted-set order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keyspace, ZSet } from '../../../src/protocols/resp/server/keyspace.js';

test('lazy and active expiry follow the injected clock; touches are reported', () => {
  let now = 1_000;
  const touched: string[] = [];
  const ks = new Keyspace({ now: () => now, onTouch: (k) => touched.push(k) });
  ks.setString('a', Buffer.from('1'), 1_500);
  ks.setString('b', Buffer.from('2'), 2_000);
  ks.hset('h', [Buffer.from('f'), Buffer.from('v')]);
  ks.expire('h', 1_200);
  assert.equal(ks.expiringCount, 3);
  now = 1_200;
  assert.equal(ks.has('h'), false, 'lazy expiry at the deadline');
  now = 1_600;
  assert.equal(ks.expireDue(), 1, 'active expiry deletes a (h was already gone)');
  assert.deepEqual(ks.keys(), ['b']);
  ks.expire('b', 0);
  now = 5_000;
  assert.equal(ks.expireDue(), 0, 'a stale heap item is skipped after PERSIST');
  assert.equal(ks.has('b'), true);
  assert.equal(ks.expiringCount, 0);
  assert.deepEqual(touched, ['a', 'b', 'h', 'h', 'h', 'a', 'b']);
  ks.close();
});

test('memory accounting grows and shrinks with the data; emptied containers are deleted', () => {
  const ks = new Keyspace({ maxBytes: 10_000 });
  assert.equal(ks.used, 0);
  ks.sadd('s', ['a', 'b']);
  const withSet = ks.used;
  ks.hset('h', [Buffer.from('f'), Buffer.alloc(5_000)]);
  assert.ok(ks.used > withSet + 5_000);
  assert.equal(ks.overLimit, false);
  ks.hset('h', [Buffer.from('g'), Buffer.alloc(5_000)]);
  assert.equal(ks.overLimit, true);
  ks.hdel('h', ['f', 'g']);
  assert.equal(ks.has('h'), false);
  assert.equal(ks.used, withSet);
  ks.srem('s', ['a', 'b']);
  assert.equal(ks.used, 0);
  assert.equal(ks.size, 0);
  ks.zset('z', [{ m: 'x', s: 1 }]);
  ks.rename('z', 'zz');
  ks.delete('zz');
  assert.equal(ks.used, 0);
});

test('ZSet keeps (score, member) order through updates', () => {
  const z = new ZSet();
  z.set('b', 1);
  z.set('a', 1);
  z.set('c', 0);
  z.set('d', Infinity);
  z.set('e', -Infinity);
  assert.deepEqual(z.sorted.map((i) => i.m), ['e', 'c', 'a', 'b', 'd']);
  z.set('c', 2);
  assert.deepEqual(z.sorted.map((i) => i.m), ['e', 'a', 'b', 'c', 'd']);
  assert.equal(z.rank('c'), 3);
  assert.equal(z.firstAtLeast(1, true), 3);
  assert.equal(z.endAtMost(1, false), 3);
  assert.equal(z.delete('a'), true);
  assert.equal(z.delete('a'), false);
  assert.equal(z.size, 4);
});
