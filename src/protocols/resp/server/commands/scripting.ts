/**
 * EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD/EXISTS/FLUSH/KILL, FUNCTION, FCALL.
 *
 * There is no Lua interpreter here (out of scope; see docs/protocols/resp.md). What is provided
 * is *script fingerprinting*: the three scripts of redis-py's `Lock` (release, extend, reacquire —
 * kombu's `restore_visible` releases its mutex with one) and the two of Omnibus' own redis://
 * transport (delayed publish and delayed nack, ../../transport-scripts.ts) are recognised by their
 * text (whitespace normalised, so other redis-py versions' indentation still matches) and executed
 * natively with the same semantics. Any other script is refused:
 *   EVAL / SCRIPT LOAD  -ERR Lua scripting is not supported by Omnibus …
 *   EVALSHA of an unknown SHA1  -NOSCRIPT No matching script. Please use EVAL.
 * so a client that falls back from EVALSHA to SCRIPT LOAD/EVAL ends with the clear error.
 */
import { createHash } from 'node:crypto';
import { int, kw, str } from '../args.js';
import { RespError } from '../errors.js';
import type { ZSet } from '../keyspace.js';
import type { Session } from '../session.js';
import { MOVE_DUE, POP_DUE } from '../../transport-scripts.js';
import { appendAuto } from './streams.js';
import { bound } from './zsets.js';
import { cmd, NO_KEYS, type CommandSpec } from './types.js';

/** A script run natively: its reply is an integer or an array of bulk strings, as the Lua returns. */
type Native = (s: Session, keys: Buffer[], argv: Buffer[]) => number | string[] | Promise<number>;

const NO_LUA = 'ERR Lua scripting is not supported by Omnibus (only the redis-py Lock scripts and the redis:// transport\'s are recognised); see docs/protocols/resp.md';

function tokenMatches(s: Session, key: Buffer, token: Buffer | undefined): boolean {
  const e = s.broker.kv.get(str(key));
  return e !== undefined && e.type === 'string' && token !== undefined && (e.value as Buffer).equals(token);
}

function pttl(s: Session, key: string): number {
  const e = s.broker.kv.get(key);
  if (!e) return -2;
  return e.expireAt === 0 ? -1 : Math.max(0, e.expireAt - s.broker.kv.now());
}

function msArg(b: Buffer | undefined): number {
  if (!b) throw new RespError('ERR value is not an integer or out of range');
  return int(b);
}

/**
 * Members of the sorted set `key` with score <= `maxArg`, ascending, at most `limitArg` (negative:
 * all) — ZRANGEBYSCORE key -inf max LIMIT 0 limit.
 */
function dueMembers(s: Session, key: Buffer, maxArg: Buffer | undefined, limitArg: Buffer | undefined, skip?: (m: string) => boolean): string[] {
  const z = s.broker.kvGet(str(key), 'zset')?.value as ZSet | undefined;
  if (!z) return [];
  // ARGV[1] as the script's ZRANGEBYSCORE parses it.
  const max = bound(maxArg ?? Buffer.alloc(0));
  const limit = msArg(limitArg);
  const end = z.endAtMost(max.v, max.ex);
  const out: string[] = [];
  for (let i = 0; i < end && (limit < 0 || out.length < limit); i++) {
    const m = z.sorted[i]!.m;
    if (!skip?.(m)) out.push(m);
  }
  return out;
}

/** Per broker: `zset\nmember` of MOVE_DUE moves in progress, which other MOVE_DUE calls skip. */
const moving = new WeakMap<object, Set<string>>();

/**
 * MOVE_DUE. Redis runs the script as one atomic step; here the XADDs are asynchronous (engine
 * appends), so: the due members are claimed in memory (a concurrent call from another subscriber
 * skips them), each entry is appended, and only then are its hash and set member deleted. A crash
 * between an append and its delete appends that message again after the restart: a duplicate
 * (at-least-once, like every redelivery) rather than a loss.
 */
async function moveDue(s: Session, k: Buffer[], a: Buffer[]): Promise<number> {
  if (!k[0] || !k[1] || !a[2]) throw new RespError('ERR Error running script: missing KEYS or ARGV');
  const zkey = str(k[0]);
  let claimed = moving.get(s.broker);
  if (!claimed) moving.set(s.broker, (claimed = new Set()));
  const mine = claimed;
  const ids = dueMembers(s, k[0], a[0], a[1], (m) => mine.has(`${zkey}\n${m}`));
  for (const n of ids) mine.add(`${zkey}\n${n}`);
  try {
    for (const n of ids) {
      const h = a[2].toString('latin1') + n;
      const e = s.broker.kvGet(h, 'hash');
      if (e && (e.value as Map<string, Buffer>).size > 0) {
        const f: Buffer[] = [];
        for (const [field, v] of e.value as Map<string, Buffer>) f.push(Buffer.from(field, 'latin1'), v);
        await appendAuto(s, k[1], f);
      }
      s.broker.kv.delete(h);
      s.broker.kv.zrem(zkey, [n]);
    }
  } finally {
    for (const n of ids) mine.delete(`${zkey}\n${n}`);
  }
  return ids.length;
}

/** POP_DUE: removes and returns the due members of KEYS[1]. */
function popDue(s: Session, k: Buffer[], a: Buffer[]): string[] {
  if (!k[0]) throw new RespError('ERR Error running script: missing KEYS or ARGV');
  const ids = dueMembers(s, k[0], a[0], a[1]);
  if (ids.length > 0) s.broker.kv.zrem(str(k[0]), ids);
  return ids;
}

/** redis-py lock.py scripts and the redis:// transport's, whitespace-normalised → native implementation. */
const KNOWN = new Map<string, Native>([
  [
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end redis.call('del', KEYS[1]) return 1",
    (s, k, a) => {
      if (!k[0] || !tokenMatches(s, k[0], a[0])) return 0;
      s.broker.kv.delete(str(k[0]));
      return 1;
    },
  ],
  [
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end local expiration = redis.call('pttl', KEYS[1]) if not expiration then expiration = 0 end if expiration < 0 then return 0 end local newttl = ARGV[2] if ARGV[3] == \"0\" then newttl = ARGV[2] + expiration end redis.call('pexpire', KEYS[1], newttl) return 1",
    (s, k, a) => {
      if (!k[0] || !tokenMatches(s, k[0], a[0])) return 0;
      const key = str(k[0]);
      const exp = pttl(s, key);
      if (exp < 0) return 0;
      const add = msArg(a[1]);
      const ttl = a[2]?.toString('latin1') === '0' ? add + exp : add;
      s.broker.kv.expire(key, s.broker.kv.now() + ttl);
      return 1;
    },
  ],
  [
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end redis.call('pexpire', KEYS[1], ARGV[2]) return 1",
    (s, k, a) => {
      if (!k[0] || !tokenMatches(s, k[0], a[0])) return 0;
      s.broker.kv.expire(str(k[0]), s.broker.kv.now() + msArg(a[1]));
      return 1;
    },
  ],
  [normaliseText(MOVE_DUE), moveDue],
  [normaliseText(POP_DUE), popDue],
]);

function normaliseText(script: string): string {
  return script.replace(/\s+/g, ' ').trim();
}

/** SHA1 → native, for scripts loaded (SCRIPT LOAD / EVAL) since start; shared by all clients. */
const loaded = new Map<string, Native>();

const normalise = (script: Buffer): string => normaliseText(script.toString('utf8'));
const sha1 = (script: Buffer): string => createHash('sha1').update(script).digest('hex');

function recognise(script: Buffer): { sha: string; fn: Native } | undefined {
  const fn = KNOWN.get(normalise(script));
  if (!fn) return undefined;
  const sha = sha1(script);
  loaded.set(sha, fn);
  return { sha, fn };
}

function reply(s: Session, r: number | string[]): void {
  if (typeof r === 'number') {
    s.w.integer(r);
    return;
  }
  s.w.arrayHeader(r.length);
  for (const m of r) s.w.bulk(Buffer.from(m, 'latin1'));
}

function run(s: Session, fn: Native, a: Buffer[]): Promise<void> | void {
  const numkeys = int(a[2]!);
  if (numkeys > a.length - 3) throw new RespError("ERR Number of keys can't be greater than number of args");
  if (numkeys < 0) throw new RespError("ERR Number of keys can't be negative");
  const r = fn(s, a.slice(3, 3 + numkeys), a.slice(3 + numkeys));
  if (r instanceof Promise) return r.then((v) => reply(s, v));
  reply(s, r);
}

function evalCmd(s: Session, a: Buffer[]): Promise<void> | void {
  const r = recognise(a[1]!);
  if (!r) throw new RespError(NO_LUA);
  return run(s, r.fn, a);
}

function evalsha(s: Session, a: Buffer[]): Promise<void> | void {
  const fn = loaded.get(a[1]!.toString('latin1').toLowerCase());
  if (!fn) throw new RespError('NOSCRIPT No matching script. Please use EVAL.');
  return run(s, fn, a);
}

function script(s: Session, a: Buffer[]): void {
  const sub = kw(a[1]!);
  if (sub === 'load' && a.length === 3) {
    const r = recognise(a[2]!);
    if (!r) throw new RespError(NO_LUA);
    s.w.bulk(r.sha);
  } else if (sub === 'exists' && a.length >= 3) {
    s.w.arrayHeader(a.length - 2);
    for (const h of a.slice(2)) s.w.integer(loaded.has(h.toString('latin1').toLowerCase()) ? 1 : 0);
  } else if (sub === 'flush') {
    loaded.clear();
    s.w.simple('OK');
  } else if (sub === 'kill') {
    throw new RespError('NOTBUSY No scripts in execution right now.');
  } else throw new RespError(`ERR unknown subcommand or wrong number of arguments for '${a[1]!.toString('utf8')}'. Try SCRIPT HELP.`);
}

function functions(): void {
  throw new RespError('ERR Redis Functions (FUNCTION/FCALL) are not supported by Omnibus: there is no Lua engine; see docs/protocols/resp.md');
}

const commands: CommandSpec[] = [
  cmd('eval', -3, ['noscript', 'skip_monitor', 'may_replicate', 'no_mandatory_keys'], [0, 0, 0], evalCmd),
  cmd('evalsha', -3, ['noscript', 'skip_monitor', 'may_replicate', 'no_mandatory_keys'], [0, 0, 0], evalsha),
  cmd('eval_ro', -3, ['noscript', 'skip_monitor', 'no_mandatory_keys', 'readonly'], [0, 0, 0], evalCmd),
  cmd('evalsha_ro', -3, ['noscript', 'skip_monitor', 'no_mandatory_keys', 'readonly'], [0, 0, 0], evalsha),
  cmd('script', -2, ['noscript'], NO_KEYS, script),
  cmd('function', -2, ['noscript'], NO_KEYS, functions),
  cmd('fcall', -3, ['noscript', 'skip_monitor', 'may_replicate', 'no_mandatory_keys'], [0, 0, 0], functions),
  cmd('fcall_ro', -3, ['noscript', 'skip_monitor', 'no_mandatory_keys', 'readonly'], [0, 0, 0], functions),
];

export default commands;
