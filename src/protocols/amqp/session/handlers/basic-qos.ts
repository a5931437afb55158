/**
 * basic.qos with RabbitMQ's semantics: global=false sets the prefetch count of consumers created
 * afterwards on the channel (per consumer); global=true sets a limit shared by all consumers of
 * the channel. prefetch_size is not supported (540, as RabbitMQ).
 */
import { basicQosOk } from '../../index.js';
import type { BasicQosArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError } from '../util.js';

export function basicQos(ch: Channel, a: BasicQosArgs): void {
  if (a.prefetchSize !== 0) throw amqpError(540, `prefetch_size!=0 (${a.prefetchSize})`, 60, 10);
  if (a.global) ch.globalLimit = a.prefetchCount;
  else ch.consumerLimit = a.prefetchCount;
  ch.conn.sendMethod(ch.id, basicQosOk());
  ch.wakeConsumers();
}
