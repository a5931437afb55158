/**
 * STOMP and AMQP on one engine: /queue/x is AMQP queue x, and /topic/… rides on amq.topic, so an
 * amqplib publish to amq.topic reaches a STOMP topic subscriber and a STOMP topic SEND reaches an
 * AMQP queue bound to amq.topic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { startAmqpServer } from '../../../src/protocols/amqp/listener.js';
import { header } from '../../../src/protocols/stomp/codec/index.js';
import { RawClient, startBroker, waitFor } from './helpers.js';

test('STOMP ⇄ AMQP: queues by name, topics through amq.topic', async () => {
  const b = await startBroker();
  const amqpServer = await startAmqpServer(b.engine, { port: 0 });
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${amqpServer.port}`);
  try {
    const ch = await conn.createChannel();
    const s = await RawClient.connect(b.port);

    // STOMP SEND /queue/x → AMQP basic.get on queue x.
    await s.receipt('SEND', [['destination', '/queue/x'], ['color', 'blue']], 'stomp to amqp');
    await ch.assertQueue('x');
    const got = await waitFor(async () => (await ch.get('x', { noAck: true })) || undefined);
    assert.equal(got.content.toString(), 'stomp to amqp');

    // AMQP publish to amq.topic → STOMP wildcard subscriber.
    await s.receipt('SUBSCRIBE', [['destination', '/topic/metrics.>'], ['id', 't']]);
    ch.publish('amq.topic', 'metrics.cpu.load', Buffer.from('0.75'));
    const m = await s.next('MESSAGE');
    assert.equal(m.body.toString(), '0.75');
    assert.equal(header(m, 'subscription'), 't');
    assert.equal(header(m, 'destination'), '/topic/metrics.cpu.load');

    // STOMP topic SEND → AMQP queue bound to amq.topic.
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, 'amq.topic', 'alerts.#');
    await s.receipt('SEND', [['destination', '/topic/alerts.disk']], 'disk full');
    const a = await waitFor(async () => (await ch.get(q.queue, { noAck: true })) || undefined);
    assert.equal(a.content.toString(), 'disk full');
    s.close();
  } finally {
    await conn.close();
    await amqpServer.close();
    await b.close();
  }
});
