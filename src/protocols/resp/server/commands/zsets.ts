/**
 * Sorted-set commands over the keyspace: ZADD (NX, XX, GT, LT, CH, INCR), ZINCRBY, ZREM, ZSCORE,
 * ZMSCORE, ZCARD, ZCOUNT, ZRANK, ZREVRANK, ZRANGE (rank, BYSCORE, REV, LIMIT, WITHSCORES),
 * ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREMRANGEBYSCORE, ZREMRANGEBYRANK, ZPOPMIN, ZPOPMAX.
 *
 * Scores are doubles; RESP3 replies scores as doubles (`,`) and WITHSCORES as [member, score]
 * pairs, RESP2 as bulk strings in a flat array, as Redis 7 does. Not provided: BYLEX ranges,
 * ZRANGESTORE, ZUNION/ZINTER/ZDIFF, and the blocking BZPOPMIN/BZPOPMAX.
 */
import { int, kw, str } from '../args.js';
import { RespError, SYNTAX } from '../errors.js';
import type { ZItem, ZSet } from '../keyspace.js';
import type { Session } from '../session.js';
import { fmtDouble, parseFloatArg } from './strings.js';
import { KEY1, kvCmd, type CommandSpec } from './types.js';

function zset(s: Session, key: Buffer): ZSet | undefined {
  return s.broker.kvGet(str(key), 'zset')?.value as ZSet | undefined;
}

const mem = (b: Buffer): string => b.toString('latin1');
const out = (x: string): Buffer => Buffer.from(x, 'latin1');

function score(s: Session, n: number): void {
  if (s.protocol === 3) s.w.double(n);
  else s.w.bulk(fmtDouble(n));
}

/** Writes items with or without scores in the reply shape of the protocol. */
function writeItems(s: Session, items: readonly ZItem[], withScores: boolean): void {
  const w = s.w;
  if (!withScores) {
    w.arrayHeader(items.length);
    for (const it of items) w.bulk(out(it.m));
    return;
  }
  if (s.protocol === 3) {
    w.arrayHeader(items.length);
    for (const it of items) {
      w.arrayHeader(2).bulk(out(it.m));
      w.double(it.s);
    }
    return;
  }
  w.arrayHeader(items.length * 2);
  for (const it of items) w.bulk(out(it.m)).bulk(fmtDouble(it.s));
}

function zadd(s: Session, a: Buffer[]): void {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  let ch = false;
  let incr = false;
  let i = 2;
  for (; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'nx') nx = true;
    else if (o === 'xx') xx = true;
    else if (o === 'gt') gt = true;
    else if (o === 'lt') lt = true;
    else if (o === 'ch') ch = true;
    else if (o === 'incr') incr = true;
    else break;
  }
  const rest = a.length - i;
  if (rest === 0 || rest % 2 !== 0) throw new RespError(SYNTAX);
  if (nx && xx) throw new RespError('ERR XX and NX options at the same time are not compatible');
  if ((gt && lt) || (gt && nx) || (lt && nx)) throw new RespError('ERR GT, LT, and/or NX options at the same time are not compatible');
  if (incr && rest > 2) throw new RespError('ERR INCR option supports a single increment-element pair');
  const pairs: ZItem[] = [];
  for (let j = i; j < a.length; j += 2) pairs.push({ s: parseFloatArg(a[j]!), m: mem(a[j + 1]!) });
  const key = str(a[1]!);
  const z = zset(s, a[1]!);
  let added = 0;
  let changed = 0;
  const writes: ZItem[] = [];
  let incrResult: number | null = null;
  // Later pairs for the same member win, as in Redis (evaluated against earlier writes).
  const pending = new Map<string, number>();
  for (const p of pairs) {
    const cur = pending.get(p.m) ?? z?.scores.get(p.m);
    if (cur === undefined) {
      if (xx) continue;
      pending.set(p.m, p.s);
      added++;
      changed++;
      incrResult = p.s;
      continue;
    }
    if (nx) continue;
    let next = incr ? cur + p.s : p.s;
    if (Number.isNaN(next)) throw new RespError('ERR resulting score is not a number (NaN)');
    if ((gt && next <= cur) || (lt && next >= cur)) continue;
    if (next === cur) {
      incrResult = next;
      continue;
    }
    next = next === 0 ? 0 : next;
    pending.set(p.m, next);
    changed++;
    incrResult = next;
  }
  for (const [m, sc] of pending) writes.push({ m, s: sc });
  s.broker.kv.zset(key, writes);
  if (incr) {
    // nil when NX/XX/GT/LT skipped the element, as Redis.
    if (incrResult === null) s.w.nullBulk();
    else score(s, incrResult);
    return;
  }
  s.w.integer(ch ? changed : added);
}

function zincrby(s: Session, a: Buffer[]): void {
  const by = parseFloatArg(a[2]!);
  const z = zset(s, a[1]!);
  const m = mem(a[3]!);
  const next = (z?.scores.get(m) ?? 0) + by;
  if (Number.isNaN(next)) throw new RespError('ERR resulting score is not a number (NaN)');
  s.broker.kv.zset(str(a[1]!), [{ m, s: next }]);
  score(s, next);
}

function zrem(s: Session, a: Buffer[]): void {
  if (!zset(s, a[1]!)) {
    s.w.integer(0);
    return;
  }
  s.w.integer(s.broker.kv.zrem(str(a[1]!), a.slice(2).map(mem)));
}

function zscore(s: Session, a: Buffer[]): void {
  const v = zset(s, a[1]!)?.scores.get(mem(a[2]!));
  if (v === undefined) s.w.nullBulk();
  else score(s, v);
}

function zmscore(s: Session, a: Buffer[]): void {
  const z = zset(s, a[1]!);
  s.w.arrayHeader(a.length - 2);
  for (const x of a.slice(2)) {
    const v = z?.scores.get(mem(x));
    if (v === undefined) s.w.nullBulk();
    else score(s, v);
  }
}

interface Bound {
  v: number;
  ex: boolean;
}

/** A ZRANGEBYSCORE-style score bound: a float (inf allowed), exclusive with a leading '('. */
export function bound(b: Buffer): Bound {
  const t = b.toString('latin1');
  const ex = t.startsWith('(');
  return { v: parseFloatArg(ex ? Buffer.from(t.slice(1), 'latin1') : b, 'ERR min or max is not a float'), ex };
}

/** Items with min <= score <= max (bounds may be exclusive), ascending. */
function byScore(z: ZSet | undefined, min: Bound, max: Bound): ZItem[] {
  if (!z) return [];
  const lo = z.firstAtLeast(min.v, min.ex);
  const hi = z.endAtMost(max.v, max.ex);
  return lo < hi ? z.sorted.slice(lo, hi) : [];
}

function rankRange(len: number, startArg: number, stopArg: number): [number, number] | null {
  let start = startArg < 0 ? len + startArg : startArg;
  let stop = stopArg < 0 ? len + stopArg : stopArg;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return null;
  if (stop >= len) stop = len - 1;
  return [start, stop];
}

function limit(items: ZItem[], off: number, count: number): ZItem[] {
  if (off < 0) return [];
  return items.slice(off, count < 0 ? undefined : off + count);
}

/** The shared ZRANGE engine. */
function range(s: Session, key: Buffer, startArg: Buffer, stopArg: Buffer, byScoreMode: boolean, rev: boolean, lim: [number, number] | undefined, withScores: boolean): void {
  const z = zset(s, key);
  let items: ZItem[];
  if (byScoreMode) {
    // With REV the first bound is the max.
    const a = bound(startArg);
    const b = bound(stopArg);
    items = rev ? byScore(z, b, a).reverse() : byScore(z, a, b);
    if (lim) items = limit(items, lim[0], lim[1]);
  } else {
    const start = int(startArg);
    const stop = int(stopArg);
    const len = z?.size ?? 0;
    const r = rankRange(len, start, stop);
    if (!r || !z) items = [];
    else if (!rev) items = z.sorted.slice(r[0], r[1] + 1);
    else items = z.sorted.slice(len - 1 - r[1], len - r[0]).reverse();
  }
  writeItems(s, items, withScores);
}

function zrange(s: Session, a: Buffer[]): void {
  let byScoreMode = false;
  let rev = false;
  let withScores = false;
  let lim: [number, number] | undefined;
  for (let i = 4; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'byscore') byScoreMode = true;
    else if (o === 'rev') rev = true;
    else if (o === 'withscores') withScores = true;
    else if (o === 'limit' && i + 2 < a.length) {
      lim = [int(a[i + 1]!), int(a[i + 2]!)];
      i += 2;
    } else if (o === 'bylex') throw new RespError('ERR BYLEX is not supported by this server');
    else throw new RespError(SYNTAX);
  }
  if (lim && !byScoreMode) throw new RespError('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  range(s, a[1]!, a[2]!, a[3]!, byScoreMode, rev, lim, withScores);
}

function zrangeByScore(rev: boolean) {
  return (s: Session, a: Buffer[]): void => {
    let withScores = false;
    let lim: [number, number] | undefined;
    for (let i = 4; i < a.length; i++) {
      const o = kw(a[i]!);
      if (o === 'withscores') withScores = true;
      else if (o === 'limit' && i + 2 < a.length) {
        lim = [int(a[i + 1]!), int(a[i + 2]!)];
        i += 2;
      } else throw new RespError(SYNTAX);
    }
    range(s, a[1]!, a[2]!, a[3]!, true, rev, lim, withScores);
  };
}

function zrevrange(s: Session, a: Buffer[]): void {
  if (a.length > 5 || (a.length === 5 && kw(a[4]!) !== 'withscores')) throw new RespError(SYNTAX);
  range(s, a[1]!, a[2]!, a[3]!, false, true, undefined, a.length === 5);
}

function zcount(s: Session, a: Buffer[]): void {
  s.w.integer(byScore(zset(s, a[1]!), bound(a[2]!), bound(a[3]!)).length);
}

function zremrangebyscore(s: Session, a: Buffer[]): void {
  const items = byScore(zset(s, a[1]!), bound(a[2]!), bound(a[3]!));
  s.w.integer(items.length === 0 ? 0 : s.broker.kv.zrem(str(a[1]!), items.map((it) => it.m)));
}

function zremrangebyrank(s: Session, a: Buffer[]): void {
  const z = zset(s, a[1]!);
  const r = rankRange(z?.size ?? 0, int(a[2]!), int(a[3]!));
  if (!z || !r) {
    s.w.integer(0);
    return;
  }
  s.w.integer(s.broker.kv.zrem(str(a[1]!), z.sorted.slice(r[0], r[1] + 1).map((it) => it.m)));
}

function zrank(rev: boolean) {
  return (s: Session, a: Buffer[]): void => {
    if (a.length > 4 || (a.length === 4 && kw(a[3]!) !== 'withscore')) throw new RespError(SYNTAX);
    const z = zset(s, a[1]!);
    const m = mem(a[2]!);
    const r = z?.rank(m);
    if (r === undefined || !z) {
      if (a.length === 4) s.w.nullArray();
      else s.w.nullBulk();
      return;
    }
    const rank = rev ? z.size - 1 - r : r;
    if (a.length === 4) {
      s.w.arrayHeader(2).integer(rank);
      score(s, z.scores.get(m)!);
    } else s.w.integer(rank);
  };
}

function zpop(max: boolean) {
  return (s: Session, a: Buffer[]): void => {
    if (a.length > 3) throw new RespError(SYNTAX);
    const count = a.length === 3 ? int(a[2]!) : 1;
    if (count < 0) throw new RespError('ERR value is out of range, must be positive');
    const z = zset(s, a[1]!);
    const n = Math.min(count, z?.size ?? 0);
    const items = !z ? [] : max ? z.sorted.slice(z.size - n).reverse() : z.sorted.slice(0, n);
    if (items.length > 0) s.broker.kv.zrem(str(a[1]!), items.map((it) => it.m));
    if (s.protocol === 3 && a.length === 3) {
      writeItems(s, items, true);
      return;
    }
    // RESP2, and RESP3 without a count: a flat [member, score, …] array.
    s.w.arrayHeader(items.length * 2);
    for (const it of items) {
      s.w.bulk(out(it.m));
      score(s, it.s);
    }
  };
}

const commands: CommandSpec[] = [
  kvCmd('zadd', -4, ['write', 'denyoom', 'fast'], KEY1, zadd),
  kvCmd('zincrby', 4, ['write', 'denyoom', 'fast'], KEY1, zincrby),
  kvCmd('zrem', -3, ['write', 'fast'], KEY1, zrem),
  kvCmd('zscore', 3, ['readonly', 'fast'], KEY1, zscore),
  kvCmd('zmscore', -3, ['readonly', 'fast'], KEY1, zmscore),
  kvCmd('zcard', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(zset(s, a[1]!)?.size ?? 0)),
  kvCmd('zcount', 4, ['readonly', 'fast'], KEY1, zcount),
  kvCmd('zrank', -3, ['readonly', 'fast'], KEY1, zrank(false)),
  kvCmd('zrevrank', -3, ['readonly', 'fast'], KEY1, zrank(true)),
  kvCmd('zrange', -4, ['readonly'], KEY1, zrange),
  kvCmd('zrevrange', -4, ['readonly'], KEY1, zrevrange),
  kvCmd('zrangebyscore', -4, ['readonly'], KEY1, zrangeByScore(false)),
  kvCmd('zrevrangebyscore', -4, ['readonly'], KEY1, zrangeByScore(true)),
  kvCmd('zremrangebyscore', 4, ['write'], KEY1, zremrangebyscore),
  kvCmd('zremrangebyrank', 4, ['write'], KEY1, zremrangebyrank),
  kvCmd('zpopmin', -2, ['write', 'fast'], KEY1, zpop(false)),
  kvCmd('zpopmax', -2, ['write', 'fast'], KEY1, zpop(true)),
];

export default commands;
