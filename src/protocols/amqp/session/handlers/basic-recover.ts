/**
 * basic.recover / basic.recover-async: every unacked delivery of the channel goes back to its
 * queue and is redelivered with redelivered=true. requeue=false is served like requeue=true (the
 * messages may then reach another consumer, which the spec allows).
 */
import { basicRecoverOk } from '../../index.js';
import type { Channel } from '../channel.js';

export function basicRecover(ch: Channel, _requeue: boolean, sync: boolean): void {
  const entries = [...ch.unacked.values()];
  ch.unacked.clear();
  for (const u of entries) {
    if (u.kind === 'queue') {
      u.d.nack().catch(() => {});
      u.consumer?.settled();
    } else u.consumer.settled(1);
  }
  if (sync) ch.conn.sendMethod(ch.id, basicRecoverOk());
}
