/**
 * Set commands over the keyspace: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
 * SRANDMEMBER, SMOVE, SINTER, SUNION, SDIFF. Members are binary-safe. SMEMBERS/SPOP count/
 * SINTER… reply a set (`~`) in RESP3, an array in RESP2. Random choices use Math.random.
 */
import { int, str } from '../args.js';
import { RespError } from '../errors.js';
import type { Session } from '../session.js';
import { shuffle } from './hashes.js';
import { KEY1, kvCmd, type CommandSpec } from './types.js';

function set(s: Session, key: Buffer): Set<string> | undefined {
  return s.broker.kvGet(str(key), 'set')?.value as Set<string> | undefined;
}

const m = (b: Buffer): string => b.toString('latin1');
const out = (x: string): Buffer => Buffer.from(x, 'latin1');

function sadd(s: Session, a: Buffer[]): void {
  set(s, a[1]!);
  s.w.integer(s.broker.kv.sadd(str(a[1]!), a.slice(2).map(m)));
}

function srem(s: Session, a: Buffer[]): void {
  if (!set(s, a[1]!)) {
    s.w.integer(0);
    return;
  }
  s.w.integer(s.broker.kv.srem(str(a[1]!), a.slice(2).map(m)));
}

function writeSet(s: Session, members: Iterable<string>, size: number): void {
  s.w.setHeader(size);
  for (const x of members) s.w.bulk(out(x));
}

function smembers(s: Session, a: Buffer[]): void {
  const st = set(s, a[1]!);
  writeSet(s, st ?? [], st?.size ?? 0);
}

function spop(s: Session, a: Buffer[]): void {
  if (a.length > 3) throw new RespError('ERR syntax error');
  const key = str(a[1]!);
  const st = set(s, a[1]!);
  if (a.length === 2) {
    if (!st || st.size === 0) {
      s.w.nullBulk();
      return;
    }
    const pick = [...st][Math.floor(Math.random() * st.size)]!;
    s.broker.kv.srem(key, [pick]);
    s.w.bulk(out(pick));
    return;
  }
  const count = int(a[2]!);
  if (count < 0) throw new RespError('ERR value is out of range, must be positive');
  if (!st) {
    s.w.setHeader(0);
    return;
  }
  const picks = shuffle([...st]).slice(0, count);
  s.broker.kv.srem(key, picks);
  writeSet(s, picks, picks.length);
}

function srandmember(s: Session, a: Buffer[]): void {
  if (a.length > 3) throw new RespError('ERR syntax error');
  const st = set(s, a[1]!);
  if (a.length === 2) {
    if (!st || st.size === 0) s.w.nullBulk();
    else s.w.bulk(out([...st][Math.floor(Math.random() * st.size)]!));
    return;
  }
  const count = int(a[2]!);
  const all = st ? [...st] : [];
  const picks = count >= 0 ? shuffle(all).slice(0, count) : Array.from({ length: all.length === 0 ? 0 : -count }, () => all[Math.floor(Math.random() * all.length)]!);
  s.w.arrayHeader(picks.length);
  for (const x of picks) s.w.bulk(out(x));
}

function smismember(s: Session, a: Buffer[]): void {
  const st = set(s, a[1]!);
  s.w.arrayHeader(a.length - 2);
  for (const x of a.slice(2)) s.w.integer(st?.has(m(x)) ? 1 : 0);
}

function smove(s: Session, a: Buffer[]): void {
  const src = set(s, a[1]!);
  set(s, a[2]!);
  const member = m(a[3]!);
  if (!src?.has(member)) {
    s.w.integer(0);
    return;
  }
  s.broker.kv.srem(str(a[1]!), [member]);
  s.broker.kv.sadd(str(a[2]!), [member]);
  s.w.integer(1);
}

function combine(op: 'inter' | 'union' | 'diff') {
  return (s: Session, a: Buffer[]): void => {
    const sets = a.slice(1).map((k) => set(s, k) ?? new Set<string>());
    let result: Set<string>;
    if (op === 'union') {
      result = new Set();
      for (const x of sets) for (const y of x) result.add(y);
    } else if (op === 'inter') {
      result = new Set(sets[0]);
      for (const x of sets.slice(1)) for (const y of result) if (!x.has(y)) result.delete(y);
    } else {
      result = new Set(sets[0]);
      for (const x of sets.slice(1)) for (const y of x) result.delete(y);
    }
    writeSet(s, result, result.size);
  };
}

const commands: CommandSpec[] = [
  kvCmd('sadd', -3, ['write', 'denyoom', 'fast'], KEY1, sadd),
  kvCmd('srem', -3, ['write', 'fast'], KEY1, srem),
  kvCmd('smembers', 2, ['readonly'], KEY1, smembers),
  kvCmd('sismember', 3, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(set(s, a[1]!)?.has(m(a[2]!)) ? 1 : 0)),
  kvCmd('smismember', -3, ['readonly', 'fast'], KEY1, smismember),
  kvCmd('scard', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(set(s, a[1]!)?.size ?? 0)),
  kvCmd('spop', -2, ['write', 'fast'], KEY1, spop),
  kvCmd('srandmember', -2, ['readonly'], KEY1, srandmember),
  kvCmd('smove', 4, ['write', 'fast'], [1, 2, 1], smove),
  kvCmd('sinter', -2, ['readonly'], [1, -1, 1], combine('inter')),
  kvCmd('sunion', -2, ['readonly'], [1, -1, 1], combine('union')),
  kvCmd('sdiff', -2, ['readonly'], [1, -1, 1], combine('diff')),
];

export default commands;
