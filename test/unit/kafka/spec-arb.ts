/**
 * fast-check arbitraries built straight from the JSON specs (an interpreter independent of the
 * generator): for a message and a version, values whose fields outside that version hold the
 * default the decoder fills in, so decode(encode(x)) must deep-equal x.
 */
import fc from 'fast-check';
import { loadSpec, parseRange } from '../../../scripts/gen-kafka.js';
import type { FieldSpec, MessageSpec, Range } from '../../../scripts/gen-kafka.js';

const inR = (r: Range | null, v: number): boolean => r !== null && v >= r.lo && v <= r.hi;
const camel = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
const SCALAR = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'uuid']);

function defaultOf(f: FieldSpec): unknown {
  const d = f.default;
  if (f.type.startsWith('[]')) return [];
  if (f.type === 'records') return null;
  if (f.type === 'bytes') return d === 'null' ? null : Buffer.alloc(0);
  if (f.type === 'string') return d === 'null' ? null : d === undefined ? '' : String(d);
  if (f.type === 'bool') return d === true || d === 'true';
  if (f.type === 'uuid') return 'AAAAAAAAAAAAAAAAAAAAAA';
  if (SCALAR.has(f.type)) {
    if (d === undefined || d === '') return 0;
    return String(d).startsWith('0x') ? parseInt(String(d).slice(2), 16) : Number(d);
  }
  return undefined;
}

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
const str = fc.string({ maxLength: 10 });
const bytes = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b));

function scalarArb(t: string): fc.Arbitrary<unknown> {
  switch (t) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.oneof(fc.maxSafeInteger(), fc.constantFrom(-1, 0, 2 ** 40));
    case 'float64':
      return fc.double({ noNaN: true });
    case 'uuid':
      return uuidArb;
    case 'string':
      return str;
    default:
      throw new Error(`no scalar ${t}`);
  }
}

export class SpecArb {
  common = new Map<string, FieldSpec[]>();
  constructor(readonly msg: MessageSpec) {
    for (const c of msg.commonStructs ?? []) this.common.set(c.name, c.fields);
  }

  structFields(f: FieldSpec): FieldSpec[] {
    const base = f.type.replace(/^\[\]/, '');
    const fields = f.fields ?? this.common.get(base);
    if (!fields) throw new Error(`struct ${base}`);
    return fields;
  }

  fieldArb(f: FieldSpec, v: number, depth: number): fc.Arbitrary<unknown> {
    const present = inR(parseRange(f.versions ?? '0+'), v) && (f.tag === undefined || inR(parseRange(f.taggedVersions), v));
    const def = defaultOf(f);
    if (!present) return fc.constant(def);
    const nullable = inR(parseRange(f.nullableVersions), v);
    const orNull = (a: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => (nullable ? fc.option(a, { nil: null }) : a);
    const t = f.type;
    if (SCALAR.has(t)) return scalarArb(t);
    if (t === 'string') return orNull(str);
    if (t === 'bytes') return orNull(bytes);
    if (t === 'records') return fc.option(bytes, { nil: null });
    if (t.startsWith('[]')) {
      const el = t.slice(2);
      const elArb = SCALAR.has(el) || el === 'string' ? scalarArb(el) : this.structArb(this.structFields(f), v, depth + 1);
      return orNull(fc.array(elArb, { maxLength: depth > 2 ? 1 : 3 }));
    }
    // struct field (tagged in every spec used here): absent (undefined) or a struct
    return fc.option(this.structArb(this.structFields(f), v, depth + 1), { nil: undefined });
  }

  structArb(fields: FieldSpec[], v: number, depth = 0): fc.Arbitrary<Record<string, unknown>> {
    const rec: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of fields) rec[camel(f.name)] = this.fieldArb(f, v, depth);
    return fc.record(rec).map((o) => ({ ...o }));
  }

  messageArb(v: number): fc.Arbitrary<Record<string, unknown>> {
    return this.structArb(this.msg.fields, v);
  }
}

export function specArb(file: string): SpecArb {
  return new SpecArb(loadSpec(file));
}

export function versionsOf(file: string): number[] {
  const r = parseRange(loadSpec(file).validVersions)!;
  const out: number[] = [];
  for (let v = r.lo; v <= r.hi; v++) out.push(v);
  return out;
}
