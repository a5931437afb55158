/**
 * The framework shared by the transports to real brokers (amqp, redis, kafka, stomp, mqtt, zmq):
 * deliveries with first-settlement-wins and client-side lease timers, a pull-based subscription
 * with a prefetch window, a transport shell that drains publishes on close, the dead-letter
 * header convention, and the loader that turns a missing optional client library into one line.
 *
 * What it does not do: talk to any broker. Each transport subclasses NetSubscription (how to
 * consume, settle and give messages back) and NetTransport (how to publish and disconnect).
 *
 * Leases here are client-side: each subscription keeps its open deliveries in deadline order
 * (LeaseQueue) under ONE timer of its clock, armed for the earliest deadline. When a lease runs
 * out the signal aborts and the transport gives the message back to its group. A broker that has
 * its own leases (Redis XAUTOCLAIM) also enforces them; one that has none (RabbitMQ, ActiveMQ)
 * relies on this timer while the client lives and on its connection-loss requeue when it does not.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { err, isOmnibusError } from '../core/errors.js';
import type { BatchOptions, Capabilities, Delivery, Headers, OutgoingMessage, PublishOptions, SubscribeOptions, Subscription, Transport } from '../core/types.js';
import { batchLimit, readBatches } from '../core/batch.js';

/** Capabilities plus what the transport emulates client-side because the broker lacks it. */
export interface NetCapabilities extends Capabilities {
  /**
   * Features served by Omnibus' client-side framework rather than the broker, e.g. 'delay',
   * 'deadLetter', 'leases', 'attempts', 'ttl'. A conformance run may judge them as present.
   */
  readonly emulated: readonly string[];
}

/** Reserved header names carried next to the user's headers; stripped on delivery. */
export const H = {
  id: 'x-omnibus-id',
  key: 'x-omnibus-key',
  ts: 'x-omnibus-ts',
  priority: 'x-omnibus-priority',
  expires: 'x-omnibus-expires',
  attempt: 'x-omnibus-attempt',
} as const;

export const DEFAULT_GROUP = 'default';
export const DEFAULT_PREFETCH = 100;
export const DEFAULT_LEASE_MS = 30_000;

/**
 * Loads an optional client library. A missing package becomes one line naming it; any other
 * failure (a broken install) is passed through with its cause.
 */
export async function optionalDependency<T>(load: () => Promise<T>, pkg: string, scheme: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw err('MQ_ERR_MISSING_DEPENDENCY', `${scheme}:// needs the package "${pkg}": npm install ${pkg}`, e);
    }
    throw e;
  }
}

export function bodyBytes(m: OutgoingMessage): Buffer {
  const b = m.body;
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  if (!(b instanceof Uint8Array)) throw err('MQ_ERR_INVALID_ARGUMENT', 'message body must be a Uint8Array or a string');
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function checkPriority(m: OutgoingMessage): number {
  const p = m.priority ?? 0;
  if (!Number.isInteger(p) || p < 0 || p > 255) throw err('MQ_ERR_INVALID_ARGUMENT', `priority must be an integer 0..255, got ${p}`);
  return p;
}

export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw err('MQ_ERR_INVALID_ARGUMENT', 'topic must be a non-empty string');
}

/** A random id: 16 hex chars from two 32-bit draws (no crypto: ids need to be unique, not secret). */
export function randomId(): string {
  const a = (Math.random() * 0x1_0000_0000) >>> 0;
  const b = (Math.random() * 0x1_0000_0000) >>> 0;
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/**
 * A unique message id, cheaper than randomId() on the publish hot path: 11 random hex chars
 * drawn once per process, then a counter in base 36 (a publisher id + a sequence number, like a
 * Kafka producer id + sequence). Unique across processes with the odds of randomId().
 */
const ID_PREFIX = randomId().slice(0, 11);
let idSeq = 0;
export function sequentialId(): string {
  return ID_PREFIX + (idSeq++).toString(36).padStart(5, '0');
}

const producerIds = new WeakMap<OutgoingMessage, string>();

/**
 * The message id of an outgoing message, the same for every publish of the same object: a
 * publish retried after an error whose confirm was lost (broker restart) yields a duplicate with
 * the SAME id, which consumers deduplicate like any at-least-once redelivery.
 */
export function messageIdFor(m: OutgoingMessage): string {
  let id = producerIds.get(m);
  if (id === undefined) {
    id = sequentialId();
    producerIds.set(m, id);
  }
  return id;
}

/**
 * Headers a dead-lettered message gains, the same as the embedded engine's: x-attempts,
 * x-original-topic, x-death-reason (rejected | max-attempts | expired) and x-error-message (the
 * reject reason or what exhausted the attempts).
 */
export function deadLetterHeaders(h: Headers, attempt: number, topic: string, reason: string): Record<string, string> {
  const kind = /^(max attempts|lease expired)/.test(reason) ? 'max-attempts' : /^expired/.test(reason) ? 'expired' : 'rejected';
  return { ...h, 'x-attempts': String(attempt), 'x-original-topic': topic, 'x-death-reason': kind, 'x-error-message': reason };
}

/**
 * Self-describing envelope for transports without headers (ZeroMQ) or where the framework needs
 * its metadata in the payload: [u32 BE meta length][meta JSON][body]. Meta is ~60 bytes plus the
 * headers; the body is not copied on decode.
 */
export interface EnvelopeMeta {
  id: string;
  k?: string;
  h?: Record<string, string>;
  ts: number;
  p?: number;
  exp?: number;
  a?: number;
  /** Deliver at (ms since epoch). */
  d?: number;
  /** Origin: the sending transport instance. */
  o?: string;
}

export function encodeEnvelope(meta: EnvelopeMeta, body: Uint8Array): Buffer {
  const m = Buffer.from(JSON.stringify(meta), 'utf8');
  const out = Buffer.allocUnsafe(4 + m.length + body.byteLength);
  out.writeUInt32BE(m.length, 0);
  m.copy(out, 4);
  out.set(body, 4 + m.length);
  return out;
}

export function decodeEnvelope(buf: Uint8Array): { meta: EnvelopeMeta; body: Uint8Array } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 4) throw err('MQ_ERR_PROTOCOL', 'envelope shorter than its length prefix');
  const n = b.readUInt32BE(0);
  if (4 + n > b.length) throw err('MQ_ERR_PROTOCOL', 'envelope metadata overruns the frame');
  const meta = JSON.parse(b.subarray(4, 4 + n).toString('utf8')) as EnvelopeMeta;
  return { meta, body: new Uint8Array(b.buffer, b.byteOffset + 4 + n, b.length - 4 - n) };
}

/**
 * What a transport does to settle one delivery on its broker. Each method also gets the delivery
 * (last), so a transport may share one SettleOps per subscription and keep what it needs per
 * message on a NetDelivery subclass instead of allocating an ops object or closures per message.
 */
export interface SettleOps {
  ack(d: LeasedDelivery): Promise<void>;
  /** Give back for redelivery with attempt + 1 (after delayMs). Dead-lettering at maxAttempts is decided by the caller. */
  nack(delayMs: number | undefined, d: LeasedDelivery): Promise<void>;
  reject(reason: string, d: LeasedDelivery): Promise<void>;
  /** Tell the broker about a longer lease, where it keeps one. */
  extend?(ms: number, d: LeasedDelivery): Promise<void>;
  /** The client-side lease expired: give the message back (attempt + 1). Errors are the transport's to report. */
  expired(d: LeasedDelivery): void;
}

export interface DeliveryInit {
  /**
   * The message id, or its UTF-8 bytes as read from the wire: decoded on the first read of
   * `Delivery.id` (a consumer that never reads it skips a ~100 ns string decode per message).
   */
  id: string | Uint8Array;
  topic: string;
  key: string | undefined;
  headers: Headers;
  body: Uint8Array;
  timestamp: number;
  priority: number;
  attempt: number;
}

type State = 'open' | 'settled' | 'lost';

/**
 * What a SettleOps method returns when the settlement is complete on return (Kafka: an ack only
 * marks the offset, the commit follows on a timer). The subscription then frees the prefetch slot
 * at once instead of in a `.then()` a microtask later: no promise reaction, no closure and no
 * bookkeeping object per settlement.
 */
export const SETTLED: Promise<void> = Promise.resolve();

/**
 * The open deliveries of one subscription in lease-deadline order, watched by one timer.
 *
 * A setTimeout per delivery cost a Timeout object, its closure and a clearTimeout per message,
 * all living as long as the delivery (they survive young-generation collections, so the GC
 * copies them): about a fifth of the consume CPU on Redis. Here a delivery is a node of an
 * intrusive doubly linked list (no allocation), and the list is sorted by deadline: leases of
 * one subscription have one length, so a new delivery goes at the tail in O(1); only extend()
 * with a shorter-than-usual length walks back from the tail to its place. Settling unlinks in
 * O(1). The single timer is armed for the head's deadline; when it fires it expires every
 * delivery that is due and re-arms for the next, so it runs about once per lease length.
 */
export class LeaseQueue {
  readonly #clock: Clock;
  /**
   * Deadlines are kept as ms since this queue was made, not since the epoch: a small integer is
   * stored in the delivery as it is, where an epoch time (above 2^31) is a heap-allocated
   * double, 16 B per delivery (an offset past 2^31 ms, 24 days, is a double again, and still
   * exact).
   */
  readonly #base: number;
  #head: LeasedDelivery | undefined;
  #tail: LeasedDelivery | undefined;
  #cancel: (() => void) | undefined;
  /** A deadline relative to #base, as `leaseAt`. */
  #armedAt = Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#base = clock.now();
  }

  now(): number {
    return this.#clock.now();
  }

  /** Holds `d` until `at` (ms since the epoch, the clock's time). */
  add(d: LeasedDelivery, at: number): void {
    if (d.leased) this.remove(d);
    at -= this.#base;
    // `| 0` makes the difference of two heap numbers a small integer V8 stores unboxed; a
    // fractional or far deadline stays as it is.
    const small = at | 0;
    d.leaseAt = small === at ? small : at;
    d.leased = true;
    let p = this.#tail;
    while (p !== undefined && p.leaseAt > at) p = p.leasePrev;
    const n = p === undefined ? this.#head : p.leaseNext;
    d.leasePrev = p;
    d.leaseNext = n;
    if (n === undefined) this.#tail = d;
    else n.leasePrev = d;
    if (p === undefined) this.#head = d;
    else p.leaseNext = d;
    if (at < this.#armedAt) this.#arm(at);
  }

  /** The deliveries held now, earliest deadline first. */
  held(): LeasedDelivery[] {
    const out: LeasedDelivery[] = [];
    for (let d = this.#head; d !== undefined; d = d.leaseNext) out.push(d);
    return out;
  }

  remove(d: LeasedDelivery): void {
    if (!d.leased) return;
    d.leased = false;
    const p = d.leasePrev;
    const n = d.leaseNext;
    if (p === undefined) this.#head = n;
    else p.leaseNext = n;
    if (n === undefined) this.#tail = p;
    else n.leasePrev = p;
    d.leasePrev = d.leaseNext = undefined;
    // The timer stays armed when the list empties (it is unref'd and holds only this queue; firing
    // on an empty list does nothing). Cancelling it there and arming a new one on the next add()
    // happened each time a consumer caught up with its window, and the branch, first taken after
    // V8 had optimized the consume path, made it deoptimize and compile again.
  }

  /** Drops the timer: the subscription is closed. */
  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedAt = Infinity;
  }

  /** `at`: relative to #base. */
  #arm(at: number): void {
    this.#cancel?.();
    this.#armedAt = at;
    this.#cancel = this.#clock.setTimer(at - (this.#clock.now() - this.#base), this.#fire);
  }

  readonly #fire = (): void => {
    this.#cancel = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now() - this.#base;
    for (let d = this.#head; d !== undefined && d.leaseAt <= now; d = this.#head) {
      this.remove(d);
      d.leaseExpired();
    }
    // A timer may fire a little before the clock reads its deadline: the head is then re-armed
    // (also when an expiry handler added a later lease meanwhile and armed the timer for it).
    const h = this.#head;
    if (h !== undefined && h.leaseAt < this.#armedAt) this.#arm(h.leaseAt);
  };
}

/**
 * A delivery: first settlement wins, a lost lease aborts the signal once and fails later
 * settlements. What the message is made of is the subclass's: NetDelivery stores it as given, a
 * transport may instead read it from its client library's record when the application asks for
 * it (kafka://), so a delivery whose headers or key are never read never decodes them.
 */
export abstract class LeasedDelivery implements Delivery {
  abstract readonly id: string;
  abstract readonly topic: string;
  abstract readonly key: string | undefined;
  abstract readonly headers: Headers;
  abstract readonly body: Uint8Array;
  abstract readonly timestamp: number;
  abstract readonly priority: number;
  abstract readonly attempt: number;
  /** Created on first use of `signal`: most consumers never read it, and an AbortController per delivery cost ~1 µs and GC churn on the dequeue hot path. */
  #ac: AbortController | undefined;
  readonly #ops: SettleOps;
  readonly #sub: NetSubscription;
  #state: State = 'open';
  #settling: Promise<void> | undefined;
  /** Links and deadline in the subscription's LeaseQueue (owned by it). */
  leaseAt = 0;
  leased = false;
  leasePrev: LeasedDelivery | undefined = undefined;
  leaseNext: LeasedDelivery | undefined = undefined;
  /** Counted against the subscription's prefetch (pushed, and not yet settled on the broker or lost). */
  inFlight = false;

  /**
   * `now`: the subscription clock's time, which a transport handing over a batch of messages
   * reads once for all of them (a clock read cost ~0.1 µs per message); read here if absent.
   */
  constructor(sub: NetSubscription, ops: SettleOps, now?: number) {
    this.#ops = ops;
    this.#sub = sub;
    const q = sub.leases;
    q.add(this, (now ?? q.now()) + sub.leaseMs);
  }

  /** The subscription it was delivered by. */
  protected get subscription(): NetSubscription {
    return this.#sub;
  }

  get redelivered(): boolean {
    return this.attempt > 1;
  }

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#state === 'lost') this.#ac.abort(err('MQ_ERR_LEASE_LOST', `lease of message ${this.id} lost`));
    }
    return this.#ac.signal;
  }

  get state(): State {
    return this.#state;
  }

  /** Called by the LeaseQueue when the lease ran out (the delivery is already unlinked). */
  leaseExpired(): void {
    if (this.#state !== 'open') return;
    this.lose();
    this.#ops.expired(this);
  }

  /** The lease is gone (expiry, close, disconnect): abort once, later settlements reject. */
  lose(): boolean {
    if (this.#state !== 'open') return false;
    this.#state = 'lost';
    this.#sub.leases.remove(this);
    this.#sub.settled(this);
    this.#ac?.abort(err('MQ_ERR_LEASE_LOST', `lease of message ${this.id} lost`));
    return true;
  }

  /*
   * The helpers below are TypeScript-private, not #private: a class with #methods gives each
   * instance one more slot (its brand), 8 B per delivery.
   */

  /** A second settlement, or one after the lease was lost. */
  private settleAgain(): Promise<void> {
    if (this.#state === 'lost') return Promise.reject(err('MQ_ERR_LEASE_LOST', `lease of message ${this.id} was lost; it is redelivered`));
    return (this.#settling ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Marks the delivery settled; `p` is the transport's work, after which its prefetch slot frees. */
  private settleWith(p: Promise<void>): Promise<void> {
    this.#settling = this.#sub.settleAfter(this, p);
    return this.#settling;
  }

  private beginSettle(): void {
    this.#state = 'settled';
    this.#sub.leases.remove(this);
  }

  // ack() is the consume hot path: no closure, no async frame, and the promise is the
  // transport's own (shared by every ack of a batch where the transport batches them).
  ack(): Promise<void> {
    if (this.#state !== 'open') return this.settleAgain();
    this.beginSettle();
    return this.settleWith(this.#ops.ack(this));
  }

  nack(opts?: { delayMs?: number }): Promise<void> {
    const delayMs = opts?.delayMs;
    if (delayMs !== undefined && (!Number.isFinite(delayMs) || delayMs < 0)) return Promise.reject(err('MQ_ERR_INVALID_ARGUMENT', `delayMs must be >= 0, got ${delayMs}`));
    if (this.#state !== 'open') return this.settleAgain();
    this.beginSettle();
    const max = this.#sub.maxAttempts;
    if (max !== undefined && this.attempt >= max) return this.settleWith(this.#ops.reject(`max attempts (${max}) exceeded`, this));
    return this.settleWith(this.#ops.nack(delayMs !== undefined && delayMs > 0 ? delayMs : undefined, this));
  }

  reject(reason?: string): Promise<void> {
    if (this.#state !== 'open') return this.settleAgain();
    this.beginSettle();
    return this.settleWith(this.#ops.reject(reason ?? 'rejected', this));
  }

  async extend(ms?: number): Promise<void> {
    if (this.#state === 'lost') throw err('MQ_ERR_LEASE_LOST', `lease of message ${this.id} was lost`);
    if (this.#state !== 'open') return;
    const len = ms ?? this.#sub.leaseMs;
    const q = this.#sub.leases;
    q.add(this, q.now() + len);
    await this.#ops.extend?.(len, this);
  }
}

/** A delivery made of the fields the transport read (DeliveryInit). */
export class NetDelivery extends LeasedDelivery {
  #id: string | Uint8Array;
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly timestamp: number;
  readonly priority: number;
  readonly attempt: number;

  constructor(init: DeliveryInit, sub: NetSubscription, ops: SettleOps, now?: number) {
    super(sub, ops, now);
    this.#id = init.id;
    this.topic = init.topic;
    this.key = init.key;
    this.headers = init.headers;
    this.body = init.body;
    this.timestamp = init.timestamp;
    this.priority = init.priority;
    this.attempt = init.attempt;
  }

  get id(): string {
    const v = this.#id;
    if (typeof v === 'string') return v;
    const s = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
    this.#id = s;
    return s;
  }
}

const DONE: IteratorResult<Delivery> = { done: true, value: undefined };

/**
 * One consumer in a group. Subclasses call `push()` with deliveries while `credit() > 0`, and
 * implement start/release/stop. `onCredit()` is called when a settlement frees a slot.
 */
export abstract class NetSubscription implements Subscription, AsyncIterator<Delivery> {
  readonly topic: string;
  readonly group: string;
  readonly prefetch: number;
  readonly leaseMs: number;
  readonly maxAttempts: number | undefined;
  readonly deadLetterTopic: string | undefined;
  readonly from: 'earliest' | 'latest';
  /**
   * Deliveries counted against prefetch: pushed, not yet settled on the broker nor lost. A count
   * and a flag on each delivery rather than a Set (a hash insert and delete per message); the
   * open ones among them are the LeaseQueue's.
   */
  #unsettled = 0;
  /** Lease deadlines of the open deliveries, under one timer (see LeaseQueue). */
  readonly leases: LeaseQueue;
  /**
   * Pushed deliveries not yet taken by next(): the queue is [#bufHead, #bufEnd) of #buf.
   * Array#shift() on a buffer of a prefetch window (1000) cost ~100–150 ns per message (V8
   * moves the elements) against ~15 ns for an index. When the head catches up the queue starts
   * again at the front of the same array, which keeps its capacity: emptying it (`length = 0`)
   * dropped the backing store, and the next pushes regrew it, ~30 B per message. A reader that
   * never catches up gets the queue moved to the front once it has taken more than half.
   */
  #buf: (LeasedDelivery | undefined)[] = [];
  #bufHead = 0;
  #bufEnd = 0;
  #waiter: ((r: IteratorResult<Delivery>) => void) | undefined;
  #failer: ((e: unknown) => void) | undefined;
  /** A batches() reader waiting for the buffer to fill: push, close and fail wake it. */
  #arrived: (() => void) | undefined;
  #error: unknown;
  #closing: Promise<void> | undefined;
  #closed = false;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => void this.close();
  readonly #owner: NetTransport;

  constructor(owner: NetTransport, topic: string, opts: SubscribeOptions, clock: Clock = systemClock) {
    checkTopic(topic);
    this.#owner = owner;
    this.leases = new LeaseQueue(clock);
    this.topic = topic;
    this.group = opts.group ?? DEFAULT_GROUP;
    this.prefetch = opts.prefetch ?? DEFAULT_PREFETCH;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1) throw err('MQ_ERR_INVALID_ARGUMENT', `prefetch must be an integer >= 1, got ${this.prefetch}`);
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    if (!(this.leaseMs > 0)) throw err('MQ_ERR_INVALID_ARGUMENT', `leaseMs must be > 0, got ${this.leaseMs}`);
    this.maxAttempts = opts.maxAttempts;
    this.deadLetterTopic = opts.deadLetterTopic;
    this.from = opts.from ?? 'earliest';
    if (opts.selector !== undefined && opts.selector.trim() !== '') {
      throw err('MQ_ERR_INVALID_ARGUMENT', `${owner.scheme}:// does not support selectors`);
    }
    this.#signal = opts.signal;
    if (opts.signal?.aborted) {
      this.#closed = true;
      this.#closing = Promise.resolve();
      return;
    }
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Called by the transport right after construction (so subclass fields are initialised). */
  begin(): void {
    if (this.#closed) return;
    this.#owner.track(this);
    this.start();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How many more deliveries may be pushed now. */
  credit(): number {
    return this.prefetch - this.#unsettled;
  }

  /** The application is waiting (in next() or batches()) and nothing is buffered for it. */
  protected get starving(): boolean {
    return (this.#waiter !== undefined || this.#arrived !== undefined) && this.#bufHead === this.#bufEnd;
  }

  /** Hands a delivery to the application (it counts against prefetch until settled or lost). */
  protected push(d: LeasedDelivery): void {
    if (this.#closed) {
      this.#giveBack(d);
      return;
    }
    d.inFlight = true;
    this.#unsettled++;
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      this.#failer = undefined;
      w({ done: false, value: d });
    } else {
      const buf = this.#buf;
      const end = this.#bufEnd;
      if (end < buf.length) buf[end] = d;
      else buf.push(d);
      this.#bufEnd = end + 1;
      // The batch reader resumes in a microtask: what is pushed until then joins its batch.
      const a = this.#arrived;
      if (a) {
        this.#arrived = undefined;
        a();
      }
    }
  }

  /**
   * Arrived after close began (a read in flight): give it straight back. A method of its own
   * because a closure in a function makes V8 allocate that function's context on every call,
   * early return or not (~40 B): the hot paths here (push, settleAfter, next) create none.
   */
  #giveBack(d: LeasedDelivery): void {
    d.lose();
    this.release([d]).catch((e: unknown) => this.#owner.report(e));
  }

  /** How many settlements wait on #groupWork; one callback frees all their slots when it ends. */
  #group: { n: number } = { n: 0 };
  #groupWork: Promise<void> | undefined;

  /**
   * Frees `d`'s prefetch slot once `work` (its settlement on the broker) has ended, and returns
   * `work`. Settlements whose transport hands out one promise for several (Redis sends the acks
   * of one event-loop turn as one XACK) share one callback instead of a `.finally()` promise and
   * closure each. Only a count is kept, not the deliveries: a settled delivery is garbage as
   * soon as the application drops it (holding ~1000 of them until their XACK returned made
   * them, and their bodies, survive young-generation collections).
   */
  settleAfter(d: LeasedDelivery, work: Promise<void>): Promise<void> {
    // Only an open delivery that was pushed gets here (push() while closing loses it at once),
    // and nothing else frees a settled delivery's slot: the count is exact.
    if (work === SETTLED) {
      this.settled(d);
      return work;
    }
    if (!d.inFlight) return work;
    d.inFlight = false;
    if (work !== this.#groupWork) this.#newGroup(work);
    this.#group.n++;
    return work;
  }

  /** Starts counting the settlements that share `work` (its closure lives here, see #giveBack). */
  #newGroup(work: Promise<void>): void {
    const group = { n: 0 };
    this.#group = group;
    this.#groupWork = work;
    const done = (): void => {
      if (this.#groupWork === work) this.#groupWork = undefined;
      // One onCredit() for the group, not one per delivery.
      this.#unsettled -= group.n;
      if (!this.#closed) this.onCredit();
    };
    work.then(done, done);
  }

  /** A delivery left the unsettled set (settled or lost). */
  settled(d: LeasedDelivery): void {
    if (!d.inFlight) return;
    d.inFlight = false;
    this.#unsettled--;
    if (!this.#closed) this.onCredit();
  }

  /** Ends the iteration with an error (e.g. the group could not be created). */
  protected fail(e: unknown): void {
    this.#error = e;
    void this.close();
  }

  protected abstract start(): void;
  /** Returns lost deliveries to the group (they come back with attempt + 1). */
  protected abstract release(lost: LeasedDelivery[]): Promise<void>;
  /** Stops consuming and frees broker resources of this subscription. */
  protected abstract stop(): Promise<void>;
  protected onCredit(): void {}

  next(): Promise<IteratorResult<Delivery>> {
    const buf = this.#buf;
    const h = this.#bufHead;
    const end = this.#bufEnd;
    if (h < end) {
      const d = buf[h]!;
      buf[h] = undefined;
      this.#advanceTo(h + 1);
      return Promise.resolve({ done: false, value: d });
    }
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      return Promise.reject(e);
    }
    if (this.#closed) return Promise.resolve(DONE);
    if (this.#waiter || this.#arrived) return Promise.reject(err('MQ_ERR_INVALID_ARGUMENT', 'next() called again before the previous call resolved'));
    return this.#wait();
  }

  /**
   * The buffer's head moves to `head` (what is before it was taken). Emptied, the queue starts
   * again at the front; a reader far behind gets the rest moved to the front (see #buf).
   */
  #advanceTo(head: number): void {
    const end = this.#bufEnd;
    if (head === end) {
      this.#bufHead = this.#bufEnd = 0;
    } else if (head >= 1024 && head * 2 >= end) {
      const buf = this.#buf;
      const n = end - head;
      for (let i = 0; i < n; i++) {
        buf[i] = buf[head + i];
        buf[head + i] = undefined;
      }
      this.#bufHead = 0;
      this.#bufEnd = n;
    } else this.#bufHead = head;
  }

  batches(opts?: BatchOptions): AsyncGenerator<readonly Delivery[], void, undefined> {
    // The limit is checked here, so a bad max throws at the call rather than at the first step.
    return readBatches(batchLimit(opts), this.#batchStep, () => this.close());
  }

  readonly #batchStep = (max: number): Delivery[] | Promise<void> | null => {
    if (this.#bufHead < this.#bufEnd) return this.#take(max);
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      throw e;
    }
    return this.#closed ? null : this.#arrival();
  };

  /** Up to `max` buffered deliveries, oldest first, as a new array (the application may keep it). */
  #take(max: number): Delivery[] {
    const buf = this.#buf;
    const h = this.#bufHead;
    const end = this.#bufEnd;
    const n = Math.min(end - h, max);
    const out = new Array<Delivery>(n);
    for (let i = 0; i < n; i++) {
      out[i] = buf[h + i]!;
      buf[h + i] = undefined;
    }
    this.#advanceTo(h + n);
    return out;
  }

  /** Resolves once something is buffered, or the subscription closed or failed. */
  #arrival(): Promise<void> {
    if (this.#waiter || this.#arrived) return Promise.reject(err('MQ_ERR_INVALID_ARGUMENT', 'another reader of this subscription is already waiting'));
    const p = new Promise<void>((resolve) => {
      this.#arrived = resolve;
    });
    // As in #wait: a reader holding off for more credit should fetch now.
    this.onCredit();
    return p;
  }

  /** next() with nothing buffered (the closure lives here, see #giveBack). */
  #wait(): Promise<IteratorResult<Delivery>> {
    const p = new Promise<IteratorResult<Delivery>>((resolve, reject) => {
      this.#waiter = resolve;
      this.#failer = reject;
    });
    // The application waits with nothing buffered: a reader holding off for more credit
    // (see `starving`) should fetch now with whatever credit there is.
    this.onCredit();
    return p;
  }

  async return(): Promise<IteratorResult<Delivery>> {
    await this.close();
    return DONE;
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#buf = [];
      this.#bufHead = this.#bufEnd = 0;
      const lost: LeasedDelivery[] = [];
      for (const d of this.leases.held()) if (d.lose()) lost.push(d);
      this.leases.stop();
      try {
        await this.release(lost);
      } catch (e) {
        if (!isOmnibusError(e, 'MQ_ERR_CLOSED')) this.#owner.report(e);
      }
      try {
        await this.stop();
      } catch (e) {
        this.#owner.report(e);
      }
      this.#owner.forget(this);
      const w = this.#waiter;
      const f = this.#failer;
      this.#waiter = undefined;
      this.#failer = undefined;
      if (this.#error !== undefined && f) {
        const e = this.#error;
        this.#error = undefined;
        f(e);
      } else w?.(DONE);
      const a = this.#arrived;
      this.#arrived = undefined;
      a?.();
    })();
    return this.#closing;
  }

  /** The connection dropped: every unsettled lease is lost (the broker redelivers them). */
  protected loseAll(): void {
    for (const d of this.leases.held()) d.lose();
    this.#buf = this.#buf.slice(this.#bufHead, this.#bufEnd).filter((d) => d !== undefined && d.state === 'open');
    this.#bufHead = 0;
    this.#bufEnd = this.#buf.length;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The transport shell: closed-state checks, in-flight publish tracking, ordered shutdown. */
export abstract class NetTransport implements Transport {
  abstract readonly scheme: string;
  abstract readonly capabilities: NetCapabilities;
  readonly #subs = new Set<NetSubscription>();
  /** Subscription setups in progress: a publish waits for those begun before it. */
  readonly pendingSetup = new Set<Promise<unknown>>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  readonly #onError: ((e: unknown) => void) | undefined;

  constructor(onError?: (e: unknown) => void) {
    this.#onError = onError;
  }

  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  /** Background errors (a failed redelivery, a reconnect attempt): to the user's onError, else dropped. */
  report(e: unknown): void {
    this.#onError?.(e);
  }

  track(s: NetSubscription): void {
    this.#subs.add(s);
  }

  forget(s: NetSubscription): void {
    this.#subs.delete(s);
  }

  get subscriptions(): ReadonlySet<NetSubscription> {
    return this.#subs;
  }

  async publish(topic: string, messages: readonly OutgoingMessage[], opts?: PublishOptions): Promise<void> {
    if (this.#closing) throw err('MQ_ERR_CLOSED', 'the transport is closed');
    opts?.signal?.throwIfAborted();
    checkTopic(topic);
    const p = (async () => {
      // subscribe() is effective for the next publish(): its group exists on the broker.
      if (this.pendingSetup.size > 0) await Promise.allSettled([...this.pendingSetup]);
      await this.doPublish(topic, messages);
    })();
    this.#inflight.add(p);
    try {
      await p;
    } finally {
      this.#inflight.delete(p);
    }
  }

  subscribe(topic: string, opts: SubscribeOptions = {}): Subscription {
    if (this.#closing) throw err('MQ_ERR_CLOSED', 'the transport is closed');
    const s = this.createSubscription(topic, opts);
    s.begin();
    return s;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inflight]);
      await Promise.all([...this.#subs].map((s) => s.close()));
      await this.disconnect();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  protected abstract doPublish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  protected abstract createSubscription(topic: string, opts: SubscribeOptions): NetSubscription;
  protected abstract disconnect(): Promise<void>;
}

/** Splits user headers from the reserved x-omnibus-* ones. */
export function userHeaders(all: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) {
    if (k.startsWith('x-omnibus-')) continue;
    if (v === undefined || v === null) continue;
    out[k] = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

/** Exponential backoff with full jitter: 100 ms doubling to `maxMs`. */
export function backoff(attempt: number, maxMs = 5_000): number {
  return Math.random() * Math.min(maxMs, 100 * 2 ** Math.min(attempt, 16));
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Parses a non-negative integer query parameter. */
export function numParam(u: URL, name: string): number | undefined {
  const v = u.searchParams.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw err('MQ_ERR_INVALID_URL', `${name} must be a non-negative number, got "${v}"`);
  return n;
}
