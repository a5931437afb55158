/**
 * basic.ack / basic.nack / basic.reject, with `multiple` (tag 0 + multiple = everything
 * outstanding). An unknown delivery tag is 406 PRECONDITION_FAILED and closes the channel, like
 * RabbitMQ (so a double ack is caught). requeue=true puts the message back (redelivered=true);
 * requeue=false dead-letters it (x-death reason "rejected") or drops it. In tx mode the
 * settlements are staged until tx.commit.
 */
import type { BasicAckArgs, BasicNackArgs, BasicRejectArgs } from '../../index.js';
import type { Channel, Unacked } from '../channel.js';
import { amqpError } from '../util.js';

type Action = 'ack' | 'requeue' | 'reject';

const NOOP = (): void => {};

export function basicAckHandler(ch: Channel, a: BasicAckArgs): void {
  settle(ch, a.deliveryTag, a.multiple, 'ack', 80);
}

export function basicNackHandler(ch: Channel, a: BasicNackArgs): void {
  settle(ch, a.deliveryTag, a.multiple, a.requeue ? 'requeue' : 'reject', 120);
}

export function basicRejectHandler(ch: Channel, a: BasicRejectArgs): void {
  settle(ch, a.deliveryTag, false, a.requeue ? 'requeue' : 'reject', 90);
}

function settle(ch: Channel, tag: number, multiple: boolean, action: Action, methodId: number): void {
  const un = ch.unacked;
  if (multiple) {
    if (tag !== 0 && !un.has(tag)) throw amqpError(406, `unknown delivery tag ${tag}`, 60, methodId);
    const picked: [number, Unacked][] = [];
    for (const e of un) {
      if (tag !== 0 && e[0] > tag) {
        if (ch.unackedSorted) break;
        continue;
      }
      picked.push(e);
    }
    for (const [t] of picked) un.delete(t);
    for (const [t, u] of picked) apply(ch, t, u, action);
  } else {
    const u = un.get(tag);
    if (!u) throw amqpError(406, `unknown delivery tag ${tag}`, 60, methodId);
    un.delete(tag);
    apply(ch, tag, u, action);
  }
  if (ch.globalLimit > 0) ch.wakeConsumers();
}

function apply(ch: Channel, tag: number, u: Unacked, action: Action): void {
  if (u.kind === 'stream') {
    u.consumer.settled(1);
    return;
  }
  const tx = ch.tx;
  if (tx) {
    ch.txStaged.push([tag, u]);
    if (action === 'ack') tx.ack(u.d);
    else if (action === 'requeue') tx.nack(u.d);
    else ch.txRejects.push(u.d);
    return;
  }
  if (action === 'ack') u.d.ack().catch(NOOP);
  else if (action === 'requeue') u.d.nack().catch(NOOP);
  else u.d.reject().catch(NOOP);
  u.consumer?.settled();
}
