/**
 * basic.consume: classic queues (engine group consumer), stream queues (log reader from
 * x-stream-offset) and direct reply-to (`amq.rabbitmq.reply-to`, no-ack only). Exclusive consumers
 * and exclusive queues are enforced (403 / 405); a consumer tag reused on the channel is a 530
 * connection error, as in RabbitMQ. consume-ok is written before the first delivery.
 *
 * x-priority (consumer priorities) is honoured by the engine's group: while a higher-priority
 * consumer has credit, lower ones get nothing; equal priorities share round-robin.
 */
import { basicConsumeOk } from '../../index.js';
import type { BasicConsumeArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { ClassicConsumer, StreamConsumer } from '../consumer.js';
import { amqpError, genName } from '../util.js';
import { REPLY_TO } from './basic-publish.js';
import { checkExclusive } from './queue-declare.js';

export async function basicConsume(ch: Channel, a: BasicConsumeArgs): Promise<void> {
  const broker = ch.conn.broker;
  const tag = a.consumerTag === '' ? genName('amq.ctag-') : a.consumerTag;
  if (ch.consumers.has(tag) || ch.replyTo?.tag === tag) throw amqpError(530, `attempt to reuse consumer tag '${tag}'`, 60, 20);

  if (a.queue === REPLY_TO) {
    if (!a.noAck) throw amqpError(406, 'reply consumer cannot acknowledge', 60, 20);
    if (ch.replyTo) throw amqpError(406, 'reply consumer already set', 60, 20);
    const token = genName('');
    ch.replyTo = { token, tag };
    broker.replyTo.set(token, { ch, tag });
    if (!a.nowait) ch.conn.sendMethod(ch.id, basicConsumeOk({ consumerTag: tag }));
    return;
  }

  const name = a.queue === '' ? ch.lastQueue : a.queue;
  const q = await broker.findQueue(name);
  if (ch.state !== 'open') return;
  if (!q) throw amqpError(404, `no queue '${name}' in vhost '/'`, 60, 20);
  checkExclusive(q, ch);
  if (q.hasExclusiveConsumer() || (a.exclusive && q.consumerCount > 0)) {
    throw amqpError(403, `queue '${name}' in vhost '/' in exclusive use`, 60, 20);
  }
  if (q.isLog) throw amqpError(406, `queue '${name}' in vhost '/' is a log queue: consume a group queue of it (x-omnibus-group-of)`, 60, 20);
  let c: ClassicConsumer | StreamConsumer;
  if (q.isStream) {
    if (a.noAck) throw amqpError(406, `consumers of stream queue '${name}' must acknowledge (no-ack is not supported)`, 60, 20);
    c = new StreamConsumer(ch, q, tag, a.exclusive, ch.consumerLimit, a.arguments['x-stream-offset']);
  } else {
    const xp = a.arguments['x-priority'];
    const priority = typeof xp === 'number' ? xp : typeof xp === 'bigint' ? Number(xp) : 0;
    c = new ClassicConsumer(ch, q, tag, a.noAck, a.exclusive, ch.consumerLimit, priority);
  }
  ch.consumers.set(tag, c);
  if (!a.nowait) ch.conn.sendMethod(ch.id, basicConsumeOk({ consumerTag: tag }));
  q.addConsumer(c);
}
