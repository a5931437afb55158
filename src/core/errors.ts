/**
 * Typed, coded errors. The `code` is stable API (users switch on it); the message may change.
 * The catalogue lives in docs/errors.md; every code thrown anywhere in src/ is declared here.
 */

export const ErrorCodes = {
  MQ_ERR_UNKNOWN_SCHEME: 'No transport is registered for a URL scheme',
  MQ_ERR_INVALID_URL: 'A connection URL could not be parsed',
  MQ_ERR_INVALID_ARGUMENT: 'An argument or option has an invalid value',
  MQ_ERR_CLOSED: 'The transport, subscription or store is closed',
  MQ_ERR_UNAVAILABLE: 'The broker cannot be reached (connection refused, DNS failure, timeout)',
  MQ_ERR_LEASE_LOST: 'The delivery lease expired or was revoked; the message may go to another consumer',
  MQ_ERR_NOT_FOUND: 'A topic, queue, exchange or group does not exist',
  MQ_ERR_EXISTS: 'An object exists with different properties',
  MQ_ERR_RESOURCE_LOCKED: 'An exclusive object is in use by another owner',
  MQ_ERR_PRECONDITION: 'A precondition of the operation does not hold',
  MQ_ERR_REJECTED: 'The publish was refused (queue full with reject-publish overflow)',
  MQ_ERR_PAYLOAD_TOO_LARGE: 'A message is larger than the configured maximum',
  MQ_ERR_SELECTOR: 'A message selector could not be parsed',
  MQ_ERR_DUPLICATE_SEQUENCE: 'A producer sequence number was already appended',
  MQ_ERR_OUT_OF_ORDER_SEQUENCE: 'A producer sequence number is not the next expected one',
  MQ_ERR_TX: 'A transaction operation is not valid in the transaction state',
  MQ_ERR_STORAGE: 'The storage engine failed (I/O error or unusable data directory)',
  MQ_ERR_CORRUPT: 'Stored data failed its checksum',
  MQ_ERR_OFFSET_OUT_OF_RANGE: 'The requested offset is not in the retained log',
  MQ_ERR_PROTOCOL: 'A client sent bytes that violate its wire protocol',
  MQ_ERR_AUTH: 'Authentication failed or the user may not do this',
  MQ_ERR_MISSING_DEPENDENCY: 'An optional package needed for this URL scheme is not installed',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class OmnibusError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'OmnibusError';
  }
}

export function isOmnibusError(e: unknown, code?: ErrorCode): e is OmnibusError {
  return e instanceof OmnibusError && (code === undefined || e.code === code);
}

/** Shorthand used throughout the code base: `throw err('MQ_ERR_NOT_FOUND', 'no queue "q"')`. */
export function err(code: ErrorCode, message: string, cause?: unknown): OmnibusError {
  return new OmnibusError(code, message, cause === undefined ? undefined : { cause });
}
