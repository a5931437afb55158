/**
 * The one error the STOMP codec throws: bytes that are not a STOMP frame ('syntax') or a frame
 * beyond a configured limit ('limit'). It is an OmnibusError with code MQ_ERR_PROTOCOL, so the
 * session answers with an ERROR frame and closes the connection; nothing else escapes the parser
 * (the fuzz test in test/unit/stomp checks that).
 */
import { OmnibusError } from '../../../core/errors.js';

export type StompFrameErrorKind = 'syntax' | 'limit';

export class StompFrameError extends OmnibusError {
  readonly kind: StompFrameErrorKind;
  constructor(kind: StompFrameErrorKind, message: string) {
    super('MQ_ERR_PROTOCOL', message);
    this.name = 'StompFrameError';
    this.kind = kind;
  }
}
