/**
 * Raw-socket tests (bad input, refusals the npm client will not send), MQTT over WebSocket on the
 * same port, and cross-protocol routing through `amq.topic`: MQTT → engine/AMQP topic subscribers
 * and AMQP/engine → MQTT subscribers.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import amqplib from 'amqplib';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { startAmqpServer } from '../../../src/protocols/amqp/listener.js';
import { encodePacket, MqttDecoder, type Packet } from '../../../src/protocols/mqtt/codec/index.js';
import { startBroker, connect, collect, waitFor, end, sleep, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker({ maxPacketSize: 64 * 1024 });
});
after(async () => {
  await b.close();
});

interface Raw {
  s: net.Socket;
  data(): Buffer;
  closed: Promise<void>;
}

async function raw(): Promise<Raw> {
  const s = net.connect(b.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  s.on('error', () => {});
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  return { s, data: () => Buffer.concat(chunks), closed };
}

const connect4 = (clientId: string, clean = true) => encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean, keepalive: 30, clientId }, 4);
const connect5 = (clientId: string) => encodePacket({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId }, 5);

test('bad input: garbage closes only that connection; v5 gets DISCONNECT 0x81 / 0x95 first', async () => {
  const healthy = await connect(b, { protocolVersion: 4 });
  const got = collect(healthy);
  await healthy.subscribeAsync('alive/#', { qos: 1 });

  const g = await raw();
  g.s.write(Buffer.from('this is not mqtt at all\r\n'));
  await g.closed;

  const notConnect = await raw();
  notConnect.s.write(Buffer.from([0xc0, 0])); // PINGREQ first
  await notConnect.closed;

  const v5 = await raw();
  v5.s.write(connect5('garbage-v5'));
  await waitFor(() => v5.data().length >= 3);
  v5.s.write(Buffer.from([0x00, 0x03, 1, 2, 3])); // packet type 0 is reserved
  await v5.closed;
  const out = v5.data();
  const disc = out.indexOf(0xe0, 1);
  assert.ok(disc > 0, 'a DISCONNECT was sent');
  assert.equal(out[disc + 2], 0x81);

  const big = await raw();
  big.s.write(connect5('too-big'));
  await waitFor(() => big.data().length >= 3);
  big.s.write(Buffer.from([0x30, 0xff, 0xff, 0x7f])); // announces ~2 MiB, limit is 64 KiB
  await big.closed;
  const bo = big.data();
  assert.equal(bo[bo.indexOf(0xe0, 1) + 2], 0x95);

  const bad31 = await raw();
  bad31.s.write(connect4('bad-flags'));
  // SUBSCRIBE with reserved flags 0 (they must be 0b0010): a malformed packet closes the connection.
  bad31.s.write(Buffer.from([0x80, 0x06, 0, 1, 0, 1, 0x61, 0]));
  await bad31.closed;

  const pub = await connect(b, { protocolVersion: 4 });
  await pub.publishAsync('alive/x', 'still here', { qos: 1 });
  await waitFor(() => got.length >= 1);
  await Promise.all([end(healthy), end(pub)]);
});

test('refusals: empty client id without clean session (0x02), unsupported level (0x01)', async () => {
  const e = await raw();
  e.s.write(connect4('', false));
  await e.closed;
  assert.deepEqual([...e.data()], [0x20, 2, 0, 2]);
  const lvl = await raw();
  const c = connect4('level-6');
  c[8] = 6; // protocol level byte
  lvl.s.write(c);
  await lvl.closed;
  assert.deepEqual([...lvl.data()], [0x20, 2, 0, 1]);
});

test('3.1.1: a filter Omnibus cannot bind (literal * level) gets SUBACK 0x80, the valid ones their QoS', async () => {
  const r = await raw();
  r.s.write(connect4('unbindable-filter'));
  r.s.write(encodePacket({ type: 'subscribe', packetId: 7, subscriptions: [{ topic: 'a/*', qos: 1 }, { topic: 'a/+', qos: 2 }, { topic: '$share/g/x', qos: 1 }] }, 4));
  await waitFor(() => r.data().length >= 4 + 6);
  assert.deepEqual([...r.data().subarray(4)], [0x90, 5, 0, 7, 0x80, 2, 1]);
  r.s.end();
});

test('a malformed filter closes the connection before any filter of its SUBSCRIBE takes effect (3.1.1: closed; 5: DISCONNECT 0x81)', async () => {
  for (const bad of ['a/#/b', 'a/b#', 'a+/c', '', '$share/g', '$share//x', '$share/g+/x']) {
    const r4 = await raw();
    r4.s.write(connect4('malformed-filter-4', false));
    r4.s.write(encodePacket({ type: 'subscribe', packetId: 7, subscriptions: [{ topic: 'fine/+', qos: 1 }, { topic: bad, qos: 1 }] }, 4));
    await r4.closed;
    const got4 = [...r4.data()];
    assert.deepEqual([got4.length, got4[0], got4[3]], [4, 0x20, 0], `3.1.1 ${JSON.stringify(bad)}: an accepting CONNACK, then nothing`);
    const r5 = await raw();
    r5.s.write(connect5('malformed-filter-5'));
    r5.s.write(encodePacket({ type: 'subscribe', packetId: 7, subscriptions: [{ topic: bad, qos: 1 }] }, 5));
    await r5.closed;
    const packets = new MqttDecoder({ version: 5 }).push(r5.data());
    assert.deepEqual(packets.map((p) => p.type), ['connack', 'disconnect'], `5 ${JSON.stringify(bad)}`);
    assert.equal((packets[1] as { reasonCode?: number }).reasonCode, 0x81);
  }
  // Nothing of the refused SUBSCRIBE was kept: the persistent session has no subscription.
  const kept = b.server.broker.sessions.get('malformed-filter-4');
  assert.ok(kept);
  assert.deepEqual([...kept.subs.keys()], []);
});

test('publishes batched from one read keep their order around a SUBSCRIBE, and PUBACKs keep theirs', async () => {
  // One TCP write: 3 QoS 1 publishes to own/t, a SUBSCRIBE own/t, 2 more publishes. Only the two
  // after the SUBSCRIBE reach this client; every PUBACK comes, in packet-id order, before them or
  // interleaved, and the v5 reason says whether a subscriber matched at the time of routing.
  const r = await raw();
  const pub = (id: number) => encodePacket({ type: 'publish', qos: 1, dup: false, retain: false, topic: 'own/t', packetId: id, payload: Buffer.from(`m${id}`) }, 5);
  r.s.write(Buffer.concat([connect5('batch-order'), pub(1), pub(2), pub(3), encodePacket({ type: 'subscribe', packetId: 50, subscriptions: [{ topic: 'own/t', qos: 1 }] }, 5), pub(4), pub(5)]));
  const packets = (): Packet[] => new MqttDecoder({ version: 5 }).push(r.data());
  await waitFor(() => packets().filter((p) => p.type === 'publish').length >= 2 && packets().filter((p) => p.type === 'puback').length >= 5);
  await sleep(100);
  const got = packets();
  const acks = got.filter((p) => p.type === 'puback') as { packetId: number; reasonCode?: number }[];
  assert.deepEqual(acks.map((a) => a.packetId), [1, 2, 3, 4, 5]);
  assert.deepEqual(acks.map((a) => a.reasonCode ?? 0), [0x10, 0x10, 0x10, 0, 0]);
  const delivered = got.filter((p) => p.type === 'publish') as { payload: Buffer }[];
  assert.deepEqual(delivered.map((p) => p.payload.toString()), ['m4', 'm5']);
  r.s.end();
});

test('MQTT over WebSocket at /mqtt on the same port', async () => {
  const url = `ws://127.0.0.1:${b.port}/mqtt`;
  for (const v of [4, 5] as const) {
    const c = await connect(url, { protocolVersion: v });
    const got = collect(c);
    await c.subscribeAsync('ws/+', { qos: 1 });
    const tcp = await connect(b, { protocolVersion: v });
    await tcp.publishAsync('ws/x', `over ws ${v}`, { qos: 1 });
    await c.publishAsync('ws/y', 'from ws', { qos: 2 });
    await waitFor(() => got.length >= 2);
    assert.deepEqual(got.map((m) => m.payload).sort(), [`over ws ${v}`, 'from ws'].sort());
    await Promise.all([end(c), end(tcp)]);
  }
});

test('cross-protocol: an MQTT publish to a/b/c reaches an engine topic bound to amq.topic with a.*.c', async () => {
  const q = 'amqp-style-queue';
  await b.engine.topic(q, { partitions: 1, durable: false });
  await b.engine.exchanges.bind('amq.topic', { kind: 'topic', name: q }, 'a.*.c');
  const pub = await connect(b, { protocolVersion: 5 });
  await pub.publishAsync('a/b/c', 'to amqp', { qos: 1, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } });
  await pub.publishAsync('a/b/d', 'not matched', { qos: 1 });
  const group = await b.engine.group(q, DEFAULT_GROUP);
  const d = await group.get();
  assert.ok(d);
  assert.equal(d.body.toString(), 'to amqp');
  assert.equal(d.key, 'a.b.c');
  assert.equal(d.headers['content-type'], 'text/plain');
  assert.equal(d.headers['k'], 'v');
  assert.equal(d.headers['x-amqp-exchange'], 'amq.topic');
  await d.ack();
  assert.equal(await group.get(), undefined);
  await end(pub);
});

test('cross-protocol: engine.exchanges.publish to amq.topic x.y reaches an MQTT subscriber of x/+', async () => {
  const c = await connect(b, { protocolVersion: 5 });
  const got = collect(c);
  await c.subscribeAsync('x/+', { qos: 1 });
  await b.engine.exchanges.publish('amq.topic', 'x.y', [{ body: Buffer.from('from engine'), key: 'x.y', headers: { 'content-type': 'text/plain', h: '1' }, timestamp: Date.now(), priority: 0 }]);
  await waitFor(() => got.length >= 1);
  assert.equal(got[0]!.topic, 'x/y');
  assert.equal(got[0]!.payload, 'from engine');
  assert.equal(got[0]!.packet.qos, 1);
  assert.equal(got[0]!.packet.properties?.contentType, 'text/plain');
  assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { h: '1' });
  await end(c);
});

test('cross-protocol with amqplib: MQTT → AMQP topic subscriber and AMQP → MQTT subscriber', async () => {
  const amqp = await startAmqpServer(b.engine, { port: 0 });
  const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${amqp.port}`);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', 'sensors.*.temp');
    const fromMqtt: { key: string; body: string; type: string | undefined }[] = [];
    await ch.consume(queue, (m) => {
      if (m) fromMqtt.push({ key: m.fields.routingKey, body: m.content.toString(), type: m.properties.contentType as string | undefined });
    }, { noAck: true });
    const mc = await connect(b, { protocolVersion: 5 });
    const got = collect(mc);
    await mc.subscribeAsync('cmd/#', { qos: 1 });
    await mc.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1, properties: { contentType: 'text/plain' } });
    await waitFor(() => fromMqtt.length >= 1);
    assert.deepEqual(fromMqtt[0], { key: 'sensors.kitchen.temp', body: '21.5', type: 'text/plain' });
    ch.publish('amq.topic', 'cmd.kitchen.light', Buffer.from('on'), { contentType: 'text/plain' });
    await waitFor(() => got.length >= 1);
    assert.equal(got[0]!.topic, 'cmd/kitchen/light');
    assert.equal(got[0]!.payload, 'on');
    await end(mc);
    await sleep(10);
  } finally {
    await conn.close();
    await amqp.close();
  }
});

test('a PUBACK that arrives after its lease was lost (left the shared subscription) is ignored: the server keeps serving and another member gets the message', async () => {
  // Unsubscribing stops the member's consumer, which hands its unacknowledged delivery back to the
  // group; the client's PUBACK for it then finds a lost lease. That must not reject unhandled (it
  // took the whole server down) nor close the connection.
  const r = await raw();
  const packets = (): Packet[] => new MqttDecoder({ version: 5 }).push(r.data());
  r.s.write(Buffer.concat([connect5('late-puback'), encodePacket({ type: 'subscribe', packetId: 1, subscriptions: [{ topic: '$share/late/late/t', qos: 1 }] }, 5)]));
  await waitFor(() => packets().some((p) => p.type === 'suback'));
  const pub = await connect(b, { protocolVersion: 5 });
  await pub.publishAsync('late/t', 'only', { qos: 1 });
  const first = (await waitFor(() => packets().find((p) => p.type === 'publish'))) as { packetId: number };
  const other = await connect(b, { protocolVersion: 5, clientId: 'late-puback-2' });
  const got = collect(other);
  await other.subscribeAsync('$share/late/late/t', { qos: 1 });
  r.s.write(encodePacket({ type: 'unsubscribe', packetId: 2, topics: ['$share/late/late/t'] }, 5));
  await waitFor(() => packets().some((p) => p.type === 'unsuback'));
  r.s.write(Buffer.concat([encodePacket({ type: 'puback', packetId: first.packetId }, 5), encodePacket({ type: 'pingreq' }, 5)]));
  await waitFor(() => packets().some((p) => p.type === 'pingresp'));
  await waitFor(() => got.length === 1);
  assert.equal(got[0]!.payload, 'only', 'the message whose lease was lost goes to the remaining member');
  await end(pub);
  await end(other);
  r.s.end();
});
