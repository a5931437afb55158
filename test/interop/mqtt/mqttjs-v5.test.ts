/**
 * MQTT 5 features with mqtt.js: properties carried end to end, message expiry, topic aliases,
 * subscription identifiers, shared subscriptions, No Local, Retain As Published, Retain
 * Handling, will delay, session expiry and server-sent DISCONNECT reasons.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, connect, connectAck, collect, waitFor, end, sleep, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

const V5 = { protocolVersion: 5 as const };

test('v5: content type, response topic, correlation data, user properties and payload format arrive unchanged', async () => {
  const sub = await connect(b, V5);
  const got = collect(sub);
  await sub.subscribeAsync('props/#', { qos: 1 });
  const pub = await connect(b, V5);
  await pub.publishAsync('props/x', '{"a":1}', {
    qos: 1,
    properties: {
      contentType: 'application/json',
      responseTopic: 'reply/here',
      correlationData: Buffer.from([1, 2, 3, 250]),
      userProperties: { tenant: 'acme', trace: ['a', 'b'] },
      payloadFormatIndicator: true,
    },
  });
  await waitFor(() => got.length >= 1);
  const p = got[0]!.packet.properties!;
  assert.equal(p.contentType, 'application/json');
  assert.equal(p.responseTopic, 'reply/here');
  assert.deepEqual([...(p.correlationData as Buffer)], [1, 2, 3, 250]);
  assert.deepEqual({ ...p.userProperties }, { tenant: 'acme', trace: ['a', 'b'] });
  assert.equal(p.payloadFormatIndicator, true);
  await Promise.all([end(sub), end(pub)]);
});

test('v5: message expiry — the interval counts down, expired messages are not delivered', async () => {
  const id = 'expiry-sub';
  const first = await connect(b, { ...V5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
  await first.subscribeAsync('exp/#', { qos: 1 });
  await end(first);
  const pub = await connect(b, V5);
  await pub.publishAsync('exp/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('exp/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
  await sleep(1300);
  const again = await connectAck(b, { ...V5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
  await waitFor(() => again.got.length >= 1);
  await sleep(100);
  assert.deepEqual(again.got.map((m) => m.payload), ['long']);
  const left = again.got[0]!.packet.properties?.messageExpiryInterval;
  assert.ok(left !== undefined && left <= 99 && left >= 97, `remaining expiry ${left}`);
  await Promise.all([end(again.client), end(pub)]);
});

test('v5: inbound topic aliases', async () => {
  const sub = await connect(b, V5);
  const got = collect(sub);
  await sub.subscribeAsync('alias/#', { qos: 1 });
  const pub = await connect(b, V5);
  await pub.publishAsync('alias/long/topic/name', 'one', { qos: 1, properties: { topicAlias: 3 } });
  await pub.publishAsync('', 'two', { qos: 1, properties: { topicAlias: 3 } });
  await waitFor(() => got.length >= 2);
  assert.deepEqual(got.map((m) => [m.topic, m.payload]), [
    ['alias/long/topic/name', 'one'],
    ['alias/long/topic/name', 'two'],
  ]);
  // An alias never set is a protocol error: DISCONNECT 0x82.
  const bad = await connect(b, V5);
  const reason = new Promise<number>((r) => bad.once('disconnect', (p) => r(p.reasonCode ?? -1)));
  bad.publish('', 'x', { qos: 0, properties: { topicAlias: 9 } });
  assert.equal(await reason, 0x82);
  await Promise.all([end(sub), end(pub), end(bad)]);
});

test('v5: subscription identifiers name every matching subscription', async () => {
  const sub = await connect(b, V5);
  const got = collect(sub);
  await sub.subscribeAsync('sid/+', { qos: 1, properties: { subscriptionIdentifier: 7 } });
  await sub.subscribeAsync('sid/#', { qos: 1, properties: { subscriptionIdentifier: 42 } });
  const pub = await connect(b, V5);
  await pub.publishAsync('sid/a', 'x', { qos: 1 });
  await waitFor(() => got.length >= 1);
  await sleep(100);
  assert.equal(got.length, 1);
  const ids = got[0]!.packet.properties?.subscriptionIdentifier;
  assert.deepEqual([ids].flat().sort((x, y) => Number(x) - Number(y)), [7, 42]);
  await Promise.all([end(sub), end(pub)]);
});

test('v5: shared subscriptions split the messages between members', async () => {
  const a = await connect(b, V5);
  const c = await connect(b, V5);
  const gotA = collect(a);
  const gotC = collect(c);
  await a.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
  await c.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
  const plain = await connect(b, V5);
  const gotPlain = collect(plain);
  await plain.subscribeAsync('jobs/+', { qos: 1 });
  const pub = await connect(b, V5);
  for (let i = 0; i < 20; i++) await pub.publishAsync('jobs/x', String(i), { qos: 1 });
  await waitFor(() => gotA.length + gotC.length >= 20 && gotPlain.length >= 20);
  await sleep(100);
  assert.equal(gotA.length + gotC.length, 20);
  assert.ok(gotA.length > 0 && gotC.length > 0, `split ${gotA.length}/${gotC.length}`);
  assert.deepEqual([...gotA, ...gotC].map((m) => Number(m.payload)).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  // A member leaving hands its share to the others.
  await end(a);
  gotC.length = 0;
  for (let i = 0; i < 5; i++) await pub.publishAsync('jobs/y', String(i), { qos: 1 });
  await waitFor(() => gotC.length >= 5);
  await Promise.all([end(c), end(plain), end(pub)]);
  await waitFor(() => !b.engine.getTopic('mqtt-share/workers/jobs/+'));
});

test('v5: No Local, Retain As Published and Retain Handling', async () => {
  const c = await connect(b, V5);
  const got = collect(c);
  await c.subscribeAsync('nl/x', { qos: 1, nl: true });
  await c.subscribeAsync('rap/x', { qos: 1, rap: true });
  await c.publishAsync('nl/x', 'mine', { qos: 1 });
  await c.publishAsync('rap/x', 'kept', { qos: 1, retain: true });
  await waitFor(() => got.length >= 1);
  await sleep(150);
  assert.deepEqual(got.map((m) => [m.topic, m.packet.retain]), [['rap/x', true]]);
  // Retain Handling 2: no retained messages at subscribe; 1: only for a new subscription.
  const d = await connect(b, V5);
  const dGot = collect(d);
  await d.subscribeAsync('rap/x', { qos: 1, rh: 2 });
  await sleep(150);
  assert.equal(dGot.length, 0);
  await d.subscribeAsync('rap/#', { qos: 1, rh: 1 });
  await waitFor(() => dGot.length >= 1);
  await d.subscribeAsync('rap/#', { qos: 1, rh: 1 });
  await sleep(150);
  assert.equal(dGot.length, 1);
  await c.publishAsync('rap/x', '', { qos: 1, retain: true });
  await Promise.all([end(c), end(d)]);
});

test('v5: will delay — a reconnect within the delay cancels the will; otherwise it is sent late', async () => {
  const w = await connect(b, V5);
  const got = collect(w);
  await w.subscribeAsync('wd/#', { qos: 1 });
  const will = { topic: 'wd/gone', payload: Buffer.from('late'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } };
  const opts = { ...V5, clientId: 'will-delay', clean: false, properties: { sessionExpiryInterval: 30 }, will };
  const a = await connect(b, opts);
  a.stream.destroy();
  await sleep(300);
  const a2 = await connect(b, { ...opts, will: undefined });
  await sleep(1200);
  assert.equal(got.length, 0, 'reconnect cancelled the will');
  const a3 = await connect(b, { ...opts, clientId: 'will-delay-2' });
  a3.stream.destroy();
  const t0 = Date.now();
  await waitFor(() => got.length >= 1, 4000);
  assert.ok(Date.now() - t0 >= 800, 'the will waited for its delay');
  a.end(true); // the dropped clients' own timers would hold the process ~90 s
  a3.end(true);
  await Promise.all([end(w), end(a2)]);
});

test('v5: session expiry — an expired session is gone, a live one is resumed', async () => {
  const short = await connect(b, { ...V5, clientId: 'sx-short', clean: false, properties: { sessionExpiryInterval: 1 } });
  await short.subscribeAsync('sx/#', { qos: 1 });
  await end(short);
  await sleep(1300);
  const again = await connectAck(b, { ...V5, clientId: 'sx-short', clean: false, properties: { sessionExpiryInterval: 1 } });
  assert.equal(again.connack.sessionPresent, false);
  await end(again.client);
  // DISCONNECT may shorten the expiry to 0: the session ends at once.
  const z = await connect(b, { ...V5, clientId: 'sx-zero', clean: false, properties: { sessionExpiryInterval: 100 } });
  await z.subscribeAsync('sx/z', { qos: 1 });
  await new Promise<void>((r) => z.end(false, { properties: { sessionExpiryInterval: 0 } }, () => r()));
  await waitFor(() => !b.engine.getTopic('mqtt-subscription-sx-zero'));
});

test('v5: server DISCONNECT 0x90 for a PUBLISH to a wildcard topic', async () => {
  const c = await connect(b, V5);
  const reason = new Promise<number>((r) => c.once('disconnect', (p) => r(p.reasonCode ?? -1)));
  // mqtt.js validates topics client-side; write the packet ourselves.
  const topic = Buffer.from('bad/+');
  c.stream.write(Buffer.concat([Buffer.from([0x30, 2 + topic.length + 1, 0, topic.length]), topic, Buffer.from([0])]));
  assert.equal(await reason, 0x90);
  await end(c);
});
