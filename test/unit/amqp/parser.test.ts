/**
 * FrameParser: chunking independence, protocol header detection, typed errors, and hostile input
 * (never anything but AmqpError, never more buffered than maxFrameSize + header).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AmqpError,
  FRAME_HEARTBEAT,
  FrameParser,
  PROTOCOL_HEADER,
  basicAck,
  basicDeliver,
  basicPublish,
  channelOpen,
  connectionStartOk,
  connectionTuneOk,
  encodeHeartbeat,
  encodeMessage,
  encodeMethodFrame,
  encodeRawFrame,
} from '../../../src/protocols/amqp/index.js';
import type { Frame } from '../../../src/protocols/amqp/index.js';
import { frame, method, sstr, u16, u32, u64, u8 } from './helpers.js';

/** A realistic client stream: header, handshake, publishes with multi-frame bodies, acks. */
const stream = Buffer.concat([
  PROTOCOL_HEADER,
  encodeMethodFrame(0, connectionStartOk({ clientProperties: { product: 'x', capabilities: { 'basic.nack': true } }, response: Buffer.from('\0u\0p') })),
  encodeMethodFrame(0, connectionTuneOk({ channelMax: 2047, frameMax: 4096, heartbeat: 60 })),
  encodeMethodFrame(1, channelOpen()),
  encodeMessage(1, basicPublish({ exchange: 'ex', routingKey: 'rk' }), { contentType: 'text/plain', headers: { a: [1, 'two'] } }, Buffer.alloc(9000, 7), 4096),
  encodeHeartbeat(),
  encodeMessage(2, basicPublish({ routingKey: 'q' }), {}, Buffer.alloc(0), 4096),
  encodeMessage(1, basicPublish({ routingKey: 'é' }), { priority: 3 }, Buffer.from('small'), 4096),
  encodeMethodFrame(1, basicAck({ deliveryTag: 2 ** 40, multiple: true })),
]);

function drain(p: FrameParser): Frame[] {
  const out: Frame[] = [];
  for (const f of p) out.push(f);
  return out;
}

const reference = drain(new FrameParser({ maxFrameSize: 4096 }).push(stream));

test('reference stream parses into the expected frame sequence', () => {
  assert.deepEqual(
    reference.map((f) => f.type),
    ['protocol-header', 1, 1, 1, 1, 2, 3, 3, 3, FRAME_HEARTBEAT, 1, 2, 1, 2, 3, 1],
  );
});

test('splitting the input at every byte boundary yields the same frames', () => {
  for (let i = 0; i <= stream.length; i++) {
    const p = new FrameParser({ maxFrameSize: 4096 });
    const frames = [...drain(p.push(stream.subarray(0, i))), ...drain(p.push(stream.subarray(i)))];
    assert.deepEqual(frames, reference, `split at ${i}`);
    assert.equal(p.bufferedBytes, 0);
  }
});

test('one byte at a time, and random chunkings, yield the same frames', () => {
  const p = new FrameParser({ maxFrameSize: 4096 });
  const frames: Frame[] = [];
  for (let i = 0; i < stream.length; i++) {
    frames.push(...drain(p.push(stream.subarray(i, i + 1))));
    assert.ok(p.bufferedBytes <= 4096 + 8);
  }
  assert.deepEqual(frames, reference);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 30 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
      const q = new FrameParser({ maxFrameSize: 4096 });
      const got: Frame[] = [];
      for (let k = 1; k < points.length; k++) got.push(...drain(q.push(stream.subarray(points[k - 1], points[k]))));
      assert.deepEqual(got, reference);
    }),
    { numRuns: 200 },
  );
});

test('pushing again without draining keeps every frame', () => {
  const p = new FrameParser({ maxFrameSize: 4096 });
  p.push(stream.subarray(0, 1000));
  p.push(stream.subarray(1000));
  assert.deepEqual(drain(p), reference);
});

test('protocol header mismatch is reported (early for non-AMQP bytes) and stops the parser', () => {
  const http = new FrameParser();
  const [f] = drain(http.push(Buffer.from('GET / HTTP/1.1\r\n')));
  assert.deepEqual(f, { type: 'protocol-header', channel: 0, payload: { ok: false, received: Buffer.from('G') } });
  assert.equal(http.isFailed, true);
  assert.deepEqual(drain(http.push(Buffer.from('more'))), []);
  assert.equal(http.bufferedBytes, 0);

  const old = new FrameParser();
  assert.deepEqual(drain(old.push(Buffer.from('AMQP\x01\x01\x00\x09', 'latin1'))), [
    { type: 'protocol-header', channel: 0, payload: { ok: false, received: Buffer.from('AMQP\x01\x01\x00\x09', 'latin1') } },
  ]);
  const partial = new FrameParser();
  assert.deepEqual(drain(partial.push(Buffer.from('AMQ'))), []);
  assert.deepEqual(drain(partial.push(Buffer.concat([Buffer.from([0x50, 0, 0, 9, 1]), encodeHeartbeat()]))), [
    { type: 'protocol-header', channel: 0, payload: { ok: true, received: PROTOCOL_HEADER } },
    { type: FRAME_HEARTBEAT, channel: 0, payload: null },
  ]);
});

function errorOf(bytes: Buffer, opts = {}): AmqpError {
  const p = new FrameParser({ expectProtocolHeader: false, ...opts });
  try {
    drain(p.push(bytes));
  } catch (e) {
    assert.ok(e instanceof AmqpError, `expected AmqpError, got ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

test('typed errors carry the AMQP reply code', () => {
  const good = encodeMethodFrame(1, channelOpen());
  const badEnd = Buffer.from(good);
  badEnd[badEnd.length - 1] = 0;
  let e = errorOf(badEnd);
  assert.equal(e.replyCode, 501);
  assert.equal(e.fatal, true);
  assert.match(e.replyText, /^FRAME_ERROR - bad frame-end/);

  e = errorOf(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0xce]));
  assert.equal(e.replyCode, 501); // unknown frame type
  e = errorOf(Buffer.from([1, 0, 1, 0x7f, 0xff, 0xff, 0xff])); // 2 GB frame: rejected from the 7-byte header
  assert.equal(e.replyCode, 501);
  assert.equal(e.fatal, true);

  e = errorOf(method(1, 60, 999));
  assert.deepEqual([e.replyCode, e.classId, e.methodId, e.channel], [540, 60, 999, 1]);
  e = errorOf(method(1, 60, 80, u64(1))); // basic.ack without its bit octet
  assert.deepEqual([e.replyCode, e.classId, e.methodId], [502, 60, 80]);
  e = errorOf(method(1, 60, 80, u64(1), u8(0), u8(0))); // trailing byte
  assert.equal(e.replyCode, 502);
  e = errorOf(method(1, 60, 80, u64(2 ** 53), u8(0))); // delivery tag beyond 2^53-1
  assert.equal(e.replyCode, 502);
  e = errorOf(method(1, 50, 10, u16(0), sstr('q'), u8(0), u32(5), Buffer.from([1, 0x61, 0x51, 0, 0]))); // table with tag 'Q'
  assert.equal(e.replyCode, 502);
  e = errorOf(method(1, 10, 51)); // connection.close-ok on channel 1
  assert.equal(e.replyCode, 503);
  e = errorOf(method(0, 20, 10, sstr(''))); // channel.open on channel 0
  assert.equal(e.replyCode, 503);
  e = errorOf(frame(3, 1, Buffer.from('x'))); // body without header
  assert.equal(e.replyCode, 505);
  e = errorOf(frame(2, 1, u16(60), u16(0), u64(1), u16(0))); // header without method
  assert.equal(e.replyCode, 505);
  const publish = encodeMethodFrame(1, basicPublish({ routingKey: 'q' }));
  e = errorOf(Buffer.concat([publish, publish])); // method while header due
  assert.equal(e.replyCode, 505);
  e = errorOf(Buffer.concat([publish, frame(2, 1, u16(60), u16(0), u64(1), u16(0)), frame(3, 1, Buffer.from('xy'))])); // body too long
  assert.equal(e.replyCode, 505);
  e = errorOf(Buffer.concat([publish, frame(2, 1, u16(60), u16(0), u64(1), u16(0x0002))])); // unknown property bit
  assert.equal(e.replyCode, 502);
  e = errorOf(Buffer.concat([publish, frame(2, 1, u16(60), u16(1), u64(1), u16(0))])); // weight ≠ 0
  assert.equal(e.replyCode, 502);
  e = errorOf(frame(8, 1)); // heartbeat on channel 1
  assert.equal(e.replyCode, 501);
  assert.equal(e.fatal, false);
  e = errorOf(frame(1, 1, u16(60))); // method frame shorter than class+method ids
  assert.equal(e.replyCode, 501);
});

test('after a non-fatal error the parser continues with the next frame', () => {
  const p = new FrameParser({ expectProtocolHeader: false });
  p.push(Buffer.concat([method(1, 60, 999), encodeMethodFrame(0, { classId: 10, methodId: 51, name: 'connection.close-ok', args: {} })]));
  assert.throws(() => p.read(), { replyCode: 540 });
  const f = p.read();
  assert.equal(f?.type === 1 && f.payload.name, 'connection.close-ok');
  // After a fatal error everything else is ignored.
  const q = new FrameParser({ expectProtocolHeader: false });
  q.push(Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 0, 0, 0xce]), encodeHeartbeat()]));
  assert.throws(() => q.read(), { replyCode: 501, fatal: true });
  assert.equal(q.read(), undefined);
});

test('maxFrameSize is enforced and adjustable', () => {
  const big = encodeMessage(1, basicDeliver({ consumerTag: 't', deliveryTag: 1, exchange: '', routingKey: 'q' }), {}, Buffer.alloc(10000), 20000);
  assert.throws(() => drain(new FrameParser({ expectProtocolHeader: false, trackContent: false, maxFrameSize: 4096 }).push(big.subarray(0, 40)).push(big.subarray(40))), (e) => {
    return e instanceof AmqpError && e.replyCode === 501;
  });
  const p = new FrameParser({ expectProtocolHeader: false, maxFrameSize: 4096 });
  p.setMaxFrameSize(20000);
  assert.equal(drain(p.push(big)).length, 3);
  assert.throws(() => new FrameParser({ maxFrameSize: 100 }), { code: 'MQ_ERR_INVALID_ARGUMENT' });
});

const MAX = 4096;

function feedHostile(chunks: Uint8Array[], opts: { expectProtocolHeader: boolean; trackContent?: boolean }): void {
  const p = new FrameParser({ maxFrameSize: MAX, ...opts });
  for (const c of chunks) {
    p.push(Buffer.from(c));
    for (;;) {
      try {
        if (p.read() === undefined) break;
      } catch (e) {
        if (!(e instanceof AmqpError)) throw e;
        assert.ok([501, 502, 503, 505, 540].includes(e.replyCode), `reply code ${e.replyCode}`);
      }
    }
    assert.ok(p.bufferedBytes <= MAX + 8, `buffered ${p.bufferedBytes}`);
  }
}

test('random garbage never throws anything but AmqpError and never over-buffers', () => {
  const chunksArb = fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 });
  fc.assert(
    fc.property(chunksArb, fc.boolean(), (chunks, hdr) => {
      feedHostile(hdr ? [PROTOCOL_HEADER, ...chunks] : chunks, { expectProtocolHeader: hdr });
    }),
    { numRuns: 500 },
  );
});

test('well-framed frames with random payloads (hostile method/header args) only raise AmqpError', () => {
  const frameArb = fc
    .tuple(
      fc.constantFrom(1, 1, 1, 2, 3, 8),
      fc.integer({ min: 0, max: 3 }),
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        // plausible class/method ids followed by random bytes
        fc.tuple(fc.constantFrom(10, 20, 40, 50, 60, 85, 90), fc.integer({ min: 0, max: 130 }), fc.uint8Array({ maxLength: 80 })).map(
          ([c, m, rest]) => new Uint8Array(Buffer.concat([u16(c), u16(m), rest])),
        ),
      ),
    )
    .map(([type, channel, payload]) => encodeRawFrame(type, channel, payload));
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 20 }), fc.boolean(), (frames, track) => {
      feedHostile(frames, { expectProtocolHeader: false, trackContent: track });
    }),
    { numRuns: 1000 },
  );
});

test('mutations of a valid stream only raise AmqpError', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(stream.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(stream.length), (muts, cut) => {
      const b = Buffer.from(stream);
      for (const [i, v] of muts) b[i] = v;
      feedHostile([b.subarray(0, cut), b.subarray(cut)], { expectProtocolHeader: true });
    }),
    { numRuns: 1000 },
  );
});
