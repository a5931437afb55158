/**
 * What a kafka:// delivery shows of its record (src/transports/kafka.ts KafkaDelivery): the
 * fields are read from kafkajs' record when the application asks, not copied in per record, so
 * these check each of them against records written by the transport and by bare kafkajs (no
 * x-omnibus-* headers at all), through Omnibus' Kafka listener in this process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../../src/index.js';
import type { Delivery } from '../../../src/core/types.js';
import { startBroker } from './helpers.js';

test('a kafka:// delivery reads id, key, headers, timestamp, priority and body from its record, each the same on every read', async () => {
  const b = await startBroker();
  const t = await connect(`kafka://${b.bootstrap}`);
  try {
    const topic = 'lazy-fields';
    await t.publish(topic, [{ body: 'via transport', key: 'k-1', headers: { trace: 't-1', 'x-omnibus-id': 'ignored' }, priority: 7, timestamp: 1_700_000_000_123 }]);
    // A record written by a plain Kafka producer: no x-omnibus-id, no headers, no key.
    const producer = b.kafka().producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'via kafkajs', timestamp: '1700000000456' }] });
    await producer.disconnect();

    const sub = t.subscribe(topic, { group: 'g', prefetch: 10 });
    const got: Delivery[] = [];
    for await (const d of sub) {
      got.push(d);
      // Acked before leaving the loop, which closes the subscription.
      await d.ack();
      if (got.length === 2) break;
    }
    const [a, p] = got as [Delivery, Delivery];

    assert.equal(Buffer.from(a.body).toString(), 'via transport');
    assert.equal(a.key, 'k-1');
    assert.equal(a.timestamp, 1_700_000_000_123);
    assert.equal(a.priority, 7);
    assert.equal(a.attempt, 1);
    assert.equal(a.topic, topic);
    assert.deepEqual(a.headers, { trace: 't-1' }, 'x-omnibus-* headers are not the application\'s');
    assert.equal(a.headers, a.headers, 'headers decode once: the same object on every read');
    assert.match(a.id, /^[0-9a-z]{16}$/);
    assert.equal(a.id, a.id);

    assert.equal(Buffer.from(p.body).toString(), 'via kafkajs');
    assert.equal(p.key, undefined);
    assert.equal(p.timestamp, 1_700_000_000_456);
    assert.equal(p.priority, 0);
    assert.deepEqual(p.headers, {});
    assert.equal(p.id, `${topic}-0-1`, 'a record without x-omnibus-id is named by topic, partition and offset');
  } finally {
    await t.close();
    await b.close();
  }
});
