/** exchange.bind / exchange.unbind (exchange-to-exchange bindings, a RabbitMQ extension). */
import { exchangeBindOk, exchangeUnbindOk } from '../../index.js';
import type { ExchangeBindArgs, ExchangeUnbindArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError, plainTable } from '../util.js';

function check(ch: Channel, source: string, destination: string, methodId: number): void {
  const ex = ch.conn.broker.engine.exchanges;
  if (source === '' || destination === '') throw amqpError(403, `operation not permitted on the default exchange`, 40, methodId);
  if (!ex.get(source)) throw amqpError(404, `no exchange '${source}' in vhost '/'`, 40, methodId);
  if (!ex.get(destination)) throw amqpError(404, `no exchange '${destination}' in vhost '/'`, 40, methodId);
}

export async function exchangeBind(ch: Channel, a: ExchangeBindArgs): Promise<void> {
  check(ch, a.source, a.destination, 30);
  await ch.conn.broker.engine.exchanges.bind(a.source, { kind: 'exchange', name: a.destination }, a.routingKey, plainTable(a.arguments));
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, exchangeBindOk());
}

export async function exchangeUnbind(ch: Channel, a: ExchangeUnbindArgs): Promise<void> {
  check(ch, a.source, a.destination, 40);
  await ch.conn.broker.engine.exchanges.unbind(a.source, { kind: 'exchange', name: a.destination }, a.routingKey, plainTable(a.arguments));
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, exchangeUnbindOk());
}
