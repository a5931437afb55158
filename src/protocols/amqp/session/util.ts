/**
 * Small helpers shared by the AMQP session: protocol errors with RabbitMQ's reply texts, property
 * (re-)encoding, header conversion between AMQP field tables and the engine's string headers,
 * and server-generated names.
 *
 * Not here: anything that touches sockets or engine state.
 */
import { randomBytes } from 'node:crypto';
import { AmqpError, REPLY_CODES, Reader, Writer, decodeBasicProperties, encodeBasicProperties, sizeBasicProperties, AmqpDecimal, FieldTyped } from '../index.js';
import type { BasicProperties, FieldTable, FieldValue } from '../index.js';
import { PROPS_AMQP091, type DecodedRecord } from '../../../engine/record.js';

/** Record header carrying the exchange a message was published to (absent = default exchange). */
export const EXCHANGE_HEADER = 'x-amqp-exchange';

/**
 * A protocol error raised by a handler. `hard` errors close the connection, soft ones the channel;
 * by default the reply code decides (REPLY_CODES from the spec).
 */
export function amqpError(code: number, message: string, classId = 0, methodId = 0): AmqpError {
  return new AmqpError(code, message, { classId, methodId });
}

export function isHardError(code: number): boolean {
  return REPLY_CODES.get(code)?.hardError ?? true;
}

/** RabbitMQ-style reply text: "NOT_FOUND - no queue 'q' in vhost '/'", cut to a shortstr. */
export function replyTextOf(code: number, message: string): string {
  const name = REPLY_CODES.get(code)?.name ?? 'ERROR';
  let text = message.startsWith(name + ' - ') ? message : `${name} - ${message}`;
  while (Buffer.byteLength(text, 'utf8') > 255) text = text.slice(0, text.length - 8);
  return text;
}

/** Random URL-safe name suffix like RabbitMQ's `amq.gen-…` (22 chars of base64url = 128 bits). */
export function genName(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url');
}

const propWriter = new Writer();

/** Encodes properties to the raw flag-word + values form stored in records. */
export function encodeProps(p: BasicProperties): Buffer {
  const buf = Buffer.allocUnsafe(sizeBasicProperties(p));
  propWriter.reset(buf, 0);
  encodeBasicProperties(propWriter, p);
  return propWriter.pos === buf.length ? buf : buf.subarray(0, propWriter.pos);
}

const propReader = new Reader();

/** Decodes raw properties (as stored in a record's `props`). Throws AmqpError on bad bytes. */
export function decodeProps(raw: Buffer): BasicProperties {
  propReader.reset(raw, 0, raw.length);
  const flags = propReader.u16();
  return decodeBasicProperties(propReader, flags);
}

/** String form of a simple header value for other protocols; undefined for tables/arrays/bytes. */
function headerString(v: FieldValue): string | undefined {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(v);
    default:
      if (v instanceof Date) return String(Math.floor(v.getTime() / 1000));
      if (v instanceof AmqpDecimal) return String(v.value / 10 ** v.scale);
      if (v instanceof FieldTyped) return headerString(v.value);
      return undefined;
  }
}

/** The engine's string headers for an AMQP headers table (simple values only). */
export function stringHeaders(t: FieldTable | undefined, exchange: string): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  if (t !== undefined) {
    for (const k in t) {
      const s = headerString(t[k]);
      if (s !== undefined) (out ??= {})[k] = s;
    }
  }
  if (exchange !== '') (out ??= {})[EXCHANGE_HEADER] = exchange;
  return out;
}

/** JSON-safe plain form of a field value (for persisted arguments and engine bindings). */
export function plainValue(v: FieldValue): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  if (v instanceof AmqpDecimal) return v.value / 10 ** v.scale;
  if (v instanceof FieldTyped) return plainValue(v.value);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (Array.isArray(v)) return v.map(plainValue);
  if (typeof v === 'object') return plainTable(v as FieldTable);
  return v;
}

export function plainTable(t: FieldTable | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (t) for (const k in t) out[k] = plainValue(t[k]);
  return out;
}

/**
 * AMQP properties of a stored record: the publisher's bytes when it came in over AMQP, otherwise
 * built from the engine's string headers (messages from other protocols).
 */
export function recordProps(rec: DecodedRecord): Uint8Array | BasicProperties {
  if (rec.propsFormat === PROPS_AMQP091 && rec.props !== undefined) return rec.props;
  const p: BasicProperties = {};
  let headers: FieldTable | undefined;
  for (const k in rec.headers) {
    if (k === EXCHANGE_HEADER) continue;
    const v = rec.headers[k]!;
    if (k === 'content-type') p.contentType = v;
    else (headers ??= {})[k] = v;
  }
  if (headers) p.headers = headers;
  if (rec.priority > 0) p.priority = rec.priority;
  return p;
}

/** Properties of a record as an object (decoding stored AMQP bytes when present). */
export function recordPropsObject(rec: { props?: Uint8Array | undefined; propsFormat?: number | undefined; headers?: Readonly<Record<string, string>> | undefined; priority: number }): BasicProperties {
  if (rec.propsFormat === PROPS_AMQP091 && rec.props !== undefined) {
    return decodeProps(Buffer.isBuffer(rec.props) ? rec.props : Buffer.from(rec.props.buffer, rec.props.byteOffset, rec.props.byteLength));
  }
  return recordProps({ ...(rec as DecodedRecord), headers: rec.headers ?? {} }) as BasicProperties;
}

/** Numeric argument (any integer tag), or undefined when absent; throws 406 on a non-number. */
export function numArg(args: FieldTable, name: string, what: string): number | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v instanceof FieldTyped ? Number(v.value) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw amqpError(406, `invalid arg '${name}' for ${what}: ${String(v)} is not a number`);
  }
  return n;
}

export function strArg(args: FieldTable, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof FieldTyped) return String(v.value);
  return String(v);
}

/** True when the peer address is loopback (guest may only log in from there, as in RabbitMQ). */
export function isLoopback(addr: string | undefined): boolean {
  if (addr === undefined) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}
