/**
 * Small helpers for testing code that uses a Transport: polling, reading a subscription with
 * timeouts, and generating unique names and payloads. Used by the conformance suite
 * (./conformance.ts) and exported for transport authors and users (`omnibus/testing`).
 *
 * Nothing here sleeps to wait for something that can be observed: `waitFor` polls, and reads
 * race the subscription's iterator against a deadline.
 */
import { randomBytes } from 'node:crypto';
import { isOmnibusError } from '../core/errors.js';
import type { Delivery, OutgoingMessage, Subscription } from '../core/types.js';

/** How long helpers wait for an expected event unless told otherwise. */
export const DEFAULT_TIMEOUT_MS = 20_000;

export interface WaitForOptions {
  /** Give up after this long; default 20 000 ms. */
  timeoutMs?: number;
  /** Poll interval; default 10 ms. */
  intervalMs?: number;
  /** Describes what was awaited, for the timeout error. */
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value and resolves with that value.
 * Rejects if `predicate` throws, or after `timeoutMs`.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v as NonNullable<T>;
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: ${opts.message ?? 'condition'} not met within ${timeoutMs} ms`);
    }
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/** Resolves after `ms` real milliseconds. For bounded waits only: poll for anything observable. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const TIMED_OUT: unique symbol = Symbol('timed out');

async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, ms));
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads one subscription through a single iterator, with timeouts. A read that times out leaves
 * its `next()` pending and the following read picks it up, so no delivery is lost between reads.
 * Get one with `reader(sub)`: there is one reader per subscription.
 */
export class DeliveryReader {
  readonly #it: AsyncIterator<Delivery>;
  #pending: Promise<IteratorResult<Delivery>> | undefined;
  #ended = false;

  constructor(sub: AsyncIterable<Delivery>) {
    this.#it = sub[Symbol.asyncIterator]();
  }

  /** True once the iteration has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * The next delivery; `null` if the iteration has ended; `undefined` if nothing arrived within
   * `ms` (the read stays pending for the next call).
   */
  async poll(ms: number): Promise<Delivery | null | undefined> {
    if (this.#ended) return null;
    if (!this.#pending) {
      const p = this.#it.next();
      void p.catch(() => undefined); // observed below; never an unhandled rejection
      this.#pending = p;
    }
    let r: IteratorResult<Delivery> | typeof TIMED_OUT;
    try {
      r = await within(this.#pending, ms);
    } catch (e) {
      this.#pending = undefined;
      throw e;
    }
    if (r === TIMED_OUT) return undefined;
    this.#pending = undefined;
    if (r.done) {
      this.#ended = true;
      return null;
    }
    return r.value;
  }

  /** The next delivery; throws if none arrives within `timeoutMs` or the iteration ends. */
  async next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Delivery> {
    const d = await this.poll(timeoutMs);
    if (d === null) throw new Error('the subscription ended while a delivery was expected');
    if (d === undefined) throw new Error(`no delivery within ${timeoutMs} ms`);
    return d;
  }

  /**
   * Waits until nothing is delivered for `ms` and returns what was delivered meanwhile (settled
   * with `settle`, default `release`): `[]` means quiet. Stops early if the iteration ends.
   */
  async quiet(ms: number, settle: (d: Delivery) => Promise<void> = release): Promise<Delivery[]> {
    const got: Delivery[] = [];
    for (;;) {
      const d = await this.poll(ms);
      if (d === undefined || d === null) return got;
      got.push(d);
      await settle(d);
    }
  }

  /**
   * Waits for the iteration to end, settling whatever is still delivered meanwhile with `settle`
   * (default `release`). Throws if it has not ended within `timeoutMs`. Returns those deliveries.
   */
  async end(timeoutMs = DEFAULT_TIMEOUT_MS, settle: (d: Delivery) => Promise<void> = release): Promise<Delivery[]> {
    const deadline = Date.now() + timeoutMs;
    const got: Delivery[] = [];
    for (;;) {
      const d = await this.poll(deadline - Date.now());
      if (d === null) return got;
      if (d === undefined) throw new Error(`the subscription did not end within ${timeoutMs} ms`);
      got.push(d);
      await settle(d);
    }
  }
}

/**
 * Nack, ignoring MQ_ERR_LEASE_LOST: a delivery still handed out while its subscription closes
 * has lost (or is losing) its lease and will be redelivered anyway.
 */
export async function release(d: Delivery): Promise<void> {
  try {
    await d.nack();
  } catch (e) {
    if ((e as { code?: unknown } | null)?.code !== 'MQ_ERR_LEASE_LOST') throw e;
  }
}

const readers = new WeakMap<object, DeliveryReader>();

/** The reader of `sub` (created on first use; the same one afterwards). */
export function reader(sub: AsyncIterable<Delivery>): DeliveryReader {
  let r = readers.get(sub);
  if (!r) {
    r = new DeliveryReader(sub);
    readers.set(sub, r);
  }
  return r;
}

export interface CollectOptions {
  /** Overall deadline; default 20 000 ms. */
  timeoutMs?: number;
  /** What to do with each delivery (duplicates included); default 'ack'. */
  settle?: 'ack' | 'none';
  /**
   * Drop duplicate deliveries (same `dedupeKey`) instead of failing on them; default true.
   * At-least-once transports redeliver; pass false only for exactly-once transports.
   */
  dedupe?: boolean;
  /** Identity of a message for deduplication; default `topic` + `id`. */
  dedupeKey?: (d: Delivery) => string;
  /** Keys already collected (shared across calls to read in batches); updated in place. */
  seen?: Set<string>;
  /** Called for every distinct delivery, in arrival order, before it is settled. */
  onDelivery?: (d: Delivery) => void;
  /**
   * Treat an ack that fails with MQ_ERR_LEASE_LOST as fine: the message is redelivered (and
   * deduplicated). Right where the broker goes away mid-run, wrong anywhere else; default false.
   */
  leaseLostOk?: boolean;
}

/**
 * Reads until `n` distinct messages have arrived on `subs` (one subscription or several read
 * concurrently) and returns them in arrival order. Throws with a count on timeout.
 */
export async function collect(subs: Subscription | readonly Subscription[], n: number, opts: CollectOptions = {}): Promise<Delivery[]> {
  const list: readonly Subscription[] = Array.isArray(subs) ? subs : [subs as Subscription];
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const dedupe = opts.dedupe ?? true;
  const settle = opts.settle ?? 'ack';
  const keyOf = opts.dedupeKey ?? ((d: Delivery) => `${d.topic}\u0000${d.id}`);
  const seen = opts.seen ?? new Set<string>();
  const deadline = Date.now() + timeoutMs;
  const out: Delivery[] = [];
  let failure: unknown;

  const work = async (sub: Subscription): Promise<void> => {
    const r = reader(sub);
    while (out.length < n && failure === undefined) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      // Short slices so that every worker notices promptly when the others finished the job.
      const d = await r.poll(Math.min(left, 200));
      if (d === null) return;
      if (d === undefined) continue;
      const k = keyOf(d);
      const dup = seen.has(k);
      if (dup && !dedupe) {
        failure ??= new Error(`duplicate delivery of message ${d.id} on ${d.topic} (attempt ${d.attempt}) from an exactly-once transport`);
      }
      if (!dup) {
        seen.add(k);
        out.push(d);
        opts.onDelivery?.(d);
      }
      if (settle === 'ack') {
        try {
          await d.ack();
        } catch (e) {
          if (!(opts.leaseLostOk === true && isOmnibusError(e) && e.code === 'MQ_ERR_LEASE_LOST')) throw e;
        }
      }
    }
  };
  await Promise.all(list.map(work));
  if (failure !== undefined) throw failure;
  if (out.length < n) {
    throw new Error(`collected ${out.length} of ${n} messages within ${timeoutMs} ms` + (list.every((s) => reader(s).ended) ? ' (the subscription ended)' : ''));
  }
  return out;
}

// ---- names and payloads ----

/** 16 random hex digits. */
export function randomId(): string {
  return randomBytes(8).toString('hex');
}

/** `prefix-<random>`: a topic or group name no other test uses. Letters, digits and '-' only. */
export function uniqueName(prefix = 'omnibus-test'): string {
  return `${prefix}-${randomId()}`;
}

/**
 * `n` text messages with bodies `<prefix>-<i>` and headers `{ test: <random>, seq: <i> }`
 * (Watermill's payload + metadata). `key` picks a key per index.
 */
export function textMessages(n: number, opts: { prefix?: string; key?: (i: number) => string | undefined } = {}): OutgoingMessage[] {
  const prefix = opts.prefix ?? `m${randomId().slice(0, 6)}`;
  const out: OutgoingMessage[] = [];
  for (let i = 0; i < n; i++) {
    const m: OutgoingMessage = { body: `${prefix}-${i}`, headers: { test: randomId(), seq: String(i) } };
    const key = opts.key?.(i);
    if (key !== undefined) m.key = key;
    out.push(m);
  }
  return out;
}

/** Every byte value 0..255 once, in order. */
export function allByteValues(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

/** `size` bytes of a deterministic, non-repeating-looking pattern (an LCG seeded by `seed`). */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** UTF-8 text of a body. */
export function textOf(body: Uint8Array): string {
  return decoder.decode(body);
}

/** The bytes an OutgoingMessage body is sent as (strings are UTF-8). */
export function bytesOf(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body;
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
