/**
 * Property tests: every generated method, the basic content properties and field tables survive
 * encode → FrameParser → decode unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AmqpDecimal,
  CLASS_CONNECTION,
  FRAME_HEADER,
  FRAME_METHOD,
  FieldTyped,
  FrameParser,
  METHODS,
  METHODS_BY_NAME,
  decodeFieldTable,
  encodeContent,
  encodeFieldTable,
  encodeMethodFrame,
} from '../../../src/protocols/amqp/index.js';
import type { AmqpMethod, BasicProperties, FieldTable } from '../../../src/protocols/amqp/index.js';
import { argsArb, defined, fieldTableArb, intIn, shortstrArb } from './helpers.js';

test('the spec yields all 66 methods, including RabbitMQ extensions', () => {
  assert.equal(METHODS.size, 66);
  for (const name of ['basic.consume', 'basic.nack', 'confirm.select', 'exchange.unbind-ok', 'connection.update-secret', 'connection.blocked']) {
    assert.ok(METHODS_BY_NAME.has(name as never), name);
  }
  assert.equal(METHODS_BY_NAME.get('exchange.unbind-ok')!.methodId, 51);
});

for (const info of METHODS.values()) {
  test(`round-trip ${info.name} (${info.classId}/${info.methodId})`, () => {
    const channelArb = info.classId === CLASS_CONNECTION ? fc.constant(0) : fc.integer({ min: 1, max: 0xffff });
    fc.assert(
      fc.property(channelArb, argsArb(info), (channel, args) => {
        const m = { classId: info.classId, methodId: info.methodId, name: info.name, args } as unknown as AmqpMethod;
        const bytes = encodeMethodFrame(channel, m);
        const p = new FrameParser({ expectProtocolHeader: false, trackContent: false });
        const frames = [...p.push(bytes)];
        assert.equal(frames.length, 1);
        assert.deepEqual(frames[0], { type: FRAME_METHOD, channel, payload: m });
        assert.equal(p.bufferedBytes, 0);
      }),
      { numRuns: 60 },
    );
  });
}

const propertiesArb: fc.Arbitrary<BasicProperties> = fc.record(
  {
    contentType: shortstrArb,
    contentEncoding: shortstrArb,
    headers: fieldTableArb,
    deliveryMode: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortstrArb,
    replyTo: shortstrArb,
    expiration: shortstrArb,
    messageId: shortstrArb,
    timestamp: fc.maxSafeNat(),
    type: shortstrArb,
    userId: shortstrArb,
    appId: shortstrArb,
    clusterId: shortstrArb,
  },
  { requiredKeys: [], noNullPrototype: true },
);

test('round-trip basic content headers: all 14 properties in any combination, any body split', () => {
  fc.assert(
    fc.property(
      propertiesArb,
      fc.uint8Array({ maxLength: 3000 }),
      intIn(9, 5000),
      fc.integer({ min: 1, max: 0xffff }),
      (props, body, frameMax, channel) => {
        const bytes = encodeContent(channel, 60, props, body, frameMax);
        const frames = [...new FrameParser({ expectProtocolHeader: false, trackContent: false, maxFrameSize: 8192 }).push(bytes)];
        const h = frames[0]!;
        assert.equal(h.type, FRAME_HEADER);
        if (h.type !== FRAME_HEADER) return;
        assert.equal(h.payload.bodySize, body.length);
        assert.deepEqual(defined(h.payload.properties), props);
        const bodies = frames.slice(1);
        assert.equal(bodies.length, Math.ceil(body.length / (frameMax - 8)));
        for (const b of bodies) assert.ok((b.payload as Buffer).length <= frameMax - 8);
        assert.deepEqual(Buffer.concat(bodies.map((b) => b.payload as Buffer)), Buffer.from(body));
        // Forwarding the raw property bytes reproduces the header exactly.
        assert.deepEqual(encodeContent(channel, 60, h.payload.rawProperties, body, frameMax), bytes);
      },
    ),
    { numRuns: 300 },
  );
});

test('round-trip field tables (every RabbitMQ value type)', () => {
  fc.assert(
    fc.property(fieldTableArb, (t) => {
      assert.deepEqual(decodeFieldTable(encodeFieldTable(t)), t);
    }),
    { numRuns: 500 },
  );
});

test('field tables: explicit narrow tags encode as that tag and decode to plain numbers', () => {
  const t: FieldTable = {
    b: new FieldTyped('b', -5),
    B: new FieldTyped('B', 250),
    s: new FieldTyped('s', -30000),
    u: new FieldTyped('u', 60000),
    i: new FieldTyped('i', 4000000000),
    f: new FieldTyped('f', 1.5),
    l: new FieldTyped('l', 7),
    x: new FieldTyped('x', 'raw'),
    v: new FieldTyped('V', null),
  };
  const bytes = encodeFieldTable(t);
  const tags = [...bytes.subarray(4)].map((c) => String.fromCharCode(c));
  assert.deepEqual(decodeFieldTable(bytes), { b: -5, B: 250, s: -30000, u: 60000, i: 4000000000, f: 1.5, l: 7, x: Buffer.from('raw'), v: null });
  // The tag follows each 1-byte key and its length octet.
  assert.equal(tags[2], 'b');
  assert.equal(tags[5], 'B');
  // Inference: int32 → I, larger safe int → l, fraction → d, bigint → l, Date → T.
  const inferred = encodeFieldTable({ a: 1, b: 2 ** 40, c: 0.5, d: 2n ** 60n, e: new Date(1000), f: new AmqpDecimal(2, 12345) });
  const decoded = decodeFieldTable(inferred);
  assert.deepEqual(decoded, { a: 1, b: 2 ** 40, c: 0.5, d: 2n ** 60n, e: new Date(1000), f: new AmqpDecimal(2, 12345) });
  assert.deepEqual(
    [inferred[6], inferred[13], inferred[24]].map((c) => String.fromCharCode(c!)),
    ['I', 'l', 'd'],
  );
});

test('field tables: AMQPLAIN responses without length prefix, "__proto__" keys, nesting limit', () => {
  const withPrefix = encodeFieldTable({ LOGIN: 'guest', PASSWORD: 'guest' });
  assert.deepEqual(decodeFieldTable(withPrefix.subarray(4), false), { LOGIN: 'guest', PASSWORD: 'guest' });
  const proto = Buffer.concat([Buffer.from([0, 0, 0, 15, 9]), Buffer.from('__proto__'), Buffer.from('I'), Buffer.from([0, 0, 0, 1])]);
  const t = decodeFieldTable(proto);
  assert.equal(Object.getPrototypeOf(t), Object.prototype);
  assert.equal(Object.keys(t)[0], '__proto__');
  // 100 nested arrays: rejected with 502, not a stack overflow.
  let nested: unknown = [];
  for (let i = 0; i < 100; i++) nested = [nested];
  assert.throws(() => encodeFieldTable({ a: nested as never }), { code: 'MQ_ERR_INVALID_ARGUMENT' });
  let bytes = Buffer.from([0, 0, 0, 0]);
  for (let i = 0; i < 100; i++) bytes = Buffer.concat([Buffer.from([0, 0, 0, bytes.length + 1 + 1 + 1]), Buffer.from([1, 0x61, 0x46]), bytes]);
  assert.throws(() => decodeFieldTable(bytes), { replyCode: 502 });
  const cyclic: FieldTable = {};
  cyclic.self = cyclic;
  assert.throws(() => encodeFieldTable(cyclic), { code: 'MQ_ERR_INVALID_ARGUMENT' });
});

test('encoders reject out-of-range values with a typed error', () => {
  const tooLong = 'x'.repeat(256);
  assert.throws(() => encodeMethodFrame(1, { classId: 60, methodId: 21, name: 'basic.consume-ok', args: { consumerTag: tooLong } }), {
    code: 'MQ_ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => encodeMethodFrame(1, { classId: 60, methodId: 21, name: 'basic.consume-ok', args: { consumerTag: 'é'.repeat(128) } }), {
    code: 'MQ_ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => encodeMethodFrame(1, { classId: 60, methodId: 80, name: 'basic.ack', args: { deliveryTag: -1, multiple: false } }), {
    code: 'MQ_ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => encodeMethodFrame(70000, { classId: 60, methodId: 11, name: 'basic.qos-ok', args: {} }), { code: 'MQ_ERR_INVALID_ARGUMENT' });
});
