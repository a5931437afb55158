/** PINGREQ → PINGRESP. Any received byte already reset the keep-alive watchdog (connection.ts). */
import type { MqttConnection } from './connection.js';

export function handlePingreq(conn: MqttConnection): void {
  conn.send({ type: 'pingresp' });
}
