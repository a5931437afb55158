/**
 * Public API of the AMQP 0-9-1 codec: bytes ⇄ frames, no sockets and no engine state.
 *
 * - FrameParser: streaming parser (protocol header, method/header/body/heartbeat frames).
 * - encodeMethodFrame / encodeContent / encodeMessage / encodeMessageParts / encodeHeartbeat: frame writers.
 * - Generated per-method types, factories (e.g. basicDeliver({...})) and constants from
 *   RabbitMQ's spec JSON (see scripts/gen-amqp.ts).
 * - Field tables: representation documented in codec/field-table.ts.
 * - AmqpError: every decode failure, with the AMQP reply code to close with.
 */
import { Reader, Writer } from './codec/buffer-io.js';
import { syntaxError } from './codec/errors.js';
import { fieldTableBound as bound, readFieldTable as readTable, writeFieldTable as writeTable } from './codec/field-table.js';
import type { FieldTable as Table } from './codec/field-table.js';

export * from './generated/methods.js';
export {
  AmqpDecimal,
  FIELD_TAGS,
  RABBIT_TYPE_NAMES,
  fieldTagOf,
  FieldTyped,
  MAX_FIELD_DEPTH,
  fieldTableBound,
  readFieldArray,
  readFieldTable,
  writeFieldArray,
  writeFieldTable,
} from './codec/field-table.js';
export type { FieldArray, FieldTable, FieldTag, FieldValue } from './codec/field-table.js';
export { Reader, Writer, shortstrBound } from './codec/buffer-io.js';
export { AmqpError, CodecReplyCode, isAmqpError } from './codec/errors.js';
export {
  DEFAULT_FRAME_MAX,
  FRAME_HEADER_SIZE,
  FRAME_OVERHEAD,
  FrameParser,
  PROTOCOL_HEADER,
  encodeContent,
  encodeHeartbeat,
  encodeMessage,
  encodeMessageParts,
  encodeMethodFrame,
  encodeRawFrame,
} from './codec/frame.js';
export type {
  BodyFrame,
  ContentHeader,
  Frame,
  FrameParserOptions,
  HeaderFrame,
  HeartbeatFrame,
  MethodFrame,
  PropertiesInput,
  ProtocolHeaderFrame,
} from './codec/frame.js';


/** Encodes a field table to bytes (with its 4-byte length prefix). */
export function encodeFieldTable(t: Table): Buffer {
  const buf = Buffer.allocUnsafe(bound(t));
  const w = new Writer().reset(buf, 0);
  writeTable(w, t);
  return w.pos === buf.length ? buf : buf.subarray(0, w.pos);
}

/**
 * Decodes a field table. `lengthPrefixed: false` is for the AMQPLAIN SASL response, which
 * py-amqp and the Java client send as table entries without the 4-byte length. Bytes after the
 * table are an error. Throws AmqpError 502 on malformed input.
 */
export function decodeFieldTable(b: Uint8Array, lengthPrefixed = true): Table {
  let buf: Buffer;
  if (lengthPrefixed) {
    buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
  } else {
    buf = Buffer.allocUnsafe(b.length + 4);
    buf.writeUInt32BE(b.length, 0);
    buf.set(b, 4);
  }
  const r = new Reader().reset(buf, 0, buf.length);
  const t = readTable(r);
  if (r.pos !== buf.length) throw syntaxError(`${buf.length - r.pos} bytes after the field table`);
  return t;
}
