/**
 * MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * Isolation: the session layer runs on one thread, so EXEC runs its queued commands back to back
 * and no other client's command runs in between as long as none of them awaits. Keyspace
 * commands (strings, hashes, sets, sorted sets) never await. A queued command that does (a list
 * push awaiting the engine's durability, a stream append) raises the broker's exec barrier for
 * the rest of the EXEC: other sessions wait for it before running their next command. What the
 * barrier does not stop: commands other sessions had already started before it was raised,
 * blocked clients woken by an engine delivery (BRPOP's direct hand-off), and other protocols
 * publishing to the same topics — see docs/protocols/resp.md. Blocking commands inside MULTI do
 * not block, as in Redis.
 *
 * WATCH: the broker flags watching sessions whenever a watched key changes (broker.ts); EXEC of a
 * flagged session replies a null array and runs nothing, as Redis does.
 */
import { ReplyWriter } from '../../index.js';
import { C_LIST, C_STREAM, hasNoMkStream, str } from '../args.js';
import { RespError } from '../errors.js';
import type { Session } from '../session.js';
import { COMMANDS } from './index.js';
import { cmd, NO_KEYS, type CommandSpec } from './types.js';

function multi(s: Session): void {
  if (s.multi) throw new RespError('ERR MULTI calls can not be nested');
  s.multi = [];
  s.multiError = false;
  s.w.simple('OK');
}

async function exec(s: Session): Promise<void> {
  const queued = s.multi;
  if (!queued) throw new RespError('ERR EXEC without MULTI');
  s.multi = null;
  const aborted = s.watchDirty;
  s.unwatchAll();
  if (s.multiError) {
    s.multiError = false;
    throw new RespError('EXECABORT Transaction discarded because of previous errors.');
  }
  if (aborted) {
    s.w.nullArray();
    return;
  }
  const broker = s.broker;
  // One reply slot per queued command: writes that wait for the engine run side by side (below)
  // and each answers into its own slot; the slots are joined in command order at the end.
  const slots: ReplyWriter[] = [];
  const real = s.w;
  s.inExec = true;
  let release: (() => void) | undefined;
  /** Pushes/XADDs started and not awaited yet, and the class of each key they name. */
  const writes: Promise<void>[] = [];
  const keys = new Map<string, number>();
  try {
    for (const args of queued) {
      const spec = COMMANDS.get(args[0]!.toString('latin1').toLowerCase())!;
      // Another EXEC holds the barrier: wait before running anything that could await.
      for (let b = broker.execBarrier; b && broker.execOwner !== s; b = broker.execBarrier) await b;
      const cls = concurrentClass(spec.name, args);
      const key = cls === 0 ? '' : str(args[1]!);
      if (writes.length > 0 && (cls === 0 || (keys.get(key) ?? cls) !== cls)) {
        await Promise.all(writes);
        writes.length = 0;
        keys.clear();
      }
      const w = new ReplyWriter({ protocol: s.protocol, slabSize: 256 });
      slots.push(w);
      s.w = w;
      const r = s.run(spec, args);
      if (r) {
        if (!release) {
          broker.execBarrier = new Promise<void>((res) => (release = res));
          broker.execOwner = s;
        }
        if (cls === 0) await r;
        else {
          writes.push(r);
          keys.set(key, cls);
        }
      }
    }
    if (writes.length > 0) await Promise.all(writes);
  } finally {
    s.w = real;
    s.inExec = false;
    if (release) {
      broker.execBarrier = undefined;
      broker.execOwner = undefined;
      release();
    }
  }
  real.arrayHeader(queued.length);
  for (const w of slots) w.moveTo(real);
}

/**
 * Inside EXEC, list pushes and XADDs (without NOMKSTREAM) do not wait for the previous one's
 * durability: each takes its place in its key's FIFO lock when it starts (so later commands on
 * the key apply after it) and pushes to one key join one batch, so a transaction of N XADDs (the
 * redis:// transport publishes that way) shares fsyncs instead of paying N. Any other command
 * waits for them first, so it sees their effects; the EXEC answers once all are durable. A list
 * push and an XADD on one key are never started together (C_LIST, C_STREAM; 0 = any other).
 */
function concurrentClass(name: string, a: Buffer[]): number {
  if (name === 'lpush' || name === 'rpush') return C_LIST;
  return name === 'xadd' && !hasNoMkStream(a) ? C_STREAM : 0;
}

function discard(s: Session): void {
  if (!s.multi) throw new RespError('ERR DISCARD without MULTI');
  s.multi = null;
  s.multiError = false;
  s.unwatchAll();
  s.w.simple('OK');
}

function watch(s: Session, a: Buffer[]): void {
  if (s.multi) throw new RespError('ERR WATCH inside MULTI is not allowed');
  for (const k of a.slice(1)) {
    const key = str(k);
    if (s.watching.has(key)) continue;
    s.watching.add(key);
    s.broker.watch(key, s);
  }
  s.w.simple('OK');
}

function unwatch(s: Session): void {
  s.unwatchAll();
  s.w.simple('OK');
}

const commands: CommandSpec[] = [
  cmd('multi', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, multi),
  cmd('exec', 1, ['noscript', 'loading', 'stale', 'skip_slowlog'], NO_KEYS, exec),
  cmd('discard', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, discard),
  cmd('watch', -2, ['noscript', 'loading', 'stale', 'fast'], [1, -1, 1], watch),
  cmd('unwatch', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, unwatch),
];

export default commands;
