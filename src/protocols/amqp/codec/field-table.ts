/**
 * AMQP field tables and field arrays with RabbitMQ's value types (the "AMQP 0-9-1 errata" tags,
 * which differ from the 0-9-1 PDF: `s` is a signed 16-bit int, `l` a signed 64-bit int, and there
 * is no short-string tag).
 *
 * JS representation (decode → value → encode):
 *
 * | tag | wire                 | decoded as                          | encoded from (inferred)          |
 * | --- | -------------------- | ----------------------------------- | -------------------------------- |
 * | t   | boolean octet        | boolean                             | boolean                          |
 * | b B | int8 / uint8         | number                              | FieldTyped('b'/'B', n)           |
 * | s u | int16 / uint16       | number                              | FieldTyped('s'/'u', n)           |
 * | I   | int32                | number                              | integer number in int32 range    |
 * | i   | uint32               | number                              | FieldTyped('i', n)               |
 * | l   | int64 (also `L`)     | number if safe, else bigint         | other safe integer, or bigint    |
 * | f   | float32              | number                              | FieldTyped('f', n)               |
 * | d   | float64              | number                              | non-integer number, -0, NaN, ±∞  |
 * | D   | scale u8 + uint32    | AmqpDecimal                         | AmqpDecimal                      |
 * | S   | longstr              | string (UTF-8), or FieldTyped('S', Buffer) if not valid UTF-8 | string |
 * | A   | array                | FieldValue[]                        | array                            |
 * | T   | uint64 seconds       | Date, or FieldTyped('T', n) beyond Date's range | Date (ms truncated) |
 * | F   | table                | FieldTable (plain object)           | plain object                     |
 * | V   | void                 | null                                | null (undefined: key skipped in tables, V in arrays) |
 * | x   | byte array           | Buffer (view into the frame)        | Uint8Array / Buffer              |
 *
 * Trade-offs, decided:
 * - Narrow integer tags (b, B, s, u, i) and `f` decode to plain numbers, so re-encoding a decoded
 *   table may widen the tag (b → I). amqplib, pika and py-amqp expose all of them as plain numbers,
 *   so clients cannot tell. Where the exact tag matters, wrap the value in `FieldTyped`. The
 *   broker should forward message properties as the raw bytes it received (see
 *   ContentHeader.rawProperties) instead of re-encoding them, which keeps publishers' tags intact.
 * - `S` decodes to a string because every client puts text there (amqplib and py-amqp decode it
 *   as UTF-8 too) and the engine compares header values as strings. Invalid UTF-8 would be lossy,
 *   so it falls back to FieldTyped('S', Buffer), which re-encodes byte-exactly. Cost: one
 *   simdutf validation per `S` value (~1 ns/byte).
 * - 64-bit: number in the safe range, bigint outside it, so common values (TTLs, counts) stay
 *   cheap numbers and rare huge values are still exact.
 * - Nesting depth is capped at MAX_FIELD_DEPTH (64) both ways: hostile input of nested `F`
 *   values would otherwise overflow the stack (a RangeError, not our typed error). x-death, the
 *   deepest structure RabbitMQ itself produces, needs 3.
 *
 * Not done here: key validation (RabbitMQ accepts any shortstr key, so do we), duplicate-key
 * detection (last one wins), and any semantic checks of x-arguments.
 */
import type { Reader, Writer } from './buffer-io.js';
import { encodeError, syntaxError } from './errors.js';

export type FieldTag = 't' | 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'f' | 'd' | 'D' | 'S' | 'A' | 'T' | 'F' | 'V' | 'x';

/** AMQP decimal: value × 10^-scale, with RabbitMQ's layout (scale octet, unsigned 32-bit value). */
export class AmqpDecimal {
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

/**
 * A value with an explicit wire tag. Used to force a tag on encode (e.g. `new FieldTyped('b', 1)`)
 * and by the decoder for the two values that have no lossless plain form (non-UTF-8 `S`,
 * out-of-Date-range `T`).
 */
export class FieldTyped {
  constructor(
    readonly type: FieldTag,
    readonly value: FieldValue,
  ) {}
}

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | null
  | undefined
  | AmqpDecimal
  | FieldTyped
  | FieldArray
  | FieldTable;

export type FieldArray = FieldValue[];

export interface FieldTable {
  [key: string]: FieldValue;
}

export const MAX_FIELD_DEPTH = 64;

/** Date's range is ±8.64e15 ms; u64 seconds beyond 8.64e12 cannot be a Date. */
const MAX_DATE_SECONDS = 8.64e12;

// ------------------------------------------------------------------------------------------------
// Decoding

/**
 * The wire tags of a decoded table's values whose tag a re-encode would not infer (every numeric
 * tag but `I`): a non-enumerable property of the table, absent when there are none. RabbitMQ
 * names the field type in its "inequivalent arg" errors ("the value '10' of type 'byte'"), and
 * amqplib sends 10 as `b`, pika as `I`, so the broker must know which one arrived. Cost: one
 * small object per table that has such a value; none for string/boolean/`I` tables.
 */
export const FIELD_TAGS: unique symbol = Symbol('amqp.fieldTags');

/** Tags recorded in FIELD_TAGS (0x62 b, 0x42 B, 0x73 s, 0x75 u, 0x69 i, 0x6c l, 0x4c L, 0x66 f, 0x64 d). */
const RECORDED = new Set([0x62, 0x42, 0x73, 0x75, 0x69, 0x6c, 0x4c, 0x66, 0x64]);

/** RabbitMQ's names of the field types (rabbit_binary_parser), as its error texts print them. */
export const RABBIT_TYPE_NAMES: Readonly<Record<FieldTag, string>> = {
  t: 'bool',
  b: 'byte',
  B: 'unsignedbyte',
  s: 'short',
  u: 'unsignedshort',
  I: 'signedint',
  i: 'unsignedint',
  l: 'long',
  f: 'float',
  d: 'double',
  D: 'decimal',
  S: 'longstr',
  A: 'array',
  T: 'timestamp',
  F: 'table',
  V: 'void',
  x: 'binary',
};

/** The wire tag `t[key]` arrived with (recorded, or the one its decoded form implies). */
export function fieldTagOf(t: FieldTable, key: string): FieldTag | undefined {
  const recorded = (t as { [FIELD_TAGS]?: Record<string, FieldTag> })[FIELD_TAGS]?.[key];
  if (recorded !== undefined) return recorded;
  return inferTag(t[key]);
}

function inferTag(v: FieldValue): FieldTag | undefined {
  if (v === undefined) return undefined;
  if (v === null) return 'V';
  if (typeof v === 'boolean') return 't';
  if (typeof v === 'string') return 'S';
  if (typeof v === 'bigint') return 'l';
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) ? (v >= -0x80000000 && v <= 0x7fffffff ? 'I' : 'l') : 'd';
  if (v instanceof FieldTyped) return v.type;
  if (v instanceof AmqpDecimal) return 'D';
  if (v instanceof Date) return 'T';
  if (v instanceof Uint8Array) return 'x';
  return Array.isArray(v) ? 'A' : 'F';
}

export function readFieldTable(r: Reader, depth = 0): FieldTable {
  const len = r.u32();
  const outerEnd = r.end;
  const end = r.pos + len;
  if (end > outerEnd) throw syntaxError(`field table of ${len} bytes overruns its container`);
  const table: FieldTable = {};
  if (len === 0) return table;
  if (depth >= MAX_FIELD_DEPTH) throw syntaxError(`field tables nested deeper than ${MAX_FIELD_DEPTH}`);
  r.end = end;
  let tags: Record<string, FieldTag> | undefined;
  try {
    while (r.pos < end) {
      const key = r.shortstr();
      const tag = r.u8();
      const value = readTaggedValue(r, tag, depth + 1);
      if (key === '__proto__') {
        Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        table[key] = value;
      }
      if (RECORDED.has(tag)) {
        tags ??= Object.create(null) as Record<string, FieldTag>;
        tags[key] = (tag === 0x4c ? 'l' : String.fromCharCode(tag)) as FieldTag;
      } else if (tags !== undefined && tags[key] !== undefined) delete tags[key]; // a duplicate key: the last one wins
    }
  } finally {
    r.end = outerEnd;
  }
  if (tags !== undefined) Object.defineProperty(table, FIELD_TAGS, { value: tags });
  return table;
}

export function readFieldArray(r: Reader, depth = 0): FieldArray {
  const len = r.u32();
  const outerEnd = r.end;
  const end = r.pos + len;
  if (end > outerEnd) throw syntaxError(`field array of ${len} bytes overruns its container`);
  const arr: FieldArray = [];
  if (len === 0) return arr;
  if (depth >= MAX_FIELD_DEPTH) throw syntaxError(`field arrays nested deeper than ${MAX_FIELD_DEPTH}`);
  r.end = end;
  try {
    while (r.pos < end) arr.push(readFieldValue(r, depth + 1));
  } finally {
    r.end = outerEnd;
  }
  return arr;
}

function readFieldValue(r: Reader, depth: number): FieldValue {
  return readTaggedValue(r, r.u8(), depth);
}

function readTaggedValue(r: Reader, tag: number, depth: number): FieldValue {
  switch (tag) {
    case 0x53 /* S */: {
      const text = r.longstrText();
      return text !== undefined ? text : new FieldTyped('S', r.longstr());
    }
    case 0x49 /* I */:
      return r.i32();
    case 0x74 /* t */:
      return r.u8() !== 0;
    case 0x6c /* l */:
    case 0x4c /* L: RabbitMQ reads it as signed 64 too */:
      return r.i64Exact();
    case 0x46 /* F */:
      return readFieldTable(r, depth);
    case 0x41 /* A */:
      return readFieldArray(r, depth);
    case 0x54 /* T */: {
      const secs = r.u64Exact();
      return typeof secs === 'number' && secs <= MAX_DATE_SECONDS ? new Date(secs * 1000) : new FieldTyped('T', secs);
    }
    case 0x62 /* b */:
      return r.i8();
    case 0x42 /* B */:
      return r.u8();
    case 0x73 /* s */:
      return r.i16();
    case 0x75 /* u */:
      return r.u16();
    case 0x69 /* i */:
      return r.u32();
    case 0x66 /* f */:
      return r.f32();
    case 0x64 /* d */:
      return r.f64();
    case 0x44 /* D */: {
      const scale = r.u8();
      return new AmqpDecimal(scale, r.u32());
    }
    case 0x56 /* V */:
      return null;
    case 0x78 /* x */:
      return r.longstr();
    default:
      throw syntaxError(`unknown field value type 0x${tag.toString(16).padStart(2, '0')} at offset ${r.pos - 1}`);
  }
}

// ------------------------------------------------------------------------------------------------
// Encoding

function isPlainObject(v: object): v is FieldTable {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Upper bound of the encoded size of a table (including its 4-byte length). */
export function fieldTableBound(t: FieldTable, depth = 0): number {
  if (depth > MAX_FIELD_DEPTH) throw encodeError(`field tables nested deeper than ${MAX_FIELD_DEPTH} (cyclic?)`);
  let n = 4;
  for (const k of Object.keys(t)) {
    const v = t[k];
    if (v === undefined) continue;
    n += 1 + 3 * k.length + fieldValueBound(v, depth + 1);
  }
  return n;
}

function fieldArrayBound(a: FieldArray, depth: number): number {
  if (depth > MAX_FIELD_DEPTH) throw encodeError(`field arrays nested deeper than ${MAX_FIELD_DEPTH} (cyclic?)`);
  let n = 4;
  for (const v of a) n += fieldValueBound(v, depth + 1);
  return n;
}

/** Upper bound including the tag octet. */
function fieldValueBound(v: FieldValue, depth: number): number {
  switch (typeof v) {
    case 'boolean':
      return 2;
    case 'number':
    case 'bigint':
      return 9;
    case 'string':
      return 5 + 3 * v.length;
    case 'undefined':
      return 1;
    case 'object':
      if (v === null) return 1;
      if (v instanceof Uint8Array) return 5 + v.length;
      if (v instanceof Date) return 9;
      if (v instanceof AmqpDecimal) return 6;
      if (v instanceof FieldTyped) return fieldValueBound(v.value, depth);
      if (Array.isArray(v)) return 1 + fieldArrayBound(v, depth);
      if (isPlainObject(v)) return 1 + fieldTableBound(v, depth);
      throw encodeError(`unsupported field value: ${Object.prototype.toString.call(v)}`);
    default:
      throw encodeError(`unsupported field value of type ${typeof v}`);
  }
}

export function writeFieldTable(w: Writer, t: FieldTable, depth = 0): void {
  if (depth > MAX_FIELD_DEPTH) throw encodeError(`field tables nested deeper than ${MAX_FIELD_DEPTH} (cyclic?)`);
  const lenAt = w.pos;
  w.pos = lenAt + 4;
  for (const k of Object.keys(t)) {
    const v = t[k];
    if (v === undefined) continue;
    w.shortstr(k);
    writeFieldValue(w, v, depth + 1);
  }
  w.buf.writeUInt32BE(w.pos - lenAt - 4, lenAt);
}

export function writeFieldArray(w: Writer, a: FieldArray, depth = 0): void {
  if (depth > MAX_FIELD_DEPTH) throw encodeError(`field arrays nested deeper than ${MAX_FIELD_DEPTH} (cyclic?)`);
  const lenAt = w.pos;
  w.pos = lenAt + 4;
  for (const v of a) writeFieldValue(w, v, depth + 1);
  w.buf.writeUInt32BE(w.pos - lenAt - 4, lenAt);
}

const TAG = {
  t: 0x74, b: 0x62, B: 0x42, s: 0x73, u: 0x75, I: 0x49, i: 0x69, l: 0x6c, f: 0x66, d: 0x64,
  D: 0x44, S: 0x53, A: 0x41, T: 0x54, F: 0x46, V: 0x56, x: 0x78,
} as const satisfies Record<FieldTag, number>;

function writeFieldValue(w: Writer, v: FieldValue, depth: number): void {
  switch (typeof v) {
    case 'boolean':
      w.bits(TAG.t);
      w.bits(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(v) && !Object.is(v, -0)) {
        if (v >= -0x80000000 && v <= 0x7fffffff) {
          w.bits(TAG.I);
          w.i32(v);
          return;
        }
        if (Number.isSafeInteger(v)) {
          w.bits(TAG.l);
          w.i64(v);
          return;
        }
      }
      w.bits(TAG.d);
      w.f64(v);
      return;
    case 'bigint':
      w.bits(TAG.l);
      w.i64(v);
      return;
    case 'string':
      w.bits(TAG.S);
      w.longstr(v);
      return;
    case 'undefined':
      w.bits(TAG.V);
      return;
    case 'object':
      if (v === null) {
        w.bits(TAG.V);
      } else if (v instanceof Uint8Array) {
        w.bits(TAG.x);
        w.longstr(v);
      } else if (v instanceof Date) {
        w.bits(TAG.T);
        w.u64(dateSeconds(v));
      } else if (v instanceof AmqpDecimal) {
        w.bits(TAG.D);
        w.u8(v.scale);
        w.u32(v.value);
      } else if (v instanceof FieldTyped) {
        writeTyped(w, v, depth);
      } else if (Array.isArray(v)) {
        w.bits(TAG.A);
        writeFieldArray(w, v, depth);
      } else if (isPlainObject(v)) {
        w.bits(TAG.F);
        writeFieldTable(w, v, depth);
      } else {
        throw encodeError(`unsupported field value: ${Object.prototype.toString.call(v)}`);
      }
      return;
    default:
      throw encodeError(`unsupported field value of type ${typeof v}`);
  }
}

function dateSeconds(d: Date): number {
  const ms = d.getTime();
  if (!(ms >= 0)) throw encodeError(`timestamp must be a valid Date at or after 1970: ${String(d)}`);
  return Math.floor(ms / 1000);
}

function expectNumber(t: FieldTyped): number {
  if (typeof t.value !== 'number') throw encodeError(`FieldTyped('${t.type}') needs a number`);
  return t.value;
}

function writeTyped(w: Writer, t: FieldTyped, depth: number): void {
  const v = t.value;
  switch (t.type) {
    case 'b': w.bits(TAG.b); w.i8(expectNumber(t)); return;
    case 'B': w.bits(TAG.B); w.u8(expectNumber(t)); return;
    case 's': w.bits(TAG.s); w.i16(expectNumber(t)); return;
    case 'u': w.bits(TAG.u); w.u16(expectNumber(t)); return;
    case 'I': w.bits(TAG.I); w.i32(expectNumber(t)); return;
    case 'i': w.bits(TAG.i); w.u32(expectNumber(t)); return;
    case 'f': w.bits(TAG.f); w.f32(expectNumber(t)); return;
    case 'd': w.bits(TAG.d); w.f64(expectNumber(t)); return;
    case 'l':
      if (typeof v !== 'number' && typeof v !== 'bigint') throw encodeError(`FieldTyped('l') needs a number or bigint`);
      w.bits(TAG.l);
      w.i64(v);
      return;
    case 't':
      if (typeof v !== 'boolean') throw encodeError(`FieldTyped('t') needs a boolean`);
      w.bits(TAG.t);
      w.bits(v ? 1 : 0);
      return;
    case 'T':
      w.bits(TAG.T);
      if (typeof v === 'bigint') w.u64Big(v);
      else if (v instanceof Date) w.u64(dateSeconds(v));
      else w.u64(expectNumber(t));
      return;
    case 'S':
    case 'x':
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw encodeError(`FieldTyped('${t.type}') needs a string or bytes`);
      w.bits(TAG[t.type]);
      w.longstr(v);
      return;
    case 'D':
      if (!(v instanceof AmqpDecimal)) throw encodeError(`FieldTyped('D') needs an AmqpDecimal`);
      w.bits(TAG.D);
      w.u8(v.scale);
      w.u32(v.value);
      return;
    case 'A':
      if (!Array.isArray(v)) throw encodeError(`FieldTyped('A') needs an array`);
      w.bits(TAG.A);
      writeFieldArray(w, v, depth);
      return;
    case 'F':
      if (typeof v !== 'object' || v === null || !isPlainObject(v)) throw encodeError(`FieldTyped('F') needs a plain object`);
      w.bits(TAG.F);
      writeFieldTable(w, v, depth);
      return;
    case 'V':
      w.bits(TAG.V);
      return;
    default:
      throw encodeError(`unknown field tag ${String(t.type)}`);
  }
}
