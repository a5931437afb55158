/**
 * The conformance suite for omnibus:// against a real `omnibus serve` (a child process running
 * bin/omnibus.js, i.e. dist/: build first), with only its AMQP 0-9-1 listener, over file storage
 * with `--fsync always`, on a free loopback port; stopped by pid. This is the promise that the
 * same application code runs on the embedded engine and on an Omnibus server.
 *
 * The reconnect case restarts the server with SIGKILL (by pid) twice during the run, on the same
 * data directory and port: every confirmed message must survive a crash, and the consumer must
 * resume by itself.
 *
 * Judged by the capabilities the transport declares: amqp's plus `replay`, which the server's log
 * and group queues provide (docs/transports/omnibus.md), with dead-lettering ON although it is
 * emulated client-side (capabilities.emulated).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startOmnibus, unavailable } from './brokers.js';

const broker = await startOmnibus(['amqp']);
if (typeof broker === 'string') {
  test('omnibus:// conformance', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const open = () => connect(broker.url);
  const declared = await declaredCapabilities(open);
  // Declared only when connection.start said "Omnibus": if detection broke, the replay cases
  // would be skipped, not failed.
  test('omnibus:// recognises the server and declares replay', () => assert.equal(declared.replay, true));
  describeTransport(`omnibus:// (omnibus serve, AMQP ${broker.port}, file storage)`, {
    connect: open,
    capabilities: { ...declared, nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
