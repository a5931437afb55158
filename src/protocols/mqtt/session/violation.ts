/**
 * A protocol violation found by a packet handler: the connection sends (MQTT 5) a DISCONNECT with
 * `reasonCode` and closes; a 3.1.1 connection just closes, as the spec requires.
 */
export class MqttViolation extends Error {
  constructor(
    readonly reasonCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'MqttViolation';
  }
}
