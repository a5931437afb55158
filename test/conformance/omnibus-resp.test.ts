/**
 * The conformance suite for redis:// against Omnibus' RESP listener in a real `omnibus serve`
 * (a child process running bin/omnibus.js, i.e. dist/: build first), with only that listener,
 * over file storage with `--fsync always`, on a free loopback port; stopped by pid.
 *
 * The transport runs on Redis Streams (XADD, XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM) plus
 * sorted sets and hashes for delayed publish and delayed nack, moved by two Lua scripts. Omnibus
 * has no Lua interpreter; it recognises those two scripts by their text and runs them natively
 * (src/protocols/resp/transport-scripts.ts), as it does redis-py's Lock scripts.
 *
 * The reconnect case restarts the server with SIGKILL (by pid) twice during the run, on the same
 * data directory and port. Judged with delays and dead-lettering ON: the transport emulates them
 * (capabilities.emulated). Priorities stay off (a stream is FIFO): that case skips naming it.
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startOmnibus, unavailable } from './brokers.js';

const broker = await startOmnibus(['resp']);
if (typeof broker === 'string') {
  test('redis:// conformance against omnibus serve', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const open = () => connect(broker.url);
  const declared = await declaredCapabilities(open);
  describeTransport(`redis:// (omnibus serve, RESP ${broker.port}, file storage)`, {
    connect: open,
    capabilities: { ...declared, nativeDelay: declared.emulated.includes('delay'), nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
