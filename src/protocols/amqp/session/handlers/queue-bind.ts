/**
 * queue.bind / queue.unbind: an engine binding from the exchange to the queue's topic. 404 for a
 * missing queue or exchange, 403 for the default exchange (its bindings are implicit), 405 for
 * another connection's exclusive queue. Unbinding a binding that does not exist is not an error.
 */
import { queueBindOk, queueUnbindOk } from '../../index.js';
import type { QueueBindArgs, QueueUnbindArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError, plainTable } from '../util.js';
import { checkExclusive } from './queue-declare.js';

async function resolve(ch: Channel, queue: string, exchange: string, methodId: number): Promise<string> {
  const broker = ch.conn.broker;
  const name = queue === '' ? ch.lastQueue : queue;
  const q = await broker.findQueue(name);
  if (!q) throw amqpError(404, `no queue '${name}' in vhost '/'`, 50, methodId);
  checkExclusive(q, ch);
  if (q.isGroupView) throw amqpError(406, `queue '${name}' in vhost '/' is a group of queue '${q.topic}': bind '${q.topic}' instead`, 50, methodId);
  if (exchange === '') throw amqpError(403, `operation not permitted on the default exchange`, 50, methodId);
  if (!broker.engine.exchanges.get(exchange)) throw amqpError(404, `no exchange '${exchange}' in vhost '/'`, 50, methodId);
  return name;
}

export async function queueBind(ch: Channel, a: QueueBindArgs): Promise<void> {
  const name = await resolve(ch, a.queue, a.exchange, 20);
  await ch.conn.broker.engine.exchanges.bind(a.exchange, { kind: 'topic', name }, a.routingKey, plainTable(a.arguments));
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, queueBindOk());
}

export async function queueUnbind(ch: Channel, a: QueueUnbindArgs): Promise<void> {
  const name = await resolve(ch, a.queue, a.exchange, 50);
  await ch.conn.broker.engine.exchanges.unbind(a.exchange, { kind: 'topic', name }, a.routingKey, plainTable(a.arguments));
  if (ch.state === 'open') ch.conn.sendMethod(ch.id, queueUnbindOk());
}
