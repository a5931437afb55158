/**
 * Hot-path throughput: decoding basic.publish + header + small body, and encoding basic.deliver +
 * header + body. Target ≥ 1,000,000 frames/s each on a developer machine; the assertion floor is
 * 10x lower so a loaded CI box does not flake. Measured rates are printed as test diagnostics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameParser,
  basicPublish,
  encodeContent,
  encodeMessage,
  encodeMethodFrame,
} from '../../../src/protocols/amqp/index.js';
import type { AmqpMethod, BasicProperties } from '../../../src/protocols/amqp/index.js';

const FLOOR = 100_000;
const body = Buffer.from('{"task":"resize","id":12345,"size":[640,480]}'); // 45 bytes
const props: BasicProperties = { contentType: 'application/json', deliveryMode: 2 };
const propsWithHeaders: BasicProperties = { ...props, headers: { 'x-retry': 1, origin: 'web' } };

function bestOf(runs: number, fn: () => number): number {
  let best = 0;
  for (let i = 0; i < runs; i++) best = Math.max(best, fn());
  return best;
}

function decodeRate(p: BasicProperties): number {
  const one = Buffer.concat([
    encodeMethodFrame(1, basicPublish({ exchange: 'amq.direct', routingKey: 'tasks.resize' })),
    encodeContent(1, 60, p, body, 131072),
  ]);
  // 64 messages per chunk, as a socket read would deliver them.
  const chunk = Buffer.concat(Array.from({ length: 64 }, () => one));
  const parser = new FrameParser({ expectProtocolHeader: false });
  return bestOf(5, () => {
    let frames = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 3000; i++) {
      parser.push(chunk);
      while (parser.read() !== undefined) frames++;
    }
    return frames / (Number(process.hrtime.bigint() - t0) / 1e9);
  });
}

function encodeRate(p: BasicProperties | Buffer): number {
  return bestOf(5, () => {
    const n = 60_000;
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const m: AmqpMethod = {
        classId: 60,
        methodId: 60,
        name: 'basic.deliver',
        args: { consumerTag: 'amq.ctag-Xk2LrNz7P0aQ', deliveryTag: i + 1, redelivered: false, exchange: 'amq.direct', routingKey: 'tasks.resize' },
      };
      bytes += encodeMessage(1, m, p, body, 131072).length;
    }
    assert.ok(bytes > 0);
    return (3 * n) / (Number(process.hrtime.bigint() - t0) / 1e9);
  });
}

const fmt = (r: number): string => `${(r / 1e6).toFixed(2)}M frames/s`;

test('decode basic.publish + header + body', (t) => {
  const plain = decodeRate(props);
  const withHeaders = decodeRate(propsWithHeaders);
  t.diagnostic(`decode publish+header+body: ${fmt(plain)}; with a 2-entry headers table: ${fmt(withHeaders)}`);
  assert.ok(plain > FLOOR && withHeaders > FLOOR);
});

test('encode basic.deliver + header + body', (t) => {
  const plain = encodeRate(props);
  const withHeaders = encodeRate(propsWithHeaders);
  const raw = Buffer.from([0x90, 0x00, 16, ...Buffer.from('application/json'), 2]); // flags 0x9000: content-type, delivery-mode
  const forwarded = encodeRate(raw);
  t.diagnostic(`encode deliver+header+body: ${fmt(plain)}; with headers table: ${fmt(withHeaders)}; forwarding raw properties: ${fmt(forwarded)}`);
  assert.ok(plain > FLOOR && withHeaders > FLOOR && forwarded > FLOOR);
});
