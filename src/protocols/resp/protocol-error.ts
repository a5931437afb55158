/**
 * The typed value both RESP parsers return (never throw) when the byte stream cannot be a valid
 * RESP stream. It is a class only so callers can use `instanceof`; its one field is the message,
 * worded like Redis's own (`Protocol error: invalid multibulk length`, ...) so a server session
 * can send `-ERR ${error}` verbatim and then close the connection, exactly as Redis does.
 *
 * A protocol error is sticky: once returned, the parser returns the same object forever and
 * drops further input, because after a framing error no later byte can be trusted.
 */
export class ProtocolError {
  readonly error: string;
  constructor(error: string) {
    this.error = error;
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}
