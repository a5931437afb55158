/**
 * The conformance suite for stomp:// against Omnibus' STOMP listener in a real `omnibus serve`
 * (a child process running bin/omnibus.js, i.e. dist/: build first), with only that listener,
 * over file storage with `--fsync always`, on a free loopback port; stopped by pid.
 * (test/conformance/stomp.test.ts runs the same listener in process over memory://, without a
 * restart; this file adds durability and the crash.)
 *
 * `?groups=queue`: the listener has no ActiveMQ virtual topics, so one topic is one queue and
 * groups are not separate (consumerGroups: false; docs/transports/stomp.md, "Omnibus' STOMP
 * listener"). The reconnect case restarts the server with SIGKILL (by pid) twice during the run,
 * on the same data directory and port. Judged with dead-lettering ON: it is emulated.
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startOmnibus, unavailable } from './brokers.js';

const broker = await startOmnibus(['stomp']);
if (typeof broker === 'string') {
  test('stomp:// conformance against omnibus serve', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const url = `${broker.url}?groups=queue&priorities=true`;
  const open = () => connect(url);
  const declared = await declaredCapabilities(open);
  describeTransport(`stomp:// (omnibus serve, STOMP ${broker.port}, file storage, groups=queue)`, {
    connect: open,
    capabilities: { ...declared, nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
