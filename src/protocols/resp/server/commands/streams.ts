/**
 * Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XREAD, XDEL, XTRIM, XGROUP (CREATE, DESTROY,
 * SETID, CREATECONSUMER, DELCONSUMER), XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO
 * (STREAM, GROUPS, CONSUMERS). The model (ids ↔ offsets, groups, restart semantics) is in
 * ../streams.ts.
 */
import { int, kw, str } from '../args.js';
import { RespError, SYNTAX, WRONGTYPE } from '../errors.js';
import type { Session } from '../session.js';
import { cmpId, fmtId, MAX_ID, nextId, parseId, StreamGroup, Streams, ZERO_ID, type Entry, type StreamId, type StreamState } from '../streams.js';
import { cmd, KEY1, type CommandSpec } from './types.js';

const INVALID_ID = 'ERR Invalid stream ID specified as stream command argument';

function streamKey(s: Session, b: Buffer): string {
  const k = str(b);
  const br = s.broker;
  if (br.kv.has(k)) throw new RespError(WRONGTYPE);
  // A topic written by another protocol becomes a stream on first use (see Streams.adopt); one
  // that is a list in use (ready messages in the 'default' group) stays a list.
  if (!br.streams.isStream(k) && !br.streams.adopt(k, (br.lists.existingGroup(k)?.readyCount ?? 0) > 0) && br.lists.length(k) > 0) throw new RespError(WRONGTYPE);
  return k;
}

function idArg(b: Buffer, missingSeq = 0): StreamId {
  const id = parseId(b.toString('latin1'), missingSeq);
  if (!id) throw new RespError(INVALID_ID);
  return id;
}

/** XRANGE bounds: '-', '+', ids, '(' exclusive. */
function rangeArg(b: Buffer, low: boolean): StreamId | null {
  const s = b.toString('latin1');
  if (s === '-') return ZERO_ID;
  if (s === '+') return MAX_ID;
  if (s.startsWith('(')) {
    const id = parseId(s.slice(1), low ? 0 : Number.MAX_SAFE_INTEGER);
    if (!id) throw new RespError(INVALID_ID);
    const r = low ? nextId(id) : cmpId(id, ZERO_ID) === 0 ? null : { ms: id.seq > 0 ? id.ms : id.ms - 1, seq: id.seq > 0 ? id.seq - 1 : Number.MAX_SAFE_INTEGER };
    if (r === null) throw new RespError('ERR invalid start ID for the interval');
    return r;
  }
  return idArg(b, low ? 0 : Number.MAX_SAFE_INTEGER);
}

function writeEntry(s: Session, e: Entry): void {
  const w = s.w;
  w.arrayHeader(2).bulk(fmtId(e.id)).arrayHeader(e.fields.length);
  for (const f of e.fields) w.bulk(f);
}

function writeEntries(s: Session, es: readonly Entry[]): void {
  s.w.arrayHeader(es.length);
  for (const e of es) writeEntry(s, e);
}

interface TrimSpec {
  maxLen?: number;
  minId?: StreamId;
}

/** Parses MAXLEN|MINID [=|~] threshold [LIMIT n] at a[i]; returns the next index. */
function parseTrim(a: Buffer[], i: number, spec: TrimSpec): number {
  const kind = kw(a[i]!);
  i++;
  const op = a[i]?.toString('latin1');
  if (op === '=' || op === '~') i++;
  const t = a[i];
  if (!t) throw new RespError(SYNTAX);
  if (kind === 'maxlen') {
    const n = int(t);
    if (n < 0) throw new RespError('ERR The MAXLEN argument must be >= 0.');
    spec.maxLen = n;
  } else spec.minId = idArg(t);
  i++;
  if (a[i] && kw(a[i]!) === 'limit') {
    if (op !== '~') throw new RespError('ERR syntax error, LIMIT cannot be used without the special ~ option');
    int(a[i + 1] ?? Buffer.alloc(0));
    i += 2;
  }
  return i;
}

async function xadd(s: Session, a: Buffer[]): Promise<void> {
  // The writer is taken before any await: a pipelined XADD answers into its own slot (session.ts).
  const w = s.w;
  const key = streamKey(s, a[1]!);
  let i = 2;
  let noMk = false;
  const trim: TrimSpec = {};
  for (;;) {
    const o = kw(a[i]!);
    if (o === 'nomkstream') {
      noMk = true;
      i++;
    } else if (o === 'maxlen' || o === 'minid') {
      i = parseTrim(a, i, trim);
    } else break;
    if (i >= a.length) throw new RespError(SYNTAX);
  }
  const idText = a[i]!.toString('latin1');
  const fields = a.slice(i + 1);
  if (fields.length === 0 || fields.length % 2 !== 0) throw new RespError("ERR wrong number of arguments for 'xadd' command");
  // Validate the id syntax before creating anything.
  let explicit: StreamId | null = null;
  let seqAuto: number | null = null;
  if (idText !== '*') {
    if (idText.endsWith('-*')) {
      const ms = parseId(idText.slice(0, -2));
      if (!ms || idText.slice(0, -2).includes('-')) throw new RespError(INVALID_ID);
      seqAuto = ms.ms;
    } else {
      explicit = idArg(a[i]!);
      if (cmpId(explicit, ZERO_ID) === 0) throw new RespError('ERR The ID specified in XADD must be greater than 0-0');
    }
  }
  const streams = s.broker.streams;
  if (noMk && !streams.isStream(key)) {
    w.nullBulk();
    return;
  }
  if (!explicit && seqAuto === null && trim.maxLen === undefined && trim.minId === undefined) {
    w.bulk(fmtId(await streams.appendAuto(key, fields)));
    return;
  }
  const id = await streams.locks.run(key, async () => {
    const st = await streams.create(key);
    const last = st.lastId;
    let id: StreamId;
    if (explicit) {
      if (cmpId(explicit, last) <= 0) throw new RespError('ERR The ID specified in XADD is equal or smaller than the target stream top item');
      id = explicit;
    } else if (seqAuto !== null) {
      if (seqAuto < last.ms) throw new RespError('ERR The ID specified in XADD is equal or smaller than the target stream top item');
      id = seqAuto === last.ms ? nextId(last)! : { ms: seqAuto, seq: 0 };
      if (cmpId(id, last) <= 0 || id.ms !== seqAuto) throw new RespError('ERR The ID specified in XADD is equal or smaller than the target stream top item');
    } else {
      const now = Date.now();
      id = now > last.ms ? { ms: now, seq: 0 } : nextId(last)!;
    }
    st.lastId = id;
    await s.broker.engine.publish(key, [Streams.record(id, fields)], { partition: 0 });
    if (trim.maxLen !== undefined || trim.minId !== undefined) await streams.trim(key, st, trim.maxLen, trim.minId);
    st.notify();
    return id;
  });
  w.bulk(fmtId(id));
}

/**
 * `XADD key * field value …` without the reply: appends an entry with an auto id. For natively
 * run scripts (scripting.ts) that add to streams. WRONGTYPE if `key` is not a stream.
 */
export function appendAuto(s: Session, keyName: Buffer, fields: readonly Buffer[]): Promise<StreamId> {
  return s.broker.streams.appendAuto(streamKey(s, keyName), fields);
}

async function existing(s: Session, key: string): Promise<StreamState | undefined> {
  return s.broker.streams.state(key);
}

async function xlen(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const st = await existing(s, key);
  s.w.integer(st ? s.broker.streams.length(key, st.meta) : 0);
}

function countOpt(a: Buffer[], i: number): number {
  if (i >= a.length) return Infinity;
  if (kw(a[i]!) !== 'count' || i + 2 !== a.length) throw new RespError(SYNTAX);
  const n = int(a[i + 1]!);
  return n < 0 ? 0 : n;
}

function xrange(rev: boolean) {
  return async (s: Session, a: Buffer[]): Promise<void> => {
    const key = streamKey(s, a[1]!);
    const lo = rangeArg(a[rev ? 3 : 2]!, true)!;
    const hi = rangeArg(a[rev ? 2 : 3]!, false)!;
    const count = countOpt(a, 4);
    const st = await existing(s, key);
    if (!st || count === 0 || cmpId(lo, hi) > 0) {
      s.w.arrayHeader(0);
      return;
    }
    const es = rev ? await s.broker.streams.revRange(key, lo, hi, count) : await s.broker.streams.range(key, lo, hi, count);
    writeEntries(s, es);
  };
}

/** Writes XREAD/XREADGROUP results: RESP3 map keyed by stream, RESP2 array of [key, entries]. */
function writeReadReply(s: Session, results: { key: string; entries: Entry[]; nils?: StreamId[] }[]): void {
  const w = s.w;
  if (s.protocol === 3) w.mapHeader(results.length);
  else w.arrayHeader(results.length);
  for (const r of results) {
    if (s.protocol !== 3) w.arrayHeader(2);
    w.bulk(r.key);
    writeEntries(s, r.entries);
  }
}

/** Waits for an XADD on any of `keys` or the timeout (ms; 0 = forever). Returns false on timeout. */
async function waitForAdd(s: Session, keys: string[], timeoutMs: number): Promise<boolean> {
  const streams = s.broker.streams;
  const states: StreamState[] = [];
  for (const k of keys) {
    const st = await streams.state(k);
    if (st) states.push(st);
  }
  s.flush();
  return new Promise((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const ac = new AbortController();
    const finish = (v: boolean): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      for (const st of states) st.waiters.delete(wake);
      for (const k of keys) streams.offCreate(k, wake);
      ac.abort();
      s.blocked = undefined;
      resolve(v);
    };
    const wake = (): void => finish(true);
    // Appends by other protocols (Kafka produce, AMQP stream publish) wake the waiter too.
    for (const st of states) {
      streams.waitForAppend(st.key, ac.signal).then(
        () => {
          if (!ac.signal.aborted) wake();
        },
        () => {},
      );
    }
    for (const st of states) st.waiters.add(wake);
    s.blocked = { cancel: () => finish(false) };
    if (timeoutMs > 0) timer = setTimeout(() => finish(false), timeoutMs);
    // A stream that does not exist yet wakes the waiter when XADD creates it.
    for (const k of keys) if (!states.some((x) => x.key === k)) streams.onCreate(k, wake);
  });
}

function blockOpt(b: Buffer): number {
  const n = int(b, 'ERR timeout is not an integer or out of range');
  if (n < 0) throw new RespError('ERR timeout is negative');
  return n;
}

async function xread(s: Session, a: Buffer[]): Promise<void> {
  let count = Infinity;
  let block: number | undefined;
  let i = 1;
  for (; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'count' && i + 1 < a.length) {
      count = int(a[++i]!);
      if (count <= 0) count = Infinity;
    } else if (o === 'block' && i + 1 < a.length) block = blockOpt(a[++i]!);
    else if (o === 'streams') break;
    else throw new RespError(SYNTAX);
  }
  const rest = a.slice(i + 1);
  if (i >= a.length || rest.length === 0 || rest.length % 2 !== 0) {
    throw new RespError("ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.");
  }
  const n = rest.length / 2;
  const keys = rest.slice(0, n).map((k) => streamKey(s, k));
  const streams = s.broker.streams;
  const after: StreamId[] = [];
  for (let k = 0; k < n; k++) {
    const t = rest[n + k]!.toString('latin1');
    if (t === '$') after.push((await streams.state(keys[k]!))?.lastId ?? ZERO_ID);
    else if (t === '+') {
      const last = await streams.lastEntry(keys[k]!);
      after.push(last ? (parseIdPrev(last.id) ?? ZERO_ID) : MAX_ID);
    } else after.push(idArg(rest[n + k]!));
  }
  for (;;) {
    const results: { key: string; entries: Entry[] }[] = [];
    for (let k = 0; k < n; k++) {
      const key = keys[k]!;
      if (!streams.isStream(key)) continue;
      const es = await streams.range(key, after[k]!, MAX_ID, count, true);
      if (es.length > 0) results.push({ key, entries: es });
    }
    if (results.length > 0) {
      writeReadReply(s, results);
      return;
    }
    if (block === undefined || s.inExec) {
      s.w.nullArray();
      return;
    }
    if (!(await waitForAdd(s, keys, block))) {
      s.w.nullArray();
      return;
    }
  }
}

function parseIdPrev(id: StreamId): StreamId | null {
  if (id.seq > 0) return { ms: id.ms, seq: id.seq - 1 };
  if (id.ms > 0) return { ms: id.ms - 1, seq: Number.MAX_SAFE_INTEGER };
  return null;
}

function noGroup(key: string, group: string, where?: string): RespError {
  if (where) return new RespError(`NOGROUP No such key '${key}' or consumer group '${group}' in ${where} with GROUP option`);
  return new RespError(`NOGROUP No such key '${key}' or consumer group '${group}'`);
}

async function groupOf(s: Session, key: string, group: string, where?: string): Promise<{ st: StreamState; g: StreamGroup }> {
  const st = await s.broker.streams.state(key);
  const g = st?.groups.get(group);
  if (!st || !g) throw noGroup(key, group, where);
  return { st, g };
}

async function xreadgroup(s: Session, a: Buffer[]): Promise<void> {
  if (kw(a[1]!) !== 'group' || a.length < 4) throw new RespError(SYNTAX);
  const group = str(a[2]!);
  const consumer = str(a[3]!);
  let count = Infinity;
  let block: number | undefined;
  let noack = false;
  let i = 4;
  for (; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'count' && i + 1 < a.length) {
      count = int(a[++i]!);
      if (count <= 0) count = Infinity;
    } else if (o === 'block' && i + 1 < a.length) block = blockOpt(a[++i]!);
    else if (o === 'noack') noack = true;
    else if (o === 'streams') break;
    else throw new RespError(SYNTAX);
  }
  const rest = a.slice(i + 1);
  if (i >= a.length || rest.length === 0 || rest.length % 2 !== 0) {
    throw new RespError("ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.");
  }
  const n = rest.length / 2;
  const keys = rest.slice(0, n).map((k) => streamKey(s, k));
  const ids = rest.slice(n).map((b) => b.toString('latin1'));
  const history: (StreamId | null)[] = ids.map((t, k) => (t === '>' ? null : idArg(rest[n + k]!)));
  const streams = s.broker.streams;
  const gs: { st: StreamState; g: StreamGroup }[] = [];
  for (let k = 0; k < n; k++) gs.push(await groupOf(s, keys[k]!, group, 'XREADGROUP'));
  for (;;) {
    const now = Date.now();
    const results: { key: string; entries: Entry[]; nils: StreamId[] }[] = [];
    let anyNew = false;
    for (let k = 0; k < n; k++) {
      const key = keys[k]!;
      const { g } = gs[k]!;
      const c = g.consumer(consumer, now)!;
      const h = history[k]!;
      if (h !== null && history[k] !== undefined) {
        // History: this consumer's pending entries after the id.
        const pend = g.pendingSorted().filter((p) => p.consumer === consumer && cmpId(p.id, h) > 0);
        const out: Entry[] = [];
        for (const p of pend.slice(0, count === Infinity ? undefined : count)) {
          const e = await streams.readOne(key, p.offset);
          out.push(e ?? { offset: p.offset, id: p.id, fields: [] });
          if (e) {
            // As Redis: serving a pending entry again counts as a delivery.
            p.time = now;
            p.count++;
          }
        }
        results.push({ key, entries: out, nils: [] });
        anyNew = true;
        continue;
      }
      const from = g.nextOffset ?? (await streams.offsetOf(key, g.lastId, true));
      const es = await streams.scan(key, from, count, () => true);
      const fresh = es.filter((e) => cmpId(e.id, g.lastId) > 0);
      if (fresh.length === 0) continue;
      for (const e of fresh) {
        g.lastId = e.id;
        g.entriesRead++;
        if (!noack) g.addPending(e, c, now);
      }
      g.nextOffset = fresh[fresh.length - 1]!.offset + 1;
      c.active = now;
      streams.touch(key, g);
      results.push({ key, entries: fresh, nils: [] });
      anyNew = true;
    }
    if (anyNew) {
      // History reads of deleted entries reply [id, nil] in Redis; we reply an empty field list.
      writeReadReply(s, results);
      return;
    }
    if (block === undefined || s.inExec) {
      s.w.nullArray();
      return;
    }
    if (!(await waitForAdd(s, keys, block))) {
      s.w.nullArray();
      return;
    }
    for (let k = 0; k < n; k++) if (gs[k]!.st.groups.get(group) !== gs[k]!.g) throw noGroup(keys[k]!, group, 'XREADGROUP');
  }
}

async function xack(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const ids = a.slice(3).map((b) => idArg(b));
  const st = await s.broker.streams.state(key);
  const g = st?.groups.get(str(a[2]!));
  if (!g) {
    s.w.integer(0);
    return;
  }
  let n = 0;
  for (const id of ids) if (g.removePending(fmtId(id))) n++;
  if (n > 0) s.broker.streams.touch(key, g);
  s.w.integer(n);
}

/** Byte order of names (Redis keeps consumers in a radix tree). */
function byName(a: [string, unknown] | { name: string }, b: [string, unknown] | { name: string }): number {
  const x = Buffer.from(Array.isArray(a) ? a[0] : a.name);
  const y = Buffer.from(Array.isArray(b) ? b[0] : b.name);
  return Buffer.compare(x, y);
}

async function xpending(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const { g } = await groupOf(s, key, str(a[2]!));
  const w = s.w;
  if (a.length === 3) {
    const all = g.pendingSorted();
    if (all.length === 0) {
      w.arrayHeader(4).integer(0).nullBulk().nullBulk().nullArray();
      return;
    }
    const by = new Map<string, number>();
    for (const p of all) by.set(p.consumer, (by.get(p.consumer) ?? 0) + 1);
    w.arrayHeader(4).integer(all.length).bulk(fmtId(all[0]!.id)).bulk(fmtId(all[all.length - 1]!.id));
    w.arrayHeader(by.size);
    // Redis lists consumers in name order (its consumer radix tree).
    for (const [c, n] of [...by].sort(byName)) w.arrayHeader(2).bulk(c).bulk(String(n));
    return;
  }
  let i = 3;
  let minIdle = 0;
  if (kw(a[i]!) === 'idle') {
    if (a.length < 5) throw new RespError(SYNTAX);
    minIdle = int(a[i + 1]!);
    i += 2;
  }
  if (a.length - i < 3 || a.length - i > 4) throw new RespError(SYNTAX);
  const lo = rangeArg(a[i]!, true)!;
  const hi = rangeArg(a[i + 1]!, false)!;
  const count = int(a[i + 2]!);
  const consumer = a[i + 3] ? str(a[i + 3]!) : undefined;
  const now = Date.now();
  const rows = g
    .pendingSorted()
    .filter((p) => cmpId(p.id, lo) >= 0 && cmpId(p.id, hi) <= 0 && (consumer === undefined || p.consumer === consumer) && now - p.time >= minIdle)
    .slice(0, Math.max(0, count));
  w.arrayHeader(rows.length);
  for (const p of rows) w.arrayHeader(4).bulk(fmtId(p.id)).bulk(p.consumer).integer(Math.max(0, now - p.time)).integer(p.count);
}

async function xclaim(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const { st, g } = await groupOf(s, key, str(a[2]!));
  const consumerName = str(a[3]!);
  const minIdle = Math.max(0, int(a[4]!, 'ERR Invalid min-idle-time argument for XCLAIM'));
  let i = 5;
  const ids: StreamId[] = [];
  for (; i < a.length; i++) {
    const id = parseId(a[i]!.toString('latin1'));
    if (!id) break;
    ids.push(id);
  }
  const now = Date.now();
  let deliveryTime = now;
  let retry: number | undefined;
  let force = false;
  let justId = false;
  let lastId: StreamId | undefined;
  for (; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'idle' && i + 1 < a.length) deliveryTime = now - int(a[++i]!);
    else if (o === 'time' && i + 1 < a.length) deliveryTime = int(a[++i]!);
    else if (o === 'retrycount' && i + 1 < a.length) retry = int(a[++i]!);
    else if (o === 'force') force = true;
    else if (o === 'justid') justId = true;
    else if (o === 'lastid' && i + 1 < a.length) lastId = idArg(a[++i]!);
    else throw new RespError(`ERR Unrecognized XCLAIM option '${a[i]!.toString('utf8')}'`);
  }
  if (lastId && cmpId(lastId, g.lastId) > 0) g.lastId = lastId;
  const c = g.consumer(consumerName, now)!;
  const streams = s.broker.streams;
  const out: Entry[] = [];
  const justIds: StreamId[] = [];
  for (const id of ids) {
    const k = fmtId(id);
    let p = g.pel.get(k);
    if (!p && force) {
      const off = await streams.offsetOf(key, id, false);
      const e = off < streams.end(key) ? await streams.readOne(key, off) : undefined;
      if (e && cmpId(e.id, id) === 0) {
        g.addPending(e, c, now);
        p = g.pel.get(k)!;
        p.count = 0;
      }
    }
    if (!p) continue;
    if (minIdle > 0 && now - p.time < minIdle) continue;
    const e = await streams.readOne(key, p.offset);
    if (!e) {
      g.removePending(k);
      continue;
    }
    if (p.consumer !== consumerName) {
      const prev = g.consumers.get(p.consumer);
      if (prev) prev.pending--;
      c.pending++;
      p.consumer = consumerName;
    }
    p.time = deliveryTime;
    if (retry !== undefined) p.count = retry;
    else if (!justId) p.count++;
    c.active = now;
    if (justId) justIds.push(p.id);
    else out.push(e);
  }
  streams.touch(key, g);
  void st;
  if (justId) {
    s.w.arrayHeader(justIds.length);
    for (const id of justIds) s.w.bulk(fmtId(id));
  } else writeEntries(s, out);
}

async function xautoclaim(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const { g } = await groupOf(s, key, str(a[2]!));
  const consumerName = str(a[3]!);
  const minIdle = Math.max(0, int(a[4]!, 'ERR Invalid min-idle-time argument for XAUTOCLAIM'));
  const start = rangeArg(a[5]!, true)!;
  let count = 100;
  let justId = false;
  for (let i = 6; i < a.length; i++) {
    const o = kw(a[i]!);
    if (o === 'count' && i + 1 < a.length) {
      count = int(a[++i]!);
      if (count < 1) throw new RespError('ERR COUNT must be > 0');
    } else if (o === 'justid') justId = true;
    else throw new RespError(SYNTAX);
  }
  const now = Date.now();
  const c = g.consumer(consumerName, now)!;
  const streams = s.broker.streams;
  const claimed: Entry[] = [];
  const deleted: StreamId[] = [];
  let next: StreamId = ZERO_ID;
  let scanned = 0;
  const all = g.pendingSorted().filter((p) => cmpId(p.id, start) >= 0);
  let idx = 0;
  for (; idx < all.length && claimed.length + deleted.length < count && scanned < count * 10; idx++) {
    const p = all[idx]!;
    scanned++;
    if (now - p.time < minIdle) continue;
    const e = await streams.readOne(key, p.offset);
    if (!e) {
      g.removePending(fmtId(p.id));
      deleted.push(p.id);
      continue;
    }
    if (p.consumer !== consumerName) {
      const prev = g.consumers.get(p.consumer);
      if (prev) prev.pending--;
      c.pending++;
      p.consumer = consumerName;
    }
    p.time = now;
    if (!justId) p.count++;
    claimed.push(e);
  }
  if (idx < all.length) next = all[idx]!.id;
  c.active = now;
  streams.touch(key, g);
  const w = s.w;
  w.arrayHeader(3).bulk(fmtId(next));
  if (justId) {
    w.arrayHeader(claimed.length);
    for (const e of claimed) w.bulk(fmtId(e.id));
  } else writeEntries(s, claimed);
  w.arrayHeader(deleted.length);
  for (const id of deleted) w.bulk(fmtId(id));
}

async function xdel(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const streams = s.broker.streams;
  const st = await streams.state(key);
  if (!st) {
    s.w.integer(0);
    return;
  }
  const offsets: number[] = [];
  let maxDel = parseId(st.meta.maxDeletedId) ?? ZERO_ID;
  for (const b of a.slice(2)) {
    const id = idArg(b);
    const off = await streams.offsetOf(key, id, false);
    if (off >= streams.end(key) || st.meta.deleted.has(off) || off < streams.first(key, st.meta)) continue;
    const e = await streams.readOne(key, off);
    if (!e || cmpId(e.id, id) !== 0) continue;
    offsets.push(off);
    if (cmpId(id, maxDel) > 0) maxDel = id;
  }
  if (offsets.length > 0) await s.broker.meta.write({ t: 'xdel', k: key, o: offsets, m: fmtId(maxDel) }, true);
  s.w.integer(offsets.length);
}

async function xtrim(s: Session, a: Buffer[]): Promise<void> {
  const key = streamKey(s, a[1]!);
  const o = kw(a[2]!);
  if (o !== 'maxlen' && o !== 'minid') throw new RespError(SYNTAX);
  const spec: TrimSpec = {};
  const i = parseTrim(a, 2, spec);
  if (i !== a.length) throw new RespError(SYNTAX);
  const streams = s.broker.streams;
  const st = await streams.state(key);
  if (!st) {
    s.w.integer(0);
    return;
  }
  const n = await streams.locks.run(key, () => streams.trim(key, st, spec.maxLen, spec.minId));
  s.w.integer(n);
}

async function xgroup(s: Session, a: Buffer[]): Promise<void> {
  const sub = kw(a[1]!);
  const streams = s.broker.streams;
  const meta = s.broker.meta;
  const w = s.w;
  const need = (n: number): void => {
    if (a.length < n) throw new RespError(`ERR wrong number of arguments for 'xgroup|${sub}' command`);
  };
  switch (sub) {
    case 'create': {
      need(5);
      const key = streamKey(s, a[2]!);
      const name = str(a[3]!);
      let mk = false;
      let entriesRead = -1;
      for (let i = 5; i < a.length; i++) {
        const o = kw(a[i]!);
        if (o === 'mkstream') mk = true;
        else if (o === 'entriesread' && i + 1 < a.length) entriesRead = int(a[++i]!);
        else throw new RespError(SYNTAX);
      }
      if (!streams.isStream(key)) {
        if (!mk) throw new RespError('ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.');
        await streams.create(key);
      }
      const st = (await streams.state(key))!;
      if (st.groups.has(name)) throw new RespError('BUSYGROUP Consumer Group name already exists');
      const idText = a[4]!.toString('latin1');
      const id = idText === '$' ? st.lastId : idArg(a[4]!);
      const grp = new StreamGroup(name, id, entriesRead < 0 ? 0 : entriesRead);
      st.groups.set(name, grp);
      await meta.write({ t: 'group', k: key, g: name, id: fmtId(id), n: grp.entriesRead }, true);
      w.simple('OK');
      return;
    }
    case 'setid': {
      need(5);
      const key = streamKey(s, a[2]!);
      const name = str(a[3]!);
      const st = await streams.state(key);
      const g = st?.groups.get(name);
      if (!st || !g) throw new RespError(`NOGROUP No such key '${key}' or consumer group '${name}'`);
      const idText = a[4]!.toString('latin1');
      g.lastId = idText === '$' ? st.lastId : idArg(a[4]!);
      g.nextOffset = undefined;
      if (a.length >= 7 && kw(a[5]!) === 'entriesread') g.entriesRead = Math.max(0, int(a[6]!));
      await meta.write({ t: 'group', k: key, g: name, id: fmtId(g.resumePoint()), n: g.entriesRead }, true);
      w.simple('OK');
      return;
    }
    case 'destroy': {
      need(4);
      const key = streamKey(s, a[2]!);
      const name = str(a[3]!);
      const st = await streams.state(key);
      if (!st) throw new RespError('ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.');
      if (!st.groups.delete(name)) {
        w.integer(0);
        return;
      }
      await meta.write({ t: 'ungroup', k: key, g: name }, true);
      st.notify();
      w.integer(1);
      return;
    }
    case 'createconsumer':
    case 'delconsumer': {
      need(5);
      const key = streamKey(s, a[2]!);
      const name = str(a[3]!);
      const st = await streams.state(key);
      const g = st?.groups.get(name);
      if (!st || !g) throw new RespError(`NOGROUP No such consumer group '${name}' for key name '${key}'`);
      const cname = str(a[4]!);
      if (sub === 'createconsumer') {
        if (g.consumers.has(cname)) w.integer(0);
        else {
          g.consumer(cname, Date.now());
          w.integer(1);
        }
        return;
      }
      const c = g.consumers.get(cname);
      if (!c) {
        w.integer(0);
        return;
      }
      let n = 0;
      for (const [k, p] of [...g.pel]) {
        if (p.consumer === cname) {
          g.removePending(k);
          n++;
        }
      }
      g.consumers.delete(cname);
      streams.touch(key, g);
      w.integer(n);
      return;
    }
    case 'help':
      w.arrayHeader(1).simple('XGROUP <subcommand>: CREATE SETID DESTROY CREATECONSUMER DELCONSUMER');
      return;
    default:
      throw new RespError(`ERR unknown subcommand '${a[1]!.toString('utf8')}'. Try XGROUP HELP.`);
  }
}

async function xinfo(s: Session, a: Buffer[]): Promise<void> {
  const sub = kw(a[1]!);
  const streams = s.broker.streams;
  const w = s.w;
  if (sub === 'help') {
    w.arrayHeader(1).simple('XINFO <subcommand>: STREAM GROUPS CONSUMERS');
    return;
  }
  if (a.length < 3) throw new RespError(`ERR wrong number of arguments for 'xinfo|${sub}' command`);
  const key = streamKey(s, a[2]!);
  const st = await streams.state(key);
  if (!st) throw new RespError('ERR no such key');
  const len = streams.length(key, st.meta);
  const lag = (g: StreamGroup): number => {
    // Entries after the group's last delivered id (exact: scans from its position).
    return Math.max(0, streams.end(key) - (g.nextOffset ?? streams.first(key, st.meta)) - 0);
  };
  /**
   * Redis (streamReplyWithCGLag) answers nil when an XDEL tombstone lies at or after the group's
   * last delivered id, unless that id is the stream's last id: the count of entries still to read
   * is then unknown.
   */
  const lagUnknown = async (g: StreamGroup): Promise<boolean> => {
    const maxDel = parseId(st.meta.maxDeletedId) ?? ZERO_ID;
    if (len === 0 || cmpId(maxDel, ZERO_ID) === 0 || cmpId(g.lastId, st.lastId) === 0) return false;
    const first = await streams.firstEntry(key);
    return first !== undefined && cmpId(first.id, maxDel) <= 0 && cmpId(g.lastId, maxDel) <= 0;
  };
  switch (sub) {
    case 'stream': {
      const first = await streams.firstEntry(key);
      const last = await streams.lastEntry(key);
      w.mapHeader(10);
      w.bulk('length').integer(len);
      w.bulk('radix-tree-keys').integer(len > 0 ? 1 : 0);
      w.bulk('radix-tree-nodes').integer(len > 0 ? 2 : 1);
      w.bulk('last-generated-id').bulk(fmtId(st.lastId));
      w.bulk('max-deleted-entry-id').bulk(st.meta.maxDeletedId);
      w.bulk('entries-added').integer(streams.end(key));
      w.bulk('recorded-first-entry-id').bulk(first ? fmtId(first.id) : '0-0');
      w.bulk('groups').integer(st.groups.size);
      w.bulk('first-entry');
      if (first) writeEntry(s, first);
      else w.nullBulk();
      w.bulk('last-entry');
      if (last) writeEntry(s, last);
      else w.nullBulk();
      return;
    }
    case 'groups': {
      const unknown = new Map<StreamGroup, boolean>();
      for (const g of st.groups.values()) unknown.set(g, await lagUnknown(g));
      w.arrayHeader(st.groups.size);
      for (const g of st.groups.values()) {
        w.mapHeader(6);
        w.bulk('name').bulk(g.name);
        w.bulk('consumers').integer(g.consumers.size);
        w.bulk('pending').integer(g.pel.size);
        w.bulk('last-delivered-id').bulk(fmtId(g.lastId));
        w.bulk('entries-read').integer(g.entriesRead);
        w.bulk('lag');
        if (unknown.get(g)) w.nullBulk();
        else w.integer(g.nextOffset === undefined ? Math.max(0, len - g.entriesRead) : lag(g));
      }
      return;
    }
    case 'consumers': {
      if (a.length < 4) throw new RespError("ERR wrong number of arguments for 'xinfo|consumers' command");
      const name = str(a[3]!);
      const g = st.groups.get(name);
      if (!g) throw new RespError(`NOGROUP No such consumer group '${name}' for key name '${key}'`);
      const now = Date.now();
      w.arrayHeader(g.consumers.size);
      for (const c of [...g.consumers.values()].sort(byName)) {
        w.mapHeader(4);
        w.bulk('name').bulk(c.name);
        w.bulk('pending').integer(c.pending);
        w.bulk('idle').integer(Math.max(0, now - c.seen));
        w.bulk('inactive').integer(c.active < 0 ? -1 : Math.max(0, now - c.active));
      }
      return;
    }
    default:
      throw new RespError(`ERR unknown subcommand '${a[1]!.toString('utf8')}'. Try XINFO HELP.`);
  }
}

const commands: CommandSpec[] = [
  cmd('xadd', -5, ['write', 'denyoom', 'fast'], KEY1, xadd),
  cmd('xlen', 2, ['readonly', 'fast'], KEY1, xlen),
  cmd('xrange', -4, ['readonly'], KEY1, xrange(false)),
  cmd('xrevrange', -4, ['readonly'], KEY1, xrange(true)),
  cmd('xread', -4, ['readonly', 'blocking'], [0, 0, 0], xread),
  cmd('xreadgroup', -7, ['write', 'blocking'], [0, 0, 0], xreadgroup),
  cmd('xack', -4, ['write', 'fast'], KEY1, xack),
  cmd('xpending', -3, ['readonly'], KEY1, xpending),
  cmd('xclaim', -6, ['write', 'fast'], KEY1, xclaim),
  cmd('xautoclaim', -6, ['write', 'fast'], KEY1, xautoclaim),
  cmd('xdel', -3, ['write', 'fast'], KEY1, xdel),
  cmd('xtrim', -4, ['write'], KEY1, xtrim),
  cmd('xgroup', -2, ['write'], [2, 2, 1], xgroup),
  cmd('xinfo', -2, ['readonly'], [2, 2, 1], xinfo),
];

export default commands;
