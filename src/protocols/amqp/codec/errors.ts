/**
 * Typed errors of the AMQP 0-9-1 codec.
 *
 * Everything the decoder throws on hostile or malformed input is an `AmqpError`; nothing else
 * (no RangeError from Buffer reads, no stack overflow from nested tables). The session turns it
 * into `connection.close` (hard errors: 5xx) or `channel.close` (soft errors: 3xx/4xx) using
 * `replyCode`, `replyText`, `classId` and `methodId`, which map 1:1 onto that method's arguments.
 *
 * `AmqpError` extends `OmnibusError` so generic error handling keeps working. The core catalogue
 * (src/core/errors.ts) has no protocol-error code yet, so these carry `MQ_ERR_INVALID_ARGUMENT`
 * (the peer sent an invalid argument); the AMQP-specific detail is `replyCode`.
 *
 * Encoding errors (a caller passes a 300-byte shortstr, a negative delivery tag, a cyclic table)
 * are programming errors on our side, not peer errors: they are plain `OmnibusError`s with
 * `MQ_ERR_INVALID_ARGUMENT` and no reply code.
 */
import { OmnibusError, err } from '../../../core/errors.js';

/** Reply codes the codec itself raises (a subset of the spec's reply codes). */
export const CodecReplyCode = {
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  UNEXPECTED_FRAME: 505,
  NOT_IMPLEMENTED: 540,
} as const;
export type CodecReplyCode = (typeof CodecReplyCode)[keyof typeof CodecReplyCode];

export class AmqpError extends OmnibusError {
  /** AMQP reply code for connection.close / channel.close. */
  readonly replyCode: number;
  /** Channel the offending frame arrived on (0 when unknown or connection-level). */
  readonly channel: number;
  /** Class/method of the offending method, 0 when the error is not about a method. */
  readonly classId: number;
  readonly methodId: number;
  /**
   * True when the byte stream can no longer be framed (bad frame-end, oversized or unknown frame
   * type): the parser refuses further input. False for errors inside a well-framed frame: the
   * parser has consumed that frame and can keep reading (the session must still find
   * connection.close-ok / channel.close-ok in what follows).
   */
  readonly fatal: boolean;

  constructor(
    replyCode: number,
    message: string,
    opts: { channel?: number; classId?: number; methodId?: number; fatal?: boolean } = {},
  ) {
    super('MQ_ERR_INVALID_ARGUMENT', message);
    this.name = 'AmqpError';
    this.replyCode = replyCode;
    this.channel = opts.channel ?? 0;
    this.classId = opts.classId ?? 0;
    this.methodId = opts.methodId ?? 0;
    this.fatal = opts.fatal ?? false;
  }

  /**
   * `reply-text` for connection.close / channel.close: the message truncated to 255 UTF-8 bytes
   * (a shortstr), prefixed with the reply-code name RabbitMQ-style, e.g. "FRAME_ERROR - ...".
   */
  get replyText(): string {
    const name = REPLY_NAMES[this.replyCode] ?? 'ERROR';
    let text = `${name} - ${this.message}`;
    while (Buffer.byteLength(text, 'utf8') > 255) text = text.slice(0, text.length - 8);
    return text;
  }
}

const REPLY_NAMES: Record<number, string> = {
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  505: 'UNEXPECTED_FRAME',
  540: 'NOT_IMPLEMENTED',
};

export function isAmqpError(e: unknown): e is AmqpError {
  return e instanceof AmqpError;
}

/** Malformed method arguments / header properties: 502 SYNTAX_ERROR. */
export function syntaxError(message: string): AmqpError {
  return new AmqpError(CodecReplyCode.SYNTAX_ERROR, message);
}

/** Encoder misuse (our bug or bad caller input), never a peer error. */
export function encodeError(message: string): OmnibusError {
  return err('MQ_ERR_INVALID_ARGUMENT', `AMQP encode: ${message}`);
}
