/**
 * queue.delete with if-unused / if-empty (406 when the condition fails). Deleting a missing queue
 * succeeds with a count of 0 (RabbitMQ 3.x is idempotent here). Consumers of the deleted queue get
 * a server-sent basic.cancel when their client announced consumer_cancel_notify.
 */
import { queueDeleteOk } from '../../index.js';
import type { QueueDeleteArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError } from '../util.js';
import { checkExclusive } from './queue-declare.js';

export async function queueDelete(ch: Channel, a: QueueDeleteArgs): Promise<void> {
  await ch.conn.publishBarrier();
  const broker = ch.conn.broker;
  const name = a.queue === '' ? ch.lastQueue : a.queue;
  const q = await broker.findQueue(name);
  let n = 0;
  if (q) {
    checkExclusive(q, ch);
    if (a.ifUnused && q.consumerCount > 0) throw amqpError(406, `queue '${name}' in vhost '/' in use`, 50, 40);
    if (a.ifEmpty && q.messageCount > 0) throw amqpError(406, `queue '${name}' in vhost '/' is not empty`, 50, 40);
    n = await broker.deleteQueue(q);
  }
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, queueDeleteOk({ messageCount: n }));
}
