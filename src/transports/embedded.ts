/**
 * memory:// and file:// — the Transport API over the embedded engine. This is the reference
 * implementation the conformance suite is written against.
 *
 *   connect()                                   in memory, nothing persists
 *   connect('memory://')                        same
 *   connect('file://./data')                    durable in ./data, fsync 'always' (confirm after fsync)
 *   connect('file:///var/lib/omnibus?fsync=interval&fsyncIntervalMs=100')
 *
 * URL query parameters: fsync=always|interval|never, fsyncIntervalMs=N, partitions=N (for
 * auto-created topics), segmentBytes=N, prefault=1 (file://: touch the 64 MiB of write buffers at
 * open instead of during the first 64 MiB of appends; `omnibus serve` sets it).
 */
import { err } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { registerTransport, type ConnectOptions } from '../core/registry.js';
import type { BatchOptions, Capabilities, Delivery, OutgoingMessage, PublishOptions, SubscribeOptions, Subscription, Transport } from '../core/types.js';
import { batchLimit, readBatches } from '../core/batch.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import type { Consumer, ConsumerSink, DeliveryImpl, Group } from '../engine/group.js';
import type { DecodedRecord, RecordInput } from '../engine/record.js';
import { compileSelector } from '../engine/selector/index.js';
import { DEFAULT_GROUP } from '../engine/topic.js';
import type { FsyncPolicy, StorageEngine } from '../engine/storage/types.js';

export interface EmbeddedOptions extends ConnectOptions {
  clock?: Clock;
  onError?: (e: unknown) => void;
}

const MAX_PAYLOAD = 64 * 1024 * 1024;

export class EmbeddedTransport implements Transport {
  readonly scheme: string;
  readonly capabilities: Capabilities;
  readonly engine: Engine;
  readonly #subs = new Set<EmbeddedSubscription>();
  #closing: Promise<void> | undefined;

  constructor(scheme: string, engine: Engine) {
    this.scheme = scheme;
    this.engine = engine;
    this.capabilities = {
      persistent: engine.storage.persistent,
      consumerGroups: true,
      ordering: 'partition',
      replay: true,
      nativeDelay: true,
      nativeDeadLetter: true,
      priorities: true,
      leases: true,
      exactlyOnce: false,
      maxPayload: engine.maxMessageBytes,
    };
  }

  readonly #inflight = new Set<Promise<unknown>>();

  async publish(topic: string, messages: readonly OutgoingMessage[], opts?: PublishOptions): Promise<void> {
    if (this.#closing) throw err('MQ_ERR_CLOSED', 'the transport is closed');
    // close() waits for publishes already issued: they resolve (confirmed) rather than fail.
    const p = this.#publish(topic, messages, opts);
    this.#inflight.add(p);
    try {
      await p;
    } finally {
      this.#inflight.delete(p);
    }
  }

  async #publish(topic: string, messages: readonly OutgoingMessage[], opts?: PublishOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    if (typeof topic !== 'string' || topic.length === 0) throw err('MQ_ERR_INVALID_ARGUMENT', 'topic must be a non-empty string');
    const now = this.engine.clock.now();
    const records: RecordInput[] = new Array<RecordInput>(messages.length);
    for (let i = 0; i < messages.length; i++) records[i] = toRecord(messages[i]!, now);
    await this.engine.publish(topic, records);
  }

  subscribe(topic: string, opts: SubscribeOptions = {}): Subscription {
    if (this.#closing) throw err('MQ_ERR_CLOSED', 'the transport is closed');
    const prefetch = opts.prefetch ?? 100;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw err('MQ_ERR_INVALID_ARGUMENT', `prefetch must be an integer >= 1, got ${prefetch}`);
    const filter = opts.selector !== undefined && opts.selector.trim() !== '' ? selectorFilter(opts.selector) : undefined;
    const sub = new EmbeddedSubscription(this, topic, opts.group ?? DEFAULT_GROUP, prefetch, opts, filter);
    this.#subs.add(sub);
    return sub;
  }

  /** @internal */
  forget(sub: EmbeddedSubscription): void {
    this.#subs.delete(sub);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inflight]);
      await Promise.all([...this.#subs].map((s) => s.close()));
      await this.engine.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function toRecord(m: OutgoingMessage, now: number): RecordInput {
  const body = typeof m.body === 'string' ? Buffer.from(m.body) : m.body;
  if (!(body instanceof Uint8Array)) throw err('MQ_ERR_INVALID_ARGUMENT', 'message body must be a Uint8Array or a string');
  const priority = m.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw err('MQ_ERR_INVALID_ARGUMENT', `priority must be an integer 0..255, got ${priority}`);
  const timestamp = m.timestamp ?? now;
  return {
    body,
    key: m.key,
    headers: m.headers,
    timestamp,
    priority,
    expiresAt: m.ttlMs !== undefined ? now + m.ttlMs : undefined,
    deliverAt: m.delayMs !== undefined && m.delayMs > 0 ? now + m.delayMs : undefined,
  };
}

const DONE: IteratorResult<Delivery> = { done: true, value: undefined };

/** Compiles a JMS selector into a record filter (headers are strings: numeric ones compare as numbers). */
function selectorFilter(text: string): (r: DecodedRecord) => boolean {
  const sel = compileSelector(text, { convertNumericStrings: true });
  return (r) =>
    sel.matches((name: string): unknown => {
      switch (name) {
        case 'JMSPriority':
          return r.priority;
        case 'JMSTimestamp':
          return r.timestamp;
        case 'JMSMessageID':
          return String(r.offset);
        case 'JMSXGroupID':
          return r.key ?? null;
        default:
          return Object.hasOwn(r.headers, name) ? r.headers[name] : null;
      }
    });
}

/**
 * A subscription is one consumer in its group. Deliveries are pushed by the group into `#buf`
 * (never more than `prefetch` unsettled), and pulled by the async iterator.
 */
class EmbeddedSubscription implements Subscription, ConsumerSink, AsyncIterator<Delivery> {
  readonly topic: string;
  readonly group: string;
  readonly prefetch: number;
  /**
   * Deliveries pushed but not yet taken: a ring of `prefetch` slots (the group never pushes more
   * than prefetch unsettled). An array with a moving head grew without bound here — refills arrive
   * before it drains — and its copies were promoted to the old generation: dequeue ran at half speed.
   */
  #ring: (DeliveryImpl | undefined)[];
  #head = 0;
  #count = 0;
  #waiter: ((r: IteratorResult<Delivery>) => void) | undefined;
  #failer: ((e: unknown) => void) | undefined;
  /** A batches() reader waiting for the ring to fill: push and close wake it. */
  #arrived: (() => void) | undefined;
  #consumer: Consumer | undefined;
  #group: Group | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #error: unknown;
  readonly #ready: Promise<void>;
  readonly #onAbort: () => void;
  readonly #signal: AbortSignal | undefined;

  constructor(
    readonly transport: EmbeddedTransport,
    topic: string,
    group: string,
    prefetch: number,
    opts: SubscribeOptions,
    readonly filter?: (r: DecodedRecord) => boolean,
  ) {
    this.topic = topic;
    this.group = group;
    this.prefetch = prefetch;
    this.#ring = new Array<DeliveryImpl | undefined>(prefetch).fill(undefined);
    this.#signal = opts.signal;
    this.#onAbort = () => void this.close();
    if (opts.signal?.aborted) {
      this.#closed = true;
      this.#ready = Promise.resolve();
      return;
    }
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#ready = transport.engine
      .group(topic, group, {
        leaseMs: opts.leaseMs,
        maxAttempts: opts.maxAttempts,
        deadLetter: opts.deadLetterTopic !== undefined ? { topic: opts.deadLetterTopic } : undefined,
        // 'latest' means "after what was published before subscribe() returned", captured now,
        // not when the (asynchronous) group creation completes.
        startAt: opts.from === 'latest' ? transport.engine.laneEnds(topic) : 'earliest',
      })
      .then((g) => {
        if (this.#closed) return;
        this.#group = g;
        this.#consumer = g.addConsumer(this);
      })
      .catch((e: unknown) => {
        this.#error = e;
        this.#closed = true;
        this.#wakeDone();
      });
  }

  drained(): boolean {
    return this.#count === 0;
  }

  push(d: DeliveryImpl): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      this.#failer = undefined;
      w({ done: false, value: d as unknown as Delivery });
      return;
    }
    if (this.#count === this.#ring.length) {
      // Not reached while the group honours prefetch; grow in order rather than overwrite.
      const grown = new Array<DeliveryImpl | undefined>(this.#ring.length * 2).fill(undefined);
      for (let i = 0; i < this.#count; i++) grown[i] = this.#ring[(this.#head + i) % this.#ring.length];
      this.#ring = grown;
      this.#head = 0;
    }
    this.#ring[(this.#head + this.#count) % this.#ring.length] = d;
    this.#count++;
    // The batch reader resumes in a microtask: what the group pushes until then joins its batch.
    const a = this.#arrived;
    if (a) {
      this.#arrived = undefined;
      a();
    }
  }

  next(): Promise<IteratorResult<Delivery>> {
    if (this.#count > 0) {
      const d = this.#ring[this.#head]!;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#ring.length;
      this.#count--;
      return Promise.resolve({ done: false, value: d as unknown as Delivery });
    }
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      return Promise.reject(e);
    }
    if (this.#closed) return Promise.resolve(DONE);
    if (this.#waiter || this.#arrived) return Promise.reject(err('MQ_ERR_INVALID_ARGUMENT', 'next() called again before the previous call resolved'));
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failer = reject;
    });
  }

  batches(opts?: BatchOptions): AsyncGenerator<readonly Delivery[], void, undefined> {
    // The limit is checked here, so a bad max throws at the call rather than at the first step.
    return readBatches(batchLimit(opts), this.#batchStep, () => this.close());
  }

  readonly #batchStep = (max: number): Delivery[] | Promise<void> | null => {
    if (this.#count > 0) return this.#take(max);
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      throw e;
    }
    if (this.#closed) return null;
    if (this.#waiter || this.#arrived) throw err('MQ_ERR_INVALID_ARGUMENT', 'another reader of this subscription is already waiting');
    return new Promise<void>((resolve) => {
      this.#arrived = resolve;
    });
  };

  /** Up to `max` deliveries from the ring, oldest first, as a new array (the application may keep it). */
  #take(max: number): Delivery[] {
    const ring = this.#ring;
    const n = Math.min(this.#count, max);
    const out = new Array<Delivery>(n);
    let h = this.#head;
    for (let i = 0; i < n; i++) {
      out[i] = ring[h] as unknown as Delivery;
      ring[h] = undefined;
      h = h + 1 === ring.length ? 0 : h + 1;
    }
    this.#head = h;
    this.#count -= n;
    return out;
  }

  /** `break` out of for-await calls return(): the subscription closes and releases its messages. */
  async return(): Promise<IteratorResult<Delivery>> {
    await this.close();
    return DONE;
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this;
  }

  #wakeDone(): void {
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
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#signal?.removeEventListener('abort', this.#onAbort);
      await this.#ready;
      // Deliveries pushed but not yet taken are unsettled leases: removeConsumer returns them.
      this.#ring.fill(undefined);
      this.#head = 0;
      this.#count = 0;
      if (this.#group && this.#consumer) this.#group.removeConsumer(this.#consumer);
      this.transport.forget(this);
      this.#wakeDone();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

// -----------------------------------------------------------------------------------------------
// Registration
// -----------------------------------------------------------------------------------------------

/** `file://./data` → './data'; `file:///abs` → '/abs'; `file://data` → 'data'. */
export function pathFromFileUrl(u: URL): string {
  const path = decodeURIComponent(u.pathname);
  if (u.host === '') return path;
  return u.host + path;
}

function engineOptionsFromUrl(u: URL, storage: StorageEngine, o: EmbeddedOptions): EngineOptions {
  const q = u.searchParams;
  const fsync = q.get('fsync');
  if (fsync !== null && fsync !== 'always' && fsync !== 'interval' && fsync !== 'never') {
    throw err('MQ_ERR_INVALID_URL', `fsync must be always, interval or never, got "${fsync}"`);
  }
  const num = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw err('MQ_ERR_INVALID_URL', `${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  const opts: EngineOptions = { storage };
  if (fsync !== null) opts.fsync = fsync as FsyncPolicy;
  const iv = num('fsyncIntervalMs');
  if (iv !== undefined) opts.fsyncIntervalMs = iv;
  const parts = num('partitions');
  if (parts !== undefined) opts.defaultPartitions = parts;
  const seg = num('segmentBytes');
  if (seg !== undefined) opts.segmentBytes = seg;
  const maxb = num('maxMessageBytes');
  opts.maxMessageBytes = maxb ?? MAX_PAYLOAD;
  if (o.clock) opts.clock = o.clock;
  if (o.onError) opts.onError = o.onError;
  return opts;
}

registerTransport('memory', async (u, o: EmbeddedOptions) => {
  const { MemoryStorage } = await import('../engine/storage/memory.js');
  const engine = await Engine.open(engineOptionsFromUrl(u, new MemoryStorage(), o));
  return new EmbeddedTransport('memory', engine);
});

registerTransport('file', async (u, o: EmbeddedOptions) => {
  const { FileStorage } = await import('../engine/storage/file/index.js');
  const dir = pathFromFileUrl(u);
  if (dir === '') throw err('MQ_ERR_INVALID_URL', 'file:// needs a directory, e.g. file://./data');
  const prefault = u.searchParams.get('prefault');
  if (prefault !== null && prefault !== '0' && prefault !== '1') throw err('MQ_ERR_INVALID_URL', `prefault must be 0 or 1, got "${prefault}"`);
  const storage = await FileStorage.open(dir, { prefault: prefault === '1' });
  try {
    const engine = await Engine.open(engineOptionsFromUrl(u, storage, o));
    return new EmbeddedTransport('file', engine);
  } catch (e) {
    await storage.close();
    throw e;
  }
});
