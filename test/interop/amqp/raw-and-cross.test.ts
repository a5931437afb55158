/**
 * Raw sockets (bad input must close only that connection, with the right answer), the
 * cross-protocol mapping (AMQP queue q = engine topic q, group 'default'), and durability over
 * file storage (confirmed messages survive a restart).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { FrameParser } from '../../../src/protocols/amqp/index.js';
import { startBroker } from './helpers.js';

/** Sends bytes on a raw socket and collects everything until the server closes it. */
function rawExchange(port: number, bytes: Buffer[], ms = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('server did not close the connection'));
    }, ms);
    s.on('connect', () => {
      for (const b of bytes) s.write(b);
    });
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks));
    });
  });
}

test('a wrong protocol header gets the AMQP 0-9-1 header back; garbage frames get connection.close 501', async () => {
  const b = await startBroker();
  try {
    const good = await amqp.connect(b.url);
    const ch = await good.createChannel();
    await ch.assertQueue('survivor');

    const http = await rawExchange(b.server.port, [Buffer.from('GET / HTTP/1.1\r\n\r\n')]);
    assert.deepEqual(http, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    const old = await rawExchange(b.server.port, [Buffer.from('AMQP\x01\x01\x00\x0a', 'latin1')]);
    assert.deepEqual(old, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));

    // Valid header, then a frame with a bad frame-end octet.
    const bad = Buffer.from([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 11, 0x00]);
    const reply = await rawExchange(b.server.port, [Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), bad]);
    const p = new FrameParser({ expectProtocolHeader: false });
    const frames = [...p.push(reply)];
    const names = frames.map((f) => (f.type === 1 ? f.payload.name : String(f.type)));
    assert.equal(names[0], 'connection.start');
    const close = frames.find((f) => f.type === 1 && f.payload.name === 'connection.close');
    assert.ok(close && close.type === 1 && close.payload.name === 'connection.close');
    assert.equal(close.payload.args.replyCode, 501);

    // Random garbage after the header.
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    await rawExchange(b.server.port, [Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), garbage]);

    // The good connection is unaffected.
    ch.sendToQueue('survivor', Buffer.from('ok'));
    const m = await new Promise<amqp.GetMessage | false>((res) => setTimeout(() => void ch.get('survivor').then(res), 50));
    assert.ok(m);
    assert.equal(m.content.toString(), 'ok');
    await good.close();
  } finally {
    await b.close();
  }
});

test('cross-protocol: AMQP publish → engine group get, engine publish → AMQP consume', async () => {
  const b = await startBroker();
  try {
    const conn = await amqp.connect(b.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('xq');
    ch.sendToQueue('xq', Buffer.from('from-amqp'), { headers: { color: 'red', n: 7 } });
    await ch.waitForConfirms();
    const g = await b.engine.group('xq', DEFAULT_GROUP);
    const d = await g.get();
    assert.ok(d);
    assert.equal(d.body.toString(), 'from-amqp');
    assert.equal(d.headers['color'], 'red');
    assert.equal(d.headers['n'], '7');
    assert.equal(d.key, 'xq');
    await d.ack();

    await b.engine.publish('xq', [{ body: Buffer.from('from-engine'), headers: { trace: 'abc' }, timestamp: Date.now(), priority: 0 }]);
    const m = await new Promise<amqp.ConsumeMessage>((res) => {
      void ch.consume('xq', (msg) => msg && (ch.ack(msg), res(msg)));
    });
    assert.equal(m.content.toString(), 'from-engine');
    assert.equal(m.properties.headers!['trace'], 'abc');
    await conn.close();
  } finally {
    await b.close();
  }
});

test('a queue deleted through the engine (another protocol) cancels its AMQP consumers', async () => {
  const b = await startBroker();
  try {
    const conn = await amqp.connect(b.url);
    const ch = await conn.createChannel();
    await ch.assertQueue('doomed');
    let cancelled = false;
    await ch.consume('doomed', (m) => {
      if (m === null) cancelled = true; // amqplib signals a server-sent basic.cancel with null
    });
    await b.engine.deleteTopic('doomed');
    for (let i = 0; i < 200 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cancelled, true);
    await conn.close();
  } finally {
    await b.close();
  }
});

test('durability: confirmed persistent messages to a durable queue survive a restart (file storage)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'omnibus-amqp-'));
  try {
    const open = async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' });
    let b = await startBroker({ engine: await open() });
    let conn = await amqp.connect(b.url);
    let ch = await conn.createConfirmChannel();
    await ch.assertQueue('durable-q', { durable: true, arguments: { 'x-max-priority': 5 } });
    for (let i = 0; i < 50; i++) ch.sendToQueue('durable-q', Buffer.from(`d${i}`), { persistent: true, headers: { i } });
    await ch.waitForConfirms();
    await ch.assertQueue('transient-q', { durable: false });
    await conn.close();
    await b.close();

    b = await startBroker({ engine: await open() });
    conn = await amqp.connect(b.url);
    ch = await conn.createConfirmChannel();
    const ok = await ch.checkQueue('durable-q');
    assert.equal(ok.messageCount, 50);
    // Same arguments as before: the redeclare is equivalent.
    await ch.assertQueue('durable-q', { durable: true, arguments: { 'x-max-priority': 5 } });
    const bodies: string[] = [];
    for (let m = await ch.get('durable-q', { noAck: true }); m; m = await ch.get('durable-q', { noAck: true })) {
      bodies.push(m.content.toString());
      assert.equal(m.properties.headers!['i'], bodies.length - 1);
    }
    assert.equal(bodies.length, 50);
    assert.equal(bodies[49], 'd49');
    // The declared argument types survive too: RabbitMQ's text names the type amqplib sent (byte).
    const ch2 = await conn.createChannel();
    ch2.on('error', () => {});
    await assert.rejects(ch2.assertQueue('durable-q', { durable: true }), /inequivalent arg 'x-max-priority' for queue 'durable-q' in vhost '\/': received none but current is the value '5' of type 'byte'/);
    ch.on('error', () => {});
    await assert.rejects(ch.checkQueue('transient-q'), /404/);
    await conn.close();
    await b.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
