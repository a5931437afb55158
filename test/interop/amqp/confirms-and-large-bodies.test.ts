/**
 * Publisher confirms are coalesced (a batch of publishes completed together is acknowledged
 * with one basic.ack multiple=true, not one frame per message), and large bodies, which are
 * written by reference around their stored bytes (encodeMessageParts), arrive byte-exact through
 * basic.deliver and basic.get, split over several body frames when frame_max is small. A body
 * written by reference from a recycled file-read slab stays intact until the socket wrote it,
 * even when its delivery is settled before that (no-ack).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import {
  FrameParser,
  PROTOCOL_HEADER,
  basicConsume,
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
import { startBroker, waitFor } from './helpers.js';

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

test('a no-ack consumer on file storage that reads slowly receives every 10 KiB body intact, although each delivery is settled before the socket sent it', async () => {
  const N = 1500;
  const body = (i: number): Buffer => {
    const b = Buffer.alloc(10 * 1024, 0x21 + (i % 90));
    b.writeUInt32BE(i, 0);
    return b;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-amqp-pinned-'));
  // A small write cache: the queue's backlog is read back from the segment files.
  const engine = await Engine.open({ storage: new FileStorage(dir, { cacheBytes: 256 * 1024 }), fsync: 'never' });
  const broker = await startBroker({ engine });
  // A raw consumer, so that not reading really leaves the broker's writes queued in its socket.
  const s = net.connect(broker.server.port, '127.0.0.1');
  const pub = await amqp.connect(broker.url);
  try {
    const parser = new FrameParser({ expectProtocolHeader: false, trackContent: false });
    const got: Buffer[] = [];
    let consuming = false;
    s.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      for (let f: Frame | undefined; (f = parser.read()) !== undefined; ) {
        if (f.type === 3) got.push(Buffer.from(f.payload));
        else if (f.type === 1 && f.payload.name === 'basic.consume-ok') consuming = true;
      }
    });
    s.write(
      Buffer.concat([
        PROTOCOL_HEADER,
        encodeMethodFrame(0, connectionStartOk({ clientProperties: {}, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' })),
        encodeMethodFrame(0, connectionTuneOk({ channelMax: 0, frameMax: 131072, heartbeat: 0 })),
        encodeMethodFrame(0, connectionOpen({ virtualHost: '/' })),
        encodeMethodFrame(1, channelOpen()),
        encodeMethodFrame(1, queueDeclare({ queue: 'pinned', durable: true })),
        encodeMethodFrame(1, basicConsume({ queue: 'pinned', noAck: true })),
      ]),
    );
    await waitFor(() => consuming);
    // Not reading: the broker's writes queue in its socket while their deliveries are settled.
    s.pause();
    const pc = await pub.createConfirmChannel();
    for (let i = 0; i < N; i++) pc.sendToQueue('pinned', body(i), { persistent: true });
    await pc.waitForConfirms();
    s.resume();
    await waitFor(() => got.length >= N, 30_000);
    assert.equal(got.length, N);
    let wrong = 0;
    for (let i = 0; i < N; i++) if (!got[i]!.equals(body(i))) wrong++;
    assert.equal(wrong, 0, `${wrong} of ${N} bodies arrived with other bytes`);
  } finally {
    await pub.close();
    s.destroy();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
