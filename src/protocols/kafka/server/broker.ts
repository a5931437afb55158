/**
 * State shared by every Kafka connection of one listener: the engine, the group coordinator, the
 * idempotent-producer state, the per-topic Kafka settings the engine has no field for, and the
 * server's identity (one node, id 1, that is leader of every partition).
 *
 * The engine is the source of truth for topics, partitions, data and committed offsets; this
 * class adds no second copy of any of them.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../../../engine/engine.js';
import type { TopicConfig } from '../../../engine/topic.js';
import { FramePool } from './frame-pool.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import { GroupCoordinator } from './group-coordinator.js';
import { ProducerState } from './producer-state.js';
import { TxnCoordinator } from './txn-coordinator.js';
import { TopicSettings } from './topic-settings.js';

export interface KafkaBrokerOptions {
  /** Broker (node) id advertised in Metadata; default 1. */
  nodeId?: number;
  /** Cluster id; default a random one per process (clients only compare it within a session). */
  clusterId?: string;
  /**
   * Host advertised in Metadata / FindCoordinator; default: the local address each client
   * connected to (so a client always reconnects the way it came in).
   */
  advertisedHost?: string | undefined;
  /** Port advertised; default the port each client connected to. */
  advertisedPort?: number | undefined;
  /** Kafka's auto.create.topics.enable; default true. */
  autoCreateTopics?: boolean;
  /** Kafka's num.partitions for auto-created topics and CreateTopics with -1; default 1. */
  defaultPartitions?: number;
  /**
   * Kafka's log.retention.ms for topics created through Kafka; default 7 days (Kafka's default).
   * -1 = keep forever. Topics created by other protocols keep their own settings.
   */
  logRetentionMs?: number;
  /** SASL/PLAIN users; undefined = no authentication (Kafka's PLAINTEXT listener). */
  users?: ReadonlyMap<string, string> | undefined;
  /** Largest request frame accepted; default 100 MiB (Kafka's socket.request.max.bytes). */
  maxRequestBytes?: number;
  /** Group coordinator: group.min.session.timeout.ms etc. */
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  initialRebalanceDelayMs?: number;
  clock?: Clock;
  log?: (line: string) => void;
}

export class KafkaBroker {
  readonly engine: Engine;
  readonly nodeId: number;
  readonly clusterId: string;
  readonly advertisedHost: string | undefined;
  readonly advertisedPort: number | undefined;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly logRetentionMs: number;
  readonly users: ReadonlyMap<string, string> | undefined;
  readonly maxRequestBytes: number;
  readonly clock: Clock;
  readonly coordinator: GroupCoordinator;
  readonly producers: ProducerState;
  /** Transaction coordinator and per-partition transaction index (txn-coordinator.ts). */
  readonly txns: TxnCoordinator;
  readonly settings: TopicSettings;
  /** Buffers for request frames spread over socket reads, recycled across connections. */
  readonly framePool = new FramePool();
  readonly log: (line: string) => void;
  /** Aborted on close: long-polling fetches and waiting joins end at once. */
  readonly #closing = new AbortController();

  constructor(engine: Engine, opts: KafkaBrokerOptions = {}) {
    this.engine = engine;
    this.nodeId = opts.nodeId ?? 1;
    this.clusterId = opts.clusterId ?? randomUUID().replace(/-/g, '').slice(0, 22);
    this.advertisedHost = opts.advertisedHost;
    this.advertisedPort = opts.advertisedPort;
    this.autoCreateTopics = opts.autoCreateTopics ?? true;
    this.defaultPartitions = opts.defaultPartitions ?? 1;
    this.logRetentionMs = opts.logRetentionMs ?? 7 * 24 * 3600 * 1000;
    this.users = opts.users;
    this.maxRequestBytes = opts.maxRequestBytes ?? 100 * 1024 * 1024;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.coordinator = new GroupCoordinator({
      clock: this.clock,
      minSessionTimeoutMs: opts.minSessionTimeoutMs,
      maxSessionTimeoutMs: opts.maxSessionTimeoutMs,
      initialRebalanceDelayMs: opts.initialRebalanceDelayMs,
    });
    this.producers = new ProducerState(engine);
    this.txns = new TxnCoordinator(engine, this.clock, this.producers, this.log);
    this.settings = new TopicSettings(engine);
  }

  /** Loads persisted Kafka state (producer-id block, topic settings, transaction coordinator). */
  async init(): Promise<void> {
    await this.producers.init();
    this.settings.init();
    // Before serving: transactional ids keep their producer ids; transactions open at a stop end.
    await this.txns.recover();
    // Groups known only from committed offsets (e.g. after a restart) are listed as Empty.
    for (const g of this.engine.committedGroups()) if (!g.startsWith('__omnibus.')) this.coordinator.noteOffsetGroup(g);
  }

  get signal(): AbortSignal {
    return this.#closing.signal;
  }

  /** Partition count of a topic, or undefined if it does not exist. */
  partitions(topic: string): number | undefined {
    return this.engine.getTopic(topic)?.config.partitions;
  }

  hasPartition(topic: string, partition: number): boolean {
    const n = this.partitions(topic);
    return n !== undefined && Number.isInteger(partition) && partition >= 0 && partition < n;
  }

  /** Creates a topic the way Kafka does (CreateTopics, auto-creation): Kafka's default retention. */
  async createTopic(name: string, partitions: number, config: Partial<TopicConfig> = {}): Promise<void> {
    const retention = this.logRetentionMs >= 0 ? { retentionMs: this.logRetentionMs } : {};
    await this.engine.topic(name, { ...retention, ...config, partitions });
    await this.settings.clear(name);
  }

  close(): void {
    this.#closing.abort();
    this.coordinator.close();
    this.txns.close();
  }
}

/** Kafka's topic name rule: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". */
export function validTopicName(name: string): boolean {
  return name.length > 0 && name.length <= 249 && name !== '.' && name !== '..' && /^[a-zA-Z0-9._-]+$/.test(name);
}
