/**
 * exchange.declare: direct, fanout, topic, headers and x-delayed-message (with x-delayed-type; the
 * engine routes it as that type and the publish handler turns `x-delay` into a delivery time).
 * Passive declares of a missing exchange are 404; an inequivalent redeclare is 406; a new name
 * starting with `amq.` is 403; an unknown type is a 503 connection error (as in RabbitMQ).
 */
import { exchangeDeclareOk } from '../../index.js';
import type { ExchangeDeclareArgs } from '../../index.js';
import type { ExchangeType } from '../../../../engine/routing/exchange.js';
import type { Channel } from '../channel.js';
import { amqpError, plainTable, strArg } from '../util.js';

const TYPES = new Set(['direct', 'fanout', 'topic', 'headers']);
export const DELAYED = 'x-delayed-message';

export async function exchangeDeclare(ch: Channel, a: ExchangeDeclareArgs): Promise<void> {
  const ex = ch.conn.broker.engine.exchanges;
  const name = a.exchange;
  const existing = ex.get(name);
  if (a.passive) {
    if (!existing) throw amqpError(404, `no exchange '${name}' in vhost '/'`, 40, 10);
  } else {
    if (name === '') throw amqpError(403, `operation not permitted on the default exchange`, 40, 10);
    let type = a.type;
    const args = plainTable(a.arguments);
    if (type === DELAYED) {
      const dt = strArg(a.arguments, 'x-delayed-type');
      if (dt === undefined || !TYPES.has(dt)) throw amqpError(406, `Invalid argument, 'x-delayed-type' must be an existing exchange type`, 40, 10);
      type = dt;
      args['x-delayed-type'] = dt;
    } else if (!TYPES.has(type)) {
      throw amqpError(503, `invalid exchange type '${type}'`, 40, 10);
    } else delete args['x-delayed-type'];
    if (existing) {
      const curType = existing.arguments['x-delayed-type'] !== undefined ? DELAYED : existing.type;
      const check = (what: string, got: unknown, cur: unknown) => {
        if (got !== cur) throw amqpError(406, `inequivalent arg '${what}' for exchange '${name}' in vhost '/': received '${String(got)}' but current is '${String(cur)}'`, 40, 10);
      };
      check('type', a.type, curType);
      check('durable', a.durable, existing.durable);
      check('auto_delete', a.autoDelete, existing.autoDelete);
      check('internal', a.internal, existing.internal);
    } else {
      if (name.startsWith('amq.')) throw amqpError(403, `exchange name '${name}' contains reserved prefix 'amq.*'`, 40, 10);
      await ex.declare({ name, type: type as ExchangeType, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: args });
    }
  }
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, exchangeDeclareOk());
}
