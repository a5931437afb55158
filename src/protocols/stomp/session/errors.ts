/**
 * A request the session refuses: the connection answers with an ERROR frame whose `message`
 * header is `message` (plus `receipt-id` of the offending frame) and the body `detail`, then
 * closes, as STOMP 1.2 requires after an ERROR.
 */
export class StompError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    /** Extra ERROR headers (e.g. `version` when negotiation fails). */
    readonly headers: readonly (readonly [string, string])[] = [],
  ) {
    super(message);
    this.name = 'StompError';
  }
}
