/**
 * State shared by every STOMP connection of one engine: options, users, client ids in use,
 * active durable subscriptions, and per-queue consumer coordination (exclusive consumers and
 * JMSXGroupID message groups). One per listener.
 *
 * Message groups and exclusive consumers live here, not in the engine: a queue's STOMP consumers
 * each carry a per-consumer filter (group.ts ConsumerSink.filter) that consults QueueState.
 *   - exclusive: while a queue has an `activemq.exclusive:true` consumer, the first one is the
 *     owner; every other STOMP consumer of that queue reports prefetch 0 (standby, no look-ahead
 *     cost) and keeps what it already holds. When the owner leaves the next one takes over.
 *   - groups: the first consumer offered a message of group G (that matches its selector) owns G
 *     until it leaves; other consumers' filters refuse G's messages. A message whose owner has no
 *     credit moves to the group's redelivery list until the owner acks (memory: one record per
 *     waiting grouped message), so per-group order holds while other groups keep flowing.
 *   Consumers of the same queue through other protocols (AMQP, RESP) do not see these rules.
 */
import { randomBytes } from 'node:crypto';
import type { Engine, GroupOptions } from '../../../engine/engine.js';
import type { Group } from '../../../engine/group.js';
import { DEFAULT_GROUP } from '../../../engine/topic.js';
import { DEFAULT_STOMP_LIMITS, type StompParserLimits } from '../codec/parser.js';
import { TOPIC_EXCHANGE } from './destination.js';

export interface StompBrokerOptions {
  /** user → password; empty or absent = no authentication (any login accepted). */
  users?: ReadonlyMap<string, string> | undefined;
  /** Redeliveries before a message goes to the dead-letter queue (ActiveMQ default 6). */
  maxRedeliveries?: number;
  /** Dead-letter queue per source queue/subscription topic (default ActiveMQ.DLQ for all); undefined = drop. */
  deadLetterQueue?: (engineTopic: string) => string | undefined;
  /** Prefetch of a SUBSCRIBE without activemq.prefetchSize (ActiveMQ's queue default 1000). */
  defaultPrefetch?: number;
  /** Smallest heart-beat interval the server agrees to, either direction (ms). */
  minHeartbeatMs?: number;
  /** Unsent bytes per connection above which the server stops reading it. */
  outputHighWater?: number;
  /** Close connections that send no CONNECT within this time. */
  connectTimeoutMs?: number;
  limits?: Partial<StompParserLimits>;
  maxConnections?: number;
  log?: (line: string) => void;
}

export interface ResolvedOptions {
  users: ReadonlyMap<string, string>;
  maxRedeliveries: number;
  deadLetterQueue: (engineTopic: string) => string | undefined;
  defaultPrefetch: number;
  minHeartbeatMs: number;
  outputHighWater: number;
  connectTimeoutMs: number;
  limits: StompParserLimits;
  maxConnections: number;
  log: (line: string) => void;
}

/** Engine lease for STOMP deliveries: STOMP has no lease, so ~24 days (below setTimeout's 2^31 ms cap). */
export const STOMP_LEASE_MS = 24 * 24 * 3600 * 1000;
const ENGINE_DEFAULT_LEASE_MS = 30_000;

/** What QueueState needs of a consumer. */
export interface QueueMember {
  readonly exclusive: boolean;
  /** Re-run the group's pump when this member may receive again. */
  readonly group: Group;
}

export class QueueState {
  readonly members: QueueMember[] = [];
  readonly groupOwner = new Map<string, QueueMember>();

  owner(): QueueMember | undefined {
    for (const m of this.members) if (m.exclusive) return m;
    return undefined;
  }

  active(m: QueueMember): boolean {
    const o = this.owner();
    return o === undefined || o === m;
  }

  /** Group ownership check (and claim when unowned). */
  acceptsGroup(m: QueueMember, groupId: string): boolean {
    const o = this.groupOwner.get(groupId);
    if (o === undefined) {
      this.groupOwner.set(groupId, m);
      return true;
    }
    return o === m;
  }

  add(m: QueueMember): void {
    this.members.push(m);
  }

  remove(m: QueueMember): void {
    const before = this.owner();
    const i = this.members.indexOf(m);
    if (i >= 0) this.members.splice(i, 1);
    for (const [g, o] of this.groupOwner) if (o === m) this.groupOwner.delete(g);
    if (before !== this.owner()) for (const x of this.members) x.group.schedulePump();
  }
}

export class StompBroker {
  readonly opts: ResolvedOptions;
  readonly id = randomBytes(4).toString('hex');
  readonly connections = new Set<{ shutdown(): Promise<void> }>();
  readonly clientIds = new Map<string, object>();
  /** Durable subscription engine topic → the connection using it. */
  readonly durableActive = new Map<string, object>();
  readonly queues = new Map<string, QueueState>();
  #connSeq = 0;
  #stompGroups = new WeakSet<Group>();

  constructor(
    readonly engine: Engine,
    opts: StompBrokerOptions = {},
  ) {
    this.opts = {
      users: opts.users ?? new Map(),
      maxRedeliveries: opts.maxRedeliveries ?? 6,
      deadLetterQueue: opts.deadLetterQueue ?? (() => 'ActiveMQ.DLQ'),
      defaultPrefetch: opts.defaultPrefetch ?? 1000,
      minHeartbeatMs: opts.minHeartbeatMs ?? 100,
      outputHighWater: opts.outputHighWater ?? 1024 * 1024,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      limits: { ...DEFAULT_STOMP_LIMITS, maxBodyBytes: Math.min(DEFAULT_STOMP_LIMITS.maxBodyBytes, engine.maxMessageBytes), ...opts.limits },
      maxConnections: opts.maxConnections ?? 10_000,
      log: opts.log ?? (() => {}),
    };
  }

  /** Declares amq.topic (shared with AMQP and MQTT; a no-op when it exists with these properties). */
  async init(): Promise<void> {
    await this.engine.exchanges.declare({ name: TOPIC_EXCHANGE, type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} });
  }

  nextConnectionId(): number {
    return ++this.#connSeq;
  }

  queueState(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new QueueState()));
    return q;
  }

  dropQueueState(name: string): void {
    const q = this.queues.get(name);
    if (q && q.members.length === 0) this.queues.delete(name);
  }

  /**
   * The `default` group of an engine topic with STOMP's redelivery settings. A group another
   * protocol configured (it has a dead-letter target, or a lease other than the engine default)
   * keeps its settings: an AMQP queue with its own dead-letter exchange stays as AMQP declared it.
   */
  async group(topic: string, extra: GroupOptions = {}): Promise<Group> {
    const existing = this.engine.getTopic(topic)?.groups.get(DEFAULT_GROUP);
    const configuredElsewhere =
      existing !== undefined && (this.engine.deadLetterTarget(existing) !== undefined || existing.config.leaseMs !== ENGINE_DEFAULT_LEASE_MS);
    if (existing && (this.#stompGroups.has(existing) || configuredElsewhere)) {
      if (extra.filter !== undefined || this.#stompGroups.has(existing)) existing.config.filter = extra.filter;
      return existing;
    }
    const dlq = this.opts.deadLetterQueue(topic);
    const opts: GroupOptions = {
      ...extra,
      leaseMs: STOMP_LEASE_MS,
      maxAttempts: this.opts.maxRedeliveries + 1,
      deadLetter: dlq !== undefined && dlq !== topic ? { topic: dlq } : undefined,
    };
    const g = await this.engine.group(topic, DEFAULT_GROUP, opts);
    this.#stompGroups.add(g);
    return g;
  }
}
