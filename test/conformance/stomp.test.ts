/**
 * The conformance suite for stomp://, twice:
 *
 * 1. against a real ActiveMQ 5.17 (Debian's /usr/share/activemq, run with java directly), started
 *    once for this file on free loopback ports with schedulerSupport and prioritized queues, and
 *    restarted/stopped by pid. Skipped, with the reason, when ActiveMQ or java is absent.
 *    ActiveMQ takes ~10 s to start and ~15 s to restart, so the file runs the suite's short sizes
 *    unless OMNIBUS_TEST_FULL=1; the reconnect case then restarts it twice during 1,000 messages.
 * 2. against Omnibus' own STOMP listener (src/protocols/stomp/listener.ts), in process over a
 *    memory:// engine, with `?groups=queue`: the listener has no ActiveMQ virtual topics, so one
 *    topic is one queue and groups are not separate (consumerGroups: false; see
 *    docs/transports/stomp.md, "Omnibus' STOMP listener"). No restart hook: the memory engine
 *    does not survive one.
 *
 * Judged with dead-lettering ON although it is emulated (capabilities.emulated).
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { startStompServer } from '../../src/protocols/stomp/listener.js';
import type { NetCapabilities } from '../../src/transports/common.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startActiveMQ, unavailable } from './brokers.js';

const short = process.env['OMNIBUS_TEST_FULL'] !== '1';
// Group names: ActiveMQ's consumer queue pattern allows no '.' in them; the suite's are `group-<hex>`.

const broker = await startActiveMQ();
if (typeof broker === 'string') {
  test('stomp:// conformance against ActiveMQ', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const url = `${broker.url}?priorities=true`;
  const open = () => connect(url);
  const declared = await declaredCapabilities(open);
  describeTransport(`stomp:// (activemq ${broker.port})`, {
    connect: open,
    capabilities: { ...declared, nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    short,
  });
}

const engine = await Engine.open({ storage: new MemoryStorage() });
const server = await startStompServer(engine, { port: 0 });
after(async () => {
  await server.close();
  await engine.close();
});
const omnibusUrl = `stomp://127.0.0.1:${server.port}?groups=queue&priorities=true`;
const oprobe = await connect(omnibusUrl);
const odeclared = oprobe.capabilities as NetCapabilities;
await oprobe.close();
describeTransport(`stomp:// (Omnibus STOMP listener ${server.port}, groups=queue)`, {
  connect: () => connect(omnibusUrl),
  capabilities: { ...odeclared, nativeDeadLetter: true },
  short,
});
