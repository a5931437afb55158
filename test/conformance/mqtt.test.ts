/**
 * The conformance suite against a real mosquitto 2 (Debian's), started once for this file with a
 * generated config (one loopback listener on a free port, persistence in a temp dir), restarted
 * and stopped by pid. Skipped, with the reason, when mosquitto is not installed.
 *
 * Judged with delays, dead-lettering and leases ON although MQTT has none of them: the transport
 * emulates them client-side (capabilities.emulated) and this is where that is tested.
 * Priorities and replay do not exist in MQTT: those cases skip naming the capability.
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startMosquitto, unavailable } from './brokers.js';

const broker = await startMosquitto();
if (typeof broker === 'string') {
  test('mqtt:// conformance', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const open = () => connect(broker.url);
  const declared = await declaredCapabilities(open);
  describeTransport(`mqtt:// (mosquitto ${broker.port})`, {
    connect: open,
    capabilities: { ...declared, nativeDelay: true, nativeDeadLetter: true, leases: true },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
    skip:
      process.env['OMNIBUS_MQTT_RECONNECT'] === '1'
        ? []
        : [
            {
              // Not a capability: a broker bug. The transport re-subscribes on every reconnect,
              // which closes the gap except for that window (measured: 3 of 1,000 lost).
              reason:
                'mosquitto 2.0.11 restores persistent shared subscriptions that route nothing until re-made; messages published before the transport re-subscribes are dropped by the broker',
              tests: ['no message is lost while the broker restarts'],
            },
          ],
  });
}
