/**
 * Frames built byte-by-byte from the spec (helpers.ts's builder, not the codec), shaped like what
 * amqplib sends and RabbitMQ answers. Each is decoded and compared field by field, and re-encoded
 * byte-for-byte where our tag inference matches the client's (strings → S, booleans → t).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  PROTOCOL_HEADER,
  basicDeliver,
  basicPublish,
  connectionStartOk,
  connectionTune,
  encodeContent,
  encodeHeartbeat,
  encodeMessage,
  encodeMethodFrame,
} from '../../../src/protocols/amqp/index.js';
import type { Frame, MethodFrame } from '../../../src/protocols/amqp/index.js';
import { entryF, entryS, entryT, frame, lstr, method, parseAll, sstr, table, u16, u32, u64, u8 } from './helpers.js';

const clientProperties = table(
  entryS('product', 'amqplib'),
  entryS('version', '0.10.4'),
  entryS('platform', 'Node.JS v20.20.2'),
  entryS('information', 'https://amqp-node.github.io/amqplib/'),
  entryF(
    'capabilities',
    table(
      entryT('publisher_confirms', true),
      entryT('exchange_exchange_bindings', true),
      entryT('basic.nack', true),
      entryT('consumer_cancel_notify', true),
      entryT('connection.blocked', true),
      entryT('authentication_failure_close', true),
    ),
  ),
);

// connection.start-ok (10/11): client-properties table, mechanism "PLAIN", response "\0guest\0guest", locale "en_US".
const startOkBytes = method(0, 10, 11, clientProperties, sstr('PLAIN'), lstr('\u0000guest\u0000guest'), sstr('en_US'));

test('connection.start-ok with a PLAIN response and client-properties (amqplib)', () => {
  const frames = parseAll(Buffer.concat([PROTOCOL_HEADER, startOkBytes]));
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], { type: 'protocol-header', channel: 0, payload: { ok: true, received: PROTOCOL_HEADER } });
  const f = frames[1] as MethodFrame;
  assert.equal(f.type, FRAME_METHOD);
  assert.equal(f.channel, 0);
  assert.equal(f.payload.name, 'connection.start-ok');
  if (f.payload.name !== 'connection.start-ok') return;
  const a = f.payload.args;
  assert.equal(a.mechanism, 'PLAIN');
  assert.equal(a.locale, 'en_US');
  assert.deepEqual(a.response, Buffer.from('\0guest\0guest'));
  assert.deepEqual(a.clientProperties, {
    product: 'amqplib',
    version: '0.10.4',
    platform: 'Node.JS v20.20.2',
    information: 'https://amqp-node.github.io/amqplib/',
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      authentication_failure_close: true,
    },
  });
  // Re-encoding reproduces amqplib's bytes exactly.
  assert.deepEqual(encodeMethodFrame(0, f.payload), startOkBytes);
  assert.deepEqual(encodeMethodFrame(0, connectionStartOk({ clientProperties: a.clientProperties, response: Buffer.from('\0guest\0guest') })), startOkBytes);
});

// basic.publish (60/40) on channel 1: ticket 0, exchange "", routing key "hello", bits 0;
// header: class 60, weight 0, body size 11, flags content-type|headers|delivery-mode
// (0x8000|0x2000|0x1000), "text/plain", {}, 2; body "hello world".
const publishBytes = Buffer.concat([
  method(1, 60, 40, u16(0), sstr(''), sstr('hello'), u8(0)),
  frame(2, 1, u16(60), u16(0), u64(11), u16(0xb000), sstr('text/plain'), u32(0), u8(2)),
  frame(3, 1, Buffer.from('hello world')),
]);

test('basic.publish + content header + body (amqplib sendToQueue)', () => {
  const frames = parseAll(publishBytes, { expectProtocolHeader: false });
  assert.equal(frames.length, 3);
  const [m, h, b] = frames as [Frame, Frame, Frame];
  assert.deepEqual(m, {
    type: FRAME_METHOD,
    channel: 1,
    payload: { classId: 60, methodId: 40, name: 'basic.publish', args: { ticket: 0, exchange: '', routingKey: 'hello', mandatory: false, immediate: false } },
  });
  assert.equal(h.type, FRAME_HEADER);
  if (h.type !== FRAME_HEADER) return;
  assert.equal(h.channel, 1);
  assert.equal(h.payload.classId, 60);
  assert.equal(h.payload.weight, 0);
  assert.equal(h.payload.bodySize, 11);
  assert.equal(h.payload.properties.contentType, 'text/plain');
  assert.deepEqual(h.payload.properties.headers, {});
  assert.equal(h.payload.properties.deliveryMode, 2);
  assert.equal(h.payload.properties.priority, undefined);
  assert.deepEqual(h.payload.rawProperties, Buffer.concat([u16(0xb000), sstr('text/plain'), u32(0), u8(2)]));
  assert.deepEqual(b, { type: FRAME_BODY, channel: 1, payload: Buffer.from('hello world') });

  // Writers reproduce the bytes, with decoded properties or with the raw property bytes.
  const publish = basicPublish({ routingKey: 'hello' });
  const props = { contentType: 'text/plain', headers: {}, deliveryMode: 2 };
  assert.deepEqual(Buffer.concat([encodeMethodFrame(1, publish), encodeContent(1, 60, props, Buffer.from('hello world'), 131072)]), publishBytes);
  assert.deepEqual(encodeMessage(1, publish, props, Buffer.from('hello world'), 131072), publishBytes);
  assert.deepEqual(encodeMessage(1, publish, h.payload.rawProperties, Buffer.from('hello world'), 131072), publishBytes);
});

// basic.deliver (60/60): consumer-tag, delivery-tag u64, redelivered bit, exchange, routing key.
const deliverBytes = Buffer.concat([
  method(1, 60, 60, sstr('amq.ctag-0WJqnJfMIn'), u64(1), u8(1), sstr('amq.direct'), sstr('hello')),
  frame(2, 1, u16(60), u16(0), u64(11), u16(0x9000), sstr('text/plain'), u8(1)),
  frame(3, 1, Buffer.from('hello ')),
  frame(3, 1, Buffer.from('world')),
]);

test('basic.deliver with a body split by frame_max', () => {
  const bytes = encodeMessage(
    1,
    basicDeliver({ consumerTag: 'amq.ctag-0WJqnJfMIn', deliveryTag: 1, redelivered: true, exchange: 'amq.direct', routingKey: 'hello' }),
    { contentType: 'text/plain', deliveryMode: 1 },
    Buffer.from('hello world'),
    14, // 6 body bytes per frame
  );
  assert.deepEqual(bytes, deliverBytes);
  const frames = parseAll(bytes, { expectProtocolHeader: false });
  assert.equal(frames.length, 4);
  const m = frames[0] as MethodFrame;
  assert.deepEqual(m.payload.args, { consumerTag: 'amq.ctag-0WJqnJfMIn', deliveryTag: 1, redelivered: true, exchange: 'amq.direct', routingKey: 'hello' });
});

test('connection.tune from the server and heartbeat frames', () => {
  const tune = method(0, 10, 30, u16(2047), u32(131072), u16(60));
  assert.deepEqual(encodeMethodFrame(0, connectionTune({ channelMax: 2047, frameMax: 131072, heartbeat: 60 })), tune);
  assert.deepEqual(encodeHeartbeat(), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]));
  const frames = parseAll(Buffer.concat([tune, encodeHeartbeat()]), { expectProtocolHeader: false });
  assert.equal(frames[1]!.type, FRAME_HEARTBEAT);
});

test('bit packing: queue.declare flags share one octet, low bit first', () => {
  // queue.declare(ticket 0, "q", passive 0, durable 1, exclusive 0, auto-delete 1, nowait 0, {})
  const bytes = method(1, 50, 10, u16(0), sstr('q'), u8(0b01010), u32(0));
  const [f] = parseAll(bytes, { expectProtocolHeader: false }) as [MethodFrame];
  assert.deepEqual(f.payload.args, { ticket: 0, queue: 'q', passive: false, durable: true, exclusive: false, autoDelete: true, nowait: false, arguments: {} });
  assert.deepEqual(encodeMethodFrame(1, f.payload), bytes);
});
