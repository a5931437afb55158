/**
 * Test helpers: an independent byte builder (so recorded frames are built from the spec by hand,
 * not by the codec under test) and fast-check arbitraries for canonical AMQP values.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { AmqpDecimal, FieldTyped, FrameParser } from '../../../src/protocols/amqp/index.js';
import type { FieldTable, FieldValue, Frame, MethodInfo } from '../../../src/protocols/amqp/index.js';

export const u8 = (v: number): Buffer => Buffer.from([v]);
export const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
export const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
export const u64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};
export const sstr = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u8(b.length), b]);
};
export const lstr = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(b.length), b]);
};
/** A table from already-encoded "key + tag + value" entries. */
export const table = (...entries: Buffer[]): Buffer => {
  const body = Buffer.concat(entries);
  return Buffer.concat([u32(body.length), body]);
};
export const entryS = (k: string, v: string): Buffer => Buffer.concat([sstr(k), Buffer.from('S'), lstr(v)]);
export const entryT = (k: string, v: boolean): Buffer => Buffer.concat([sstr(k), Buffer.from('t'), u8(v ? 1 : 0)]);
export const entryF = (k: string, t: Buffer): Buffer => Buffer.concat([sstr(k), Buffer.from('F'), t]);
export const entryI = (k: string, v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return Buffer.concat([sstr(k), Buffer.from('I'), b]);
};
export const frame = (type: number, channel: number, ...payload: Buffer[]): Buffer => {
  const p = Buffer.concat(payload);
  return Buffer.concat([u8(type), u16(channel), u32(p.length), p, u8(0xce)]);
};
export const method = (channel: number, classId: number, methodId: number, ...args: Buffer[]): Buffer =>
  frame(1, channel, u16(classId), u16(methodId), ...args);

/** Parses everything; throws on error. */
export function parseAll(bytes: Buffer, opts: ConstructorParameters<typeof FrameParser>[0] = {}): Frame[] {
  const p = new FrameParser(opts);
  return [...p.push(bytes)];
}

// ------------------------------------------------------------------------------------------------
// Arbitraries

export const shortstrArb = fc.string({ unit: 'binary', maxLength: 255 }).filter((s) => Buffer.byteLength(s) <= 255);
export const keyArb = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
const bufArb = (max = 64) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** fc.integer is limited to 32 bits; this covers any safe-integer range. */
export const intIn = (min: number, max: number): fc.Arbitrary<number> => fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);

/** Values whose decode(encode(v)) deep-equals v (see codec/field-table.ts's table). */
export const fieldValueArb: fc.Arbitrary<FieldValue> = fc.letrec<{ value: FieldValue; table: FieldTable; array: FieldValue[] }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.boolean(),
    fc.integer(), // I
    fc.oneof(intIn(-MAX_SAFE, -2147483649), intIn(2147483648, MAX_SAFE)), // l
    fc.double(), // d (integral doubles come back as I/l numbers: equal)
    fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: -(2n ** 53n) }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n })),
    fc.string({ unit: 'binary', maxLength: 40 }),
    bufArb(),
    intIn(0, 8.64e12).map((s) => new Date(s * 1000)),
    fc.tuple(fc.integer({ min: 0, max: 255 }), intIn(0, 0xffffffff)).map(([s, v]) => new AmqpDecimal(s, v)),
    fc.constant(null),
    bufArb(16).filter((b) => !isUtf8(b)).map((b) => new FieldTyped('S', b)),
    fc.oneof(intIn(8.64e12 + 1, MAX_SAFE), fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n })).map((v) => new FieldTyped('T', v)),
    tie('array'),
    tie('table'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  table: fc.dictionary(keyArb, tie('value'), { maxKeys: 4, noNullPrototype: true }),
})).value;

export const fieldTableArb: fc.Arbitrary<FieldTable> = fc.dictionary(keyArb, fieldValueArb, { maxKeys: 5, noNullPrototype: true });

export function argArb(type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case 'bit':
      return fc.boolean();
    case 'octet':
      return fc.integer({ min: 0, max: 0xff });
    case 'short':
      return fc.integer({ min: 0, max: 0xffff });
    case 'long':
      return intIn(0, 0xffffffff);
    case 'longlong':
    case 'timestamp':
      return fc.maxSafeNat();
    case 'shortstr':
      return shortstrArb;
    case 'longstr':
      return bufArb(300);
    case 'table':
      return fieldTableArb;
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

export function argsArb(info: MethodInfo): fc.Arbitrary<Record<string, unknown>> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of info.fields) rec[f.name] = argArb(f.type);
  return fc.record(rec, { noNullPrototype: true });
}

/** Drops keys whose value is undefined (decoded properties carry all 14 keys). */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
