/**
 * The conformance suite for mqtt:// against Omnibus' MQTT listener in a real `omnibus serve`
 * (a child process running bin/omnibus.js, i.e. dist/: build first), with only that listener,
 * over file storage with `--fsync always`, on a free loopback port; stopped by pid.
 *
 * Judged with delays, dead-lettering and leases ON although MQTT has none of them: the transport
 * emulates them client-side (capabilities.emulated). Priorities and replay do not exist in MQTT:
 * those cases skip naming the capability. Unlike mosquitto 2.0.11 (test/conformance/mqtt.test.ts),
 * the reconnect case runs: the server is SIGKILLed (by pid) twice during the run and restarted on
 * the same data directory and port. `?remakeShared=false`: the transport's default re-makes a
 * group's shared subscription after a reconnect with UNSUBSCRIBE + SUBSCRIBE (mosquitto's bug
 * needs it); on Omnibus, as MQTT 5 §4.8.2 says, the last member's UNSUBSCRIBE ends the shared
 * subscription with its queued messages (measured: 37 of 10,000 lost), so it re-SUBSCRIBEs only.
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startOmnibus, unavailable } from './brokers.js';

const broker = await startOmnibus(['mqtt']);
if (typeof broker === 'string') {
  test('mqtt:// conformance against omnibus serve', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const url = `${broker.url}?remakeShared=false`;
  const open = () => connect(url);
  const declared = await declaredCapabilities(open);
  describeTransport(`mqtt:// (omnibus serve, MQTT ${broker.port}, file storage)`, {
    connect: open,
    capabilities: { ...declared, nativeDelay: true, nativeDeadLetter: true, leases: true },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
