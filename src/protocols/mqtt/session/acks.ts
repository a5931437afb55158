/**
 * Acknowledgements of outbound PUBLISHes: PUBACK (QoS 1), PUBREC → PUBREL and PUBCOMP (QoS 2).
 * An ack for an unknown packet id is ignored in 3.1.1; in v5 a PUBREL for it carries 0x92.
 */
import { RC, type AckPacket } from '../codec/index.js';
import type { MqttConnection } from './connection.js';

export function handlePuback(conn: MqttConnection, p: AckPacket): void {
  conn.session!.onPuback(p.packetId);
}

export function handlePubrec(conn: MqttConnection, p: AckPacket): void {
  const failed = (p.reasonCode ?? 0) >= 0x80;
  const known = conn.session!.onPubrec(p.packetId, failed);
  if (failed) return;
  if (known) conn.send({ type: 'pubrel', packetId: p.packetId });
  else if (conn.version === 5) conn.send({ type: 'pubrel', packetId: p.packetId, reasonCode: RC.PACKET_ID_NOT_FOUND });
  else conn.send({ type: 'pubrel', packetId: p.packetId });
}

export function handlePubcomp(conn: MqttConnection, p: AckPacket): void {
  conn.session!.onPubcomp(p.packetId);
}
