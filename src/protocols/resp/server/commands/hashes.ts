/**
 * Hash commands over the keyspace: HSET, HMSET, HSETNX, HGET, HMGET, HGETALL, HDEL, HEXISTS,
 * HLEN, HKEYS, HVALS, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD (count-less and positive count).
 * Field names and values are binary-safe. HGETALL replies a map in RESP3, a flat array in RESP2.
 */
import { int, str } from '../args.js';
import { RespError } from '../errors.js';
import type { Session } from '../session.js';
import { fmtDouble, parseFloatArg } from './strings.js';
import { KEY1, kvCmd, type CommandSpec } from './types.js';

const INT_RE = /^-?\d+$/;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function hash(s: Session, key: Buffer): Map<string, Buffer> | undefined {
  return s.broker.kvGet(str(key), 'hash')?.value as Map<string, Buffer> | undefined;
}

function hset(name: string, okReply: boolean) {
  return (s: Session, a: Buffer[]): void => {
    if (a.length % 2 !== 0) throw new RespError(`ERR wrong number of arguments for '${name}' command`);
    hash(s, a[1]!);
    const n = s.broker.kv.hset(str(a[1]!), a.slice(2));
    if (okReply) s.w.simple('OK');
    else s.w.integer(n);
  };
}

function hsetnx(s: Session, a: Buffer[]): void {
  const h = hash(s, a[1]!);
  if (h?.has(a[2]!.toString('latin1'))) {
    s.w.integer(0);
    return;
  }
  s.broker.kv.hset(str(a[1]!), [a[2]!, a[3]!]);
  s.w.integer(1);
}

function hget(s: Session, a: Buffer[]): void {
  const v = hash(s, a[1]!)?.get(a[2]!.toString('latin1'));
  if (v) s.w.bulk(v);
  else s.w.nullBulk();
}

function hmget(s: Session, a: Buffer[]): void {
  const h = hash(s, a[1]!);
  s.w.arrayHeader(a.length - 2);
  for (const f of a.slice(2)) {
    const v = h?.get(f.toString('latin1'));
    if (v) s.w.bulk(v);
    else s.w.nullBulk();
  }
}

function hgetall(s: Session, a: Buffer[]): void {
  const h = hash(s, a[1]!);
  const w = s.w;
  if (!h) {
    w.mapHeader(0);
    return;
  }
  w.mapHeader(h.size);
  for (const [f, v] of h) w.bulk(Buffer.from(f, 'latin1')).bulk(v);
}

function hkeys(values: boolean) {
  return (s: Session, a: Buffer[]): void => {
    const h = hash(s, a[1]!);
    s.w.arrayHeader(h?.size ?? 0);
    if (h) for (const [f, v] of h) s.w.bulk(values ? v : Buffer.from(f, 'latin1'));
  };
}

function hdel(s: Session, a: Buffer[]): void {
  if (!hash(s, a[1]!)) {
    s.w.integer(0);
    return;
  }
  s.w.integer(s.broker.kv.hdel(str(a[1]!), a.slice(2).map((f) => f.toString('latin1'))));
}

function hincrby(s: Session, a: Buffer[]): void {
  const t = a[3]!.toString('latin1');
  if (!INT_RE.test(t) || t.length > 20) throw new RespError('ERR value is not an integer or out of range');
  const by = BigInt(t);
  if (by < I64_MIN || by > I64_MAX) throw new RespError('ERR value is not an integer or out of range');
  const cur = hash(s, a[1]!)?.get(a[2]!.toString('latin1'));
  let n = 0n;
  if (cur) {
    const c = cur.toString('latin1');
    if (!INT_RE.test(c) || c.length > 20) throw new RespError('ERR hash value is not an integer');
    n = BigInt(c);
  }
  const next = n + by;
  if (next < I64_MIN || next > I64_MAX) throw new RespError('ERR increment or decrement would overflow');
  s.broker.kv.hset(str(a[1]!), [a[2]!, Buffer.from(next.toString())]);
  s.w.integer(next);
}

function hincrbyfloat(s: Session, a: Buffer[]): void {
  const by = parseFloatArg(a[3]!);
  const cur = hash(s, a[1]!)?.get(a[2]!.toString('latin1'));
  const n = cur ? parseFloatArg(cur, 'ERR hash value is not a float') : 0;
  const next = n + by;
  if (!Number.isFinite(next)) throw new RespError('ERR increment would produce NaN or Infinity');
  const out = Buffer.from(fmtDouble(next));
  s.broker.kv.hset(str(a[1]!), [a[2]!, out]);
  s.w.bulk(out);
}

function hrandfield(s: Session, a: Buffer[]): void {
  const h = hash(s, a[1]!);
  if (a.length === 2) {
    if (!h || h.size === 0) s.w.nullBulk();
    else s.w.bulk(Buffer.from([...h.keys()][Math.floor(Math.random() * h.size)]!, 'latin1'));
    return;
  }
  const count = int(a[2]!);
  const withValues = a.length === 4;
  if (a.length > 4 || (withValues && a[3]!.toString('latin1').toLowerCase() !== 'withvalues')) throw new RespError('ERR syntax error');
  const entries = h ? [...h] : [];
  let pick: [string, Buffer][];
  if (count >= 0) pick = shuffle(entries).slice(0, count);
  else pick = Array.from({ length: entries.length === 0 ? 0 : -count }, () => entries[Math.floor(Math.random() * entries.length)]!);
  s.w.arrayHeader(withValues && s.protocol === 2 ? pick.length * 2 : pick.length);
  for (const [f, v] of pick) {
    if (withValues && s.protocol === 3) s.w.arrayHeader(2).bulk(Buffer.from(f, 'latin1')).bulk(v);
    else if (withValues) s.w.bulk(Buffer.from(f, 'latin1')).bulk(v);
    else s.w.bulk(Buffer.from(f, 'latin1'));
  }
}

export function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const commands: CommandSpec[] = [
  kvCmd('hset', -4, ['write', 'denyoom', 'fast'], KEY1, hset('hset', false)),
  kvCmd('hmset', -4, ['write', 'denyoom', 'fast'], KEY1, hset('hmset', true)),
  kvCmd('hsetnx', 4, ['write', 'denyoom', 'fast'], KEY1, hsetnx),
  kvCmd('hget', 3, ['readonly', 'fast'], KEY1, hget),
  kvCmd('hmget', -3, ['readonly', 'fast'], KEY1, hmget),
  kvCmd('hgetall', 2, ['readonly'], KEY1, hgetall),
  kvCmd('hkeys', 2, ['readonly'], KEY1, hkeys(false)),
  kvCmd('hvals', 2, ['readonly'], KEY1, hkeys(true)),
  kvCmd('hdel', -3, ['write', 'fast'], KEY1, hdel),
  kvCmd('hexists', 3, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(hash(s, a[1]!)?.has(a[2]!.toString('latin1')) ? 1 : 0)),
  kvCmd('hlen', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(hash(s, a[1]!)?.size ?? 0)),
  kvCmd('hstrlen', 3, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(hash(s, a[1]!)?.get(a[2]!.toString('latin1'))?.length ?? 0)),
  kvCmd('hincrby', 4, ['write', 'denyoom', 'fast'], KEY1, hincrby),
  kvCmd('hincrbyfloat', 4, ['write', 'denyoom', 'fast'], KEY1, hincrbyfloat),
  kvCmd('hrandfield', -2, ['readonly'], KEY1, hrandfield),
];

export default commands;
