/**
 * String commands over the keyspace (keyspace.ts): SET (NX, XX, GET, EX, PX, EXAT, PXAT,
 * KEEPTTL), GET, GETDEL, GETEX, GETSET, SETNX, SETEX, PSETEX, MGET, MSET, MSETNX, INCR, INCRBY,
 * DECR, DECRBY, INCRBYFLOAT, APPEND, STRLEN, GETRANGE, SETRANGE.
 *
 * Integers are exact 64-bit (BigInt) as in Redis. `SET` on a key holding a list or stream answers
 * WRONGTYPE instead of replacing it: those keys are queues and logs other protocols share
 * (documented deviation); over a hash/set/zset it replaces the value as Redis does.
 */
import { int, kw, str } from '../args.js';
import { NOT_INTEGER, RespError, SYNTAX } from '../errors.js';
import type { Session } from '../session.js';
import { KEY1, kvCmd, type CommandSpec } from './types.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const INT_RE = /^-?\d+$/;

function getString(s: Session, key: string): Buffer | undefined {
  return s.broker.kvGet(key, 'string')?.value as Buffer | undefined;
}

/** Redis's absolute-deadline computation for EX/PX/EXAT/PXAT with its error message. */
export function deadline(s: Session, unit: string, arg: Buffer, cmdName: string): number {
  const n = int(arg);
  if (n <= 0) throw new RespError(`ERR invalid expire time in '${cmdName}' command`);
  const now = s.broker.kv.now();
  const at = unit === 'ex' ? now + n * 1000 : unit === 'px' ? now + n : unit === 'exat' ? n * 1000 : n;
  if (!Number.isSafeInteger(at)) throw new RespError(`ERR invalid expire time in '${cmdName}' command`);
  return at;
}

function set(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  let nx = false;
  let xx = false;
  let get = false;
  let expireAt = 0;
  let expSet = false;
  let keepTtl = false;
  for (let i = 3; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'nx' && !xx) nx = true;
    else if (o === 'xx' && !nx) xx = true;
    else if (o === 'get') get = true;
    else if (o === 'keepttl' && !expSet) keepTtl = true;
    else if ((o === 'ex' || o === 'px' || o === 'exat' || o === 'pxat') && !expSet && !keepTtl && i + 1 < a.length) {
      expireAt = deadline(s, o, a[++i]!, 'set');
      expSet = true;
    } else throw new RespError(SYNTAX);
  }
  const kv = s.broker.kv;
  const cur = kv.get(key);
  if (nx && !get && !cur && s.broker.keyType(key) !== 'none') {
    // NX over a list/stream key: it exists, so nothing is set (as Redis).
    s.w.nullBulk();
    return;
  }
  s.broker.kvCheckReplace(key);
  let old: Buffer | undefined;
  if (get && cur) {
    if (cur.type !== 'string') throw new RespError('WRONGTYPE Operation against a key holding the wrong kind of value');
    old = cur.value as Buffer;
  }
  if ((nx && cur) || (xx && !cur)) {
    if (old) s.w.bulk(old);
    else s.w.nullBulk();
    return;
  }
  kv.setString(key, a[2]!, keepTtl ? -1 : expireAt);
  if (!get) s.w.simple('OK');
  else if (old) s.w.bulk(old);
  else s.w.nullBulk();
}

function get(s: Session, a: Buffer[]): void {
  const v = getString(s, str(a[1]!));
  if (v) s.w.bulk(v);
  else s.w.nullBulk();
}

function getdel(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  const v = getString(s, key);
  if (!v) {
    s.w.nullBulk();
    return;
  }
  s.broker.kv.delete(key);
  s.w.bulk(v);
}

function getex(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  let at: number | undefined;
  for (let i = 2; i < a.length; i++) {
    const o = kw(a[i]!);
    if (at !== undefined) throw new RespError(SYNTAX);
    if (o === 'persist') at = 0;
    else if ((o === 'ex' || o === 'px' || o === 'exat' || o === 'pxat') && i + 1 < a.length) at = deadline(s, o, a[++i]!, 'getex');
    else throw new RespError(SYNTAX);
  }
  const v = getString(s, key);
  if (!v) {
    s.w.nullBulk();
    return;
  }
  if (at !== undefined) s.broker.kv.expire(key, at);
  s.w.bulk(v);
}

function getset(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  const old = getString(s, key);
  s.broker.kv.setString(key, a[2]!, 0);
  if (old) s.w.bulk(old);
  else s.w.nullBulk();
}

function setnx(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  if (s.broker.keyType(key) !== 'none') {
    s.w.integer(0);
    return;
  }
  s.broker.kv.setString(key, a[2]!, 0);
  s.w.integer(1);
}

function setex(unit: 'ex' | 'px', name: string) {
  return (s: Session, a: Buffer[]): void => {
    const key = str(a[1]!);
    const at = deadline(s, unit, a[2]!, name);
    s.broker.kvCheckReplace(key);
    s.broker.kv.setString(key, a[3]!, at);
    s.w.simple('OK');
  };
}

function mget(s: Session, a: Buffer[]): void {
  s.w.arrayHeader(a.length - 1);
  for (const k of a.slice(1)) {
    const e = s.broker.kv.get(str(k));
    if (e && e.type === 'string') s.w.bulk(e.value as Buffer);
    else s.w.nullBulk();
  }
}

function mset(nx: boolean) {
  return (s: Session, a: Buffer[]): void => {
    if (a.length % 2 === 0) throw new RespError(`ERR wrong number of arguments for '${nx ? 'msetnx' : 'mset'}' command`);
    for (let i = 1; i < a.length; i += 2) s.broker.kvCheckReplace(str(a[i]!));
    if (nx) {
      for (let i = 1; i < a.length; i += 2) {
        if (s.broker.kv.has(str(a[i]!))) {
          s.w.integer(0);
          return;
        }
      }
    }
    for (let i = 1; i < a.length; i += 2) s.broker.kv.setString(str(a[i]!), a[i + 1]!, 0);
    if (nx) s.w.integer(1);
    else s.w.simple('OK');
  };
}

function incrBy(s: Session, key: string, by: bigint): void {
  const e = s.broker.kvGet(key, 'string');
  let cur = 0n;
  if (e) {
    const t = (e.value as Buffer).toString('latin1');
    if (!INT_RE.test(t) || t.length > 20) throw new RespError(NOT_INTEGER);
    cur = BigInt(t);
    if (cur < I64_MIN || cur > I64_MAX) throw new RespError(NOT_INTEGER);
  }
  const next = cur + by;
  if (next < I64_MIN || next > I64_MAX) throw new RespError('ERR increment or decrement would overflow');
  s.broker.kv.setString(key, Buffer.from(next.toString()), -1);
  s.w.integer(next);
}

function bigArg(b: Buffer): bigint {
  const t = b.toString('latin1');
  if (!INT_RE.test(t) || t.length > 20) throw new RespError(NOT_INTEGER);
  const v = BigInt(t);
  if (v < I64_MIN || v > I64_MAX) throw new RespError(NOT_INTEGER);
  return v;
}

/** Redis's float parsing (strtold): accepts inf/-inf, rejects NaN and empty. */
export function parseFloatArg(b: Buffer, message = 'ERR value is not a valid float'): number {
  const t = b.toString('latin1').trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) throw new RespError(message);
  return Number(t);
}

/** A double as Redis prints it (shortest round-trip form; inf/-inf). */
export function fmtDouble(n: number): string {
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return String(n);
}

function incrByFloat(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  const by = parseFloatArg(a[2]!);
  const e = s.broker.kvGet(key, 'string');
  const cur = e ? parseFloatArg(e.value as Buffer) : 0;
  const next = cur + by;
  if (!Number.isFinite(next)) throw new RespError('ERR increment would produce NaN or Infinity');
  const out = Buffer.from(fmtDouble(next));
  s.broker.kv.setString(key, out, -1);
  s.w.bulk(out);
}

function append(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  const cur = getString(s, key);
  const next = cur ? Buffer.concat([cur, a[2]!]) : a[2]!;
  s.broker.kv.setString(key, next, -1);
  s.w.integer(next.length);
}

function getrange(s: Session, a: Buffer[]): void {
  const v = getString(s, str(a[1]!)) ?? Buffer.alloc(0);
  let start = int(a[2]!);
  let end = int(a[3]!);
  const len = v.length;
  if (start < 0 && end < 0 && start > end) {
    s.w.bulk('');
    return;
  }
  if (start < 0) start = Math.max(0, len + start);
  if (end < 0) end = Math.max(0, len + end);
  if (end >= len) end = len - 1;
  if (start > end || len === 0) s.w.bulk('');
  else s.w.bulk(v.subarray(start, end + 1));
}

function setrange(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  const off = int(a[2]!);
  if (off < 0) throw new RespError('ERR offset is out of range');
  const val = a[3]!;
  const cur = getString(s, key);
  if (val.length === 0) {
    s.w.integer(cur?.length ?? 0);
    return;
  }
  if (off + val.length > 512 * 1024 * 1024) throw new RespError('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  const base = cur ?? Buffer.alloc(0);
  const out = Buffer.alloc(Math.max(base.length, off + val.length));
  base.copy(out);
  val.copy(out, off);
  s.broker.kv.setString(key, out, -1);
  s.w.integer(out.length);
}

const commands: CommandSpec[] = [
  kvCmd('set', -3, ['write', 'denyoom'], KEY1, set),
  kvCmd('get', 2, ['readonly', 'fast'], KEY1, get),
  kvCmd('getdel', 2, ['write', 'fast'], KEY1, getdel),
  kvCmd('getex', -2, ['write', 'fast'], KEY1, getex),
  kvCmd('getset', 3, ['write', 'denyoom', 'fast'], KEY1, getset),
  kvCmd('setnx', 3, ['write', 'denyoom', 'fast'], KEY1, setnx),
  kvCmd('setex', 4, ['write', 'denyoom'], KEY1, setex('ex', 'setex')),
  kvCmd('psetex', 4, ['write', 'denyoom'], KEY1, setex('px', 'psetex')),
  kvCmd('mget', -2, ['readonly', 'fast'], [1, -1, 1], mget),
  kvCmd('mset', -3, ['write', 'denyoom'], [1, -1, 2], mset(false)),
  kvCmd('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], mset(true)),
  kvCmd('incr', 2, ['write', 'denyoom', 'fast'], KEY1, (s, a) => incrBy(s, str(a[1]!), 1n)),
  kvCmd('decr', 2, ['write', 'denyoom', 'fast'], KEY1, (s, a) => incrBy(s, str(a[1]!), -1n)),
  kvCmd('incrby', 3, ['write', 'denyoom', 'fast'], KEY1, (s, a) => incrBy(s, str(a[1]!), bigArg(a[2]!))),
  kvCmd('decrby', 3, ['write', 'denyoom', 'fast'], KEY1, (s, a) => {
    const by = bigArg(a[2]!);
    if (by === I64_MIN) throw new RespError('ERR decrement would overflow');
    incrBy(s, str(a[1]!), -by);
  }),
  kvCmd('incrbyfloat', 3, ['write', 'denyoom', 'fast'], KEY1, incrByFloat),
  kvCmd('append', 3, ['write', 'denyoom', 'fast'], KEY1, append),
  kvCmd('strlen', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(getString(s, str(a[1]!))?.length ?? 0)),
  kvCmd('getrange', 4, ['readonly'], KEY1, getrange),
  kvCmd('substr', 4, ['readonly'], KEY1, getrange),
  kvCmd('setrange', 4, ['write', 'denyoom'], KEY1, setrange),
];

export default commands;
