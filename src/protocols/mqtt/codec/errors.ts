/**
 * The one error type the MQTT codec throws. `reasonCode` is the MQTT 5 reason the server puts in
 * its DISCONNECT before closing (0x81 malformed packet, 0x82 protocol error, 0x95 packet too
 * large); a 3.1.1 connection is simply closed. The decoder never throws anything else on any
 * input: every read is bounds-checked (see reader.ts) and fuzzed by test/unit/mqtt.
 */
export const RC_MALFORMED = 0x81;
export const RC_PROTOCOL_ERROR = 0x82;
export const RC_PACKET_TOO_LARGE = 0x95;

export class MqttCodecError extends Error {
  readonly reasonCode: number;
  constructor(reasonCode: number, message: string) {
    super(message);
    this.name = 'MqttCodecError';
    this.reasonCode = reasonCode;
  }
}

export function malformed(message: string): MqttCodecError {
  return new MqttCodecError(RC_MALFORMED, message);
}

export function protocolError(message: string): MqttCodecError {
  return new MqttCodecError(RC_PROTOCOL_ERROR, message);
}
