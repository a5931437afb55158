import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyInto, readF64LE, readU16LE, readU32LE, writeF64LE, writeU16LE, writeU32LE } from '../../../src/core/bytes.js';

test('u16 and u32 writes put the same bytes where Buffer.writeUInt16LE/32LE would, and read back', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 9 }), (u16, u32, at) => {
      const mine = Buffer.alloc(16, 0xee);
      const node = Buffer.alloc(16, 0xee);
      assert.equal(writeU16LE(mine, u16, at), node.writeUInt16LE(u16, at));
      assert.deepEqual(mine, node);
      assert.equal(readU16LE(mine, at), u16);
      assert.equal(writeU32LE(mine, u32, at + 2), node.writeUInt32LE(u32, at + 2));
      assert.deepEqual(mine, node);
      assert.equal(readU32LE(mine, at + 2), u32);
      assert.equal(readU32LE(mine, at + 2), node.readUInt32LE(at + 2));
    }),
  );
});

test('f64 writes match Buffer.writeDoubleLE for every double, NaN, infinities and -0 included', () => {
  fc.assert(
    fc.property(fc.double(), fc.integer({ min: 0, max: 8 }), (v, at) => {
      const mine = Buffer.alloc(16);
      const node = Buffer.alloc(16);
      assert.equal(writeF64LE(mine, v, at), node.writeDoubleLE(v, at));
      assert.deepEqual(mine, node);
      assert.ok(Object.is(readF64LE(mine, at), node.readDoubleLE(at)));
    }),
  );
  const b = Buffer.alloc(8);
  for (const v of [Date.now(), -0, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 5e-324]) {
    writeF64LE(b, v, 0);
    assert.ok(Object.is(readF64LE(b, 0), v));
  }
});

test('copyInto copies a Buffer view or a Uint8Array to the given position and nothing else', () => {
  const dst = Buffer.alloc(10, 0);
  const whole = Buffer.from('xxabcxx');
  copyInto(dst, whole.subarray(2, 5), 3);
  copyInto(dst, new Uint8Array([1, 2]), 8);
  assert.deepEqual([...dst], [0, 0, 0, 97, 98, 99, 0, 0, 1, 2]);
});
