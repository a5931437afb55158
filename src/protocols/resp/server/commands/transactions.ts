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
import { str } from '../args.js';
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
  const scratch = new ReplyWriter({ protocol: s.protocol });
  const real = s.w;
  s.w = scratch;
  s.inExec = true;
  let release: (() => void) | undefined;
  try {
    for (const args of queued) {
      const spec = COMMANDS.get(args[0]!.toString('latin1').toLowerCase())!;
      // Another EXEC holds the barrier: wait before running anything that could await.
      for (let b = broker.execBarrier; b && broker.execOwner !== s; b = broker.execBarrier) await b;
      const r = s.run(spec, args);
      if (r) {
        if (!release) {
          broker.execBarrier = new Promise<void>((res) => (release = res));
          broker.execOwner = s;
        }
        await r;
      }
    }
  } finally {
    s.w = real;
    s.inExec = false;
    if (release) {
      broker.execBarrier = undefined;
      broker.execOwner = undefined;
      release();
    }
  }
  real.arrayHeader(queued.length).raw(scratch.take());
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
