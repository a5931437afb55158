/**
 * Client DISCONNECT. Reason 0x00 discards the will; 0x04 (v5, "disconnect with will message")
 * keeps it. A v5 client may change the Session Expiry Interval here, except from 0 to non-zero
 * (a Protocol Error, §3.14.2.2.2).
 */
import { RC, type DisconnectPacket } from '../codec/index.js';
import type { MqttConnection } from './connection.js';
import { MqttViolation } from './violation.js';

export function handleDisconnect(conn: MqttConnection, p: DisconnectPacket): Promise<void> {
  const s = conn.session!;
  const exp = p.properties?.sessionExpiryInterval;
  if (exp !== undefined && exp !== s.expiry) {
    if (s.expiry === 0 && exp > 0) throw new MqttViolation(RC.PROTOCOL_ERROR, 'Session Expiry Interval changed from 0 at DISCONNECT');
    s.expiry = exp;
    if (exp > 0 && s.persistent) conn.broker.store.write({ t: 's', c: s.clientId, exp, v: s.version });
  }
  return conn.endNormally(p.reasonCode === RC.DISCONNECT_WITH_WILL);
}
