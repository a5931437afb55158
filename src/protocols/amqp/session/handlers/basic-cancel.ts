/**
 * basic.cancel: the consumer stops receiving; its unacked deliveries stay with the channel and may
 * still be acked (they are requeued when the channel closes). An auto-delete queue goes with its
 * last consumer. Unknown tags are answered with cancel-ok, as in RabbitMQ.
 */
import { basicCancelOk } from '../../index.js';
import type { BasicCancelArgs } from '../../index.js';
import type { Channel } from '../channel.js';

export function basicCancelHandler(ch: Channel, a: BasicCancelArgs): void {
  const tag = a.consumerTag;
  const c = ch.consumers.get(tag);
  if (c) {
    ch.consumers.delete(tag);
    c.cancel();
  } else if (ch.replyTo?.tag === tag) {
    ch.conn.broker.replyTo.delete(ch.replyTo.token);
    ch.replyTo = undefined;
  }
  if (!a.nowait) ch.conn.sendMethod(ch.id, basicCancelOk({ consumerTag: tag }));
}
