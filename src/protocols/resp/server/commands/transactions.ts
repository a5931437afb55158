/**
 * MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * EXEC runs the queued commands one after another on this connection, replies collected into
 * one array. Deviation: it is not isolated from other clients — a queued command that waits
 * (a publish awaiting fsync) lets other connections' commands run in between — and WATCH never
 * aborts an EXEC (it is accepted for clients that send it). Blocking commands inside MULTI do
 * not block, as in Redis.
 */
import { ReplyWriter } from '../../index.js';
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
  if (s.multiError) {
    s.multiError = false;
    throw new RespError('EXECABORT Transaction discarded because of previous errors.');
  }
  const scratch = new ReplyWriter({ protocol: s.protocol });
  const real = s.w;
  s.w = scratch;
  s.inExec = true;
  try {
    for (const args of queued) {
      const spec = COMMANDS.get(args[0]!.toString('latin1').toLowerCase())!;
      const r = s.run(spec, args);
      if (r) await r;
    }
  } finally {
    s.w = real;
    s.inExec = false;
  }
  real.arrayHeader(queued.length).raw(scratch.take());
}

function discard(s: Session): void {
  if (!s.multi) throw new RespError('ERR DISCARD without MULTI');
  s.multi = null;
  s.multiError = false;
  s.w.simple('OK');
}

function watch(s: Session): void {
  if (s.multi) throw new RespError('ERR WATCH inside MULTI is not allowed');
  s.w.simple('OK');
}

const commands: CommandSpec[] = [
  cmd('multi', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, multi),
  cmd('exec', 1, ['noscript', 'loading', 'stale', 'skip_slowlog'], NO_KEYS, exec),
  cmd('discard', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, discard),
  cmd('watch', -2, ['noscript', 'loading', 'stale', 'fast'], [1, -1, 1], watch),
  cmd('unwatch', 1, ['noscript', 'loading', 'stale', 'fast'], NO_KEYS, (s) => void s.w.simple('OK')),
];

export default commands;
