/**
 * RESP2/RESP3 codec: pure bytes ⇄ values, no sockets and no engine state.
 *  - RespCommandParser: server side, client bytes → command argument vectors.
 *  - ReplyWriter: server side, replies → bytes, RESP2 or RESP3 per connection.
 *  - RespReplyParser: client side, server bytes → JS values.
 */
export {
  RespCommandParser,
  splitArgs,
  expectedDollarError,
  PROTOCOL_ERRORS,
  DEFAULT_MAX_BULK_LENGTH,
  DEFAULT_MAX_MULTIBULK_LENGTH,
  DEFAULT_MAX_INLINE_LENGTH,
  DEFAULT_MAX_BUFFERED_BYTES,
} from './parser.js';
export type { CommandParserOptions } from './parser.js';
export { ProtocolError, isProtocolError } from './protocol-error.js';
export { ReplyWriter, formatDouble } from './writer.js';
export type { RespVersion, RespValue, RespTagged, ReplyWriterOptions, ChunkSink } from './writer.js';
export { RespReplyParser, ReplyError, PushReply } from './reply-parser.js';
export type { RespReply, ReplyParserOptions } from './reply-parser.js';
