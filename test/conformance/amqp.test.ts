/**
 * The conformance suite against a real RabbitMQ (Debian's rabbitmq-server), started once for this
 * file (node name omnibus-test-<port>@localhost, data in a temp dir owned by `rabbitmq`), and
 * stopped by the Erlang VM's pid. Skipped, with the reason, when rabbitmq-server is absent.
 *
 * Judged with dead-lettering ON although the transport declares it not native: it is emulated
 * (capabilities.emulated) and tested here. `replay: false` (a group's queue gets only messages
 * published after it exists): those cases skip naming the capability. RabbitMQ needs ~15 s to
 * start and to restart, so the file runs the suite's short sizes unless OMNIBUS_TEST_FULL=1.
 * The reconnect case restarts the broker (by pid) twice during a 10,000-message run; the launcher
 * counts a (re)start done when `rabbitmqctl await_startup` returns, not when the port opens.
 */
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startRabbit, unavailable } from './brokers.js';

const broker = await startRabbit();
if (typeof broker === 'string') {
  test('amqp:// conformance', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const open = () => connect(broker.url);
  const declared = await declaredCapabilities(open);
  describeTransport(`amqp:// (rabbitmq-server ${broker.port})`, {
    connect: open,
    capabilities: { ...declared, nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
