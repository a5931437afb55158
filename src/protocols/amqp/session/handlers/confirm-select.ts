/** confirm.select: publisher confirms for the rest of the channel's life (406 on a tx channel). */
import { confirmSelectOk } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError } from '../util.js';

export function confirmSelect(ch: Channel, nowait: boolean): void {
  if (ch.tx) throw amqpError(406, 'cannot switch from tx to confirm mode', 85, 10);
  ch.startConfirms();
  if (!nowait) ch.conn.sendMethod(ch.id, confirmSelectOk());
}
