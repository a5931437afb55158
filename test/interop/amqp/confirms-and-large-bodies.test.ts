/**
 * Publisher confirms are coalesced (a batch of publishes completed together is acknowledged
 * with one basic.ack multiple=true, not one frame per message), and large bodies, which are
 * written by reference around their stored bytes (encodeMessageParts), arrive byte-exact through
 * basic.deliver and basic.get, split over several body frames when frame_max is small.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import amqp from 'amqplib';
import {
  FrameParser,
  PROTOCOL_HEADER,
  basicPublish,
  channelOpen,
  confirmSelect,
  connectionOpen,
  connectionStartOk,
  connectionTuneOk,
  encodeMessage,
  encodeMethodFrame,
  queueDeclare,
} from '../../../src/protocols/amqp/index.js';
import type { Frame } from '../../../src/protocols/amqp/index.js';
import { startBroker } from './helpers.js';

test('200 confirmed publishes written at once are confirmed by far fewer basic.ack frames, ending at tag 200', async () => {
  const broker = await startBroker();
  const s = net.connect(broker.server.port, '127.0.0.1');
  try {
    const N = 200;
    const frames: Buffer[] = [
      PROTOCOL_HEADER,
      encodeMethodFrame(0, connectionStartOk({ clientProperties: {}, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' })),
      encodeMethodFrame(0, connectionTuneOk({ channelMax: 0, frameMax: 131072, heartbeat: 0 })),
      encodeMethodFrame(0, connectionOpen({ virtualHost: '/' })),
      encodeMethodFrame(1, channelOpen()),
      encodeMethodFrame(1, queueDeclare({ queue: 'confirm-coalescing' })),
      encodeMethodFrame(1, confirmSelect()),
    ];
    for (let i = 0; i < N; i++) frames.push(encodeMessage(1, basicPublish({ routingKey: 'confirm-coalescing' }), {}, Buffer.from(`m${i}`), 131072));
    const parser = new FrameParser({ expectProtocolHeader: false, trackContent: false });
    const acks: { tag: number; multiple: boolean }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      s.on('error', reject);
      s.on('data', (chunk: Buffer) => {
        parser.push(chunk);
        for (let f: Frame | undefined; (f = parser.read()) !== undefined; ) {
          if (f.type !== 1) continue;
          if (f.payload.name === 'connection.close' || f.payload.name === 'channel.close') reject(new Error(`server closed: ${JSON.stringify(f.payload.args)}`));
          if (f.payload.name === 'basic.nack') reject(new Error('unexpected basic.nack'));
          if (f.payload.name === 'basic.ack') {
            acks.push({ tag: Number(f.payload.args.deliveryTag), multiple: f.payload.args.multiple });
            if (Number(f.payload.args.deliveryTag) === N) resolve();
          }
        }
      });
    });
    s.write(Buffer.concat(frames));
    await done;
    // One socket read carries ~2 KB here; per-message acks would send 200 frames.
    assert.ok(acks.length <= 10, `${acks.length} basic.ack frames for ${N} publishes`);
    for (let i = 1; i < acks.length; i++) assert.ok(acks[i]!.tag > acks[i - 1]!.tag, 'confirm tags increase');
    assert.ok(acks.every((a) => a.multiple || a.tag === 1), 'acks covering several publishes set multiple');
  } finally {
    s.destroy();
    await broker.close();
  }
});

test('large bodies (4 KiB to 300 KB, mixed with small ones) arrive byte-exact by basic.deliver and basic.get, with frame_max 4096', async () => {
  const broker = await startBroker();
  const conn = await amqp.connect(`${broker.url}?frameMax=4096`);
  try {
    const ch = await conn.createConfirmChannel();
    const q = 'large-bodies';
    await ch.assertQueue(q, { durable: true });
    const sizes = [4096, 10240, 5, 300_000, 4095, 4097, 0, 131_072, 20_000];
    const bodies = sizes.map((n, i) => {
      const b = Buffer.allocUnsafe(n);
      for (let j = 0; j < n; j++) b[j] = (j * 31 + i * 7) & 0xff;
      return b;
    });
    for (const [i, b] of bodies.entries()) ch.sendToQueue(q, b, { persistent: true, messageId: `m${i}`, headers: { n: b.length } });
    await ch.waitForConfirms();
    // The first three by basic.get, the rest by basic.consume.
    for (let i = 0; i < 3; i++) {
      const m = await ch.get(q, { noAck: true });
      assert.ok(m !== false, `basic.get ${i} got a message`);
      assert.equal(m.properties.messageId, `m${i}`);
      assert.ok(m.content.equals(bodies[i]!), `body ${i} (${sizes[i]} B) is byte-exact`);
    }
    const got: amqp.ConsumeMessage[] = [];
    await new Promise<void>((resolve) => {
      void ch.consume(q, (m) => {
        if (m === null) return;
        got.push(m);
        ch.ack(m);
        if (got.length === bodies.length - 3) resolve();
      });
    });
    for (const [k, m] of got.entries()) {
      const i = k + 3;
      assert.equal(m.properties.messageId, `m${i}`);
      assert.equal(m.properties.headers?.['n'], sizes[i]);
      assert.ok(m.content.equals(bodies[i]!), `body ${i} (${sizes[i]} B) is byte-exact`);
    }
  } finally {
    await conn.close().catch(() => {});
    await broker.close();
  }
});
