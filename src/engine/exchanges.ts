/**
 * Exchanges and bindings over the engine's topics: one publish routed into many queues/logs.
 *
 * Destinations are topic names (a queue is a topic with one group) or other exchanges
 * (exchange-to-exchange bindings). Routing itself is the pure code in routing/exchange.ts; this
 * module owns the registry, persists durable declarations and bindings in the engine catalogue,
 * and appends the routed message to every destination topic.
 *
 * Fan-out stores one copy per destination topic (LavinMQ's choice, not RabbitMQ's shared
 * message store): a publish to N queues costs N appends, but every queue stays an independent
 * log that can be trimmed, retained and replicated on its own. Protocol naming (AMQP's default
 * exchange, `amq.*`) belongs to the protocol sessions, not here.
 */
import { err } from '../core/errors.js';
import { createExchange, routeThrough, type Exchange, type ExchangeType, type Headers } from './routing/exchange.js';
import type { RecordInput } from './record.js';
import type { PartitionStore } from './storage/types.js';
import { appendJson } from './storage/json-log.js';

export interface ExchangeDeclaration {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

/** A binding destination: a topic (queue/log) or an exchange. */
export type Destination = { kind: 'topic'; name: string } | { kind: 'exchange'; name: string };

interface BindingRecord {
  source: string;
  dest: Destination;
  key: string;
  args: Record<string, unknown>;
}

type ExchangeCatalogRecord =
  | { t: 'exchange'; decl: ExchangeDeclaration }
  | { t: 'drop-exchange'; name: string }
  | { t: 'bind'; b: BindingRecord }
  | { t: 'unbind'; b: BindingRecord };

export interface RoutedPublish {
  /** Topics the message was appended to. */
  topics: string[];
  /** False when no binding matched (AMQP mandatory → basic.return). */
  routed: boolean;
}

/** What the registry needs from the engine. */
export interface ExchangeHost {
  publish(topic: string, records: readonly RecordInput[]): Promise<unknown>;
  topicExists(name: string): boolean;
  /** False for transient topics (deleted on restart): bindings to them are not persisted. */
  topicDurable(name: string): boolean;
}

const destKey = (d: Destination) => (d.kind === 'topic' ? 't:' : 'x:') + d.name;

export class ExchangeRegistry {
  readonly #exchanges = new Map<string, { decl: ExchangeDeclaration; x: Exchange<string> }>();
  /** Durable bindings, by identity, so they can be re-persisted on snapshot. */
  readonly #durableBindings = new Map<string, BindingRecord>();

  constructor(
    readonly host: ExchangeHost,
    readonly log: PartitionStore | undefined,
  ) {}

  /** Replays the exchange catalogue (called once on open). */
  recover(records: readonly unknown[]): void {
    for (const r of records as ExchangeCatalogRecord[]) {
      if (r.t === 'exchange') this.#add(r.decl);
      else if (r.t === 'drop-exchange') this.#exchanges.delete(r.name);
      else if (r.t === 'bind') this.#exchanges.get(r.b.source)?.x.bind(destKey(r.b.dest), r.b.key, r.b.args);
      else this.#exchanges.get(r.b.source)?.x.unbind(destKey(r.b.dest), r.b.key, r.b.args);
    }
  }

  #add(decl: ExchangeDeclaration): Exchange<string> {
    const alt = decl.arguments['alternate-exchange'];
    const x = createExchange<string>(decl.type, typeof alt === 'string' ? { alternateExchange: alt } : {});
    this.#exchanges.set(decl.name, { decl, x });
    return x;
  }

  get(name: string): ExchangeDeclaration | undefined {
    return this.#exchanges.get(name)?.decl;
  }

  names(): string[] {
    return [...this.#exchanges.keys()];
  }

  /**
   * Declares an exchange. Redeclaring with the same type and flags is a no-op; with different
   * ones it throws MQ_ERR_EXISTS (AMQP 406 PRECONDITION_FAILED).
   */
  async declare(decl: ExchangeDeclaration): Promise<void> {
    const existing = this.#exchanges.get(decl.name);
    if (existing) {
      const e = existing.decl;
      if (e.type !== decl.type || e.durable !== decl.durable || e.autoDelete !== decl.autoDelete || e.internal !== decl.internal) {
        throw err('MQ_ERR_EXISTS', `exchange "${decl.name}" exists with type ${e.type}, durable=${e.durable}, auto_delete=${e.autoDelete}, internal=${e.internal}`);
      }
      return;
    }
    this.#add(decl);
    if (decl.durable) await this.#persist({ t: 'exchange', decl });
  }

  async delete(name: string, opts: { ifUnused?: boolean } = {}): Promise<boolean> {
    const e = this.#exchanges.get(name);
    if (!e) return false;
    if (opts.ifUnused && e.x.size > 0) throw err('MQ_ERR_PRECONDITION', `exchange "${name}" has bindings`);
    this.#exchanges.delete(name);
    // Bindings that point at the deleted exchange go too.
    for (const other of this.#exchanges.values()) other.x.unbindDestination(destKey({ kind: 'exchange', name }));
    if (e.decl.durable) await this.#persist({ t: 'drop-exchange', name });
    return true;
  }

  async bind(source: string, dest: Destination, key: string, args: Record<string, unknown> = {}): Promise<void> {
    const e = this.#exchanges.get(source);
    if (!e) throw err('MQ_ERR_NOT_FOUND', `no exchange "${source}"`);
    if (dest.kind === 'exchange' && !this.#exchanges.has(dest.name)) throw err('MQ_ERR_NOT_FOUND', `no exchange "${dest.name}"`);
    if (dest.kind === 'topic' && !this.host.topicExists(dest.name)) throw err('MQ_ERR_NOT_FOUND', `no queue "${dest.name}"`);
    const added = e.x.bind(destKey(dest), key, args);
    // As in RabbitMQ, a binding is durable only when both ends are: a binding to a transient
    // topic must not be replayed after a restart (it would recreate the topic as a durable one).
    if (added && e.decl.durable && this.#durableDest(dest)) await this.#persist({ t: 'bind', b: { source, dest, key, args } });
  }

  #durableDest(d: Destination): boolean {
    return d.kind === 'topic' ? this.host.topicDurable(d.name) : (this.#exchanges.get(d.name)?.decl.durable ?? false);
  }

  async unbind(source: string, dest: Destination, key: string, args: Record<string, unknown> = {}): Promise<boolean> {
    const e = this.#exchanges.get(source);
    if (!e) throw err('MQ_ERR_NOT_FOUND', `no exchange "${source}"`);
    const removed = e.x.unbind(destKey(dest), key, args);
    if (removed && e.decl.durable && this.#durableDest(dest)) await this.#persist({ t: 'unbind', b: { source, dest, key, args } });
    if (removed && e.decl.autoDelete && e.x.size === 0) await this.delete(source);
    return removed;
  }

  /** Removes every binding to a deleted topic, durably for the durable ones. */
  async forgetTopic(name: string, wasDurable: boolean): Promise<void> {
    const dk = destKey({ kind: 'topic', name });
    const dropped: BindingRecord[] = [];
    for (const [source, e] of this.#exchanges) {
      for (const b of e.x.bindings()) if (b.destination === dk) dropped.push({ source, dest: { kind: 'topic', name }, key: b.bindingKey, args: { ...b.args } });
      e.x.unbindDestination(dk);
    }
    if (!wasDurable) return;
    for (const b of dropped) if (this.#exchanges.get(b.source)?.decl.durable) await this.#persist({ t: 'unbind', b });
  }

  /**
   * Recovery helper: drops bindings (already replayed) whose topic no longer exists, e.g. a
   * transient topic deleted by the restart, and persists the removal.
   */
  async pruneMissingTopics(): Promise<void> {
    for (const [source, e] of this.#exchanges) {
      for (const b of e.x.bindings()) {
        if (!b.destination.startsWith('t:')) continue;
        const name = b.destination.slice(2);
        if (this.host.topicExists(name)) continue;
        e.x.unbind(b.destination, b.bindingKey, b.args);
        if (e.decl.durable) await this.#persist({ t: 'unbind', b: { source, dest: { kind: 'topic', name }, key: b.bindingKey, args: { ...b.args } } });
      }
    }
  }

  /** Destination topics for a publish, following exchange-to-exchange bindings and alternates. */
  route(exchange: string, routingKey: string, headers?: Headers): { topics: string[]; routed: boolean } {
    const r = routeThrough<string>(exchange, routingKey, headers, {
      lookup: (n) => this.#exchanges.get(n)?.x,
      exchangeName: (d) => (d.startsWith('x:') ? d.slice(2) : undefined),
    });
    return { topics: r.destinations.map((d) => d.slice(2)), routed: r.routed };
  }

  /** Routes and appends `records` to every destination; resolves when all are durable. */
  async publish(exchange: string, routingKey: string, records: readonly RecordInput[], routingHeaders?: Headers): Promise<RoutedPublish> {
    // A binding can outlive its topic for a moment (deleted by another protocol mid-route); a
    // publish must never re-create a deleted queue.
    const topics = this.route(exchange, routingKey, routingHeaders).topics.filter((t) => this.host.topicExists(t));
    await Promise.all(topics.map((t) => this.host.publish(t, records)));
    return { topics, routed: topics.length > 0 };
  }

  async #persist(r: ExchangeCatalogRecord): Promise<void> {
    if (!this.log) return;
    appendJson(this.log, r);
    await this.log.durable();
  }
}
