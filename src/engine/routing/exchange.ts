/**
 * Exchanges: pure routing tables that map (routing key, headers) to a set of destinations.
 *
 *   type     routes a message to the destinations bound with ...
 *   direct   a binding key equal to the routing key
 *   fanout   any binding key (the key is ignored)
 *   topic    a pattern matching the routing key (AMQP `*`/`#`, see topic-trie.ts)
 *   headers  arguments matching the message headers (`x-match`: all | any | all-with-x | any-with-x)
 *
 * Destinations are generic and compared by identity (SameValueZero, as Map keys): the engine
 * passes interned queue/log/exchange references or their names. An exchange never follows an
 * exchange-to-exchange binding itself; `routeThrough` does, given a lookup.
 *
 * Binding identity is (destination, binding key, arguments), as in AMQP 0-9-1 `queue.bind`:
 * binding the same triple twice is a no-op (`bind` returns false) and one `unbind` removes it.
 * Arguments are compared structurally (key order does not matter). The same destination bound
 * with the same key but different arguments is two bindings; routing still returns it once.
 *
 * Not done here: persistence, durability, permissions, `internal` exchanges, the default
 * exchange's implicit bindings, consistent-hash/delayed-message plugin types, and the AMQP
 * channel errors for a missing destination - all of which belong to the engine.
 */

import { err } from '../../core/errors.js';
import { TopicTrie, validatePattern } from './topic-trie.js';
import type { TopicTrieOptions } from './topic-trie.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';

export type Headers = Readonly<Record<string, unknown>>;

export interface Binding<D> {
  readonly destination: D;
  readonly bindingKey: string;
  readonly args: Headers;
}

/**
 * The contract every exchange type implements. All methods are synchronous and pure with
 * respect to the engine: no I/O, no clocks, no knowledge of other exchanges.
 */
export interface Exchange<D> {
  readonly type: ExchangeType;
  /** Name of the alternate exchange (`alternate-exchange` argument), if any. */
  readonly alternateExchange: string | undefined;
  /**
   * Adds a binding. Returns true if it is new, false if the identical binding already existed
   * (idempotent, like `queue.bind`). Throws MQ_ERR_INVALID_ARGUMENT for invalid headers
   * arguments (unknown `x-match`).
   */
  bind(destination: D, bindingKey: string, args?: Headers): boolean;
  /** Removes the identical binding; returns whether it existed. */
  unbind(destination: D, bindingKey: string, args?: Headers): boolean;
  /** Removes every binding to `destination` (queue deleted); returns how many were removed. */
  unbindDestination(destination: D): number;
  /** Destinations of the matching bindings, each once, in no promised order. */
  route(routingKey: string, headers?: Headers): D[];
  /** All bindings, in the order they were made. */
  bindings(): Binding<D>[];
  /** Number of bindings. */
  readonly size: number;
}

export interface ExchangeOptions {
  /** Alternate exchange name; also read from the `alternate-exchange` declare argument. */
  readonly alternateExchange?: string;
  /** Declare arguments as sent by the client (`alternate-exchange` is honoured). */
  readonly arguments?: Headers;
}

// ---------------------------------------------------------------------------------------------
// Structural keys for arguments (binding identity) and header value equality
// ---------------------------------------------------------------------------------------------

/** A deterministic string for a value: sorted object keys, typed scalars, bytes in hex. */
export function stableKey(v: unknown): string {
  if (v === null) return 'n';
  switch (typeof v) {
    case 'undefined':
      return 'u';
    case 'string':
      return `s${JSON.stringify(v)}`;
    case 'number':
      return Object.is(v, -0) ? 'd0' : `d${String(v)}`;
    case 'bigint':
      return `d${v.toString()}`;
    case 'boolean':
      return v ? 't' : 'f';
    default:
      break;
  }
  if (v instanceof Uint8Array) return `b${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v instanceof Date) return `D${v.getTime()}`;
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableKey(o[k])}`)
      .join(',')}}`;
  }
  return `?${String(v)}`;
}

/**
 * Header value equality for the headers exchange. Numbers compare numerically across
 * number/bigint (AMQP has many integer widths; `1` bound matches `1n` sent), a string equals
 * bytes holding its UTF-8 (a codec may surface AMQP longstr either way), everything else
 * structurally.
 */
export function headerValueEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'number' || ta === 'bigint') && (tb === 'number' || tb === 'bigint')) {
    // Loose equality is exact between number and bigint.
    // eslint-disable-next-line eqeqeq
    return (a as number) == (b as number);
  }
  if (ta === 'string' && b instanceof Uint8Array) return Buffer.from(a as string, 'utf8').equals(b);
  if (tb === 'string' && a instanceof Uint8Array) return Buffer.from(b as string, 'utf8').equals(a);
  return stableKey(a) === stableKey(b);
}

function bindingId(bindingKey: string, args: Headers): string {
  return `${bindingKey}\u0000${stableKey(args)}`;
}

// ---------------------------------------------------------------------------------------------
// Shared binding table
// ---------------------------------------------------------------------------------------------

abstract class BaseExchange<D> implements Exchange<D> {
  abstract readonly type: ExchangeType;
  readonly alternateExchange: string | undefined;
  /** destination -> binding id -> binding; insertion-ordered for `bindings()`. */
  private readonly table = new Map<D, Map<string, Binding<D>>>();
  private count = 0;

  constructor(options: ExchangeOptions = {}) {
    const fromArgs = options.arguments?.['alternate-exchange'];
    const ae = options.alternateExchange ?? (typeof fromArgs === 'string' ? fromArgs : undefined);
    this.alternateExchange = ae === '' ? undefined : ae;
  }

  get size(): number {
    return this.count;
  }

  bind(destination: D, bindingKey: string, args: Headers = {}): boolean {
    this.validate(bindingKey, args);
    const id = bindingId(bindingKey, args);
    let byId = this.table.get(destination);
    if (byId?.has(id) === true) return false;
    if (byId === undefined) {
      byId = new Map();
      this.table.set(destination, byId);
    }
    const binding: Binding<D> = Object.freeze({ destination, bindingKey, args: Object.freeze({ ...args }) });
    byId.set(id, binding);
    this.count++;
    this.added(binding);
    return true;
  }

  unbind(destination: D, bindingKey: string, args: Headers = {}): boolean {
    const byId = this.table.get(destination);
    const id = bindingId(bindingKey, args);
    const binding = byId?.get(id);
    if (byId === undefined || binding === undefined) return false;
    byId.delete(id);
    if (byId.size === 0) this.table.delete(destination);
    this.count--;
    this.removed(binding);
    return true;
  }

  unbindDestination(destination: D): number {
    const byId = this.table.get(destination);
    if (byId === undefined) return 0;
    this.table.delete(destination);
    for (const b of byId.values()) {
      this.count--;
      this.removed(b);
    }
    return byId.size;
  }

  bindings(): Binding<D>[] {
    const out: Binding<D>[] = [];
    for (const byId of this.table.values()) for (const b of byId.values()) out.push(b);
    return out;
  }

  abstract route(routingKey: string, headers?: Headers): D[];
  protected validate(_bindingKey: string, _args: Headers): void {}
  protected abstract added(b: Binding<D>): void;
  protected abstract removed(b: Binding<D>): void;
}

/** Increments a per-destination counter map; returns the map for chaining. */
function inc<D>(m: Map<D, number>, d: D): void {
  m.set(d, (m.get(d) ?? 0) + 1);
}
function dec<D>(m: Map<D, number>, d: D): void {
  const n = (m.get(d) ?? 0) - 1;
  if (n <= 0) m.delete(d);
  else m.set(d, n);
}

// ---------------------------------------------------------------------------------------------
// direct
// ---------------------------------------------------------------------------------------------

/** Exact binding-key equality. O(1) per route plus the size of the result. */
export class DirectExchange<D> extends BaseExchange<D> {
  readonly type = 'direct' as const;
  /** key -> destination -> number of bindings (same key, different args). */
  private readonly byKey = new Map<string, Map<D, number>>();

  route(routingKey: string, _headers?: Headers): D[] {
    const m = this.byKey.get(routingKey);
    return m === undefined ? [] : [...m.keys()];
  }

  protected added(b: Binding<D>): void {
    let m = this.byKey.get(b.bindingKey);
    if (m === undefined) {
      m = new Map();
      this.byKey.set(b.bindingKey, m);
    }
    inc(m, b.destination);
  }

  protected removed(b: Binding<D>): void {
    const m = this.byKey.get(b.bindingKey);
    if (m === undefined) return;
    dec(m, b.destination);
    if (m.size === 0) this.byKey.delete(b.bindingKey);
  }
}

// ---------------------------------------------------------------------------------------------
// fanout
// ---------------------------------------------------------------------------------------------

/** Every bound destination, whatever the key. */
export class FanoutExchange<D> extends BaseExchange<D> {
  readonly type = 'fanout' as const;
  private readonly dests = new Map<D, number>();

  route(_routingKey?: string, _headers?: Headers): D[] {
    return [...this.dests.keys()];
  }

  protected added(b: Binding<D>): void {
    inc(this.dests, b.destination);
  }

  protected removed(b: Binding<D>): void {
    dec(this.dests, b.destination);
  }
}

// ---------------------------------------------------------------------------------------------
// topic
// ---------------------------------------------------------------------------------------------

export interface TopicExchangeOptions extends ExchangeOptions {
  /** Trie options; default AMQP syntax without the MQTT `$` rule (as RabbitMQ's amq.topic). */
  readonly trie?: TopicTrieOptions;
}

/** Wildcard binding keys in a topic trie: route cost depends on the key, not the binding count. */
export class TopicExchange<D> extends BaseExchange<D> {
  readonly type = 'topic' as const;
  private readonly trie: TopicTrie<D>;

  constructor(options: TopicExchangeOptions = {}) {
    super(options);
    this.trie = new TopicTrie<D>(options.trie);
  }

  route(routingKey: string, _headers?: Headers): D[] {
    return this.trie.match(routingKey);
  }

  // Bindings differing only in args share one trie entry via the trie's reference count.
  // Validate before the binding table changes, so a rejected key leaves no trace.
  protected override validate(bindingKey: string): void {
    validatePattern(bindingKey, this.trie.syntax);
  }

  protected added(b: Binding<D>): void {
    this.trie.add(b.bindingKey, b.destination);
  }

  protected removed(b: Binding<D>): void {
    this.trie.remove(b.bindingKey, b.destination);
  }
}

// ---------------------------------------------------------------------------------------------
// headers
// ---------------------------------------------------------------------------------------------

export type XMatch = 'all' | 'any' | 'all-with-x' | 'any-with-x';

const X_MATCH_VALUES: ReadonlySet<string> = new Set(['all', 'any', 'all-with-x', 'any-with-x']);

interface HeadersMatcher<D> {
  readonly destination: D;
  readonly any: boolean;
  /** [name, expected value or PRESENT] pairs, `x-match` removed, `x-` removed unless -with-x. */
  readonly terms: ReadonlyArray<readonly [string, unknown]>;
}

/** Marker for a binding argument that only requires the header to be present. */
const PRESENT: unique symbol = Symbol('present');

/**
 * Matches binding arguments against message headers, as RabbitMQ 3.10+:
 * - `x-match` is `all` (default) or `any`; `all-with-x`/`any-with-x` also compare arguments
 *   whose names start with `x-`, which the plain forms ignore. `x-match` itself never counts.
 * - An argument whose value is null/undefined (AMQP `void`) matches when the header is present
 *   with any value.
 * - `all` with no (counted) arguments matches every message; `any` with none matches nothing.
 * - An unknown `x-match` value is rejected at bind time (MQ_ERR_INVALID_ARGUMENT; RabbitMQ
 *   answers PRECONDITION_FAILED).
 * Routing scans every binding: O(bindings x arguments). Headers exchanges hold few bindings in
 * practice; indexing them is not worth the complexity here.
 */
export class HeadersExchange<D> extends BaseExchange<D> {
  readonly type = 'headers' as const;
  private matchers: HeadersMatcher<D>[] = [];
  private readonly byBinding = new Map<Binding<D>, HeadersMatcher<D>>();

  route(_routingKey: string, headers: Headers = {}): D[] {
    const out = new Set<D>();
    for (const m of this.matchers) {
      if (out.has(m.destination)) continue;
      if (matchHeaders(m, headers)) out.add(m.destination);
    }
    return [...out];
  }

  protected override validate(_bindingKey: string, args: Headers): void {
    const x = args['x-match'];
    if (x !== undefined && (typeof x !== 'string' || !X_MATCH_VALUES.has(x))) {
      throw err(
        'MQ_ERR_INVALID_ARGUMENT',
        `invalid x-match value ${JSON.stringify(stableKey(x))}; expected all, any, all-with-x or any-with-x`,
      );
    }
  }

  protected added(b: Binding<D>): void {
    const xMatch = (b.args['x-match'] as XMatch | undefined) ?? 'all';
    const withX = xMatch.endsWith('-with-x');
    const terms: Array<readonly [string, unknown]> = [];
    for (const [k, v] of Object.entries(b.args)) {
      if (k === 'x-match') continue;
      if (!withX && k.startsWith('x-')) continue;
      terms.push([k, v === null || v === undefined ? PRESENT : v]);
    }
    const m: HeadersMatcher<D> = { destination: b.destination, any: xMatch.startsWith('any'), terms };
    this.byBinding.set(b, m);
    this.matchers.push(m);
  }

  protected removed(b: Binding<D>): void {
    const m = this.byBinding.get(b);
    if (m === undefined) return;
    this.byBinding.delete(b);
    this.matchers = this.matchers.filter((x) => x !== m);
  }
}

function matchHeaders<D>(m: HeadersMatcher<D>, headers: Headers): boolean {
  if (m.any) {
    for (const [k, expected] of m.terms) if (termMatches(headers, k, expected)) return true;
    return false;
  }
  for (const [k, expected] of m.terms) if (!termMatches(headers, k, expected)) return false;
  return true;
}

function termMatches(headers: Headers, k: string, expected: unknown): boolean {
  if (!Object.prototype.hasOwnProperty.call(headers, k)) return false;
  return expected === PRESENT || headerValueEquals(expected, headers[k]);
}

// ---------------------------------------------------------------------------------------------
// factory
// ---------------------------------------------------------------------------------------------

export function createExchange<D>(type: ExchangeType, options: TopicExchangeOptions = {}): Exchange<D> {
  switch (type) {
    case 'direct':
      return new DirectExchange<D>(options);
    case 'fanout':
      return new FanoutExchange<D>(options);
    case 'topic':
      return new TopicExchange<D>(options);
    case 'headers':
      return new HeadersExchange<D>(options);
    default:
      throw err('MQ_ERR_INVALID_ARGUMENT', `unknown exchange type "${String(type)}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// routeThrough: exchange-to-exchange bindings and alternate exchanges
// ---------------------------------------------------------------------------------------------

export interface RouteThroughOptions<D> {
  /** Finds an exchange by name; undefined if it does not exist. */
  readonly lookup: (name: string) => Exchange<D> | undefined;
  /** If `destination` refers to an exchange, its name; undefined for queues/logs. */
  readonly exchangeName: (destination: D) => string | undefined;
}

export interface RouteResult<D> {
  /** Final non-exchange destinations, each once, in discovery order. */
  readonly destinations: D[];
  /** False when the message reached no destination (AMQP `mandatory` returns it). */
  readonly routed: boolean;
  /** Exchanges the message passed through, start first (for tracing and tests). */
  readonly exchanges: string[];
}

/**
 * Routes a publish through `start` and every exchange reachable from it, RabbitMQ-style:
 * - An exchange destination is routed with the same routing key and headers.
 * - Each exchange is visited at most once per publish, so cycles (A->B->A, A->A) terminate and
 *   diamonds (A->B->Q, A->C->Q) deliver once. This is also the whole of the cycle protection:
 *   the number of route() calls is bounded by the number of exchanges.
 * - An exchange's alternate exchange is used when THAT exchange's own bindings match nothing
 *   (RabbitMQ `process_alternate`): if X routes only to exchange Y and Y matches nothing, X's
 *   alternate is not consulted - Y's is.
 * - Dangling references (a bound or alternate exchange that no longer exists) are skipped.
 * Throws MQ_ERR_NOT_FOUND if `start` does not exist (AMQP: 404 on basic.publish).
 */
export function routeThrough<D>(
  start: string,
  routingKey: string,
  headers: Headers | undefined,
  options: RouteThroughOptions<D>,
): RouteResult<D> {
  const first = options.lookup(start);
  if (first === undefined) throw err('MQ_ERR_NOT_FOUND', `no exchange "${start}"`);
  const seen = new Set<string>([start]);
  const work: Array<[string, Exchange<D>]> = [[start, first]];
  const out = new Set<D>();
  const visited: string[] = [];
  const enqueue = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const x = options.lookup(name);
    if (x !== undefined) work.push([name, x]);
  };
  for (let k = 0; k < work.length; k++) {
    const [name, x] = work[k] as [string, Exchange<D>];
    visited.push(name);
    const dests = x.route(routingKey, headers);
    if (dests.length === 0 && x.alternateExchange !== undefined) enqueue(x.alternateExchange);
    for (const d of dests) {
      const xName = options.exchangeName(d);
      if (xName === undefined) out.add(d);
      else enqueue(xName);
    }
  }
  const destinations = [...out];
  return { destinations, routed: destinations.length > 0, exchanges: visited };
}
