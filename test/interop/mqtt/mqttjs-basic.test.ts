/**
 * mqtt.js (npm `mqtt` 5.x) against the in-process listener, in MQTT 3.1.1 and 5: QoS 0/1/2 in
 * both directions, wildcards, the `$` rule, retained messages, wills, sessions, takeover,
 * keep-alive and authentication.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBroker, connect, connectAck, connectRefused, collect, waitFor, end, sleep, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

for (const v of [4, 5] as const) {
  const V = v === 5 ? 'v5' : 'v3.1.1';

  test(`${V}: QoS 0, 1 and 2 in both directions, exactly once for QoS 2`, async () => {
    const sub = await connect(b, { protocolVersion: v, clientId: `qos-sub-${v}` });
    const got = collect(sub);
    const granted = await sub.subscribeAsync(`qos${v}/#`, { qos: 2 });
    assert.equal(granted[0]!.qos, 2);
    const pub = await connect(b, { protocolVersion: v });
    await pub.publishAsync(`qos${v}/0`, 'zero', { qos: 0 });
    await pub.publishAsync(`qos${v}/1`, 'one', { qos: 1 });
    await pub.publishAsync(`qos${v}/2`, 'two', { qos: 2 });
    await waitFor(() => got.length >= 3);
    await sleep(100);
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload, m.packet.qos]),
      [
        [`qos${v}/0`, 'zero', 0],
        [`qos${v}/1`, 'one', 1],
        [`qos${v}/2`, 'two', 2],
      ],
    );
    // Many QoS 2 messages: each exactly once, in order.
    got.length = 0;
    for (let i = 0; i < 50; i++) pub.publish(`qos${v}/many`, String(i), { qos: 2 });
    await waitFor(() => got.length >= 50);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.payload), Array.from({ length: 50 }, (_, i) => String(i)));
    // A subscription at QoS 1 downgrades a QoS 2 publish.
    const low = await connect(b, { protocolVersion: v });
    const lowGot = collect(low);
    await low.subscribeAsync(`qos${v}/2`, { qos: 1 });
    await pub.publishAsync(`qos${v}/2`, 'down', { qos: 2 });
    await waitFor(() => lowGot.length >= 1);
    assert.equal(lowGot[0]!.packet.qos, 1);
    await Promise.all([end(sub), end(pub), end(low)]);
  });

  test(`${V}: wildcards + and #, and the $ rule`, async () => {
    const c = await connect(b, { protocolVersion: v });
    const got = collect(c);
    await c.subscribeAsync([`w${v}/+/c`, `w${v}/x/#`], { qos: 1 });
    const all = await connect(b, { protocolVersion: v });
    const allGot = collect(all);
    await all.subscribeAsync('#', { qos: 0 });
    const sys = await connect(b, { protocolVersion: v });
    const sysGot = collect(sys);
    await sys.subscribeAsync('$SYS/#', { qos: 0 });
    const pub = await connect(b, { protocolVersion: v });
    for (const t of [`w${v}/b/c`, `w${v}/b/d`, `w${v}/x`, `w${v}/x/y/z`, `w${v}/b/c/d`, '$SYS/uptime']) await pub.publishAsync(t, t, { qos: 1 });
    await waitFor(() => got.length >= 3 && sysGot.length >= 1);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.topic).sort(), [`w${v}/b/c`, `w${v}/x`, `w${v}/x/y/z`].sort());
    assert.deepEqual(sysGot.map((m) => m.topic), ['$SYS/uptime']);
    assert.ok(!allGot.some((m) => m.topic.startsWith('$')), '# must not match $SYS topics');
    assert.ok(allGot.length >= 5);
    // Overlapping subscriptions deliver one copy.
    const overlap = await connect(b, { protocolVersion: v });
    const ovGot = collect(overlap);
    await overlap.subscribeAsync([`ov${v}/#`, `ov${v}/a`], { qos: 1 });
    await pub.publishAsync(`ov${v}/a`, 'once', { qos: 1 });
    await waitFor(() => ovGot.length >= 1);
    await sleep(100);
    assert.equal(ovGot.length, 1);
    await Promise.all([end(c), end(all), end(sys), end(pub), end(overlap)]);
  });

  test(`${V}: retained messages, replaced and deleted`, async () => {
    const pub = await connect(b, { protocolVersion: v });
    await pub.publishAsync(`ret${v}/a`, 'first', { qos: 1, retain: true });
    await pub.publishAsync(`ret${v}/a`, 'second', { qos: 1, retain: true });
    await pub.publishAsync(`ret${v}/b`, 'bee', { qos: 0, retain: true });
    const sub = await connect(b, { protocolVersion: v });
    const got = collect(sub);
    await sub.subscribeAsync(`ret${v}/+`, { qos: 1 });
    await waitFor(() => got.length >= 2);
    assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.retain]).sort(), [
      [`ret${v}/a`, 'second', true],
      [`ret${v}/b`, 'bee', true],
    ]);
    // A live message to a subscriber is not flagged retained (3.1.1 §3.3.1.3; v5 without RAP).
    got.length = 0;
    await pub.publishAsync(`ret${v}/a`, 'live', { qos: 1, retain: true });
    await waitFor(() => got.length >= 1);
    assert.equal(got[0]!.packet.retain, false);
    // An empty retained payload deletes.
    await pub.publishAsync(`ret${v}/a`, '', { qos: 1, retain: true });
    const late = await connect(b, { protocolVersion: v });
    const lateGot = collect(late);
    await late.subscribeAsync(`ret${v}/+`, { qos: 1 });
    await waitFor(() => lateGot.length >= 1);
    await sleep(150);
    assert.deepEqual(lateGot.map((m) => m.topic), [`ret${v}/b`]);
    await Promise.all([end(pub), end(sub), end(late)]);
  });

  test(`${V}: last will on abnormal disconnect only`, async () => {
    const watcher = await connect(b, { protocolVersion: v });
    const got = collect(watcher);
    await watcher.subscribeAsync(`will${v}/#`, { qos: 1 });
    const dying = await connect(b, { protocolVersion: v, will: { topic: `will${v}/gone`, payload: Buffer.from('bye'), qos: 1, retain: false } });
    dying.stream.destroy();
    await waitFor(() => got.length >= 1);
    dying.end(true); // stops the dropped client's own timers (they would hold the process ~90 s)
    assert.equal(got[0]!.topic, `will${v}/gone`);
    assert.equal(got[0]!.payload, 'bye');
    const polite = await connect(b, { protocolVersion: v, will: { topic: `will${v}/polite`, payload: Buffer.from('no'), qos: 1, retain: false } });
    await end(polite);
    await sleep(200);
    assert.equal(got.length, 1);
    await end(watcher);
  });

  test(`${V}: persistent session receives QoS 1 messages published while offline`, async () => {
    const id = `offline-${v}`;
    const opts = v === 5 ? { protocolVersion: v, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } } : { protocolVersion: v, clientId: id, clean: false };
    const first = await connectAck(b, opts);
    assert.equal(first.connack.sessionPresent, false);
    await first.client.subscribeAsync(`off${v}/#`, { qos: 1 });
    await end(first.client);
    const pub = await connect(b, { protocolVersion: v });
    for (let i = 0; i < 5; i++) await pub.publishAsync(`off${v}/m`, `m${i}`, { qos: 1 });
    await pub.publishAsync(`off${v}/m`, 'qos0-dropped-or-kept', { qos: 0 });
    const second = await connectAck(b, { ...opts });
    const got = second.got;
    assert.equal(second.connack.sessionPresent, true);
    await waitFor(() => got.length >= 5);
    assert.deepEqual(got.slice(0, 5).map((m) => m.payload), ['m0', 'm1', 'm2', 'm3', 'm4']);
    await end(second.client);
    // Clean session: the old session is discarded.
    const clean = await connectAck(b, { protocolVersion: v, clientId: id, clean: true });
    assert.equal(clean.connack.sessionPresent, false);
    await end(clean.client);
    await end(pub);
  });

  test(`${V}: client-id takeover closes the older connection`, async () => {
    const id = `dup-${v}`;
    const a = await connect(b, { protocolVersion: v, clientId: id });
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    const disconnects: number[] = [];
    a.on('disconnect', (p) => disconnects.push(p.reasonCode ?? -1));
    const c = await connect(b, { protocolVersion: v, clientId: id });
    await closed;
    if (v === 5) assert.deepEqual(disconnects, [0x8e]);
    assert.equal(c.connected, true);
    await c.publishAsync('takeover/x', 'still works', { qos: 1 });
    await end(c);
    await end(a, true);
  });

  test(`${V}: keep-alive timeout closes a silent connection after 1.5 × keepalive`, async () => {
    const s = net.connect(b.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    // CONNECT with keepalive 1 s, then silence (no PINGREQ).
    const id = Buffer.from('silent');
    const body = v === 5
      ? Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 1, 0, 0, id.length]), id])
      : Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 1, 0, id.length]), id]);
    s.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    const t0 = Date.now();
    await new Promise((r) => s.once('close', r));
    const took = Date.now() - t0;
    assert.ok(took >= 1400 && took < 3000, `closed after ${took} ms`);
    const all = Buffer.concat(chunks);
    assert.equal(all[0], 0x20); // CONNACK
    if (v === 5) assert.ok(all.includes(Buffer.from([0xe0])) && all.includes(0x8d), 'DISCONNECT 0x8D keep alive timeout');
  });
}

test('authentication with a user list: refused (3.1.1 0x05, v5 0x87 not authorized) and accepted', async () => {
  const ab = await startBroker({ users: new Map([['alice', 's3cret']]) });
  try {
    const e4 = await connectRefused(ab, { protocolVersion: 4, username: 'alice', password: 'wrong' });
    assert.equal(e4.code, 5);
    const e5 = await connectRefused(ab, { protocolVersion: 5, username: 'bob', password: 'x' });
    assert.equal(e5.code, 0x87);
    const ok = await connect(ab, { protocolVersion: 4, username: 'alice', password: 's3cret' });
    await end(ok);
  } finally {
    await ab.close();
  }
});

test('an empty client id is assigned (v5: Assigned Client Identifier)', async () => {
  const c = await connect(b, { protocolVersion: 4, clientId: '', clean: true });
  await end(c);
  const v5 = await connectAck(b, { protocolVersion: 5, clientId: '', clean: true });
  assert.match(v5.connack.properties?.assignedClientIdentifier ?? '', /^omnibus-/);
  await end(v5.client);
});
