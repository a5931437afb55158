/**
 * The conformance suite against a real redis-server (Debian's), started once for this file on a
 * free loopback port with AOF on (so the reconnect case's two restarts keep the data), stopped by
 * pid at the end. Skipped, with the reason, when redis-server is not installed.
 *
 * Judged with delays and dead-lettering ON although the transport declares them not native:
 * they are emulated by the transport (capabilities.emulated) and this is where that emulation
 * is tested. Priorities stay off (a stream is FIFO): those cases skip naming the capability.
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startRedis, unavailable } from './brokers.js';

const broker = await startRedis();
const why = unavailable(broker);
if (typeof broker === 'string') {
  test('redis:// conformance', { skip: why }, () => {});
} else {
  after(() => broker.stop());
  const open = () => connect(broker.url);
  const declared = await declaredCapabilities(open);
  describeTransport(`redis:// (redis-server ${broker.port})`, {
    connect: open,
    capabilities: { ...declared, nativeDelay: declared.emulated.includes('delay'), nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    // Full sizes (10,000-message reconnect run) with OMNIBUS_TEST_FULL=1; short sizes keep npm test fast.
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
