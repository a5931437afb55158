/**
 * redis:// and rediss:// — Redis Streams over ioredis.
 *
 *   connect('redis://127.0.0.1:6379/0')
 *   connect('rediss://user:pass@host:6380?persistent=true')
 *
 * Model: a topic is a stream (key = topic name, so other Redis clients can XADD/XREAD it), a group
 * is a stream consumer group, each subscription one consumer (a random name) reading with
 * XREADGROUP on its own connection (a blocking read must not stall publishes).
 *
 * What Redis gives natively: the log, groups, the pending-entries list (PEL) with delivery counts
 * (→ `attempt`), XCLAIM/XAUTOCLAIM-style reclaiming of idle entries (→ leases survive a dead client).
 * What is emulated here, in Redis data (so it survives a client crash), driven by the clients:
 * - nack: the entry stays pending and is XCLAIMed again (count + 1). Without a delay the nacking
 *   subscription claims it at once; with a delay its id goes into the group's `due` sorted set
 *   and whichever member polls after the due time claims it (poll every 100 ms: one ZRANGEBYSCORE
 *   + one XPENDING per subscription per tick, so a delayed nack is late by ≤ ~100 ms).
 * - delayed publish: the message waits in a per-topic sorted set + hash and a Lua script moves it
 *   into the stream when due (run by every subscriber of the topic, same 100 ms tick).
 * - leases: a client-side lease per delivery (one timer per subscription watches them all); after it fires (or the client died) any member's
 *   XPENDING scan (every min(lease/2, 1 s)) reclaims entries idle longer than the lease. extend()
 *   records "held until" in the group's `ext` sorted set, which the scan respects.
 * - dead-letter: XADD to the dead-letter stream with x-attempts / x-original-topic /
 *   x-death-reason / x-error-message, then XACK, in one MULTI.
 * - TTL: the expiry rides in the entry; an expired entry is acked (or dead-lettered) unseen.
 * Redis Cluster: `redis://a:7000,b:7001,c:7002` (or one seed with `?cluster=1`) connects through
 * ioredis' Cluster client. Every key of a topic carries the stream's slot tag (`keys` below), so
 * publishes, acks and the Lua scripts stay in one slot; dead-lettering to another topic is an
 * XADD then an XACK (two slots) instead of one MULTI.
 * Not supported: priorities (a stream is FIFO), selectors.
 *
 * Persistence is the server's: `capabilities.persistent` is true when INFO reports AOF enabled or
 * when the URL says `?persistent=true` (e.g. RDB snapshots you trust).
 */
import type { Cluster, ClusterOptions, Redis as RedisClient, RedisOptions } from 'ioredis';
import { err } from '../core/errors.js';
import { MOVE_DUE, POP_DUE } from '../protocols/resp/transport-scripts.js';
import type { ConnectOptions } from '../core/registry.js';
import type { Headers, OutgoingMessage, SubscribeOptions } from '../core/types.js';
import {
  backoff,
  bodyBytes,
  deadLetterHeaders,
  delay,
  NetDelivery,
  NetSubscription,
  NetTransport,
  messageIdFor,
  optionalDependency,
  randomId,
  type DeliveryInit,
  type NetCapabilities,
  type SettleOps,
} from './common.js';

const MAX_PAYLOAD = 512 * 1024 * 1024; // proto-max-bulk-len default
const TICK_MS = 100;
const BLOCK_MS = 100;

// MOVE_DUE and POP_DUE: in src/protocols/resp/transport-scripts.ts, which Omnibus' RESP server runs natively.

/**
 * What Redis Cluster hashes for the key `topic` (the stream): the content of its first `{…}`
 * hash tag if it has a non-empty one, else the whole name.
 */
export function slotTag(topic: string): string {
  const a = topic.indexOf('{');
  if (a >= 0) {
    const b = topic.indexOf('}', a + 1);
    if (b > a + 1) return topic.slice(a + 1, b);
  }
  return topic;
}

/**
 * The keys of a topic besides its stream. Each carries the stream's slot tag in braces, so on a
 * Redis Cluster every key of one topic hashes to the stream's slot and the MULTIs and Lua scripts
 * that touch several of them run on one node. The stream keeps the bare topic name, so other
 * Redis clients XADD/XREAD it by that name (a name without a tag hashes whole: the same slot).
 */
export const keys = {
  due: (topic: string, group: string) => `omnibus:due:{${slotTag(topic)}}:${topic}:${group}`,
  ext: (topic: string, group: string) => `omnibus:ext:{${slotTag(topic)}}:${topic}:${group}`,
  delayed: (topic: string) => `omnibus:delayed:{${slotTag(topic)}}:${topic}`,
  delayedHash: (topic: string) => `omnibus:delayed:{${slotTag(topic)}}:${topic}:`,
};

type Fields = (string | Buffer)[];

function fieldsOf(m: OutgoingMessage, now: number): Fields {
  const f: Fields = ['b', bodyBytes(m), 'i', messageIdFor(m), 'ts', String(m.timestamp ?? now)];
  if (m.key !== undefined) f.push('k', m.key);
  if (m.headers && Object.keys(m.headers).length > 0) f.push('h', JSON.stringify(m.headers));
  if (m.priority) f.push('p', String(m.priority));
  if (m.ttlMs !== undefined) f.push('e', String(now + m.ttlMs));
  return f;
}

/** A stream entry parsed into what its delivery is made of (one object: it is the DeliveryInit too). */
interface Entry extends DeliveryInit {
  /**
   * The stream entry id (what XACK/XCLAIM name) as read: XACK takes the bytes as they came, and
   * the string is made only where one is needed (nack, extend, reclaim). `id` is the producer's
   * message id, the entry id if absent.
   */
  entryId: Buffer | string;
  /** The `i` field's bytes (decoded only if the application reads `id`), or the entry id. */
  id: Buffer | string;
  body: Buffer;
  headers: Record<string, string>;
  expires: number | undefined;
}

/** What dead-lettering copies: an entry, or the delivery made of it. */
interface DeadSource {
  readonly entryId: Buffer | string;
  readonly id: Buffer | string;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly timestamp: number;
}

const EMPTY = Buffer.alloc(0);
/** The headers of an entry without any (most): one shared object instead of one per delivery. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Our own field names are one or two ASCII bytes: named without decoding a string each time. */
function fieldName(k: Buffer): string {
  if (k.length === 1) {
    switch (k[0]) {
      case 0x62:
        return 'b';
      case 0x69:
        return 'i';
      case 0x6b:
        return 'k';
      case 0x68:
        return 'h';
      case 0x70:
        return 'p';
      case 0x65:
        return 'e';
    }
  } else if (k.length === 2 && k[0] === 0x74 && k[1] === 0x73) return 'ts';
  return k.toString('utf8');
}

/** A non-negative decimal integer field (our timestamps) read from its bytes without making a string; anything else through Number(). */
function decimal(v: Buffer): number {
  const n = v.length;
  if (n === 0 || n > 15) return Number(v.toString('utf8'));
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v[i]! - 0x30;
    if (c < 0 || c > 9) return Number(v.toString('utf8'));
    x = x * 10 + c;
  }
  return x;
}

/**
 * Sets every field of `e` to its value before an entry's fields are read, in one order: a new
 * Entry is made by filling an empty object here too, so every Entry has the same shape.
 */
function resetEntry(e: Entry, entryId: Buffer | string, topic: string, attempt: number): Entry {
  e.entryId = entryId;
  e.id = '';
  e.topic = topic;
  e.body = EMPTY;
  e.key = undefined;
  e.headers = NO_HEADERS;
  e.timestamp = 0;
  e.priority = 0;
  e.attempt = attempt;
  e.expires = undefined;
  return e;
}

/**
 * Parses a stream entry into `into` (every field overwritten) or a new Entry. The read loop
 * parses into one Entry per subscription: a delivery copies what it keeps, so an object per
 * message that died right away (~100 B of young garbage, a tenth of what the API layer
 * allocated per message over bare ioredis) is not made.
 */
function parseEntry(id: Buffer | string, raw: Buffer[] | null, topic: string, attempt: number, into?: Entry): Entry | undefined {
  if (!raw) return undefined; // deleted while pending
  const e = resetEntry(into ?? ({} as Entry), id, topic, attempt);
  let foreign = true;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = fieldName(raw[i]!);
    const v = raw[i + 1]!;
    switch (k) {
      case 'b':
        e.body = v;
        foreign = false;
        break;
      case 'i':
        e.id = v;
        break;
      case 'k':
        e.key = v.toString('utf8');
        break;
      case 'h':
        e.headers = JSON.parse(v.toString('utf8')) as Record<string, string>;
        break;
      case 'ts':
        e.timestamp = decimal(v);
        break;
      case 'p':
        e.priority = Number(v.toString('utf8'));
        break;
      case 'e':
        e.expires = Number(v.toString('utf8'));
        break;
      default:
        if (e.headers === NO_HEADERS) e.headers = {};
        e.headers[k] = v.toString('utf8');
    }
  }
  // An entry XADDed by another application: its fields become headers, the body is empty.
  if (e.id.length === 0) e.id = String(id);
  if (foreign && e.timestamp === 0) e.timestamp = Number(String(id).split('-')[0]);
  return e;
}

export class RedisTransport extends NetTransport {
  readonly scheme: string;
  readonly capabilities: NetCapabilities;
  readonly cmd: RedisClient;
  /** Talking to a Redis Cluster: commands of one MULTI must stay in one slot. */
  readonly cluster: boolean;
  readonly #make: () => RedisClient;

  constructor(scheme: string, cmd: RedisClient, make: () => RedisClient, persistent: boolean, cluster: boolean, onError?: (e: unknown) => void) {
    super(onError);
    this.scheme = scheme;
    this.cmd = cmd;
    this.cluster = cluster;
    this.#make = make;
    this.capabilities = {
      persistent,
      consumerGroups: true,
      ordering: 'partition',
      replay: true,
      nativeDelay: false,
      nativeDeadLetter: false,
      priorities: false,
      leases: true,
      exactlyOnce: false,
      maxPayload: MAX_PAYLOAD,
      emulated: ['delay', 'deadLetter', 'ttl', 'maxAttempts'],
    };
  }

  newConnection(): RedisClient {
    return this.#make();
  }

  /** On a cluster, a topic whose tagged keys would not share the stream's slot is refused. */
  checkClusterTopic(topic: string): void {
    if (this.cluster && slotTag(topic).includes('}')) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `topic "${topic}" cannot be used on a Redis Cluster: a "}" outside a {hash tag} keeps its keys from sharing one slot`);
    }
  }

  protected async doPublish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    this.checkClusterTopic(topic);
    const now = Date.now();
    // One MULTI per call: all-or-nothing, and in order on this connection.
    const tx = this.cmd.multi();
    for (const m of messages) {
      const f = fieldsOf(m, now);
      if (m.delayMs !== undefined && m.delayMs > 0) {
        const n = randomId();
        tx.hset(keys.delayedHash(topic) + n, ...(f as [string, Buffer]));
        tx.zadd(keys.delayed(topic), now + m.delayMs, n);
      } else tx.xadd(topic, '*', ...(f as [string, Buffer]));
    }
    const res = await tx.exec();
    for (const [e] of res ?? []) if (e) throw e;
    if (!res) throw err('MQ_ERR_CLOSED', 'redis transaction aborted');
  }

  protected createSubscription(topic: string, opts: SubscribeOptions): NetSubscription {
    return new RedisSubscription(this, topic, opts);
  }

  protected async disconnect(): Promise<void> {
    await this.cmd.quit().catch(() => this.cmd.disconnect());
  }
}

class RedisSubscription extends NetSubscription {
  readonly #t: RedisTransport;
  readonly #consumer = `c-${randomId()}`;
  readonly #stop = new AbortController();
  #reader: RedisClient | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #ready: Promise<unknown> | undefined;
  /**
   * How deliveries settle: one object for the subscription, the per-message state lives on the
   * RedisDelivery (an ops object and five closures per message were a measurable part of the
   * consume CPU, mostly in the GC).
   */
  readonly #ops: SettleOps = {
    ack: (d) => this.#ack(d as RedisDelivery),
    nack: (delayMs, d) => this.#nack((d as RedisDelivery).entry, delayMs),
    reject: (reason, d) => this.#deadLetterOrAck(d as RedisDelivery, d.attempt, reason),
    extend: (ms, d) => {
      (d as RedisDelivery).extended = true;
      return this.#extend((d as RedisDelivery).entry, ms);
    },
    // Ours to give back at once (attempt + 1) rather than wait for a member's XPENDING scan.
    expired: (d) => void this.#claim([(d as RedisDelivery).entry], 0).catch((x: unknown) => this.#t.report(x)),
  };

  constructor(t: RedisTransport, topic: string, opts: SubscribeOptions) {
    super(t, topic, opts);
    t.checkClusterTopic(topic);
    if (opts.deadLetterTopic !== undefined) t.checkClusterTopic(opts.deadLetterTopic);
    this.#t = t;
  }

  protected start(): void {
    // Issued now, on the publishing connection: a publish() after subscribe() is ordered after
    // the group exists (so `from: 'latest'` means "after subscribe() returned").
    this.#ready = this.#t.cmd.xgroup('CREATE', this.topic, this.group, this.from === 'latest' ? '$' : '0', 'MKSTREAM').catch((e: unknown) => {
      if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
    });
    this.#loop = this.#run().catch((e: unknown) => this.fail(e));
  }

  /**
   * Wakes the read loop once half the prefetch window is free (or the application is starving):
   * waking on every single settlement turned one XREADGROUP of 1000 into hundreds of reads of a
   * few entries each, a round trip apiece.
   */
  protected override onCredit(): void {
    if (this.#wake && (this.credit() * 2 >= this.prefetch || this.starving)) this.#wake();
  }

  async #run(): Promise<void> {
    await this.#ready;
    if (this.closed) return;
    const reader = this.#t.newConnection();
    this.#reader = reader;
    try {
      await this.#loop2(reader);
    } finally {
      reader.disconnect();
    }
  }

  async #loop2(reader: RedisClient): Promise<void> {
    const scanEvery = Math.max(TICK_MS, Math.min(this.leaseMs / 2, 1_000));
    let nextScan = 0;
    let nextTick = 0;
    let failures = 0;
    while (!this.closed) {
      try {
        if (this.credit() <= 0 || (this.credit() * 2 < this.prefetch && !this.starving)) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            setTimeout(resolve, TICK_MS).unref();
          });
          this.#wake = undefined;
        }
        const now = Date.now();
        // The upkeep runs on the reader's connection, which is idle between reads: on the command
        // connection it would queue behind every ack in flight and stall the read loop for that
        // long on each tick (a tenth of the dequeue rate at 128 B in a profile).
        if (now >= nextTick) {
          nextTick = now + TICK_MS;
          await Promise.all([reader.eval(MOVE_DUE, 2, keys.delayed(this.topic), this.topic, now, 100, keys.delayedHash(this.topic)), this.#claimDue(now, reader)]);
        }
        if (now >= nextScan) {
          nextScan = now + scanEvery;
          await this.#claimExpired(reader);
        }
        if (this.closed || this.credit() <= 0) continue;
        const res = (await reader.callBuffer('XREADGROUP', 'GROUP', this.group, this.#consumer, 'COUNT', this.credit(), 'BLOCK', BLOCK_MS, 'STREAMS', this.topic, '>')) as
          | [Buffer, [Buffer, Buffer[] | null][]][]
          | null;
        failures = 0;
        // One clock read for the leases of the whole reply (not one per delivery).
        const leaseNow = this.leases.now();
        // Indexed loops: destructuring for-of allocated an iterator result per entry here.
        for (let s = 0; res !== null && s < res.length; s++) {
          const items = res[s]![1];
          for (let i = 0; i < items.length; i++) {
            const item = items[i]!;
            const e = parseEntry(item[0], item[1], this.topic, 1, this.#scratch);
            const p = this.#deliver(e, item[0], leaseNow);
            if (p) await p;
          }
        }
      } catch (e) {
        if (this.closed) break;
        // Connection lost (broker restart): the broker keeps the group and its pending entries
        // (with AOF), so leases held here stay valid and their acks go through after the
        // reconnect; the loop resumes by itself. A broker that lost its data lost the group too:
        // it is created again (from the start of whatever stream survived).
        if (/NOGROUP/.test(String((e as Error).message))) {
          await this.#t.cmd.xgroup('CREATE', this.topic, this.group, '0', 'MKSTREAM').catch(() => undefined);
        }
        this.#t.report(e);
        await delay(backoff(failures++), this.#stop.signal);
      }
    }
  }

  /** Claims ids whose nack delay is over. */
  async #claimDue(now: number, conn: RedisClient): Promise<void> {
    const credit = this.credit();
    if (credit <= 0) return;
    const ids = (await conn.eval(POP_DUE, 1, keys.due(this.topic, this.group), now, credit)) as string[];
    if (ids.length > 0) await this.#claim(ids, 0, conn);
  }

  /** Reclaims entries idle longer than the lease (their holder died or its lease timer fired). */
  async #claimExpired(conn: RedisClient): Promise<void> {
    const credit = this.credit();
    if (credit <= 0) return;
    const pending = (await conn.xpending(this.topic, this.group, 'IDLE', this.leaseMs, '-', '+', credit)) as [string, string, number, number][];
    if (pending.length === 0) return;
    const ids = pending.map((p) => p[0]);
    // Skip ids waiting out a nack delay and ids whose lease was extended.
    const [due, ext] = await Promise.all([conn.zmscore(keys.due(this.topic, this.group), ...ids), conn.zmscore(keys.ext(this.topic, this.group), ...ids)]);
    const now = Date.now();
    const take = ids.filter((_, i) => due[i] == null && !(ext[i] != null && Number(ext[i]) > now));
    if (take.length > 0) await this.#claim(take, this.leaseMs, conn);
  }

  async #claim(ids: string[], minIdle: number, conn: RedisClient = this.#t.cmd): Promise<void> {
    // XCLAIM increments the delivery count: that count is the attempt number.
    const res = (await conn.callBuffer('XCLAIM', this.topic, this.group, this.#consumer, minIdle, ...ids)) as [Buffer, Buffer[] | null][];
    if (res.length === 0) return;
    const counts = new Map<string, number>();
    const first = String(res[0]![0]);
    const last = String(res[res.length - 1]![0]);
    const info = (await conn.xpending(this.topic, this.group, first, last, res.length + 10, this.#consumer)) as [string, string, number, number][];
    for (const [id, , , n] of info) counts.set(id, n);
    // A reclaim of an entry we still hold means our lease on it is gone.
    const mine = new Map<string, NetDelivery>();
    for (const d of this.leases.held()) mine.set((d as RedisDelivery).entry, d as RedisDelivery);
    for (const [id, f] of res) {
      const sid = String(id);
      mine.get(sid)?.lose();
      const p = this.#deliver(parseEntry(id, f, this.topic, counts.get(sid) ?? 2), sid);
      if (p) await p;
    }
  }

  /** The Entry the read loop parses every entry into (see parseEntry). */
  readonly #scratch: Entry = resetEntry({} as Entry, '', '', 1);

  /**
   * Hands an entry to the application; returns a promise only when it has broker work to do
   * instead (synchronous on the hot path). `e` may be the read loop's scratch Entry: what
   * outlives this call (dead-lettering awaits) gets a copy.
   */
  #deliver(e: Entry | undefined, id: Buffer | string, now?: number): Promise<unknown> | undefined {
    if (!e) return this.#t.cmd.xack(this.topic, this.group, id);
    if (e.expires !== undefined && e.expires <= Date.now()) return this.#deadLetterOrAck({ ...e }, e.attempt, 'expired (ttl)');
    if (this.maxAttempts !== undefined && e.attempt > this.maxAttempts) return this.#deadLetterOrAck({ ...e }, e.attempt - 1, `max attempts (${this.maxAttempts}) exceeded`);
    this.push(new RedisDelivery(e, this, this.#ops, now));
    return undefined;
  }

  async #extend(id: string, ms: number): Promise<void> {
    await this.#t.cmd.zadd(keys.ext(this.topic, this.group), Date.now() + ms, id);
  }

  /** Acks of this event-loop turn, sent as one XACK when the turn ends. */
  #acks: { ids: (Buffer | string)[]; done: Promise<unknown> } | undefined;

  #ack(d: RedisDelivery): Promise<void> {
    if (!d.extended) {
      // One XACK with every id acked during this turn of the event loop instead of one command
      // (and one socket write) per message: an application acking a prefetch window in a loop
      // costs one round trip. Each ack() still resolves only once its XACK has returned.
      let batch = this.#acks;
      if (!batch) {
        const ids: (Buffer | string)[] = [];
        batch = this.#acks = {
          ids,
          done: new Promise((resolve, reject) => {
            setImmediate(() => {
              if (this.#acks?.ids === ids) this.#acks = undefined;
              this.#t.cmd.xack(this.topic, this.group, ...ids).then(resolve, reject);
            });
          }),
        };
      }
      batch.ids.push(d.entryId);
      // Not an async function: the hot path allocates no frame and no extra promise per ack.
      return batch.done as Promise<void>;
    }
    return this.#ackExtended(d.entry);
  }

  async #ackExtended(id: string): Promise<void> {
    const res = await this.#t.cmd.multi().xack(this.topic, this.group, id).zrem(keys.ext(this.topic, this.group), id).exec();
    for (const [e] of res ?? []) if (e) throw e;
  }

  async #nack(id: string, delayMs: number | undefined): Promise<void> {
    if (delayMs === undefined && !this.closed) {
      await this.#t.cmd.zrem(keys.ext(this.topic, this.group), id);
      await this.#claim([id], 0);
      return;
    }
    await this.#t.cmd.multi().zrem(keys.ext(this.topic, this.group), id).zadd(keys.due(this.topic, this.group), Date.now() + (delayMs ?? 0), id).exec();
  }

  async #deadLetterOrAck(e: DeadSource, attempt: number, reason: string): Promise<void> {
    const dlq = this.deadLetterTopic;
    let dead: Fields | undefined;
    if (dlq !== undefined) {
      const h = deadLetterHeaders(e.headers, attempt, this.topic, reason);
      dead = ['b', Buffer.from(e.body.buffer, e.body.byteOffset, e.body.byteLength), 'i', e.id, 'ts', String(e.timestamp), 'h', JSON.stringify(h)];
      if (e.key !== undefined) dead.push('k', e.key);
    }
    // On a cluster the dead-letter stream is another topic, in its own slot: no MULTI can span
    // both. It is written first and the entry acked after: a crash in between leaves the entry
    // pending (redelivered, dead-lettered again: a duplicate in the DLQ, never a loss).
    const split = dlq !== undefined && this.#t.cluster && slotTag(dlq) !== slotTag(this.topic);
    if (split && dead) await this.#t.cmd.xadd(dlq!, '*', ...(dead as [string, Buffer]));
    const tx = this.#t.cmd.multi();
    if (!split && dead) tx.xadd(dlq!, '*', ...(dead as [string, Buffer]));
    tx.xack(this.topic, this.group, e.entryId).zrem(keys.ext(this.topic, this.group), e.entryId);
    const res = await tx.exec();
    for (const [x] of res ?? []) if (x) throw x;
  }

  protected async release(lost: NetDelivery[]): Promise<void> {
    if (lost.length === 0) return;
    // Due now: the next member to poll claims them (attempt + 1). If this client dies before
    // this lands, the XPENDING scan of the other members reclaims them after the lease.
    const now = Date.now();
    const args: (string | number)[] = [];
    for (const d of lost) args.push(now, (d as RedisDelivery).entry);
    await this.#t.cmd.zadd(keys.due(this.topic, this.group), ...args);
  }

  protected async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    const r = this.#reader;
    // The reader may be blocked for up to BLOCK_MS; disconnecting ends that read at once.
    r?.disconnect();
    await this.#loop;
  }
}

/** A delivery of a stream entry: what settling it on Redis needs besides the message. */
class RedisDelivery extends NetDelivery {
  /** The stream entry id, as read (see Entry.entryId). */
  readonly entryId: Buffer | string;
  #entry: string | undefined;
  /**
   * Only extend() writes an id into the `ext` set: a first delivery never extended has no entry
   * there, so its ack is a bare XACK (one command instead of MULTI/XACK/ZREM/EXEC; the ack path
   * is the dequeue hot path). A redelivery may carry a previous holder's entry.
   */
  extended: boolean;

  constructor(e: Entry, sub: NetSubscription, ops: SettleOps, now: number | undefined) {
    super(e, sub, ops, now);
    this.entryId = e.entryId;
    this.extended = e.attempt > 1;
  }

  /** The stream entry id as a string. */
  get entry(): string {
    return (this.#entry ??= String(this.entryId));
  }
}

function redisOptions(u: URL): RedisOptions {
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw err('MQ_ERR_INVALID_URL', `redis database must be a number, got "${u.pathname.slice(1)}"`);
  const o: RedisOptions = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    noDelay: true,
    // ioredis 6 defaults to RESP3 (maps for XREADGROUP); the parsing here is for RESP2 arrays,
    // which every Redis ≥ 5 speaks.
    protocol: 2,
    // Reconnect forever with capped backoff: a restarting broker must not end a subscription.
    retryStrategy: (times) => Math.min(50 * times, 500),
    // 20 reconnect attempts ≈ 8 s: a command (publish, ack) waits out a broker restart, then fails.
    maxRetriesPerRequest: 20,
    lazyConnect: true,
  };
  if (u.username) o.username = decodeURIComponent(u.username);
  if (u.password) o.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') o.tls = {};
  return o;
}

/**
 * The seed nodes of a Redis Cluster URL, or undefined for a single server: several hosts
 * (`redis://a:7000,b:7001,c:7002`, whose list the URL parser passes in `hosts`) or `?cluster=1`
 * with one seed. ioredis discovers the other nodes from any seed (CLUSTER SLOTS).
 */
export function clusterNodes(u: URL): { host: string; port: number }[] | undefined {
  const hosts = u.searchParams.get('hosts');
  const flag = u.searchParams.get('cluster');
  if (hosts === null && flag !== 'true' && flag !== '1') return undefined;
  return (hosts ?? u.host)
    .split(',')
    .filter((h) => h !== '')
    .map((h) => {
      const m = /^\[([^\]]+)\](?::(\d+))?$|^([^:[\]]+)(?::(\d+))?$/.exec(h);
      if (!m) throw err('MQ_ERR_INVALID_URL', `"${h}" is not host:port`);
      return { host: m[1] ?? m[3]!, port: Number(m[2] ?? m[4] ?? 6379) };
    });
}

export async function connectRedis(u: URL, options: ConnectOptions): Promise<RedisTransport> {
  const mod = await optionalDependency(() => import('ioredis'), 'ioredis', u.protocol.replace(/:$/, ''));
  const base = redisOptions(u);
  const nodes = clusterNodes(u);
  const onError = typeof options['onError'] === 'function' ? (options['onError'] as (e: unknown) => void) : undefined;
  let make: (forCommands: boolean) => RedisClient;
  if (nodes) {
    if (base.db) throw err('MQ_ERR_INVALID_URL', `a Redis Cluster has only database 0, the URL names ${base.db}`);
    const Cluster = mod.Cluster as unknown as new (n: { host: string; port: number }[], o: ClusterOptions) => Cluster;
    const { host: _h, port: _p, db: _d, retryStrategy: _r, lazyConnect: _l, ...nodeOptions } = base;
    // A Cluster client runs the same commands as a single-node one (it routes each by its key's
    // slot, and refuses a MULTI whose keys span slots, which the key naming above rules out):
    // the transport treats both as one command interface.
    make = (forCommands) => {
      const c = new Cluster(nodes, {
        redisOptions: { ...nodeOptions, maxRetriesPerRequest: forCommands ? 20 : null },
        clusterRetryStrategy: (times) => Math.min(50 * times, 500),
        // By default ioredis never reconnects to a lost node and waits for a MOVED to refresh
        // the slots; a node restarted with the same slots sends none, and every command for its
        // slots would fail forever. Reconnecting to it (commands queue meanwhile) resumes them.
        clusterNodeRetryStrategy: (times) => Math.min(50 * times, 500),
        // A node restarting or a failover in progress: retry rather than fail the command.
        // Each retry counts as a redirection: 100 × 100 ms ≈ 10 s of CLUSTERDOWN before a
        // command fails, like the ~8 s a single-server command waits out a restart (the default
        // 16 gave up after 1.6 s, shorter than a node's cluster-node-timeout).
        retryDelayOnClusterDown: 100,
        retryDelayOnFailover: 100,
        maxRedirections: 100,
        lazyConnect: forCommands,
      });
      c.on('error', () => undefined);
      return c as unknown as RedisClient;
    };
  } else {
    const Redis = (mod.Redis ?? mod.default) as unknown as new (o: RedisOptions) => RedisClient;
    make = (forCommands) => {
      const c = forCommands ? new Redis(base) : new Redis({ ...base, lazyConnect: false, maxRetriesPerRequest: null });
      c.on('error', () => undefined); // reported through failing commands; ioredis reconnects
      return c;
    };
  }
  const cmd = make(true);
  try {
    await cmd.connect();
    const info = await cmd.info('persistence');
    const q = u.searchParams.get('persistent');
    const persistent = q !== null ? q === 'true' || q === '1' : /aof_enabled:1/.test(info);
    return new RedisTransport(u.protocol.replace(/:$/, ''), cmd, () => make(false), persistent, nodes !== undefined, onError);
  } catch (e) {
    cmd.disconnect();
    throw err('MQ_ERR_CLOSED', `cannot connect to ${u.protocol}//${u.host}: ${(e as Error).message}`, e);
  }
}
