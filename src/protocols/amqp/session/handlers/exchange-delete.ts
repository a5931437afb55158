/** exchange.delete (if-unused → 406 when it has bindings); the default and amq.* exchanges are 403. */
import { exchangeDeleteOk } from '../../index.js';
import type { ExchangeDeleteArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError } from '../util.js';

export async function exchangeDelete(ch: Channel, a: ExchangeDeleteArgs): Promise<void> {
  const name = a.exchange;
  if (name === '' || name.startsWith('amq.')) throw amqpError(403, `operation not permitted on the default exchange`, 40, 20);
  const ex = ch.conn.broker.engine.exchanges;
  if (ex.get(name)) {
    try {
      await ex.delete(name, { ifUnused: a.ifUnused });
    } catch (e) {
      if ((e as { code?: string }).code === 'MQ_ERR_PRECONDITION') throw amqpError(406, `exchange '${name}' in vhost '/' in use`, 40, 20);
      throw e;
    }
  }
  if (!a.nowait && ch.state === 'open') ch.conn.sendMethod(ch.id, exchangeDeleteOk());
}
