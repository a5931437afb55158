/**
 * The conformance suite against zmq+tcp:// — brokerless: each transport binds its own PUB socket
 * on a fresh loopback port (so publish and subscribe on one transport short-circuit through its
 * in-process engine, and the socket path is exercised by the cross-process case below).
 *
 * ZeroMQ keeps nothing: persistence, replay and broker restarts do not apply (no restart hook;
 * those cases skip naming the capability). Groups, redelivery, delays, dead-letter, leases and
 * priorities are emulated within one transport (capabilities.emulated) and judged ON here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport, reader, textOf, waitFor } from '../../src/testing/index.js';
import { declaredCapabilities, freePort } from './brokers.js';

const open = async () => connect(`zmq+tcp://127.0.0.1:${await freePort()}?bind=1`);
const declared = await declaredCapabilities(open);

describeTransport('zmq+tcp://', {
  connect: open,
  capabilities: { ...declared, consumerGroups: true, nativeDelay: true, nativeDeadLetter: true, leases: true, priorities: true },
  short: process.env['OMNIBUS_TEST_SHORT'] === '1',
});

for (const pattern of ['pubsub', 'pushpull'] as const) {
  test(`zmq+tcp:// ${pattern}: messages cross from a binding publisher to a connecting subscriber`, async () => {
    const port = await freePort();
    const pub = await connect(`zmq+tcp://127.0.0.1:${port}?bind=1&pattern=${pattern}`);
    const sub = await connect(`zmq+tcp://127.0.0.1:${port}?pattern=${pattern}`);
    try {
      const s = sub.subscribe('orders');
      // ZeroMQ's slow joiner: publish until the connection is up, then check a numbered run.
      let n = 0;
      const r = reader(s);
      await waitFor(async () => {
        await pub.publish('orders', [{ body: `probe-${n++}` }]);
        const d = await r.poll(20);
        if (d) await d.ack();
        return d;
      });
      await pub.publish('orders', [{ body: 'hello', key: 'k', headers: { h: 'v' } }]);
      for (;;) {
        const d = await r.next(5_000);
        await d.ack();
        if (textOf(d.body) !== 'hello') continue;
        assert.equal(d.key, 'k');
        assert.equal(d.headers['h'], 'v');
        break;
      }
    } finally {
      await sub.close();
      await pub.close();
    }
  });
}
