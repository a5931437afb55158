/**
 * The conformance suite against memory:// — the reference transport: every test its
 * capabilities allow must pass. Run twice: in real time, and on a ManualClock (time-based tests
 * advance the clock instead of waiting).
 */
import { connect, ManualClock } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';

const short = process.env['OMNIBUS_TEST_SHORT'] === '1';

describeTransport('memory://', { connect: () => connect('memory://'), short });

const clock = new ManualClock();
describeTransport('memory:// on a manual clock', { connect: () => connect('memory://', { clock }), clock, short: true });
