/**
 * basic.get: one message from the queue's group (shared ready set with its consumers), as
 * get-ok with the remaining message count, or get-empty. Stream queues do not support it (406).
 */
import { basicGetEmpty, basicGetOk } from '../../index.js';
import type { BasicGetArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError, EXCHANGE_HEADER, recordProps } from '../util.js';
import { checkExclusive } from './queue-declare.js';

export async function basicGet(ch: Channel, a: BasicGetArgs): Promise<void> {
  await ch.conn.publishBarrier();
  const name = a.queue === '' ? ch.lastQueue : a.queue;
  const q = await ch.conn.broker.findQueue(name);
  if (!q) throw amqpError(404, `no queue '${name}' in vhost '/'`, 60, 70);
  checkExclusive(q, ch);
  if (!q.group) throw amqpError(406, `queue '${name}' in vhost '/' is a ${q.isLog ? 'log' : 'stream'} queue: basic.get is not supported`, 60, 70);
  const d = await q.group.get();
  if (ch.state !== 'open') {
    d?.nack().catch(() => {});
    return;
  }
  q.touch();
  if (!d) {
    ch.conn.sendMethod(ch.id, basicGetEmpty());
    return;
  }
  const tag = ch.nextDeliveryTag();
  const rec = d.rec;
  if (!a.noAck) ch.unacked.set(tag, { kind: 'queue', d, consumer: undefined });
  ch.sendContent(
    basicGetOk({ deliveryTag: tag, redelivered: d.attempt > 1, exchange: rec.headers[EXCHANGE_HEADER] ?? '', routingKey: rec.key ?? '', messageCount: q.messageCount }),
    recordProps(rec),
    rec.body,
  );
  if (a.noAck) await d.ack();
}
