/**
 * Generates src/protocols/kafka/generated/*.ts from Kafka's JSON message definitions in
 * spec/kafka/ (byte-for-byte copies of apache/kafka clients/src/main/resources/common/message/,
 * Apache-2.0; see spec/kafka/README.md).
 *
 * Usage: node --import tsx scripts/gen-kafka.ts [outDir]     (default: src/protocols/kafka/generated)
 *
 * Per API one file (kebab-case of the API name, e.g. join-group.ts) with, for the request and the
 * response message:
 *   - interfaces (one per struct, all versions in one interface: fields present in every valid
 *     version are required, the others optional; decoders always fill absent fields with their
 *     default, so reading one never needs `??`),
 *   - decode<Message>(reader, version) and encode<Message>(writer, version, value) for every version in
 *     validVersions — both directions for both messages (the server needs request-decode and
 *     response-encode; the other two cost ~40% more generated code and make round-trip tests and
 *     test clients possible).
 * Plus api-keys.ts: the ApiVersions table and a dispatch table by api key.
 *
 * Semantics implemented (MESSAGE-FORMAT.md): per-field `versions`, `nullableVersions`,
 * `flexibleVersions` (message level and the per-field override), `taggedVersions` + `tag`
 * (written only when not default, ascending tag order; unknown tags skipped on read), `default`
 * (decimal/hex integers, booleans, strings, "null"), `ignorable` (writing a non-default value for
 * a field absent from the version throws KafkaEncodeError unless ignorable, like Kafka's generated
 * Java), `commonStructs`. Not implemented: `mapKey` (arrays stay arrays), `zeroCopy` (bytes are
 * always views), `entityType` (documentation only).
 *
 * Code shape: one read and one write function per struct taking the version as a parameter, with
 * version tests folded to constants where the struct's own version range makes them constant.
 * Per-version specialisation would be ~15x more code (Fetch alone has 18 versions) for a branch
 * that the CPU predicts perfectly within one connection.
 *
 * The generator is deterministic, so a test regenerates into a temp dir and compares byte-for-byte.
 */
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const SPEC_DIR = join(ROOT, 'spec/kafka');

/** The APIs Omnibus serves (request file base names without "Request"). */
export const APIS = [
  'Produce',
  'Fetch',
  'ListOffsets',
  'Metadata',
  'OffsetCommit',
  'OffsetFetch',
  'FindCoordinator',
  'JoinGroup',
  'Heartbeat',
  'LeaveGroup',
  'SyncGroup',
  'DescribeGroups',
  'ListGroups',
  'SaslHandshake',
  'ApiVersions',
  'CreateTopics',
  'DeleteTopics',
  'DeleteRecords',
  'InitProducerId',
  'OffsetForLeaderEpoch',
  'AddPartitionsToTxn',
  'AddOffsetsToTxn',
  'EndTxn',
  'TxnOffsetCommit',
  'DescribeConfigs',
  'AlterConfigs',
  'SaslAuthenticate',
  'CreatePartitions',
  'DeleteGroups',
  'DescribeCluster',
] as const;

export interface FieldSpec {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  flexibleVersions?: string;
  about?: string;
  fields?: FieldSpec[];
}
export interface MessageSpec {
  apiKey?: number;
  type: string;
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: FieldSpec[];
  commonStructs?: { name: string; versions?: string; fields: FieldSpec[] }[];
}

/** Kafka's JSON with whole-line // comments. */
export function parseSpec(text: string): MessageSpec {
  return JSON.parse(
    text
      .split('\n')
      .filter((l) => !/^\s*\/\//.test(l))
      .join('\n'),
  ) as MessageSpec;
}

export function loadSpec(file: string, dir = SPEC_DIR): MessageSpec {
  return parseSpec(readFileSync(join(dir, file), 'utf8'));
}

/** Inclusive version range; hi = Infinity for "N+". null for "none". */
export interface Range {
  lo: number;
  hi: number;
}
export function parseRange(s: string | undefined): Range | null {
  if (s === undefined || s === 'none') return null;
  let m = /^(\d+)\+$/.exec(s);
  if (m) return { lo: Number(m[1]), hi: Infinity };
  m = /^(\d+)-(\d+)$/.exec(s);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(s);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`bad version range ${s}`);
}
function intersect(a: Range | null, b: Range | null): Range | null {
  if (!a || !b) return null;
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo <= hi ? { lo, hi } : null;
}

const camel = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
const kebab = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

const SCALARS: Record<string, { ts: string; read: string; write: string; zero: string }> = {
  bool: { ts: 'boolean', read: 'r.bool()', write: 'w.bool', zero: 'false' },
  int8: { ts: 'number', read: 'r.int8()', write: 'w.int8', zero: '0' },
  int16: { ts: 'number', read: 'r.int16()', write: 'w.int16', zero: '0' },
  uint16: { ts: 'number', read: 'r.uint16()', write: 'w.uint16', zero: '0' },
  int32: { ts: 'number', read: 'r.int32()', write: 'w.int32', zero: '0' },
  uint32: { ts: 'number', read: 'r.uint32()', write: 'w.uint32', zero: '0' },
  int64: { ts: 'number', read: 'r.int64()', write: 'w.int64', zero: '0' },
  float64: { ts: 'number', read: 'r.float64()', write: 'w.float64', zero: '0' },
  uuid: { ts: 'string', read: 'r.uuid()', write: 'w.uuid', zero: 'ZERO_UUID' },
};

interface StructDef {
  tsName: string;
  fields: FieldSpec[];
  valid: Range;
}

class Gen {
  out: string[] = [];
  structs = new Map<string, StructDef>();
  common = new Map<string, FieldSpec[]>();
  flex: Range | null;
  valid: Range;
  isResponse: boolean;
  constructor(readonly msg: MessageSpec) {
    this.flex = parseRange(msg.flexibleVersions);
    const v = parseRange(msg.validVersions);
    if (!v) throw new Error(`${msg.name}: no valid versions`);
    this.valid = v;
    this.isResponse = msg.type === 'response';
    for (const c of msg.commonStructs ?? []) this.common.set(c.name, c.fields);
  }

  tsStructName(specName: string): string {
    return specName.startsWith(this.msg.name) ? specName : this.msg.name + specName;
  }

  /** Collects struct definitions (nested first-come) with the version range where each is reachable. */
  collect(name: string, fields: FieldSpec[], valid: Range): void {
    const existing = this.structs.get(name);
    if (existing) {
      existing.valid = { lo: Math.min(existing.valid.lo, valid.lo), hi: Math.max(existing.valid.hi, valid.hi) };
    } else this.structs.set(name, { tsName: name, fields, valid });
    for (const f of fields) {
      const sub = this.structOf(f);
      if (!sub) continue;
      const r = intersect(valid, parseRange(f.versions));
      if (!r) continue;
      this.collect(this.tsStructName(sub.name), sub.fields, r);
    }
  }

  /** The struct a field refers to (array element or struct field), or null for primitives. */
  structOf(f: FieldSpec): { name: string; fields: FieldSpec[] } | null {
    const base = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
    if (base in SCALARS || base === 'string' || base === 'bytes' || base === 'records') return null;
    const fields = f.fields ?? this.common.get(base);
    if (!fields) throw new Error(`${this.msg.name}.${f.name}: unknown struct type ${base}`);
    return { name: base, fields };
  }

  isNullableAnywhere(f: FieldSpec): boolean {
    return parseRange(f.nullableVersions) !== null;
  }

  tsType(f: FieldSpec): string {
    const nullable = this.isNullableAnywhere(f) || f.default === 'null';
    const orNull = nullable ? ' | null' : '';
    if (f.type.startsWith('[]')) {
      const el = f.type.slice(2);
      const inner = el in SCALARS ? SCALARS[el]!.ts : el === 'string' ? 'string' : this.tsStructName(el);
      return `${inner}[]${orNull}`;
    }
    if (f.type in SCALARS) return SCALARS[f.type]!.ts;
    if (f.type === 'string') return `string${orNull}`;
    if (f.type === 'bytes') return `Buffer${orNull}`;
    if (f.type === 'records') return this.isResponse ? 'RecordsValue' : 'Buffer | null';
    return this.tsStructName(f.type);
  }

  /** TS literal of the field's default (decoded value when the field is absent). */
  defaultExpr(f: FieldSpec): string {
    const d = f.default;
    if (f.type.startsWith('[]')) return '[]';
    if (f.type === 'records') return 'null';
    if (f.type === 'bytes') return d === 'null' ? 'null' : 'EMPTY';
    if (f.type === 'string') {
      if (d === 'null') return 'null';
      return JSON.stringify(d === undefined ? '' : String(d));
    }
    if (f.type === 'bool') return d === undefined ? 'false' : String(d === true || d === 'true');
    if (f.type === 'uuid') return 'ZERO_UUID';
    if (f.type in SCALARS) {
      if (d === undefined || d === '') return '0';
      const n = typeof d === 'number' ? d : String(d).startsWith('0x') ? parseInt(String(d).slice(2), 16) : Number(d);
      if (!Number.isFinite(n)) throw new Error(`${f.name}: bad default ${String(d)}`);
      return String(n);
    }
    return 'undefined'; // struct
  }

  isStructField(f: FieldSpec): boolean {
    return !f.type.startsWith('[]') && this.structOf(f) !== null;
  }

  /** JS condition for "version in range r" given the struct's reachable range (folds constants). */
  cond(r: Range | null, within: Range): string {
    const x = intersect(r, within);
    if (!x) return 'false';
    const parts: string[] = [];
    if (x.lo > within.lo) parts.push(`v >= ${x.lo}`);
    if (x.hi < within.hi) parts.push(`v <= ${x.hi}`);
    return parts.length ? parts.join(' && ') : 'true';
  }

  /** Flexible-encoding choice within range `within`: 'true' | 'false' | 'flex'. */
  flexIn(f: FieldSpec, within: Range): string {
    const fr = f.flexibleVersions !== undefined ? parseRange(f.flexibleVersions) : this.flex;
    const c = this.cond(fr, within);
    if (c === 'true' || c === 'false') return c;
    return f.flexibleVersions !== undefined ? `(${c})` : 'flex';
  }

  pick(c: string, a: string, b: string): string {
    if (c === 'true') return a;
    if (c === 'false') return b;
    return `(${c} ? ${a} : ${b})`;
  }

  readExpr(f: FieldSpec, within: Range): string {
    const fl = this.flexIn(f, within);
    const nl = this.cond(parseRange(f.nullableVersions), within);
    const t = f.type;
    if (t in SCALARS) return SCALARS[t]!.read;
    if (t === 'string') return this.pick(fl, this.pick(nl, 'r.compactNullableString()', 'r.compactString()'), this.pick(nl, 'r.nullableString()', 'r.string()'));
    if (t === 'bytes') return this.pick(fl, this.pick(nl, 'r.compactNullableBytes()', 'r.compactBytes()'), this.pick(nl, 'r.nullableBytes()', 'r.bytes()'));
    if (t === 'records') return this.pick(fl, 'r.compactNullableBytes()', 'r.nullableBytes()');
    if (t.startsWith('[]')) {
      const el = t.slice(2);
      const elRead =
        el in SCALARS ? SCALARS[el]!.read : el === 'string' ? this.pick(fl, 'r.compactString()', 'r.string()') : `read${this.tsStructName(el)}(r, v)`;
      return `readArray(r, ${fl === 'flex' ? 'flex' : fl}, ${nl === 'true' || nl === 'false' ? nl : `(${nl})`}, ${JSON.stringify(f.name)}, () => ${elRead})`;
    }
    return `read${this.tsStructName(t)}(r, v)`;
  }

  /** Statements writing value expression `x` (already non-undefined). */
  writeStmt(f: FieldSpec, within: Range, x: string, into = 'w'): string {
    const fl = this.flexIn(f, within);
    const nl = this.cond(parseRange(f.nullableVersions), within);
    const t = f.type;
    const nullGuard =
      nl !== 'true' && (this.isNullableAnywhere(f) || f.default === 'null')
        ? `if (${x} === null) throw new KafkaEncodeError(${JSON.stringify(`${this.msg.name}: ${f.name} is not nullable at version `)} + v); `
        : '';
    const call = (m: string): string => `${into}.${m}`;
    if (t in SCALARS) return `${SCALARS[t]!.write.replace(/^w\./, `${into}.`)}(${x});`;
    const fx = (compactM: string, m: string, nullCompactM: string, nullM: string): string => {
      if (nl === 'true') return fl === 'flex' ? `if (flex) ${call(nullCompactM)}(${x}); else ${call(nullM)}(${x});` : `${call(fl === 'true' ? nullCompactM : nullM)}(${x});`;
      const nonNull = fl === 'flex' ? `if (flex) ${call(compactM)}(${x}); else ${call(m)}(${x});` : `${call(fl === 'true' ? compactM : m)}(${x});`;
      if (nl === 'false') return nullGuard + nonNull;
      const withNull = fl === 'flex' ? `if (flex) ${call(nullCompactM)}(${x}); else ${call(nullM)}(${x});` : `${call(fl === 'true' ? nullCompactM : nullM)}(${x});`;
      return `if (${nl}) { ${withNull} } else { ${nullGuard}${nonNull} }`;
    };
    if (t === 'string') return fx('compactString', 'string', 'compactNullableString', 'nullableString');
    if (t === 'bytes') return fx('compactBytes', 'bytes', 'compactNullableBytes', 'nullableBytes');
    if (t === 'records') return `${into}.records(${x}, ${fl === 'flex' ? 'flex' : fl});`;
    if (t.startsWith('[]')) {
      const el = t.slice(2);
      let elW: string;
      if (el in SCALARS) elW = `${SCALARS[el]!.write.replace(/^w\./, `${into}.`)}(e);`;
      else if (el === 'string') elW = fl === 'flex' ? `if (flex) ${into}.compactString(e); else ${into}.string(e);` : `${into}.${fl === 'true' ? 'compactString' : 'string'}(e);`;
      else elW = `write${this.tsStructName(el)}(${into}, v, e);`;
      const len = (n: string): string =>
        fl === 'flex' ? `if (flex) ${into}.compactArrayLength(${n}); else ${into}.arrayLength(${n});` : `${into}.${fl === 'true' ? 'compactArrayLength' : 'arrayLength'}(${n});`;
      const body = `${len(`${x}.length`)} for (const e of ${x}) { ${elW} }`;
      if (nl === 'false' && !(this.isNullableAnywhere(f) || f.default === 'null')) return body;
      const thr = `throw new KafkaEncodeError(${JSON.stringify(`${this.msg.name}: ${f.name} is not nullable at version `)} + v);`;
      const onNull = nl === 'true' ? len('-1') : nl === 'false' ? thr : `if (${nl}) { ${len('-1')} } else { ${thr} }`;
      return `if (${x} === null) { ${onNull} } else { ${body} }`;
    }
    return `write${this.tsStructName(t)}(${into}, v, ${x});`;
  }

  /** Expression: is `x` different from the field default (for tagged writes and ignorable checks)? */
  nonDefault(f: FieldSpec, x: string): string {
    const t = f.type;
    if (t.startsWith('[]')) return this.defaultExpr(f) === 'null' ? `${x} !== null` : `(${x} !== null && ${x}.length > 0)`;
    if (t === 'bytes') return `(${x} !== null && ${x}.length > 0)`;
    if (t === 'records') return `${x} !== null`;
    if (this.isStructField(f)) return `${x} !== undefined`;
    return `${x} !== ${this.defaultExpr(f)}`;
  }

  genStruct(s: StructDef, top: boolean): void {
    const name = s.tsName;
    const within = s.valid;
    const fields = s.fields;
    const flexC = this.cond(this.flex, within);
    const fieldVersions = (f: FieldSpec): Range | null => intersect(parseRange(f.versions), within);
    // Interface
    this.out.push(`export interface ${name} {`);
    for (const f of fields) {
      const fr = fieldVersions(f);
      const tagged = f.tag !== undefined;
      const required = !tagged && !this.isStructField(f) && fr !== null && fr.lo === within.lo && fr.hi === within.hi;
      const doc = [`${f.about ?? ''}`.trim().replace(/\.$/, ''), `Versions ${f.versions ?? '0+'}`];
      if (f.nullableVersions) doc.push(`nullable ${f.nullableVersions}`);
      if (tagged) doc.push(`tagged ${f.taggedVersions} tag ${f.tag}`);
      if (f.default !== undefined) doc.push(`default ${String(f.default)}`);
      if (f.ignorable) doc.push('ignorable');
      this.out.push(`  /** ${doc.filter(Boolean).join('. ').replace(/\*\//g, '* /')}. */`);
      this.out.push(`  ${camel(f.name)}${required ? '' : '?'}: ${this.tsType(f)}${this.isStructField(f) ? ' | undefined' : ''};`);
    }
    this.out.push('}', '');

    // Reader
    const untagged = fields.filter((f) => f.tag === undefined);
    const tagged = fields.filter((f) => f.tag !== undefined).sort((a, b) => a.tag! - b.tag!);
    const usesFlexVar = flexC !== 'true' && flexC !== 'false';
    const rd: string[] = [];
    rd.push(`function read${name}(r: Reader, v: number): ${name} {`);
    if (usesFlexVar) rd.push(`  const flex = ${flexC};`);
    for (const f of fields) {
      const def = this.defaultExpr(f);
      rd.push(`  let ${camel(f.name)}: ${this.tsType(f)}${this.isStructField(f) ? ' | undefined' : ''} = ${def};`);
    }
    for (const f of untagged) {
      const fr = fieldVersions(f);
      if (!fr) continue;
      const c = this.cond(fr, within);
      const stmt = `${camel(f.name)} = ${this.readExpr(f, fr)};`;
      rd.push(c === 'true' ? `  ${stmt}` : `  if (${c}) ${stmt}`);
    }
    if (flexC !== 'false') {
      const tagSection: string[] = [];
      if (tagged.length === 0) tagSection.push('r.skipTaggedFields();');
      else {
        tagSection.push('const nt = r.uvarint();', 'for (let i = 0; i < nt; i++) {', '  const tag = r.uvarint();', '  const size = r.uvarint();', '  r.need(size);', '  const end = r.pos + size;', '  const saved = r.end;', '  r.end = end;', '  switch (tag) {');
        for (const f of tagged) {
          const tr = intersect(parseRange(f.taggedVersions), within);
          if (!tr) continue;
          const c = this.cond(tr, within);
          tagSection.push(`    case ${f.tag}:`, `      ${c === 'true' ? '' : `if (${c}) `}${camel(f.name)} = ${this.readExpr(f, tr)};`, '      break;');
        }
        tagSection.push('    default:', '      break;', '  }', '  r.pos = end;', '  r.end = saved;', '}');
      }
      if (flexC === 'true') rd.push(...tagSection.map((l) => '  ' + l));
      else rd.push(`  if (flex) {`, ...tagSection.map((l) => '    ' + l), '  }');
    }
    rd.push(`  return { ${fields.map((f) => camel(f.name)).join(', ')} };`, '}', '');
    this.out.push(...rd);

    // Writer
    const wr: string[] = [];
    wr.push(`function write${name}(w: Writer, v: number, o: ${name}): void {`);
    if (usesFlexVar) wr.push(`  const flex = ${flexC};`);
    for (const f of untagged) {
      const fr = fieldVersions(f);
      const c = this.cond(fr, within);
      const key = camel(f.name);
      const def = this.defaultExpr(f);
      const x = `o.${key}`;
      const required = fr !== null && fr.lo === within.lo && fr.hi === within.hi && !this.isStructField(f);
      // Not `??`: null is a legitimate value of nullable fields, only undefined means "default".
      const val = this.isStructField(f) || required ? x : `(${x} === undefined ? ${def} : ${x})`;
      if (c !== 'false') {
        if (this.isStructField(f)) {
          wr.push(`  ${c === 'true' ? '' : `if (${c}) `}{ if (${x} === undefined) throw new KafkaEncodeError(${JSON.stringify(`${this.msg.name}: ${f.name} is required at version `)} + v); ${this.writeStmt(f, fr!, x)} }`);
        } else {
          const stmt = `{ const x = ${val}; ${this.writeStmt(f, fr!, 'x')} }`;
          wr.push(c === 'true' ? `  ${stmt}` : `  if (${c}) ${stmt}`);
        }
      }
      if (c !== 'true' && !f.ignorable) {
        const check = `${x} !== undefined && ${this.nonDefault(f, x)}`;
        const msg = JSON.stringify(`${this.msg.name}: non-default ${f.name} cannot be written at version `);
        wr.push(`  ${c === 'false' ? '' : `else `}if (${check}) throw new KafkaEncodeError(${msg} + v);`);
      }
    }
    if (flexC !== 'false') {
      const ts: string[] = [];
      if (tagged.length === 0) ts.push('w.uvarint(0);');
      else {
        ts.push('let nt = 0;');
        const present: string[] = [];
        for (const f of tagged) {
          const tr = intersect(parseRange(f.taggedVersions), within);
          const key = camel(f.name);
          const p = `t${f.tag}`;
          present.push(p);
          const c = this.cond(tr, within);
          ts.push(`const ${p} = ${c === 'false' ? 'false' : `${c === 'true' ? '' : `${c} && `}o.${key} !== undefined && ${this.nonDefault(f, `o.${key}`)}`};`);
          ts.push(`if (${p}) nt++;`);
        }
        ts.push('w.uvarint(nt);');
        for (const f of tagged) {
          const tr = intersect(parseRange(f.taggedVersions), within);
          if (!tr) continue;
          const key = camel(f.name);
          ts.push(
            `if (t${f.tag}) { const sub = new Writer(64, Infinity); ${this.writeStmt(f, tr, `o.${key}!`, 'sub')} w.uvarint(${f.tag}); w.uvarint(sub.length); w.raw(sub.toBuffer()); }`,
          );
        }
      }
      if (flexC === 'true') wr.push(...ts.map((l) => '  ' + l));
      else wr.push(`  if (flex) {`, ...ts.map((l) => '    ' + l), '  }');
    }
    // Ignorable checks for tagged fields outside their tagged range are skipped: Kafka's own
    // generated code treats tagged fields as droppable.
    wr.push('}', '');
    this.out.push(...wr);

    if (top) {
      const lo = this.valid.lo;
      const hi = this.valid.hi;
      const m = this.msg.name;
      this.out.push(
        `/** Decodes a ${m} body (after the header) at \`version\` (${lo}-${hi}). */`,
        `export function decode${m}(r: Reader, version: number): ${m} {`,
        `  if (version < ${lo} || version > ${hi}) throw unsupportedVersion(\`${m} version \${version} not in ${lo}-${hi}\`);`,
        `  return read${name}(r, version);`,
        `}`,
        '',
        `/** Encodes a ${m} body (without header) at \`version\` (${lo}-${hi}). */`,
        `export function encode${m}(w: Writer, version: number, value: ${m}): void {`,
        `  if (version < ${lo} || version > ${hi}) throw new KafkaEncodeError(\`${m} version \${version} not in ${lo}-${hi}\`);`,
        `  write${name}(w, version, value);`,
        `}`,
        '',
      );
    }
  }

  run(): void {
    this.collect(this.msg.name, this.msg.fields, this.valid);
    const list = [...this.structs.values()];
    // Top-level first, then nested in discovery order.
    for (const s of list) this.genStruct(s, s.tsName === this.msg.name);
  }
}

export interface ApiInfo {
  name: string;
  apiKey: number;
  file: string;
  minVersion: number;
  maxVersion: number;
  flexibleFrom: number | null;
  unstableLatest: boolean;
}

export function generateApi(api: string, dir = SPEC_DIR): { file: string; text: string; info: ApiInfo } {
  const req = loadSpec(`${api}Request.json`, dir);
  const resp = loadSpec(`${api}Response.json`, dir);
  if (req.apiKey === undefined || req.apiKey !== resp.apiKey) throw new Error(`${api}: api keys differ`);
  const valid = parseRange(req.validVersions)!;
  const flex = parseRange(req.flexibleVersions);
  const lines: string[] = [
    `// Generated by scripts/gen-kafka.ts from spec/kafka/${api}Request.json and spec/kafka/${api}Response.json. Do not edit.`,
    `// ${api} (api key ${req.apiKey}): versions ${req.validVersions}, flexible ${req.flexibleVersions}.`,
    '/* eslint-disable */',
    `import { Writer } from '../codec/writer.js';`,
    `import type { Reader } from '../codec/reader.js';`,
    `import type { RecordsValue } from '../codec/writer.js';`,
    `import { KafkaEncodeError, unsupportedVersion } from '../codec/errors.js';`,
    `import { EMPTY, ZERO_UUID, readArray } from '../codec/generated-support.js';`,
    '',
    `export const ${api.toUpperCase().replace(/[^A-Z]/g, '')}_API_KEY = ${req.apiKey};`,
    '',
  ];
  for (const m of [req, resp]) {
    const g = new Gen(m);
    g.run();
    lines.push(`// ---- ${m.name} ----`, '', ...g.out);
  }
  let text = lines.join('\n');
  // Drop imports the file does not use (TS strict + noUnusedLocals is off, but keep it tidy).
  for (const sym of ['EMPTY', 'ZERO_UUID', 'readArray']) {
    if ((text.match(new RegExp(`\\b${sym}\\b`, 'g')) ?? []).length <= 1) text = text.replace(new RegExp(`\\b${sym}, |, ${sym}\\b`), '');
  }
  if (!/RecordsValue\b[^;]/.test(text.split('\n').slice(8).join('\n'))) text = text.replace(`import type { RecordsValue } from '../codec/writer.js';\n`, '');
  return {
    file: `${kebab(api)}.ts`,
    text: text.replace(/\n+$/, '\n'),
    info: {
      name: api,
      apiKey: req.apiKey,
      file: kebab(api),
      minVersion: valid.lo,
      maxVersion: req.latestVersionUnstable ? valid.hi - 1 : valid.hi,
      flexibleFrom: flex ? flex.lo : null,
      unstableLatest: req.latestVersionUnstable === true,
    },
  };
}

export function generateApiKeys(infos: ApiInfo[]): string {
  const sorted = [...infos].sort((a, b) => a.apiKey - b.apiKey);
  const l: string[] = [
    `// Generated by scripts/gen-kafka.ts from spec/kafka/*Request.json. Do not edit.`,
    '/**',
    ' * The APIs this codec implements: what ApiVersions answers with, and a dispatch table by api key.',
    ' * maxVersion is the highest version generated and round-trip tested, excluding a version the spec',
    ' * marks latestVersionUnstable; the server may advertise lower maxima.',
    ' */',
    `import type { Reader } from '../codec/reader.js';`,
    `import type { Writer } from '../codec/writer.js';`,
  ];
  for (const i of sorted) {
    l.push(
      `import { decode${i.name}Request, encode${i.name}Request, decode${i.name}Response, encode${i.name}Response, type ${i.name}Request, type ${i.name}Response } from './${i.file}.js';`,
    );
  }
  l.push(
    '',
    'export interface ApiKeyInfo {',
    '  readonly apiKey: number;',
    '  readonly name: string;',
    '  readonly minVersion: number;',
    '  readonly maxVersion: number;',
    '  /** First flexible version (compact encodings, tagged fields, request header v2), or null if none. */',
    '  readonly flexibleFrom: number | null;',
    '}',
    '',
    'export const ApiKey = {',
    ...sorted.map((i) => `  ${i.name}: ${i.apiKey},`),
    '} as const;',
    'export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];',
    '',
    'export const API_KEYS: readonly ApiKeyInfo[] = [',
    ...sorted.map((i) => `  { apiKey: ${i.apiKey}, name: '${i.name}', minVersion: ${i.minVersion}, maxVersion: ${i.maxVersion}, flexibleFrom: ${i.flexibleFrom} },`),
    '];',
    '',
    '/** Request body type by api key. */',
    'export interface RequestByKey {',
    ...sorted.map((i) => `  ${i.apiKey}: ${i.name}Request;`),
    '}',
    '/** Response body type by api key. */',
    'export interface ResponseByKey {',
    ...sorted.map((i) => `  ${i.apiKey}: ${i.name}Response;`),
    '}',
    '',
    '/** Codec functions of one API, untyped for dispatch (use the per-API functions for types). */',
    'export interface ApiCodec extends ApiKeyInfo {',
    '  /** Highest version the generated code handles (may exceed maxVersion by an unstable version). */',
    '  readonly generatedMaxVersion: number;',
    '  decodeRequest(r: Reader, version: number): unknown;',
    '  encodeRequest(w: Writer, version: number, value: never): void;',
    '  decodeResponse(r: Reader, version: number): unknown;',
    '  encodeResponse(w: Writer, version: number, value: never): void;',
    '}',
    '',
    'export const API_CODECS: ReadonlyMap<number, ApiCodec> = new Map<number, ApiCodec>([',
  );
  for (const i of sorted) {
    l.push(
      `  [${i.apiKey}, { apiKey: ${i.apiKey}, name: '${i.name}', minVersion: ${i.minVersion}, maxVersion: ${i.maxVersion}, flexibleFrom: ${i.flexibleFrom}, generatedMaxVersion: ${i.unstableLatest ? i.maxVersion + 1 : i.maxVersion}, decodeRequest: decode${i.name}Request, encodeRequest: encode${i.name}Request as ApiCodec['encodeRequest'], decodeResponse: decode${i.name}Response, encodeResponse: encode${i.name}Response as ApiCodec['encodeResponse'] }],`,
    );
  }
  l.push(']);', '');
  return l.join('\n');
}

export function generateIndex(infos: ApiInfo[]): string {
  const l = [`// Generated by scripts/gen-kafka.ts from spec/kafka/*.json. Do not edit.`];
  for (const i of [...infos].sort((a, b) => a.file.localeCompare(b.file))) l.push(`export * from './${i.file}.js';`);
  l.push(`export * from './api-keys.js';`, '');
  return l.join('\n');
}

export function generateAll(dir = SPEC_DIR): Map<string, string> {
  const files = new Map<string, string>();
  const infos: ApiInfo[] = [];
  for (const api of APIS) {
    const g = generateApi(api, dir);
    files.set(g.file, g.text);
    infos.push(g.info);
  }
  files.set('api-keys.ts', generateApiKeys(infos));
  files.set('index.ts', generateIndex(infos));
  return files;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? join(ROOT, 'src/protocols/kafka/generated'));
  mkdirSync(outDir, { recursive: true });
  const files = generateAll();
  for (const [f, text] of files) writeFileSync(join(outDir, f), text);
  // Report stale files from APIs no longer generated (not deleted automatically).
  for (const f of readdirSync(outDir)) if (!files.has(f)) process.stderr.write(`note: ${f} is not generated any more\n`);
}
