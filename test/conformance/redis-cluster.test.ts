/**
 * The conformance suite against a real 3-master Redis Cluster (Debian's redis-server with
 * cluster-enabled, joined by `redis-cli --cluster create`, AOF on, no replicas), reached through
 * `redis://a:p1,b:p2,c:p3` (ioredis' Cluster client). The nodes are stopped by pid at the end.
 * Skipped, with the reason, when redis-server is not installed.
 *
 * Judged like the single-server file (delays and dead-lettering emulated, priorities off). The
 * reconnect case restarts every node in turn, by pid, twice during the 10,000-message run.
 * Topics are random names, so the cases spread over the three masters' slots; the dead-letter
 * cases cross slots (the topic and its DLQ hash apart), which is the split XADD-then-XACK path.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { keys } from '../../src/transports/redis.js';
import { describeTransport } from '../../src/testing/index.js';
import { declaredCapabilities, startRedisCluster, unavailable } from './brokers.js';

const broker = await startRedisCluster(3);
if (typeof broker === 'string') {
  test('redis:// cluster conformance', { skip: unavailable(broker) }, () => {});
} else {
  after(() => broker.stop());
  const open = () => connect(broker.url);
  const declared = await declaredCapabilities(open);

  test('every key of a topic hashes to the slot of its stream', async () => {
    const { Cluster } = await import('ioredis');
    const c = new Cluster([{ host: '127.0.0.1', port: broker.port }]);
    try {
      for (const topic of ['orders', 'a.b.c', '{user:1}.events', 'x{y}z']) {
        const slot = await c.cluster('KEYSLOT', topic);
        for (const k of [keys.delayed(topic), keys.delayedHash(topic) + 'id', keys.due(topic, 'g'), keys.ext(topic, 'g')]) {
          assert.equal(await c.cluster('KEYSLOT', k), slot, `${k} and ${topic}`);
        }
      }
    } finally {
      c.disconnect();
    }
  });

  describeTransport(`redis:// cluster (${Object.values(broker.ports).join(', ')})`, {
    connect: open,
    capabilities: { ...declared, nativeDelay: declared.emulated.includes('delay'), nativeDeadLetter: declared.emulated.includes('deadLetter') },
    restart: () => broker.restart(),
    short: process.env['OMNIBUS_TEST_FULL'] !== '1',
  });
}
