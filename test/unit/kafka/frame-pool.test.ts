import test from 'node:test';
import assert from 'node:assert/strict';
import { FramePool, MIN_POOLED } from '../../../src/protocols/kafka/server/frame-pool.js';
import { FrameSplitter } from '../../../src/protocols/kafka/codec/frame.js';

test('a returned frame buffer is handed out again for the next frame of a similar size', () => {
  const pool = new FramePool();
  const a = pool.take(1_000_000);
  assert.equal(a.length, 1_000_000);
  assert.ok(pool.owns(a));
  pool.give(a);
  assert.ok(!pool.owns(a));
  assert.equal(pool.freeBytes, 1 << 20);
  const b = pool.take(1_000_123);
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.length, 1_000_123);
  assert.equal(pool.freeBytes, 0);
});

test('only buffers the pool handed out come back, and each only once', () => {
  const pool = new FramePool();
  pool.give(Buffer.allocUnsafe(1 << 20));
  assert.equal(pool.freeBytes, 0);
  const a = pool.take(300_000);
  pool.give(a);
  pool.give(a);
  assert.equal(pool.freeBytes, 512 * 1024);
  // Small frames are not pooled at all.
  const small = pool.take(MIN_POOLED - 1);
  assert.ok(!pool.owns(small));
});

test('the frame splitter assembles a frame spread over reads in the buffer its allocator gives', () => {
  const pool = new FramePool();
  const splitter = new FrameSplitter(undefined, (n) => pool.take(n));
  const payload = Buffer.alloc(200_000, 7);
  const framed = Buffer.concat([Buffer.from([0, 0x03, 0x0d, 0x40]), payload]);
  const got: Buffer[] = [];
  for (let at = 0; at < framed.length; at += 65536) splitter.push(framed.subarray(at, at + 65536), (f) => got.push(f));
  assert.equal(got.length, 1);
  assert.ok(pool.owns(got[0]!));
  assert.deepEqual(got[0], payload);
});
