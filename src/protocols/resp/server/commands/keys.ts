/**
 * Keyspace commands across every type: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN (MATCH/COUNT/TYPE),
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST,
 * RENAME, RENAMENX, TOUCH.
 *
 * Expiry applies to strings, hashes, sets and sorted sets (keyspace.ts). List and stream keys are
 * engine topics shared with other protocols and cannot expire here: EXPIRE on them answers 0 (the
 * reply Redis gives when it did not set a timeout), TTL -1, PERSIST 0. RENAME moves keyspace
 * values; renaming a list or stream (or over one) is refused with an error naming the gap.
 *
 * SCAN returns every matching key in one reply with cursor 0 — allowed by SCAN's contract (a
 * full iteration may return any number of elements per call) and fine for the key counts a
 * queue broker has (one per queue/stream, plus the small values).
 */
import { int, kw, str } from '../args.js';
import { RespError, SYNTAX } from '../errors.js';
import { globMatch } from '../glob.js';
import type { Session } from '../session.js';
import { cmd, KEY1, kvCmd, type CommandSpec } from './types.js';

async function del(s: Session, a: Buffer[]): Promise<void> {
  let n = 0;
  for (const k of a.slice(1)) {
    const key = str(k);
    // Keyspace deletes are synchronous: only list/stream deletes await the engine.
    if (s.broker.kv.delete(key)) n++;
    else if (s.broker.keyType(key) !== 'none' && (await s.broker.deleteKey(key))) n++;
  }
  s.w.integer(n);
}

function exists(s: Session, a: Buffer[]): void {
  let n = 0;
  for (const k of a.slice(1)) if (s.broker.keyType(str(k)) !== 'none') n++;
  s.w.integer(n);
}

function keysCmd(s: Session, a: Buffer[]): void {
  const pat = a[1]!.toString('latin1');
  const keys = s.broker.keys().filter((k) => globMatch(pat, Buffer.from(k, 'utf8').toString('latin1')));
  s.w.arrayHeader(keys.length);
  for (const k of keys) s.w.bulk(k);
}

function scan(s: Session, a: Buffer[]): void {
  int(a[1]!, 'ERR invalid cursor');
  let match: string | undefined;
  let type: string | undefined;
  for (let i = 2; i < a.length; i++) {
    const o = kw(a[i]!);
    if (i + 1 >= a.length) throw new RespError(SYNTAX);
    if (o === 'match') match = a[++i]!.toString('latin1');
    else if (o === 'count') {
      if (int(a[++i]!) < 1) throw new RespError(SYNTAX);
    } else if (o === 'type') type = kw(a[++i]!);
    else throw new RespError(SYNTAX);
  }
  const keys = s.broker
    .keys()
    .filter((k) => (match === undefined || globMatch(match, Buffer.from(k, 'utf8').toString('latin1'))) && (type === undefined || s.broker.keyType(k) === type));
  s.w.arrayHeader(2).bulk('0').arrayHeader(keys.length);
  for (const k of keys) s.w.bulk(k);
}

/** EXPIRE family: unit 's'|'ms', absolute or relative. */
function expire(name: string, unitMs: number, absolute: boolean) {
  return (s: Session, a: Buffer[]): void => {
    const key = str(a[1]!);
    const n = int(a[2]!);
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (const o of a.slice(3).map(kw)) {
      if (o === 'nx') nx = true;
      else if (o === 'xx') xx = true;
      else if (o === 'gt') gt = true;
      else if (o === 'lt') lt = true;
      else throw new RespError(`ERR Unsupported option ${o}`);
    }
    if (nx && (xx || gt || lt)) throw new RespError('ERR NX and XX, GT or LT options at the same time are not compatible');
    if (gt && lt) throw new RespError('ERR GT and LT options at the same time are not compatible');
    const kv = s.broker.kv;
    const at = absolute ? n * unitMs : kv.now() + n * unitMs;
    if (!Number.isSafeInteger(at) || !Number.isSafeInteger(n * unitMs)) throw new RespError(`ERR invalid expire time in '${name}' command`);
    const e = kv.get(key);
    if (!e) {
      // Absent, or a list/stream key that cannot expire here: 0, as Redis answers when it set nothing.
      s.w.integer(0);
      return;
    }
    const cur = e.expireAt === 0 ? Infinity : e.expireAt;
    if ((nx && e.expireAt !== 0) || (xx && e.expireAt === 0) || (gt && at <= cur) || (lt && at >= cur)) {
      s.w.integer(0);
      return;
    }
    kv.expire(key, at);
    s.w.integer(1);
  };
}

/** TTL/PTTL/EXPIRETIME/PEXPIRETIME. */
function ttl(divisor: number, absolute: boolean) {
  return (s: Session, a: Buffer[]): void => {
    const key = str(a[1]!);
    const e = s.broker.kv.get(key);
    if (!e) {
      s.w.integer(s.broker.keyType(key) === 'none' ? -2 : -1);
      return;
    }
    if (e.expireAt === 0) {
      s.w.integer(-1);
      return;
    }
    const ms = absolute ? e.expireAt : Math.max(0, e.expireAt - s.broker.kv.now());
    // Redis rounds TTL to the nearest second ((ttl + 500) / 1000).
    s.w.integer(divisor === 1 ? ms : absolute ? Math.floor(ms / 1000) : Math.floor((ms + 500) / 1000));
  };
}

function persist(s: Session, a: Buffer[]): void {
  const key = str(a[1]!);
  const e = s.broker.kv.get(key);
  if (!e || e.expireAt === 0) {
    s.w.integer(0);
    return;
  }
  s.broker.kv.expire(key, 0);
  s.w.integer(1);
}

function rename(nx: boolean) {
  return (s: Session, a: Buffer[]): void => {
    const src = str(a[1]!);
    const dst = str(a[2]!);
    const b = s.broker;
    const t = b.keyType(src);
    if (t === 'none') throw new RespError('ERR no such key');
    if (t === 'list' || t === 'stream') throw new RespError(`ERR RENAME of a ${t} key is not supported by Omnibus (it is an engine topic other protocols share)`);
    const dt = b.keyType(dst);
    if (nx && dt !== 'none') {
      s.w.integer(0);
      return;
    }
    if (dt === 'list' || dt === 'stream') throw new RespError(`ERR RENAME over a ${dt} key is not supported by Omnibus (it is an engine topic other protocols share)`);
    b.kv.rename(src, dst);
    if (nx) s.w.integer(1);
    else s.w.simple('OK');
  };
}

const commands: CommandSpec[] = [
  cmd('del', -2, ['write'], [1, -1, 1], del),
  cmd('unlink', -2, ['write', 'fast'], [1, -1, 1], del),
  cmd('exists', -2, ['readonly', 'fast'], [1, -1, 1], exists),
  cmd('touch', -2, ['readonly', 'fast'], [1, -1, 1], exists),
  cmd('type', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.simple(s.broker.keyType(str(a[1]!)))),
  cmd('keys', 2, ['readonly'], [0, 0, 0], keysCmd),
  cmd('scan', -2, ['readonly'], [0, 0, 0], scan),
  kvCmd('expire', -3, ['write', 'fast'], KEY1, expire('expire', 1000, false)),
  kvCmd('pexpire', -3, ['write', 'fast'], KEY1, expire('pexpire', 1, false)),
  kvCmd('expireat', -3, ['write', 'fast'], KEY1, expire('expireat', 1000, true)),
  kvCmd('pexpireat', -3, ['write', 'fast'], KEY1, expire('pexpireat', 1, true)),
  kvCmd('ttl', 2, ['readonly', 'fast'], KEY1, ttl(1000, false)),
  kvCmd('pttl', 2, ['readonly', 'fast'], KEY1, ttl(1, false)),
  kvCmd('expiretime', 2, ['readonly', 'fast'], KEY1, ttl(1000, true)),
  kvCmd('pexpiretime', 2, ['readonly', 'fast'], KEY1, ttl(1, true)),
  kvCmd('persist', 2, ['write', 'fast'], KEY1, persist),
  kvCmd('rename', 3, ['write'], [1, 2, 1], rename(false)),
  kvCmd('renamenx', 3, ['write', 'fast'], [1, 2, 1], rename(true)),
];

export default commands;
