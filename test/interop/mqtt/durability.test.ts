/**
 * file:// storage: a persistent session (subscriptions, QoS 1 messages queued while offline, an
 * inbound QoS 2 id awaiting PUBREL) and retained messages survive a broker restart; a clean
 * session's leftovers do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { MqttClient } from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { encodePacket } from '../../../src/protocols/mqtt/codec/index.js';
import { startBroker, connect, connectAck, waitFor, end, sleep, rawSubscriber, type Broker } from './helpers.js';

test('file://: persistent session, offline messages, QoS 2 state and retained messages survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-mqtt-'));
  const open = async () => startBroker({ engine: await Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' }) });
  try {
    let b = await open();
    const opts = { protocolVersion: 5 as const, clientId: 'durable-1', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const s1 = await connect(b, opts);
    await s1.subscribeAsync('dur/#', { qos: 1 });
    await end(s1);
    const v4 = await connect(b, { protocolVersion: 4, clientId: 'durable-4', clean: false });
    await v4.subscribeAsync('dur/+', { qos: 2 });
    await end(v4);
    const clean = await connect(b, { protocolVersion: 4, clientId: 'clean-1', clean: true });
    await clean.subscribeAsync('dur/#', { qos: 1 });
    const pub = await connect(b, { protocolVersion: 4 });
    for (let i = 0; i < 3; i++) await pub.publishAsync('dur/x', `offline ${i}`, { qos: 1 });
    await pub.publishAsync('dur/state', 'retained value', { qos: 1, retain: true });
    await pub.publishAsync('dur/gone', 'will be deleted', { qos: 1, retain: true });
    await pub.publishAsync('dur/gone', '', { qos: 1, retain: true });
    // Inbound QoS 2 half done: PUBLISH id 77 PUBRECed, PUBREL not sent before the restart.
    const raw = net.connect(b.port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    const rawData: Buffer[] = [];
    raw.on('data', (d) => rawData.push(d));
    raw.write(encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: false, keepalive: 60, clientId: 'q2-pub' }, 4));
    raw.write(encodePacket({ type: 'publish', qos: 2, dup: false, retain: false, topic: 'dur/q2', packetId: 77, payload: Buffer.from('exactly once') }, 4));
    await waitFor(() => Buffer.concat(rawData).length >= 8);
    assert.deepEqual([...Buffer.concat(rawData).subarray(4, 8)], [0x50, 2, 0, 77]);
    raw.destroy();
    await sleep(50);
    await end(pub);
    // The clean session is still connected at "crash" time: its queue is transient.
    clean.stream.destroy();
    await b.close();
    // The crashed client's own timers (keep-alive) would keep this process alive for ~90 s.
    clean.end(true);

    b = await open();
    assert.equal(b.engine.getTopic('mqtt-subscription-clean-1'), undefined);
    assert.deepEqual(b.engine.exchanges.route('amq.topic', 'dur.x').topics.sort(), ['mqtt-subscription-durable-1', 'mqtt-subscription-durable-4']);
    // The QoS 2 publisher resends with DUP after the restart: not routed again.
    const raw2 = net.connect(b.port, '127.0.0.1');
    await new Promise((r) => raw2.once('connect', r));
    const raw2Data: Buffer[] = [];
    raw2.on('data', (d) => raw2Data.push(d));
    raw2.write(encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: false, keepalive: 60, clientId: 'q2-pub' }, 4));
    raw2.write(encodePacket({ type: 'publish', qos: 2, dup: true, retain: false, topic: 'dur/q2', packetId: 77, payload: Buffer.from('exactly once') }, 4));
    raw2.write(encodePacket({ type: 'pubrel', packetId: 77 }, 4));
    await waitFor(() => Buffer.concat(raw2Data).length >= 12);
    assert.deepEqual([...Buffer.concat(raw2Data)], [0x20, 2, 1, 0, 0x50, 2, 0, 77, 0x70, 2, 0, 77]);
    raw2.destroy();

    const again = await connectAck(b, opts);
    assert.equal(again.connack.sessionPresent, true);
    await waitFor(() => again.got.length >= 5);
    await sleep(200);
    const payloads = again.got.map((m) => m.payload);
    assert.deepEqual(payloads.filter((p) => p.startsWith('offline')), ['offline 0', 'offline 1', 'offline 2']);
    assert.equal(payloads.filter((p) => p === 'exactly once').length, 1);
    assert.ok(payloads.includes('retained value'));
    const a4 = await connectAck(b, { protocolVersion: 4, clientId: 'durable-4', clean: false });
    assert.equal(a4.connack.sessionPresent, true);
    await waitFor(() => a4.got.filter((m) => m.payload.startsWith('offline')).length >= 3);
    const late = await connect(b, { protocolVersion: 4 });
    const lateGot: string[] = [];
    late.on('message', (t, p) => lateGot.push(`${t}=${p.toString()}`));
    await late.subscribeAsync('dur/#', { qos: 1 });
    await waitFor(() => lateGot.length >= 1);
    await sleep(100);
    assert.deepEqual(lateGot, ['dur/state=retained value']);
    await Promise.all([end(again.client), end(a4.client), end(late)]);
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file://: an outbound QoS 2 message sent and not PUBRECed goes out again after a restart under the same packet id, with DUP, and only once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-mqtt-'));
  let b: Broker | undefined;
  const sockets: net.Socket[] = [];
  let pub: MqttClient | undefined;
  const open = async () => startBroker({ engine: await Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' }) });
  try {
    b = await open();
    const first = await rawSubscriber(b.port, 4, { clientId: 'q2-out', clean: false, keepalive: 60 }, 'q2o/t', 2);
    sockets.push(first.s);
    pub = await connect(b, { protocolVersion: 4 });
    // Three completed flows first, so the id in flight is not the one a fresh session would pick.
    for (let i = 1; i <= 3; i++) {
      await pub.publishAsync('q2o/t', `done ${i}`, { qos: 2 });
      await waitFor(() => first.publishes().length === i);
      const id = first.publishes()[i - 1]!.packetId!;
      first.send({ type: 'pubrec', packetId: id });
      await waitFor(() => first.packets().some((p) => p.type === 'pubrel' && p.packetId === id));
      first.send({ type: 'pubcomp', packetId: id });
    }
    await first.roundTrip();
    await pub.publishAsync('q2o/t', 'once only', { qos: 2 });
    await end(pub);
    pub = undefined;
    await waitFor(() => first.publishes().length === 4);
    const sent = first.publishes()[3]!;
    assert.equal(sent.qos, 2);
    assert.notEqual(sent.packetId, first.publishes()[0]!.packetId);
    // No PUBREC: the broker stops with the delivery in flight.
    first.s.destroy();
    await b.close();
    b = undefined;

    b = await open();
    const again = await rawSubscriber(b.port, 4, { clientId: 'q2-out', clean: false, keepalive: 60 }, 'q2o/t', 2);
    sockets.push(again.s);
    await waitFor(() => again.publishes().length === 1);
    const resent = again.publishes()[0]!;
    assert.equal(resent.packetId, sent.packetId, 'the same packet id as before the restart');
    assert.equal(resent.dup, true);
    assert.equal(resent.payload.toString(), 'once only');
    again.send({ type: 'pubrec', packetId: resent.packetId! });
    await waitFor(() => again.packets().some((p) => p.type === 'pubrel' && p.packetId === resent.packetId));
    again.send({ type: 'pubcomp', packetId: resent.packetId! });
    await again.roundTrip();
    assert.equal(again.publishes().length, 1);
    again.s.destroy();
    await b.close();
    b = undefined;

    // Completed: after another restart nothing is resent.
    b = await open();
    const third = await rawSubscriber(b.port, 4, { clientId: 'q2-out', clean: false, keepalive: 60 }, 'q2o/t', 2);
    sockets.push(third.s);
    await third.roundTrip();
    await sleep(100);
    assert.equal(third.publishes().length, 0);
  } finally {
    pub?.end(true);
    for (const s of sockets) s.destroy();
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
