/**
 * Keyspace commands over queue keys: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN (MATCH/COUNT/TYPE),
 * TTL, PTTL, PERSIST. Keys never expire here (TTL answers -1 for an existing key); EXPIRE is not
 * offered rather than silently ignored.
 *
 * SCAN returns every matching key in one reply with cursor 0 — allowed by SCAN's contract (a
 * full iteration may return any number of elements per call) and fine for the key counts a
 * queue broker has (one per queue/stream).
 */
import { int, kw, str } from '../args.js';
import { RespError, SYNTAX } from '../errors.js';
import { globMatch } from '../glob.js';
import type { Session } from '../session.js';
import { cmd, KEY1, type CommandSpec } from './types.js';

async function del(s: Session, a: Buffer[]): Promise<void> {
  let n = 0;
  for (const k of a.slice(1)) if (await s.broker.deleteKey(str(k))) n++;
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

const commands: CommandSpec[] = [
  cmd('del', -2, ['write'], [1, -1, 1], del),
  cmd('unlink', -2, ['write', 'fast'], [1, -1, 1], del),
  cmd('exists', -2, ['readonly', 'fast'], [1, -1, 1], exists),
  cmd('type', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.simple(s.broker.keyType(str(a[1]!)))),
  cmd('keys', 2, ['readonly'], [0, 0, 0], keysCmd),
  cmd('scan', -2, ['readonly'], [0, 0, 0], scan),
  cmd('ttl', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(s.broker.keyType(str(a[1]!)) === 'none' ? -2 : -1)),
  cmd('pttl', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(s.broker.keyType(str(a[1]!)) === 'none' ? -2 : -1)),
  cmd('persist', 2, ['write', 'fast'], KEY1, (s) => void s.w.integer(0)),
];

export default commands;
