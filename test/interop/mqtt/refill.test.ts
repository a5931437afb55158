/**
 * Outbound flow control over a raw socket: a session's window (the client's Receive Maximum) is
 * topped up a quarter at a time, not after every PUBACK, and a connection with a large window of
 * unacknowledged deliveries reads its PUBACKs once per millisecond.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket } from '../../../src/protocols/mqtt/codec/index.js';
import { startBroker, connect, waitFor, end, rawSubscriber, type Broker } from './helpers.js';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { ManualClock } from '../../../src/core/clock.js';
import { coalesceMs } from '../../../src/protocols/mqtt/session/connection.js';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

test('with Receive Maximum 8 the server holds 8 QoS 1 messages in flight and sends more only once 2 (a quarter) are PUBACKed', async () => {
  const { s, publishes, roundTrip } = await rawSubscriber(b.port, 5, { clientId: 'refill-8', properties: { receiveMaximum: 8 } }, 'refill/t');

  const pub = await connect(b, { protocolVersion: 5 });
  for (let i = 0; i < 20; i++) await pub.publishAsync('refill/t', `m${i}`, { qos: 1 });
  await waitFor(() => publishes().length === 8);
  await roundTrip();
  assert.equal(publishes().length, 8, 'the window is full');

  const ids = publishes().map((p) => p.packetId!);
  s.write(encodePacket({ type: 'puback', packetId: ids[0]! }, 5));
  await roundTrip();
  await roundTrip();
  assert.equal(publishes().length, 8, 'one free slot of 8 does not refill');

  s.write(encodePacket({ type: 'puback', packetId: ids[1]! }, 5));
  await waitFor(() => publishes().length === 10);
  await roundTrip();
  assert.equal(publishes().length, 10, 'two free slots refill both');
  assert.deepEqual(
    publishes().map((p) => p.payload.toString()),
    Array.from({ length: 10 }, (_, i) => `m${i}`),
  );

  for (const p of publishes().slice(2)) s.write(encodePacket({ type: 'puback', packetId: p.packetId! }, 5));
  await waitFor(() => publishes().length === 18);
  for (const p of publishes().slice(10)) s.write(encodePacket({ type: 'puback', packetId: p.packetId! }, 5));
  await waitFor(() => publishes().length === 20);
  await end(pub);
  s.end();
});

test('a connection holding 256 or more unacknowledged deliveries stops reading after each read (1 ms with 300 outstanding), so the PUBACKs written meanwhile come in together', async () => {
  const clock = new ManualClock();
  const cb = await startBroker({ engine: await Engine.open({ storage: new MemoryStorage(), clock }) });
  try {
    const { s, packets, publishes } = await rawSubscriber(cb.port, 5, { clientId: 'coalesce', properties: { receiveMaximum: 1000 } }, 'coalesce/t');
    const server = [...cb.server.broker.connections].find((c) => c.clientId === 'coalesce')!;
    const session = server.session!;

    const pub = await connect(cb, { protocolVersion: 5 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => pub.publishAsync('coalesce/t', `m${i}`, { qos: 1 })));
    await waitFor(() => publishes().length === 300);
    assert.equal(session.unacked, 300);
    const ids = publishes().map((p) => p.packetId!);

    s.write(encodePacket({ type: 'puback', packetId: ids[0]! }, 5));
    await waitFor(() => session.unacked === 299);
    assert.equal(server.stream.isPaused(), true, 'with 299 unacknowledged the connection pauses after the read');
    // Written while the server is not reading: separate writes, as mqtt.js sends its PUBACKs.
    for (const id of ids.slice(1, 101)) s.write(encodePacket({ type: 'puback', packetId: id }, 5));
    s.write(encodePacket({ type: 'pingreq' }, 5));
    await new Promise((r) => setImmediate(r));
    assert.equal(server.stream.isPaused(), true, 'the connection stays paused until the millisecond is over');

    // Time moves on 1 ms per poll: the bytes may come in more than one read, each followed by a pause.
    await waitFor(() => {
      clock.advance(1);
      return packets().some((p) => p.type === 'pingresp');
    });
    assert.equal(session.unacked, 199, 'every PUBACK written meanwhile is handled');

    // Below 256 unacknowledged the connection keeps reading.
    for (const id of ids.slice(101, 200)) s.write(encodePacket({ type: 'puback', packetId: id }, 5));
    await waitFor(() => {
      clock.advance(1);
      return session.unacked === 100;
    });
    assert.equal(server.stream.isPaused(), false, 'with 100 unacknowledged the connection reads on');
    for (const id of ids.slice(200)) s.write(encodePacket({ type: 'puback', packetId: id }, 5));
    await waitFor(() => session.unacked === 0);
    await end(pub);
    s.end();
  } finally {
    await cb.close();
  }
});

test('the pause grows with what the client holds: at most half the time a client taking 200,000 msg/s needs for it, 1 to 50 ms', () => {
  assert.equal(coalesceMs(256), 1);
  assert.equal(coalesceMs(1024), 2);
  assert.equal(coalesceMs(8000), 20);
  assert.equal(coalesceMs(20_000), 50);
  assert.equal(coalesceMs(32_768), 50);
});

test('a 3.1.1 session holds at most 8 MiB of unacknowledged QoS 1 payload, whatever its window in messages', async () => {
  const { s, publishes, roundTrip } = await rawSubscriber(b.port, 4, { clientId: 'bytes-cap' }, 'bytes/t');

  const pub = await connect(b, { protocolVersion: 4 });
  const body = Buffer.alloc(10 * 1024, 0x62);
  await Promise.all(Array.from({ length: 1000 }, () => pub.publishAsync('bytes/t', body, { qos: 1 })));
  // 8 MiB / 10 KiB = 819.2: the delivery that crosses 8 MiB is the last one.
  await waitFor(() => publishes().length >= 820, 10_000);
  await roundTrip();
  await roundTrip();
  assert.equal(publishes().length, 820, 'no more than 8 MiB (and one message) in flight');

  for (const p of publishes()) s.write(encodePacket({ type: 'puback', packetId: p.packetId! }, 4));
  await waitFor(() => publishes().length === 1000, 10_000);
  for (const p of publishes().slice(820)) s.write(encodePacket({ type: 'puback', packetId: p.packetId! }, 4));
  await end(pub);
  s.end();
});
