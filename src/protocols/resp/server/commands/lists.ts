/**
 * List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP (with count), LLEN, LRANGE, LINDEX, LPOS,
 * LSET, LREM, LINSERT, LTRIM, LMOVE, RPOPLPUSH, LMPOP, and the blocking BLPOP, BRPOP, BLMOVE,
 * BRPOPLPUSH, BLMPOP. The model (which end is the log, rewrites, blocking) is in ../lists.ts.
 */
import type { DeliveryImpl } from '../../../../engine/group.js';
import type { DecodedRecord } from '../../../../engine/record.js';
import { int, kw, positive, str, timeoutSeconds } from '../args.js';
import { RespError, SYNTAX, WRONGTYPE } from '../errors.js';
import type { End, ListValue } from '../lists.js';
import type { Session } from '../session.js';
import type { ReplyWriter } from '../../writer.js';
import type { ReadLease } from '../../../../engine/storage/types.js';
import { cmd, KEY1, type CommandSpec } from './types.js';

function listKey(s: Session, b: Buffer | string): string {
  const k = typeof b === 'string' ? b : str(b);
  if (s.broker.streams.isStream(k) || s.broker.kv.has(k)) throw new RespError(WRONGTYPE);
  return k;
}

function side(b: Buffer): End {
  const v = kw(b);
  if (v === 'left') return 'L';
  if (v === 'right') return 'R';
  throw new RespError(SYNTAX);
}

function push(end: End, onlyIfExists: boolean) {
  return async (s: Session, a: Buffer[]): Promise<void> => {
    // The writer is taken before the await: a pipelined push answers into its own slot (session.ts).
    const w = s.w;
    const key = listKey(s, a[1]!);
    const n = await s.broker.lists.push(key, end, a.slice(2), onlyIfExists);
    w.integer(n);
  };
}

function pop(end: End) {
  return async (s: Session, a: Buffer[]): Promise<void> => {
    if (a.length > 3) throw new RespError(SYNTAX);
    const key = listKey(s, a[1]!);
    const withCount = a.length === 3;
    const count = withCount ? positive(a[2]!) : 1;
    const lists = s.broker.lists;
    if (lists.length(key) === 0) {
      if (withCount) s.w.nullArray();
      else s.w.nullBulk();
      return;
    }
    const ranges = BodyRanges.take();
    try {
      const k = await lists.popBodies(key, end, count, ranges.add, ranges.holds);
      const w = s.w;
      if (!withCount) {
        if (k === 0) w.nullBulk();
        else ranges.writeTo(w, 0, 1);
      } else if (k === 0 && count > 0) w.nullArray();
      else {
        w.arrayHeader(k);
        ranges.writeTo(w, 0, k);
      }
    } finally {
      ranges.release();
    }
  };
}

/**
 * A run of pipelined `LPUSH key v…` (or RPUSH) on one key from one client, executed as one push
 * of all their values: `LPUSH k a` then `LPUSH k b c` leaves the list exactly as `LPUSH k a b c`
 * does, and each command still gets its own reply (the length after its values). One append,
 * one lock and one durability wait for the whole run instead of one per command (on file://,
 * pipelined single-value LPUSH from ioredis went from 12,000–15,000 to ~60,000 msg/s, where the
 * client is the limit). The run is atomic, which is one of the orders the client could have
 * observed anyway. `values` are all the run's values in order, `counts[i]` how many of them
 * command i had.
 */
export function pushRun(s: Session, end: End, keyText: string, values: Buffer[], counts: readonly number[]): Promise<void> | undefined {
  const w = s.w;
  // Lists.push may keep `values` and let later pushes append to it: its length is read now.
  const n = values.length;
  // Not an async function: a lone push is the hot path of a client that awaits every reply, and
  // an async function's frame and promise were ~0.7 KB of the ~6 KB allocated per command.
  let pushed: Promise<number>;
  try {
    pushed = s.broker.lists.push(listKey(s, keyText), end, values);
  } catch (e) {
    for (let i = 0; i < counts.length; i++) s.replyError(e, w);
    return undefined;
  }
  return pushed.then(
    (total) => {
      let len = total - n;
      for (let i = 0; i < counts.length; i++) w.integer((len += counts[i]!));
    },
    (e: unknown) => {
      for (let i = 0; i < counts.length; i++) s.replyError(e, w);
    },
  );
}

/**
 * A run of `n` pipelined `RPOP key` (or LPOP) on one key, executed as one pop of up to n
 * elements: the first replies get the elements in pop order, the rest a null, exactly what n
 * single pops would answer. One lock and one pop (Lists.popBodies) instead of n. An empty or missing list
 * is answered at once (undefined: nothing to wait for).
 */
export function popRun(s: Session, end: End, keyText: string, n: number): Promise<void> | undefined {
  const w = s.w;
  let ranges: BodyRanges | undefined;
  let popped: Promise<number>;
  try {
    const key = listKey(s, keyText);
    const lists = s.broker.lists;
    if (lists.length(key) === 0) {
      for (let i = 0; i < n; i++) w.nullBulk();
      return undefined;
    }
    ranges = BodyRanges.take();
    popped = lists.popBodies(key, end, n, ranges.add, ranges.holds);
  } catch (e) {
    ranges?.release();
    for (let i = 0; i < n; i++) s.replyError(e, w);
    return undefined;
  }
  const taken = ranges;
  return popped.then(
    (k) => {
      try {
        // Large elements go out as they are written (a run of 1,000 × 10 KiB is 10 MB of replies).
        for (let i = 0; i < k; i += RUN_SLICE) {
          taken.writeTo(w, i, Math.min(k, i + RUN_SLICE));
          if (w === s.out && w.pendingBytes >= FLUSH_BYTES) s.flush();
        }
      } finally {
        taken.release();
      }
      for (let i = k; i < n; i++) w.nullBulk();
    },
    (e: unknown) => {
      taken.release();
      for (let i = 0; i < n; i++) s.replyError(e, w);
    },
  );
}

/** Reply bytes after which a pop run hands what it has to the socket. */
const FLUSH_BYTES = 64 * 1024;
/** Elements a pop run writes between checks of FLUSH_BYTES. */
const RUN_SLICE = 16;

/**
 * The bodies of a pop as byte ranges (Lists.popBodies), in pop order: the reply is written from
 * them once the pop is done, so a pop that waits for a storage read in between never leaves half
 * a reply in the connection's writer (where a pub/sub push could land inside it). The ranges stay
 * valid until release() (Group.takeBodies): the reply writer copies them first.
 */
class BodyRanges {
  /** Released instances, reused: a pop of 1,000 grew two fresh arrays to 1,000 and 2,000 slots. */
  static readonly #pool: BodyRanges[] = [];
  static take(): BodyRanges {
    return BodyRanges.#pool.pop() ?? new BodyRanges();
  }
  readonly #bufs: (Buffer | undefined)[] = [];
  readonly #bounds: number[] = [];
  #n = 0;
  /** Read leases that keep the ranges' buffers from being reused. */
  readonly holds: ReadLease[] = [];
  /** Lets go of the ranges (and of this instance: it must not be used after). */
  release(): void {
    for (const l of this.holds) l.release();
    this.holds.length = 0;
    // Drop the references, so a pooled instance pins no segment or read buffer.
    const bufs = this.#bufs;
    const n = this.#n;
    for (let i = 0; i < n; i++) bufs[i] = undefined;
    this.#n = 0;
    // A collector grown by a pop of very many elements is left to the GC, not kept.
    if (n <= 10_000 && BodyRanges.#pool.length < 4) BodyRanges.#pool.push(this);
  }
  readonly add = (buf: Buffer, start: number, end: number): void => {
    const i = this.#n++;
    this.#bufs[i] = buf;
    this.#bounds[2 * i] = start;
    this.#bounds[2 * i + 1] = end;
  };
  /** Writes ranges [from, to) as bulk strings. */
  writeTo(w: ReplyWriter, from: number, to: number): void {
    w.bulkRanges(this.#bufs, this.#bounds, from, to);
  }
}

/** Redis's LRANGE/LTRIM index normalisation: [start, stop] inclusive, or null when empty. */
function span(startArg: number, stopArg: number, len: number): [number, number] | null {
  let start = startArg < 0 ? len + startArg : startArg;
  let stop = stopArg < 0 ? len + stopArg : stopArg;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return null;
  if (stop >= len) stop = len - 1;
  return [start, stop];
}

async function lrange(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  const start = int(a[2]!);
  const stop = int(a[3]!);
  const lr = s.broker.lists.length(key) === 0 ? [] : await s.broker.lists.view(key);
  const r = span(start, stop, lr.length);
  if (!r) {
    s.w.arrayHeader(0);
    return;
  }
  s.w.arrayHeader(r[1] - r[0] + 1);
  for (let i = r[0]; i <= r[1]; i++) s.w.bulk(lr[i]!.body);
}

async function lindex(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  let i = int(a[2]!);
  const lr = s.broker.lists.length(key) === 0 ? [] : await s.broker.lists.view(key);
  if (i < 0) i += lr.length;
  const v = lr[i];
  if (i < 0 || !v) s.w.nullBulk();
  else s.w.bulk(v.body);
}

async function lpos(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  const el = a[2]!;
  let rank = 1;
  let count: number | undefined;
  let maxlen = 0;
  for (let i = 3; i < a.length; i++) {
    const o = kw(a[i]!);
    if (i + 1 >= a.length) throw new RespError(SYNTAX);
    if (o === 'rank') {
      rank = int(a[++i]!);
      if (rank === 0) throw new RespError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
    } else if (o === 'count') {
      count = int(a[++i]!);
      if (count < 0) throw new RespError("ERR COUNT can't be negative");
    } else if (o === 'maxlen') {
      maxlen = int(a[++i]!);
      if (maxlen < 0) throw new RespError("ERR MAXLEN can't be negative");
    } else throw new RespError(SYNTAX);
  }
  const lr = s.broker.lists.length(key) === 0 ? [] : await s.broker.lists.view(key);
  const found: number[] = [];
  const want = count === undefined ? 1 : count === 0 ? Infinity : count;
  let skip = Math.abs(rank) - 1;
  const n = lr.length;
  for (let k = 0; k < n && (maxlen === 0 || k < maxlen) && found.length < want; k++) {
    const idx = rank > 0 ? k : n - 1 - k;
    if (lr[idx]!.body.equals(el)) {
      if (skip > 0) skip--;
      else found.push(idx);
    }
  }
  if (count === undefined) {
    if (found.length === 0) s.w.nullBulk();
    else s.w.integer(found[0]!);
    return;
  }
  s.w.arrayHeader(found.length);
  for (const f of found) s.w.integer(f);
}

async function lset(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  const idx = int(a[2]!);
  const r = await s.broker.lists.edit<string>(key, (lr) => {
    const i = idx < 0 ? lr.length + idx : idx;
    if (i < 0 || i >= lr.length) return { list: null, result: 'range' };
    const next: ListValue[] = [...lr];
    next[i] = a[3]!;
    return { list: next, result: 'ok' };
  });
  if (r === undefined) throw new RespError('ERR no such key');
  if (r === 'range') throw new RespError('ERR index out of range');
  s.w.simple('OK');
}

async function lrem(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  const count = int(a[2]!);
  const el = a[3]!;
  const r = await s.broker.lists.edit<number>(key, (lr) => {
    const limit = count === 0 ? Infinity : Math.abs(count);
    const drop = new Set<number>();
    for (let k = 0; k < lr.length && drop.size < limit; k++) {
      const i = count < 0 ? lr.length - 1 - k : k;
      if (lr[i]!.body.equals(el)) drop.add(i);
    }
    if (drop.size === 0) return { list: null, result: 0 };
    return { list: lr.filter((_, i) => !drop.has(i)), result: drop.size };
  });
  s.w.integer(r ?? 0);
}

async function linsert(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  const where = kw(a[2]!);
  if (where !== 'before' && where !== 'after') throw new RespError(SYNTAX);
  const pivot = a[3]!;
  const r = await s.broker.lists.edit<number>(key, (lr) => {
    const i = lr.findIndex((v) => v.body.equals(pivot));
    if (i < 0) return { list: null, result: -1 };
    const next: ListValue[] = [...lr];
    next.splice(where === 'before' ? i : i + 1, 0, a[4]!);
    return { list: next, result: next.length };
  });
  s.w.integer(r ?? 0);
}

async function ltrim(s: Session, a: Buffer[]): Promise<void> {
  const key = listKey(s, a[1]!);
  const start = int(a[2]!);
  const stop = int(a[3]!);
  await s.broker.lists.edit<null>(key, (lr) => {
    const r = span(start, stop, lr.length);
    const next = r ? lr.slice(r[0], r[1] + 1) : [];
    return { list: next.length === lr.length ? null : next, result: null };
  });
  s.w.simple('OK');
}

/** LMOVE without blocking: pops from src and pushes to dst under both keys' locks. */
async function moveOnce(s: Session, src: string, dst: string, from: End, to: End): Promise<DecodedRecord | null> {
  const lists = s.broker.lists;
  return lists.locks.runMany([src, dst], async () => {
    const vals = await lists.popLocked(src, from, 1, (v) => lists.pushLocked(dst, to, v));
    return vals[0] ?? null;
  });
}

async function lmove(s: Session, a: Buffer[], from: End, to: End): Promise<void> {
  const src = listKey(s, a[1]!);
  const dst = listKey(s, a[2]!);
  const v = await moveOnce(s, src, dst, from, to);
  if (v) s.w.bulk(v.body);
  else s.w.nullBulk();
}

async function blockingMove(s: Session, a: Buffer[], from: End, to: End, timeoutArg: Buffer): Promise<void> {
  const src = listKey(s, a[1]!);
  const dst = listKey(s, a[2]!);
  const timeout = timeoutSeconds(timeoutArg);
  s.flush();
  const v = await s.broker.lists.blocking(
    [src],
    from,
    s.inExec ? -1 : timeout,
    (h) => (s.blocked = h),
    () => moveOnce(s, src, dst, from, to),
    undefined,
  );
  if (v) s.w.bulk(v.body);
  else s.w.nullArray();
}

/** Shared by BLPOP/BRPOP/BLMPOP: returns [key, values] or null on timeout. */
async function blockingPop(s: Session, keys: string[], end: End, count: number, timeout: number): Promise<{ key: string; vals: DecodedRecord[] } | null> {
  const lists = s.broker.lists;
  s.flush();
  return lists.blocking(
    keys,
    end,
    s.inExec ? -1 : timeout,
    (h) => (s.blocked = h),
    async () => {
      for (const key of keys) {
        if (lists.length(key) === 0) continue;
        const vals = await lists.pop(key, end, count);
        if (vals.length > 0) return { key, vals };
      }
      return null;
    },
    async (key: string, d: DeliveryImpl) => {
      await d.ack();
      const vals = [d.rec];
      if (count > 1) vals.push(...(await lists.popLocked(key, end, count - 1)));
      return { key, vals };
    },
  );
}

function bpop(end: End) {
  return async (s: Session, a: Buffer[]): Promise<void> => {
    const keys = a.slice(1, -1).map((k) => listKey(s, k));
    const timeout = timeoutSeconds(a[a.length - 1]!);
    const r = await blockingPop(s, keys, end, 1, timeout);
    if (!r) {
      s.w.nullArray();
      return;
    }
    s.w.arrayHeader(2).bulk(r.key).bulk(r.vals[0]!.body);
  };
}

/** LMPOP numkeys key... LEFT|RIGHT [COUNT n] / BLMPOP timeout numkeys ... */
function mpop(blocking: boolean) {
  return async (s: Session, a: Buffer[]): Promise<void> => {
    let i = 1;
    const timeout = blocking ? timeoutSeconds(a[i++]!) : -1;
    const numkeys = int(a[i++]!);
    if (numkeys <= 0) throw new RespError('ERR numkeys should be greater than 0');
    if (i + numkeys >= a.length) throw new RespError(SYNTAX);
    const keys = a.slice(i, i + numkeys).map((k) => listKey(s, k));
    i += numkeys;
    const end = side(a[i++]!);
    let count = 1;
    if (i < a.length) {
      if (kw(a[i]!) !== 'count' || i + 2 !== a.length) throw new RespError(SYNTAX);
      count = int(a[i + 1]!);
      if (count <= 0) throw new RespError('ERR count should be greater than 0');
    }
    const r = await blockingPop(s, keys, end, count, blocking ? timeout : -1);
    if (!r) {
      s.w.nullArray();
      return;
    }
    s.w.arrayHeader(2).bulk(r.key).arrayHeader(r.vals.length);
    for (const v of r.vals) s.w.bulk(v.body);
  };
}

const commands: CommandSpec[] = [
  cmd('lpush', -3, ['write', 'denyoom', 'fast'], KEY1, push('L', false)),
  cmd('rpush', -3, ['write', 'denyoom', 'fast'], KEY1, push('R', false)),
  cmd('lpushx', -3, ['write', 'denyoom', 'fast'], KEY1, push('L', true)),
  cmd('rpushx', -3, ['write', 'denyoom', 'fast'], KEY1, push('R', true)),
  cmd('lpop', -2, ['write', 'fast'], KEY1, pop('L')),
  cmd('rpop', -2, ['write', 'fast'], KEY1, pop('R')),
  cmd('llen', 2, ['readonly', 'fast'], KEY1, (s, a) => void s.w.integer(s.broker.lists.length(listKey(s, a[1]!)))),
  cmd('lrange', 4, ['readonly'], KEY1, lrange),
  cmd('lindex', 3, ['readonly'], KEY1, lindex),
  cmd('lpos', -3, ['readonly'], KEY1, lpos),
  cmd('lset', 4, ['write', 'denyoom'], KEY1, lset),
  cmd('lrem', 4, ['write'], KEY1, lrem),
  cmd('linsert', 5, ['write', 'denyoom'], KEY1, linsert),
  cmd('ltrim', 4, ['write'], KEY1, ltrim),
  cmd('lmove', 5, ['write', 'denyoom'], [1, 2, 1], (s, a) => lmove(s, a, side(a[3]!), side(a[4]!))),
  cmd('rpoplpush', 3, ['write', 'denyoom'], [1, 2, 1], (s, a) => lmove(s, a, 'R', 'L')),
  cmd('lmpop', -4, ['write'], [0, 0, 0], mpop(false)),
  cmd('blpop', -3, ['write', 'noscript', 'blocking'], [1, -2, 1], bpop('L')),
  cmd('brpop', -3, ['write', 'noscript', 'blocking'], [1, -2, 1], bpop('R')),
  cmd('blmove', 6, ['write', 'denyoom', 'noscript', 'blocking'], [1, 2, 1], (s, a) => blockingMove(s, a, side(a[3]!), side(a[4]!), a[5]!)),
  cmd('brpoplpush', 4, ['write', 'denyoom', 'noscript', 'blocking'], [1, 2, 1], (s, a) => blockingMove(s, a, 'R', 'L', a[3]!)),
  cmd('blmpop', -5, ['write', 'blocking'], [0, 0, 0], mpop(true)),
];

export default commands;
