/**
 * encodeMessageParts (deliveries written by reference) produces exactly the bytes of
 * encodeMessage, keeps the body by reference (no copy), and reports the byte count it appended.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { basicDeliver, encodeMessage, encodeMessageParts } from '../../../src/protocols/amqp/index.js';

test('the pieces of encodeMessageParts concatenate to encodeMessage for any body size and frame_max', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40_000 }), fc.constantFrom(4096, 9000, 131072, 0), fc.integer({ min: 1, max: 65535 }), (n, frameMax, channel) => {
      const body = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) body[i] = (i * 13) & 0xff;
      const method = basicDeliver({ consumerTag: 'ctag-é', deliveryTag: 123456789, redelivered: true, exchange: 'ex', routingKey: 'rk' });
      const props = { contentType: 'application/octet-stream', headers: { a: 1, b: 'two' }, deliveryMode: 2 };
      const out: Buffer[] = [];
      const bytes = encodeMessageParts(channel, method, props, body, frameMax, out);
      const whole = encodeMessage(channel, method, props, body, frameMax);
      assert.equal(bytes, whole.length);
      assert.ok(Buffer.concat(out).equals(whole));
    }),
    { numRuns: 60 },
  );
});

test('a body that fits one frame is written as the very Buffer passed in, not a copy', () => {
  const body = Buffer.alloc(10_240, 7);
  const out: Buffer[] = [];
  encodeMessageParts(1, basicDeliver({ consumerTag: 'c', deliveryTag: 1, exchange: '', routingKey: 'q' }), {}, body, 131072, out);
  assert.equal(out.length, 3, 'frames before the body, the body, the frame-end octet');
  assert.equal(out[1], body);
  assert.deepEqual([...out[2]!], [0xce]);
});
