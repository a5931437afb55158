/**
 * UNSUBSCRIBE → UNSUBACK (v5: 0x00 per removed filter, 0x11 when there was no such subscription).
 * Messages already queued for a removed filter are dropped at delivery unless another subscription
 * of the session still matches them (session.ts re-matches every delivery).
 */
import { RC, type UnsubscribePacket } from '../codec/index.js';
import type { MqttConnection } from './connection.js';

export async function handleUnsubscribe(conn: MqttConnection, p: UnsubscribePacket): Promise<void> {
  const session = conn.session!;
  const codes: number[] = [];
  for (const f of p.topics) {
    const had = await session.removeSubscription(f);
    if (had) conn.broker.store.write({ t: 'unsub', c: session.clientId, f });
    codes.push(had ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  }
  if (session.persistent) await conn.broker.store.durable();
  if (conn.isClosed()) return;
  conn.send(conn.version === 5 ? { type: 'unsuback', packetId: p.packetId, reasonCodes: codes } : { type: 'unsuback', packetId: p.packetId });
}
