/** queue.purge: drops every ready message (unacked ones stay with their consumers). */
import { queuePurgeOk } from '../../index.js';
import type { QueuePurgeArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError } from '../util.js';
import { checkExclusive } from './queue-declare.js';

export async function queuePurge(ch: Channel, a: QueuePurgeArgs): Promise<void> {
  await ch.conn.publishBarrier();
  const name = a.queue === '' ? ch.lastQueue : a.queue;
  const q = await ch.conn.broker.findQueue(name);
  if (!q) throw amqpError(404, `no queue '${name}' in vhost '/'`, 50, 30);
  checkExclusive(q, ch);
  if (!q.group) throw amqpError(406, `queue '${name}' in vhost '/' is a ${q.isLog ? 'log' : 'stream'} queue and cannot be purged`, 50, 30);
  const n = q.group.purge();
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, queuePurgeOk({ messageCount: n }));
}
