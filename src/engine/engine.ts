/**
 * The embedded engine: topics (logs), groups (queues over logs), committed offsets, dead-letter
 * routing and the catalogue, over one StorageEngine. No protocol knowledge and no sockets: the
 * transports (src/transports/) and the wire-protocol sessions (src/protocols/) call this API.
 *
 * Storage layout (names passed to StorageEngine.open):
 *   meta/catalog                  JSON records: topic and group declarations (replayed on open)
 *   meta/offsets                  JSON records: committed offsets of log consumers (Kafka style)
 *   meta/txlog                    commit records of transactions being applied (tx-log.ts)
 *   topics/<topic>/<lane>         the data: one log per partition and priority lane
 *   groups/<topic>/<group>        a group's state log: settlements and nacks (see group.ts)
 *
 * Concurrency model: single-threaded, like the event loop it runs on. Every public method is
 * safe to call at any time; appends are ordered by call order.
 */
import { err, isOmnibusError } from '../core/errors.js';
import { compactPartition, type CompactionStats } from './compaction.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Group, type DeadLetterReason, type DeliveryImpl, type GroupConfig } from './group.js';
export type { DeadLetterReason } from './group.js';
import { EncodeScratch, batchBytes, encodeBatch, encodeBatchInto, FORMAT_NATIVE, producerStampAt, type DecodedRecord, type RecordInput } from './record.js';
import { ExchangeRegistry } from './exchanges.js';
import { appendJson, readJson } from './storage/json-log.js';
import { Transaction, type StagedTx } from './transaction.js';
import { TxLog, type TxAck, type TxPart } from './tx-log.js';
import { Lane, decodeName, encodeName, laneKey, parseLaneKey, type TopicConfig } from './topic.js';
import type { FsyncPolicy, PartitionStore, StorageEngine, StoredBatch } from './storage/types.js';

export interface EngineOptions {
  storage: StorageEngine;
  clock?: Clock;
  /** fsync policy for data and state logs; default 'always' for persistent storage. */
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** Segment size of data logs; default 64 MiB. */
  segmentBytes?: number;
  /** Partitions of an auto-created topic; default 1. */
  defaultPartitions?: number;
  /** Largest accepted message body; default 64 MiB. */
  maxMessageBytes?: number;
  /** Receives internal errors that have no caller to throw to (e.g. a background state write failed). */
  onError?: (e: unknown) => void;
}

/**
 * Where a group's dead messages go: a topic, or an exchange (routed with `routingKey`, default the
 * message's original routing key as given by `routingKeyOf`). `transform` lets a protocol rewrite
 * the record on the way (AMQP adds its x-death table to the properties it owns).
 */
export interface DeadLetterTarget {
  topic?: string | undefined;
  exchange?: string | undefined;
  routingKey?: string | undefined;
  transform?: ((rec: RecordInput, info: { reason: DeadLetterReason; attempt: number; topic: string; group: string }) => RecordInput) | undefined;
  /** Routing key of the original publish, when routing to an exchange without a fixed key. */
  routingKeyOf?: ((rec: DecodedRecord) => string) | undefined;
}

export interface GroupOptions {
  leaseMs?: number;
  maxAttempts?: number;
  deadLetter?: DeadLetterTarget | undefined;
  /** For a new group: where it starts (see Group.startAt). */
  startAt?: 'earliest' | 'latest' | ReadonlyMap<string, number>;
  messageTtlMs?: number;
  filter?: ((r: DecodedRecord) => boolean) | undefined;
  maxLength?: number;
  /** Ready body-byte limit (AMQP x-max-length-bytes); 0 = unlimited. Not persisted: the protocol re-applies it. */
  maxLengthBytes?: number;
  overflow?: 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
}

export interface PublishResult {
  /** Per partition lane appended: [laneKey, baseOffset, count]. */
  appended: [string, number, number][];
  /** True when an idempotent producer resent a batch that was already appended. */
  duplicate?: boolean;
}

export interface PublishOptions {
  /** Append to this partition instead of choosing by key / round-robin. */
  partition?: number;
  /** Idempotent producer id; with `sequence`, duplicates are dropped and gaps refused. */
  producerId?: string;
  /** Sequence number of the first record (the next batch continues at sequence + count). */
  sequence?: number;
  /**
   * false: resolve once the records are appended, without asking storage for durability; the
   * caller asks later with `durable(topic)`. For a protocol that owes durability only at some
   * points (STOMP: a RECEIPT), so the flusher fsyncs for those points, not after every append.
   * Default true: resolve once durable per the fsync policy. Idempotent publishes always wait.
   */
  awaitDurable?: boolean;
}

/** Idempotent producer recovery window per lane (see #publishIdempotent); Kafka-like bounds. */
const PRODUCER_SCAN_OFFSETS = 10_000;
const PRODUCER_SCAN_BYTES = 16 * 1024 * 1024;

/** A lane reserved by committing transactions (see Engine.#gates). */
interface LaneGate {
  /** Plain appends (and commits behind them) waiting for the lane to be free, in call order. */
  q: (() => void)[];
  /** The offset after the last reservation. */
  end: number;
  /** Reservations holding the lane, in reservation (= apply) order. */
  order: Reservation[];
}

/** One committing transaction's hold on its lanes. */
interface Reservation {
  lanes: readonly Lane[];
  /** The fsync of its commit record is over (successfully or not). */
  settled: boolean;
  failed: unknown;
  id: number;
  /** Appends the batches at the reserved offsets, applies the acks, resolves `done`. */
  apply(): void;
  resolve(): void;
  reject(e: unknown): void;
  done: Promise<void>;
}

interface Prepared {
  topic: Topic;
  parts: { lane: Lane; records: readonly RecordInput[] }[];
}

function durableAll(p: Prepared): Promise<unknown> {
  if (p.parts.length === 1) return p.parts[0]!.lane.store.durable();
  return Promise.all(p.parts.map((x) => x.lane.store.durable()));
}

type CatalogRecord =
  | { t: 'topic'; name: string; config: TopicConfig }
  | { t: 'group'; topic: string; name: string; startAt: 'earliest' | 'latest' }
  | { t: 'drop-topic'; name: string }
  | { t: 'drop-group'; topic: string; name: string }
  | { t: 'log-start'; name: string; partition: number; offset: number }
  | { t: 'group-config'; topic: string; name: string; options: PersistedGroupOptions };

export class Topic {
  readonly lanes = new Map<string, Lane>();
  readonly groups = new Map<string, Group>();
  /** Some record carried a per-message expiry: groups must sweep their heads. */
  sawExpiring = false;
  /**
   * Groups asked for through Engine.group() and not yet in `groups` (their state log is still
   * opening). While any is, no settled segment of the topic is deleted: the new group starts at
   * the earliest message retained when it was asked for, which the groups already present may
   * have settled meanwhile.
   */
  groupsCreating = 0;
  #rr = 0;
  constructor(
    readonly name: string,
    public config: TopicConfig,
  ) {}
  /** Round-robin partition for messages without a key. */
  nextPartition(): number {
    const p = this.#rr;
    this.#rr = (this.#rr + 1) % this.config.partitions;
    return p;
  }
}

/**
 * Housekeeping rolls a drained queue's active segment away only once it holds 1 MiB. Rolling a
 * file:// segment creates one file and deletes another (two directory fsyncs): measured on a queue
 * that empties after every message (RESP LPUSH then RPOP, one at a time), that was one roll per
 * message and ~8 ms per round trip. The price: a drained queue may keep up to 1 MiB of settled
 * records on disk until it next fills past that or a sealed segment goes.
 */
const DRAINED_TRIM = { minRollBytes: 1024 * 1024 } as const;

export class Engine {
  readonly storage: StorageEngine;
  readonly clock: Clock;
  readonly #opts: Required<Pick<EngineOptions, 'fsync' | 'fsyncIntervalMs' | 'segmentBytes' | 'defaultPartitions' | 'maxMessageBytes'>>;
  readonly #onError: (e: unknown) => void;
  readonly #topics = new Map<string, Topic>();
  #creating = new Map<string, Promise<Topic>>();
  #groupCreating = new Map<string, Promise<Group>>();
  #catalog!: PartitionStore;
  #offsetsLog!: PartitionStore;
  /** Exchanges and bindings (routing one publish into many topics). */
  exchanges!: ExchangeRegistry;
  #offsets = new Map<string, { offset: number; metadata: string }>();
  #closed = false;
  #housekeeping = new Set<Lane>();
  #housekeepingScheduled = false;
  readonly #laneTopic = new Map<Lane, Topic>();

  private constructor(opts: EngineOptions) {
    this.storage = opts.storage;
    this.clock = opts.clock ?? systemClock;
    this.#opts = {
      fsync: opts.fsync ?? (opts.storage.persistent ? 'always' : 'never'),
      fsyncIntervalMs: opts.fsyncIntervalMs ?? 200,
      segmentBytes: opts.segmentBytes ?? 64 * 1024 * 1024,
      defaultPartitions: opts.defaultPartitions ?? 1,
      maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024 * 1024,
    };
    this.#onError = opts.onError ?? (() => {});
    this.#scratch = opts.storage.copiesPayloads ? new EncodeScratch() : undefined;
  }

  /** Opens the engine and recovers every topic and group found in storage. */
  static async open(opts: EngineOptions): Promise<Engine> {
    const e = new Engine(opts);
    await e.#recover();
    return e;
  }

  get fsync(): FsyncPolicy {
    return this.#opts.fsync;
  }

  get maxMessageBytes(): number {
    return this.#opts.maxMessageBytes;
  }

  #partOpts(small = false, fsync?: FsyncPolicy) {
    return {
      fsync: fsync ?? this.#opts.fsync,
      fsyncIntervalMs: this.#opts.fsyncIntervalMs,
      segmentBytes: small ? 1024 * 1024 : this.#opts.segmentBytes,
    };
  }

  async #recover(): Promise<void> {
    this.#catalog = await this.storage.open('meta/catalog', this.#partOpts(true));
    this.#offsetsLog = await this.storage.open('meta/offsets', this.#partOpts(true));
    const topics = new Map<string, TopicConfig>();
    const groups = new Map<string, { topic: string; name: string; startAt: 'earliest' | 'latest' }>();
    const groupConfigs = new Map<string, PersistedGroupOptions>();
    const logStarts = new Map<string, number>();
    for (const rec of await readJson<CatalogRecord>(this.#catalog)) {
      if (rec.t === 'topic') topics.set(rec.name, rec.config);
      else if (rec.t === 'drop-topic') {
        topics.delete(rec.name);
        for (const [k, g] of groups) if (g.topic === rec.name) groups.delete(k);
      } else if (rec.t === 'group') groups.set(rec.topic + '\0' + rec.name, rec);
      else if (rec.t === 'log-start') logStarts.set(rec.name + '\0' + rec.partition, rec.offset);
      else if (rec.t === 'group-config') groupConfigs.set(rec.topic + '\0' + rec.name, rec.options);
      else groups.delete(rec.topic + '\0' + rec.name);
    }
    const exchangeLog = await this.storage.open('meta/exchanges', this.#partOpts(true));
    this.exchanges = new ExchangeRegistry(
      {
        publish: (t, r) => this.publish(t, r),
        topicExists: (n) => this.#topics.has(n),
        topicDurable: (n) => this.#topics.get(n)?.config.durable !== false,
      },
      this.storage.persistent ? exchangeLog : undefined,
    );
    for (const rec of await readJson<{ k: string; o: number; m: string; d?: 1 }>(this.#offsetsLog)) {
      if (rec.d) this.#offsets.delete(rec.k);
      else this.#offsets.set(rec.k, { offset: rec.o, metadata: rec.m });
    }
    for (const [name, config] of topics) {
      if (config.durable === false) {
        // Transient topics do not survive a restart: drop their data and declaration now.
        for (const full of await this.storage.list(`topics/${encodeName(name)}/`)) await this.storage.remove(full);
        for (const full of await this.storage.list(`groups/${encodeName(name)}/`)) await this.storage.remove(full);
        appendJson(this.#catalog, { t: 'drop-topic', name } satisfies CatalogRecord);
        for (const [k, g] of groups) if (g.topic === name) groups.delete(k);
        continue;
      }
      const t = new Topic(name, config);
      this.#topics.set(name, t);
      const prefix = `topics/${encodeName(name)}/`;
      for (const full of await this.storage.list(prefix)) {
        const key = full.slice(prefix.length);
        const parsed = parseLaneKey(key);
        if (!parsed) continue;
        await this.#openLane(t, parsed.partition, parsed.priority);
      }
      for (let p = 0; p < config.partitions; p++) if (!t.lanes.has(laneKey(p, 0))) await this.#openLane(t, p, 0);
      for (let p = 0; p < config.partitions; p++) {
        const ls = logStarts.get(name + '\0' + p);
        if (ls !== undefined) t.lanes.get(laneKey(p, 0))!.logStart = ls;
      }
    }
    this.exchanges.recover(await readJson(exchangeLog));
    // Bindings replayed for topics that did not survive (transient, or deleted before a crash).
    await this.exchanges.pruneMissingTopics();
    this.#armRetention();
    for (const g of groups.values()) {
      const t = this.#topics.get(g.topic);
      if (!t) continue;
      const saved = groupConfigs.get(g.topic + '\0' + g.name);
      const group = await this.#makeGroup(t, g.name, saved ?? {}, g.startAt, false);
      if (saved?.deadLetter) this.#deadLetters.set(group, saved.deadLetter);
      await group.recover();
    }
    if (this.storage.persistent) {
      this.#txLog = new TxLog(await this.storage.open('meta/txlog', this.#partOpts(true)), (e) => this.#onError(e));
      await this.#replayTransactions(this.#txLog);
    }
    // Data below every group's low-water mark may be deleted now.
    for (const t of this.#topics.values()) for (const l of t.lanes.values()) this.settledUpTo(l);
  }

  async #openLane(t: Topic, partition: number, priority: number): Promise<Lane> {
    const key = laneKey(partition, priority);
    const existing = t.lanes.get(key);
    if (existing) return existing;
    const store = await this.storage.open(`topics/${encodeName(t.name)}/${key}`, this.#partOpts(false, t.config.fsync));
    const again = t.lanes.get(key);
    if (again) return again;
    const lane = new Lane(key, partition, priority, store);
    t.lanes.set(key, lane);
    this.#laneTopic.set(lane, t);
    for (const g of t.groups.values()) g.addLane(lane, true);
    return lane;
  }

  #check(): void {
    if (this.#closed) throw err('MQ_ERR_CLOSED', 'the engine is closed');
  }

  // ---------------------------------------------------------------------------------------------
  // Topics
  // ---------------------------------------------------------------------------------------------

  getTopic(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  topicNames(): string[] {
    return [...this.#topics.keys()];
  }

  /** Returns the topic, creating it (with `config` or defaults) if absent. */
  async topic(name: string, config?: Partial<TopicConfig>): Promise<Topic> {
    this.#check();
    const t = this.#topics.get(name);
    if (t) return t;
    let p = this.#creating.get(name);
    if (!p) {
      p = this.#createTopic(name, config ?? {});
      this.#creating.set(name, p);
      p.finally(() => this.#creating.delete(name)).catch(() => {});
    }
    return p;
  }

  async #createTopic(name: string, config: Partial<TopicConfig>): Promise<Topic> {
    const partitions = config.partitions ?? this.#opts.defaultPartitions;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `partitions must be an integer 1..10000, got ${partitions}`);
    }
    const full: TopicConfig = { ...config, partitions };
    const t = new Topic(name, full);
    for (let p = 0; p < partitions; p++) await this.#openLane(t, p, 0);
    this.#topics.set(name, t);
    appendJson(this.#catalog, { t: 'topic', name, config: full } satisfies CatalogRecord);
    await this.#catalog.durable();
    return t;
  }

  readonly #topicDeleted = new Set<(name: string) => void>();

  /**
   * Calls `fn` when a topic is deleted by anyone (another protocol, an admin API), so sessions can
   * cancel their consumers (AMQP's server-sent basic.cancel). Returns the unsubscribe function.
   */
  onTopicDeleted(fn: (name: string) => void): () => void {
    this.#topicDeleted.add(fn);
    return () => this.#topicDeleted.delete(fn);
  }

  /** Deletes a topic, its data and its groups. Open subscriptions end. */
  async deleteTopic(name: string): Promise<boolean> {
    this.#check();
    const t = this.#topics.get(name);
    if (!t) return false;
    // A committed transaction touching this topic must never be replayed into a new topic of the
    // same name: make the done records of finishing transactions durable first.
    await this.#txLog?.drain();
    if (this.#topics.get(name) !== t) return false;
    this.#topics.delete(name);
    for (const fn of [...this.#topicDeleted]) {
      try {
        fn(name);
      } catch (e) {
        this.#onError(e);
      }
    }
    await this.exchanges.forgetTopic(name, t.config.durable !== false);
    for (const g of t.groups.values()) {
      await g.close();
      if (g.stateLog) await this.storage.remove(`groups/${encodeName(name)}/${encodeName(g.name)}`);
    }
    for (const l of t.lanes.values()) {
      this.#laneTopic.delete(l);
      await this.storage.remove(`topics/${encodeName(name)}/${l.key}`);
    }
    this.#producerScanned.delete(name);
    for (const k of [...this.#producerSeq.keys()]) if (k.endsWith(`\0${name}`)) this.#producerSeq.delete(k);
    appendJson(this.#catalog, { t: 'drop-topic', name } satisfies CatalogRecord);
    await this.#catalog.durable();
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Publishing
  // ---------------------------------------------------------------------------------------------

  /**
   * Appends records to `topicName` (created if absent). Records with a key go to the partition
   * chosen by hashing the key; others go round-robin per call (all of one call to one partition,
   * which keeps a batch in one storage frame). Resolves after the data is durable per the fsync
   * policy. Throws MQ_ERR_PAYLOAD_TOO_LARGE before appending anything if one body is too large.
   */
  async publish(topicName: string, records: readonly RecordInput[], opts?: PublishOptions): Promise<PublishResult> {
    this.#check();
    if (opts?.producerId !== undefined) return this.#publishIdempotent(topicName, records, opts, opts.producerId);
    const prepared = await this.#prepare(topicName, records, opts?.partition);
    const appended = this.#gates.size === 0 ? this.#appendPrepared(prepared) : await this.#appendAfterGates(prepared);
    if (opts?.awaitDurable === false) return { appended };
    const durable = durableAll(prepared);
    // The records are stored now: let go of them (and of the socket reads their bodies view)
    // before the fsync wait, or the suspended call keeps them reachable for that wait and the
    // GC promotes them instead of dropping them young. STOMP SENDs of 512 B on file:// with
    // fsync always: in-process CPU per SEND −12 % (bench/stomp-session-cpu.mjs).
    records = [];
    prepared.parts = [];
    await durable;
    return { appended };
  }

  /**
   * Resolves when everything appended to `topicName` so far is durable per the fsync policy (at
   * once for a topic that does not exist). With `publish(…, { awaitDurable: false })`.
   */
  async durable(topicName: string): Promise<void> {
    const t = this.#topics.get(topicName);
    if (!t) return;
    if (t.lanes.size === 1) {
      for (const l of t.lanes.values()) await l.store.durable();
      return;
    }
    await Promise.all([...t.lanes.values()].map((l) => l.store.durable()));
  }

  /**
   * Idempotent producer (Kafka-style): sequence numbers per producer and topic. A batch whose
   * sequence was already appended is acknowledged without appending it again; a gap is refused.
   *
   * Every record of an idempotent publish carries its producer id and sequence inside the stored
   * record (RecordInput.producer), so the check survives a restart: the first idempotent publish
   * to a topic after open scans the tail of each of its lanes (the last PRODUCER_SCAN_OFFSETS
   * offsets, at most PRODUCER_SCAN_BYTES) for stamps, as Kafka rebuilds producer state from its
   * batch headers. A producer whose records all lie before that window is unknown again and
   * starts over at any sequence. The stamp costs 10 bytes + the id per record, only for
   * idempotent publishes.
   *
   * Not covered: a publish whose records split over several lanes (mixed priorities, or keys
   * hashing to different partitions) is not appended atomically across them; if the process dies
   * between those appends, the retry is judged by the highest stamped sequence and the missing
   * part is not re-appended. Single-lane publishes (one partition, one priority) are exact.
   */
  async #publishIdempotent(topicName: string, records: readonly RecordInput[], opts: PublishOptions, producerId: string): Promise<PublishResult> {
    if (!this.#producerScanned.has(topicName)) await this.#scanProducers(topicName);
    this.#check();
    const k = `${producerId}\0${topicName}`;
    const known = this.#producerSeq.get(k);
    const expected = known ?? 0;
    const seq = opts.sequence ?? expected;
    if (known !== undefined) {
      if (seq < expected) return { appended: [], duplicate: true };
      if (seq > expected) throw err('MQ_ERR_OUT_OF_ORDER_SEQUENCE', `producer ${producerId} sent sequence ${seq}, expected ${expected}`);
    }
    // An unknown producer (new, or older than the scanned window) may start at any sequence.
    // Reserve the sequence range synchronously, so pipelined publishes of one producer are judged
    // in call order; released again if nothing gets appended.
    const next = seq + records.length;
    this.#producerSeq.set(k, next);
    const stamped = records.map((r, i) => ({ ...r, producer: { id: producerId, seq: seq + i } }));
    let prepared: Prepared;
    try {
      prepared = await this.#prepare(topicName, stamped, opts.partition);
    } catch (e) {
      if (this.#producerSeq.get(k) === next) {
        if (known === undefined) this.#producerSeq.delete(k);
        else this.#producerSeq.set(k, known);
      }
      throw e;
    }
    const appended = this.#gates.size === 0 ? this.#appendPrepared(prepared) : await this.#appendAfterGates(prepared);
    await durableAll(prepared);
    return { appended };
  }

  /** Rebuilds producer sequences for `topicName` from the stamps in its lanes' tails (once). */
  #scanProducers(topicName: string): Promise<void> {
    let p = this.#producerScans.get(topicName);
    if (p === undefined) {
      p = (async () => {
        const t = this.#topics.get(topicName);
        if (t !== undefined) {
          for (const lane of [...t.lanes.values()]) {
            const store = lane.store;
            const end = store.endOffset;
            let at = Math.max(store.startOffset, end - PRODUCER_SCAN_OFFSETS);
            let bytes = 0;
            while (at < end && bytes < PRODUCER_SCAN_BYTES) {
              const batches = await store.read(at, 1024 * 1024);
              if (batches.length === 0) break;
              for (const b of batches) {
                bytes += b.payload.byteLength;
                if (b.format === FORMAT_NATIVE) {
                  // The highest stamped sequence per producer wins; reading whole batches is harmless.
                  for (let i = 0, pos = 0; i < b.count; i++, pos += 4 + b.payload.readUInt32LE(pos)) {
                    const stamp = producerStampAt(b.payload, pos);
                    if (stamp === undefined) continue;
                    const k = `${stamp.id}\0${topicName}`;
                    if ((this.#producerSeq.get(k) ?? -1) < stamp.seq + 1) this.#producerSeq.set(k, stamp.seq + 1);
                  }
                }
                at = b.baseOffset + b.count;
              }
            }
          }
        }
        this.#producerScanned.add(topicName);
      })();
      this.#producerScans.set(topicName, p);
      p.finally(() => this.#producerScans.delete(topicName)).catch(() => {});
    }
    return p;
  }

  // ---------------------------------------------------------------------------------------------
  // Transactions (see transaction.ts for the guarantees, tx-log.ts for the log)
  // ---------------------------------------------------------------------------------------------

  #txLog: TxLog | undefined;
  /**
   * Lanes reserved by committing transactions, from their commit record's append to their apply.
   * Transactions stack on a lane (each reserves the offsets after the previous one's, and their
   * commit records share one fsync of the transaction log); they apply in reservation order.
   * Other appends to a reserved lane wait in `q`, in call order, until no reservation is left.
   * Empty except while commits are in flight, so the publish path pays one Map-size check.
   */
  readonly #gates = new Map<Lane, LaneGate>();

  /** Runs `fn` (an append) once none of `lanes` is reserved by a committing transaction. */
  #whenUngated<T>(lanes: readonly Lane[], fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = (): void => {
        for (const l of lanes) {
          const g = this.#gates.get(l);
          if (g) {
            g.q.push(run);
            return;
          }
        }
        try {
          resolve(fn());
        } catch (e) {
          reject(e);
        }
      };
      run();
    });
  }

  #appendAfterGates(p: Prepared): Promise<[string, number, number][]> {
    return this.#whenUngated(
      p.parts.map((x) => x.lane),
      () => this.#appendPrepared(p),
    );
  }

  /**
   * Applies (or fails) reservation `r` once its commit record's fsync is over and it is first on
   * every lane it holds, then moves on to the reservations it was blocking. A failed one fails
   * every reservation behind it on its lanes: their reserved offsets counted on its batches.
   */
  #advance(r: Reservation): void {
    if (!r.settled) return;
    for (const l of r.lanes) if (this.#gates.get(l)?.order[0] !== r) return;
    if (r.failed === undefined) r.apply();
    else r.reject(r.failed);
    const next = new Set<Reservation>();
    for (const l of r.lanes) {
      const g = this.#gates.get(l)!;
      g.order.shift();
      if (r.failed !== undefined) for (const x of g.order) x.failed ??= r.failed;
      if (g.order.length > 0) next.add(g.order[0]!);
      else {
        this.#gates.delete(l);
        for (const run of g.q) run();
      }
    }
    for (const x of next) this.#advance(x);
  }

  /**
   * Commits a transaction (Transaction.commit calls this).
   *
   * Memory storage: every append and ack happens in one synchronous turn; nothing survives a
   * crash, so that is all-or-nothing.
   *
   * Persistent storage, crash-atomic:
   *   1. the staged publishes are validated and split by lane (topics and lanes created);
   *   2. in one turn: the staged acks still leased are claimed, each lane's base offset is
   *      taken (its end, or the end of the reservations already on it), the lanes are reserved
   *      (plain appends to them wait, in order) and the commit record — payloads, bases, acks —
   *      is appended to the transaction log;
   *   3. the transaction log is made durable (one fsync for every commit record appended so
   *      far): this is the commit point;
   *   4. once first in line on each of its lanes, in one turn the batches are appended at
   *      exactly the recorded bases, the reservation ends, the acks are applied; the commit
   *      resolves;
   *   5. in the background, once the lanes and the groups' state logs are durable, a done record
   *      retires the commit record.
   * A crash before 3 leaves no commit record and no data (nothing was appended to a lane); after
   * 3, open replays the record: parts whose lane already reaches base + count are there (a lane
   * on disk is a prefix of what was appended, and nobody else appended at the reserved offsets),
   * the others are appended again, and the acks are settled again (idempotent).
   * The price: one extra fsync per commit (shared by concurrent commits), the payload written
   * twice, and plain appends to the same lanes delayed by that fsync.
   *
   * A staged ack whose lease was already lost is left out (its message is redelivered) and the
   * commit rejects with MQ_ERR_LEASE_LOST after applying everything else, as before; a staged
   * nack of a lost lease is a no-op.
   */
  async commitTx(tx: StagedTx): Promise<void> {
    this.#check();
    const prepared: Prepared[] = [];
    for (const s of tx.publishes) prepared.push(await this.#prepare(s.topic, s.records, undefined));
    const lanes = [...new Set(prepared.flatMap((p) => p.parts.map((x) => x.lane)))];
    const acks: DeliveryImpl[] = [];
    let lost = false;
    // Claiming a delivery marks it settled: lease expiry and subscription close then leave it
    // alone while the commit record is written, and a later ack/nack by the caller is a no-op.
    const claim = (): void => {
      for (const d of tx.acks) {
        if (d.state === 0) {
          d.state = 1;
          acks.push(d);
        } else if (d.state === 2) lost = true;
      }
    };
    const log = this.#txLog;
    if (!log) {
      claim();
      for (const p of prepared) this.#appendPrepared(p);
      for (const d of acks) d.group.ack(d);
    } else {
      const parts: (TxPart & { ref: Lane })[] = [];
      const reserve = (): Reservation => {
        this.#check();
        claim();
        const next = new Map<Lane, number>();
        for (const p of prepared) {
          for (const { lane, records } of p.parts) {
            const base = next.get(lane) ?? this.#gates.get(lane)?.end ?? lane.store.endOffset;
            next.set(lane, base + records.length);
            parts.push({ topic: p.topic.name, lane: lane.key, ref: lane, base, count: records.length, timestamp: maxTimestamp(records), payload: encodeBatch(records) });
          }
        }
        const refs: TxAck[] = acks.map((d) => ({ topic: d.group.topicName, group: d.group.name, lane: d.cursor.lane.key, offset: d.rec.offset }));
        let id: number;
        try {
          id = log.appendCommit(parts, refs);
        } catch (e) {
          for (const d of acks) d.state = 0;
          throw e;
        }
        const res: Reservation = {
          lanes,
          settled: false,
          failed: undefined,
          id,
          apply: () => {
            try {
              for (const x of parts) {
                const at = x.ref.store.append([{ count: x.count, timestamp: x.timestamp, format: FORMAT_NATIVE, payload: x.payload }]);
                if (at !== x.base) this.#onError(err('MQ_ERR_CORRUPT', `transaction ${id}: ${x.topic}/${x.lane} appended at ${at}, reserved ${x.base}`));
              }
            } catch (e) {
              // Committed: the next open re-applies what is missing. Report, do not reject.
              this.#onError(e);
            }
            for (const p of prepared) {
              for (const part of p.parts) for (const g of p.topic.groups.values()) g.appended(part.records);
              if (p.parts.length > 0) this.#wake(p.topic);
            }
            for (const d of acks) d.group.ack(d);
            const groups = new Set(acks.map((d) => d.group));
            log.finish(id, Promise.all([...lanes.map((l) => l.store.durable()), ...[...groups].map((g) => g.persistState())]));
            res.resolve();
          },
          resolve: () => {},
          reject: () => {},
          done: undefined as unknown as Promise<void>,
        };
        res.done = new Promise<void>((ok, ko) => {
          res.resolve = ok;
          res.reject = ko;
        });
        for (const l of lanes) {
          let g = this.#gates.get(l);
          if (!g) this.#gates.set(l, (g = { q: [], end: 0, order: [] }));
          g.end = next.get(l)!;
          g.order.push(res);
        }
        return res;
      };
      let r!: Reservation;
      // Reserve, in one turn: behind plain appends already waiting on a lane (call order), else
      // at once, stacked on the reservations already there.
      await new Promise<void>((resolve, reject) => {
        const run = (): void => {
          for (const l of lanes) {
            const g = this.#gates.get(l);
            if (g && g.q.length > 0) {
              g.q.push(run);
              return;
            }
          }
          try {
            r = reserve();
            resolve();
          } catch (e) {
            reject(e);
          }
        };
        run();
      });
      log.durable().then(
        () => {
          r.settled = true;
          this.#advance(r);
        },
        (e: unknown) => {
          r.settled = true;
          r.failed ??= e;
          this.#advance(r);
        },
      );
      try {
        await r.done;
      } catch (e) {
        // Not committed as far as this process knows (the record may still have reached the disk,
        // in which case the next open applies it: the caller saw an I/O error, not a refusal).
        log.abandon(r.id);
        for (const d of acks) {
          d.state = 0;
          d.nack().catch(() => {});
        }
        throw e;
      }
    }
    await Promise.all(
      tx.nacks.map((d) =>
        d.nack().catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'MQ_ERR_LEASE_LOST') throw e;
        }),
      ),
    );
    if (!log) await Promise.all(prepared.map(durableAll));
    if (lost) throw err('MQ_ERR_LEASE_LOST', 'a staged ack named a delivery whose lease was lost; its message will be redelivered');
  }

  /**
   * Replays committed transactions without a done record (see commitTx), in commit order, then
   * empties the log. Runs once at open, after groups are recovered and before anything else.
   */
  async #replayTransactions(log: TxLog): Promise<void> {
    const pending = await log.pending();
    // Presence is judged against each lane as found on disk: it is a prefix of what was appended,
    // and the reserved offsets were nobody else's.
    const found = new Map<Lane, number>();
    const next = new Map<Lane, number>();
    const lanes = new Set<Lane>();
    const groups = new Set<Group>();
    for (const tx of pending) {
      const missing: { part: TxPart; lane: Lane }[] = [];
      for (const part of tx.parts) {
        const t = this.#topics.get(part.topic);
        const key = parseLaneKey(part.lane);
        if (!t || !key) continue; // the topic is gone (transient, or deleted): nothing to restore
        const lane = await this.#openLane(t, key.partition, key.priority);
        if (!found.has(lane)) found.set(lane, lane.store.endOffset);
        if (found.get(lane)! >= part.base + part.count) continue;
        missing.push({ part, lane });
      }
      let moved = false;
      for (const m of missing) {
        const base = next.get(m.lane) ?? m.lane.store.endOffset;
        next.set(m.lane, base + m.part.count);
        if (base !== m.part.base) moved = true;
        m.part.base = base;
      }
      if (moved) {
        // Earlier, unconfirmed appends were lost too, so the parts land lower than reserved:
        // record where, durably, before appending, so that a crash now replays them exactly.
        log.appendCommit(tx.parts, tx.acks, tx.id);
        await log.durable();
      }
      for (const m of missing) {
        m.lane.store.append([{ count: m.part.count, timestamp: m.part.timestamp, format: FORMAT_NATIVE, payload: m.part.payload }]);
        lanes.add(m.lane);
      }
      for (const a of tx.acks) {
        const g = this.#topics.get(a.topic)?.groups.get(a.group);
        if (!g) continue;
        g.settleAt(a.lane, a.offset);
        groups.add(g);
      }
    }
    await Promise.all([...lanes].map((l) => l.store.durable()));
    for (const g of groups) await g.persistState();
    await log.clear();
  }

  /** Starts a transaction (see transaction.ts). */
  transaction(): Transaction {
    this.#check();
    return new Transaction(this);
  }

  readonly #producerSeq = new Map<string, number>();
  /** Topics whose lanes were scanned for producer stamps since open (see #publishIdempotent). */
  readonly #producerScanned = new Set<string>();
  readonly #producerScans = new Map<string, Promise<void>>();

  /**
   * Validates records and splits them by lane, creating the topic and lanes as needed. Records
   * with a key go to the partition chosen by hashing the key; others go round-robin per call (all
   * of one call to one partition, which keeps a batch in one storage frame). Throws
   * MQ_ERR_PAYLOAD_TOO_LARGE before anything is appended if one body is too large.
   */
  async #prepare(topicName: string, records: readonly RecordInput[], fixed: number | undefined): Promise<Prepared> {
    const t = this.#topics.get(topicName) ?? (await this.topic(topicName));
    const max = t.config.maxMessageBytes ?? this.#opts.maxMessageBytes;
    let uniform = true;
    let anyKey = false;
    const first = records[0];
    for (const r of records) {
      if (r.body.length > max) {
        throw err('MQ_ERR_PAYLOAD_TOO_LARGE', `message body of ${r.body.length} bytes exceeds the limit of ${max}`);
      }
      if (r.key !== undefined) anyKey = true;
      if (r.priority !== first!.priority) uniform = false;
    }
    if (!first) return { topic: t, parts: [] };
    for (const g of t.groups.values()) g.admit(records.length, records);
    if (!t.sawExpiring) {
      for (const r of records) {
        if (r.expiresAt !== undefined) {
          t.sawExpiring = true;
          for (const g of t.groups.values()) g.sawExpiring = true;
          break;
        }
      }
    }
    const parts = t.config.partitions;
    if (fixed !== undefined && (fixed < 0 || fixed >= parts || !Number.isInteger(fixed))) {
      throw err('MQ_ERR_NOT_FOUND', `topic "${topicName}" has no partition ${fixed}`);
    }
    // Fast path: one lane for the whole batch.
    if (uniform && (parts === 1 || fixed !== undefined || !anyKey)) {
      const p = fixed ?? (parts === 1 ? 0 : t.nextPartition());
      const lane = t.lanes.get(laneKey(p, first.priority)) ?? (await this.#openLane(t, p, first.priority));
      return { topic: t, parts: [{ lane, records }] };
    }
    const byLane = new Map<string, { p: number; prio: number; recs: RecordInput[] }>();
    const rr = fixed ?? t.nextPartition();
    for (const r of records) {
      const p = fixed ?? (r.key !== undefined ? hashKey(r.key) % parts : rr);
      const k = laneKey(p, r.priority);
      let e = byLane.get(k);
      if (!e) byLane.set(k, (e = { p, prio: r.priority, recs: [] }));
      e.recs.push(r);
    }
    const out: Prepared = { topic: t, parts: [] };
    for (const e of byLane.values()) {
      const lane = t.lanes.get(laneKey(e.p, e.prio)) ?? (await this.#openLane(t, e.p, e.prio));
      out.parts.push({ lane, records: e.recs });
    }
    return out;
  }

  readonly #scratch: EncodeScratch | undefined;

  #appendPrepared(p: Prepared): [string, number, number][] {
    const appended: [string, number, number][] = [];
    for (const { lane, records } of p.parts) {
      const store = lane.store;
      const timestamp = maxTimestamp(records);
      // A store with appendEncoded (file://) gets the records encoded straight into its write
      // buffer: each body is copied once there, not into a scratch buffer first.
      const base =
        store.appendEncoded !== undefined
          ? store.appendEncoded({ count: records.length, timestamp, format: FORMAT_NATIVE, size: batchBytes(records), write: (buf, pos) => encodeBatchInto(records, buf, pos) })
          : store.append([{ count: records.length, timestamp, format: FORMAT_NATIVE, payload: encodeBatch(records, this.#scratch) }]);
      appended.push([lane.key, base, records.length]);
      for (const g of p.topic.groups.values()) g.appended(records);
    }
    if (p.parts.length > 0) this.#wake(p.topic);
    return appended;
  }

  /**
   * Appends a batch in a foreign format (e.g. a Kafka RecordBatch) byte-for-byte to one partition.
   * Queue groups skip formats they cannot decode (see ARCHITECTURE.md, "foreign batches").
   */
  async appendRaw(topicName: string, partition: number, batch: { count: number; timestamp: number; format: number; payload: Uint8Array }): Promise<number> {
    this.#check();
    const t = this.#topics.get(topicName) ?? (await this.topic(topicName));
    const lane = t.lanes.get(laneKey(partition, 0));
    if (!lane) throw err('MQ_ERR_NOT_FOUND', `topic "${topicName}" has no partition ${partition}`);
    const base = this.#gates.has(lane) ? await this.#whenUngated([lane], () => lane.store.append([batch])) : lane.store.append([batch]);
    this.#wake(t);
    await lane.store.durable();
    return base;
  }

  #wake(t: Topic): void {
    for (const g of t.groups.values()) if (g.consumers.length > 0 || g.needsHousekeeping) g.schedulePump();
    const waiters = this.#dataWaiters.get(t);
    if (waiters) {
      this.#dataWaiters.delete(t);
      for (const w of waiters) w();
    }
  }

  readonly #dataWaiters = new Map<Topic, (() => void)[]>();

  /**
   * Resolves when partition `partition` of `topicName` has data at or beyond `offset` (Kafka Fetch
   * long-poll, Redis XREAD BLOCK), or when `signal` aborts (resolving, not rejecting: the caller
   * answers with what it has). One waiter list per topic; no timers of its own.
   */
  waitForData(topicName: string, partition: number, offset: number, signal?: AbortSignal): Promise<void> {
    const t = this.#topics.get(topicName);
    if (!t || signal?.aborted) return Promise.resolve();
    const lane = t.lanes.get(laneKey(partition, 0));
    if (!lane || lane.store.endOffset > offset) return Promise.resolve();
    return new Promise((resolve) => {
      let list = this.#dataWaiters.get(t);
      if (!list) this.#dataWaiters.set(t, (list = []));
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const l = this.#dataWaiters.get(t);
        const i = l ? l.indexOf(wake) : -1;
        if (i >= 0) l!.splice(i, 1);
        done();
      };
      const wake = () => {
        if (lane.store.endOffset > offset || this.#closed) done();
        else {
          let l = this.#dataWaiters.get(t);
          if (!l) this.#dataWaiters.set(t, (l = []));
          l.push(wake);
        }
      };
      list.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Grows a topic to `count` partitions (Kafka CreatePartitions). Partitions never shrink. */
  async setPartitions(name: string, count: number): Promise<void> {
    this.#check();
    const t = this.#topics.get(name);
    if (!t) throw err('MQ_ERR_NOT_FOUND', `no topic "${name}"`);
    if (!Number.isInteger(count) || count < t.config.partitions || count > 10_000) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `topic "${name}" has ${t.config.partitions} partitions; cannot set ${count}`);
    }
    for (let p = t.config.partitions; p < count; p++) await this.#openLane(t, p, 0);
    t.config = { ...t.config, partitions: count };
    appendJson(this.#catalog, { t: 'topic', name, config: t.config } satisfies CatalogRecord);
    await this.#catalog.durable();
  }

  // ---------------------------------------------------------------------------------------------
  // Log view (Kafka Fetch, Redis XRANGE, AMQP stream queues)
  // ---------------------------------------------------------------------------------------------

  /** Raw batches of partition `partition` (priority-0 lane) from `offset`. */
  async readLog(topicName: string, partition: number, offset: number, maxBytes: number): Promise<StoredBatch[]> {
    this.#check();
    const lane = this.#lane(topicName, partition);
    if (offset > lane.store.endOffset || offset < lane.start) {
      throw err('MQ_ERR_OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${lane.start}, ${lane.store.endOffset}] of ${topicName}/${partition}`);
    }
    return lane.store.read(offset, maxBytes);
  }

  /** Log bounds of a partition: [start, end). */
  logBounds(topicName: string, partition: number): { start: number; end: number } {
    const lane = this.#lane(topicName, partition);
    return { start: lane.start, end: lane.store.endOffset };
  }

  /**
   * Moves the log start of a partition to `before` (Kafka DeleteRecords, Redis XTRIM): records
   * below it are no longer served to log readers and are settled for every group; whole segments
   * below it are deleted. Persisted. `before` past the end is clamped to the end.
   */
  async truncateLog(topicName: string, partition: number, before: number): Promise<number> {
    this.#check();
    const lane = this.#lane(topicName, partition);
    const at = Math.min(Math.max(before, lane.start), lane.store.endOffset);
    if (at <= lane.logStart) return lane.start;
    lane.logStart = at;
    appendJson(this.#catalog, { t: 'log-start', name: topicName, partition, offset: at } satisfies CatalogRecord);
    await this.#catalog.durable();
    const t = this.#topics.get(topicName)!;
    for (const g of t.groups.values()) g.schedulePump();
    await lane.store.truncateBefore(at);
    return lane.start;
  }

  async offsetForTimestamp(topicName: string, partition: number, timestamp: number): Promise<number> {
    return this.#lane(topicName, partition).store.offsetForTimestamp(timestamp);
  }

  #lane(topicName: string, partition: number): Lane {
    const t = this.#topics.get(topicName);
    const lane = t?.lanes.get(laneKey(partition, 0));
    if (!lane) throw err('MQ_ERR_NOT_FOUND', `no partition ${partition} of topic "${topicName}"`);
    return lane;
  }

  /** Stores a log consumer's committed offset (durable per the fsync policy). */
  async commitOffset(group: string, topicName: string, partition: number, offset: number, metadata = ''): Promise<void> {
    this.#check();
    const k = `${group}\0${topicName}\0${partition}`;
    this.#offsets.set(k, { offset, metadata });
    appendJson(this.#offsetsLog, { k, o: offset, m: metadata });
    await this.#offsetsLog.durable();
    if (this.#offsetsLog.sizeBytes > 4 * 1024 * 1024) await this.#compactOffsets();
  }

  committedOffset(group: string, topicName: string, partition: number): { offset: number; metadata: string } | undefined {
    return this.#offsets.get(`${group}\0${topicName}\0${partition}`);
  }

  /** Names of every group with committed offsets (Kafka ListGroups after a restart). */
  committedGroups(): string[] {
    const out = new Set<string>();
    for (const k of this.#offsets.keys()) out.add(k.slice(0, k.indexOf('\0')));
    return [...out];
  }

  /** Every committed offset of `group`. */
  committedOffsets(group: string): { topic: string; partition: number; offset: number; metadata: string }[] {
    const out: { topic: string; partition: number; offset: number; metadata: string }[] = [];
    const prefix = group + '\0';
    for (const [k, v] of this.#offsets) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const cut = rest.lastIndexOf('\0');
      out.push({ topic: rest.slice(0, cut), partition: Number(rest.slice(cut + 1)), offset: v.offset, metadata: v.metadata });
    }
    return out;
  }

  /** Forgets every committed offset of `group` (Kafka DeleteGroups). Durable per the fsync policy. */
  async deleteCommittedOffsets(group: string): Promise<number> {
    this.#check();
    let n = 0;
    const prefix = group + '\0';
    for (const k of [...this.#offsets.keys()]) {
      if (!k.startsWith(prefix)) continue;
      this.#offsets.delete(k);
      appendJson(this.#offsetsLog, { k, o: -1, m: '', d: 1 });
      n++;
    }
    if (n > 0) await this.#offsetsLog.durable();
    return n;
  }

  async #compactOffsets(): Promise<void> {
    let at = -1;
    for (const [k, v] of this.#offsets) {
      const o = appendJson(this.#offsetsLog, { k, o: v.offset, m: v.metadata });
      if (at < 0) at = o;
    }
    await this.#offsetsLog.durable();
    if (at >= 0) await this.#offsetsLog.truncateBefore(at);
  }

  // ---------------------------------------------------------------------------------------------
  // Groups (queue semantics)
  // ---------------------------------------------------------------------------------------------

  /** Returns the group, creating it if absent. Options given here update the group's config. */
  async group(topicName: string, name: string, opts: GroupOptions = {}): Promise<Group> {
    this.#check();
    const t = this.#topics.get(topicName) ?? (await this.topic(topicName));
    let g = t.groups.get(name);
    if (!g) {
      const key = topicName + '\0' + name;
      let p = this.#groupCreating.get(key);
      if (!p) {
        p = this.#createGroup(t, name, opts);
        this.#groupCreating.set(key, p);
        p.finally(() => this.#groupCreating.delete(key)).catch(() => {});
      }
      g = await p;
    }
    const before = JSON.stringify(persistedOptions(g.config, this.#deadLetters.get(g)));
    applyGroupOptions(g.config, opts);
    if (opts.deadLetter !== undefined) this.#deadLetters.set(g, opts.deadLetter);
    const after = persistedOptions(g.config, this.#deadLetters.get(g));
    if (JSON.stringify(after) !== before && t.config.durable !== false) {
      // Options outlive the process (TTL, limits, dead-letter target), as queue arguments do.
      appendJson(this.#catalog, { t: 'group-config', topic: topicName, name, options: after } satisfies CatalogRecord);
      await this.#catalog.durable();
    }
    return g;
  }

  /** The dead-letter target of a group, if any (protocols check it before configuring their own). */
  deadLetterTarget(g: Group): DeadLetterTarget | undefined {
    return this.#deadLetters.get(g);
  }

  readonly #deadLetters = new WeakMap<Group, DeadLetterTarget>();

  /** Changes retention, limits and protocol configs of an existing topic (Kafka AlterConfigs, RabbitMQ policies). */
  async alterTopic(
    name: string,
    changes: Partial<Pick<TopicConfig, 'retentionMs' | 'retentionBytes' | 'maxMessageBytes' | 'messageTtlMs' | 'configs' | 'cleanupPolicy' | 'deleteRetentionMs'>>,
  ): Promise<void> {
    this.#check();
    const t = this.#topics.get(name);
    if (!t) throw err('MQ_ERR_NOT_FOUND', `no topic "${name}"`);
    t.config = { ...t.config, ...changes };
    appendJson(this.#catalog, { t: 'topic', name, config: t.config } satisfies CatalogRecord);
    await this.#catalog.durable();
    for (const l of t.lanes.values()) this.settledUpTo(l);
  }

  /** Current end offset of every lane of a topic (empty if the topic does not exist). */
  laneEnds(topicName: string): Map<string, number> {
    const m = new Map<string, number>();
    const t = this.#topics.get(topicName);
    if (t) for (const l of t.lanes.values()) m.set(l.key, l.store.endOffset);
    return m;
  }

  /**
   * #makeGroup for a group asked for now. On persistent storage the group reaches `t.groups` only
   * after its state log has opened (a mkdir, a readdir and an open through the I/O thread pool;
   * milliseconds, more on a loaded machine). Until then #trim would count only the groups already
   * there: one that settled every message (its acks arriving meanwhile) had the segment holding
   * them deleted, and the new group, starting at the earliest message still stored, received none
   * of them. `groupsCreating` is raised before the first await, so no trim decided after this call
   * can delete what the new group is about to start from; the trims held back meanwhile run when
   * the last creation ends (settledUpTo of every lane).
   */
  async #createGroup(t: Topic, name: string, opts: GroupOptions): Promise<Group> {
    t.groupsCreating++;
    try {
      return await this.#makeGroup(t, name, opts, opts.startAt ?? 'earliest', true);
    } finally {
      if (--t.groupsCreating === 0) for (const l of t.lanes.values()) this.settledUpTo(l);
    }
  }

  async #makeGroup(t: Topic, name: string, opts: GroupOptions, startAt: 'earliest' | 'latest' | ReadonlyMap<string, number>, declare: boolean): Promise<Group> {
    const stateLog = this.storage.persistent ? await this.storage.open(`groups/${encodeName(t.name)}/${encodeName(name)}`, this.#partOpts(true)) : undefined;
    const config: GroupConfig = { leaseMs: 30_000, maxAttempts: 0, messageTtlMs: t.config.messageTtlMs ?? 0, maxLength: 0, overflow: 'drop-head' };
    applyGroupOptions(config, opts);
    const g = new Group(t.name, name, config, this.#groupHost, stateLog, startAt);
    g.sawExpiring = t.sawExpiring;
    for (const lane of [...t.lanes.values()]) g.addLane(lane);
    t.groups.set(name, g);
    if (declare) {
      if (startAt !== 'earliest') await g.persistStart();
      appendJson(this.#catalog, { t: 'group', topic: t.name, name, startAt: startAt === 'earliest' ? 'earliest' : 'latest' } satisfies CatalogRecord);
      await this.#catalog.durable();
    }
    return g;
  }

  /** Deletes a group and its state. */
  async deleteGroup(topicName: string, name: string): Promise<boolean> {
    this.#check();
    const t = this.#topics.get(topicName);
    if (!t?.groups.get(name)) return false;
    await this.#txLog?.drain(); // see deleteTopic
    const g = t.groups.get(name);
    if (!g) return false;
    t.groups.delete(name);
    await g.close();
    if (g.stateLog) await this.storage.remove(`groups/${encodeName(topicName)}/${encodeName(name)}`);
    appendJson(this.#catalog, { t: 'drop-group', topic: topicName, name } satisfies CatalogRecord);
    await this.#catalog.durable();
    for (const l of t.lanes.values()) this.settledUpTo(l);
    return true;
  }

  readonly #groupHost = {
    engine: this as Engine,
    get clock(): Clock {
      return this.engine.clock;
    },
    deadLetter: (g: Group, rec: DecodedRecord, reason: DeadLetterReason, attempt: number, detail: string | undefined) =>
      this.#deadLetter(g, rec, reason, attempt, detail),
    onError: (e: unknown) => this.#onError(e),
    settledUpTo: (lane: Lane) => this.settledUpTo(lane),
  };

  async #deadLetter(g: Group, rec: DecodedRecord, reason: DeadLetterReason, attempt: number, detail: string | undefined): Promise<void> {
    const target = this.#deadLetters.get(g);
    if (!target || this.#closed) return;
    const headers: Record<string, string> = {
      ...rec.headers,
      'x-death-reason': reason,
      'x-attempts': String(attempt),
      'x-original-topic': g.topicName,
      'x-original-group': g.name,
    };
    if (detail !== undefined) headers['x-error-message'] = detail;
    let out: RecordInput = { body: rec.body, key: rec.key, headers, timestamp: rec.timestamp, priority: rec.priority, props: rec.props, propsFormat: rec.propsFormat };
    if (target.transform) out = target.transform(out, { reason, attempt, topic: g.topicName, group: g.name });
    if (target.exchange !== undefined) {
      const key = target.routingKey ?? target.routingKeyOf?.(rec) ?? rec.key ?? '';
      if (this.exchanges.get(target.exchange)) await this.exchanges.publish(target.exchange, key, [out]);
      return;
    }
    if (target.topic !== undefined) await this.publish(target.topic, [out]);
  }

  /**
   * Called whenever a group settles in `lane`: schedules (once per turn) deletion of segments that
   * every group has settled. A topic with retention configured keeps its data for its log readers
   * and is trimmed by retention instead.
   */
  settledUpTo(lane: Lane): void {
    this.#housekeeping.add(lane);
    if (this.#housekeepingScheduled) return;
    this.#housekeepingScheduled = true;
    setImmediate(() => {
      this.#housekeepingScheduled = false;
      const lanes = [...this.#housekeeping];
      this.#housekeeping.clear();
      for (const l of lanes) this.#trim(l).catch((e: unknown) => this.#onError(e));
    });
  }

  async #trim(lane: Lane): Promise<void> {
    const t = this.#laneTopic.get(lane);
    if (!t || this.#closed) return;
    if (t.config.cleanupPolicy === 'compact') return; // compacted, never deleted by age or size
    if (t.config.retentionMs !== undefined || t.config.retentionBytes !== undefined) {
      const start = lane.store.startOffset;
      const trimmed = lane.store.enforceRetention({ maxBytes: t.config.retentionBytes, maxAgeMs: t.config.retentionMs, now: this.clock.now() });
      // Retention deletes segments a group may not have read yet. A group whose read was on one
      // of them gets nothing back and its pump stops with the cursor below the end of the log,
      // and no append or ack may ever come to restart it: the groups are pumped again (their
      // next read starts at the new start). Both storages take the segments out of the log
      // within the call (the files go later), so this runs after any read could see them gone.
      if (lane.store.startOffset > start) for (const g of t.groups.values()) if (g.consumers.length > 0 || g.needsHousekeeping) g.schedulePump();
      await trimmed;
      return;
    }
    if (t.groups.size === 0 || t.groupsCreating > 0) return;
    let min = Infinity;
    for (const g of t.groups.values()) min = Math.min(min, g.lowWater(lane.key) ?? lane.store.startOffset);
    if (min > lane.store.startOffset && min !== Infinity) await lane.store.truncateBefore(min, DRAINED_TRIM);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle
  // ---------------------------------------------------------------------------------------------

  get closed(): boolean {
    return this.#closed;
  }

  /** Returns every lease, writes group state, fsyncs and closes storage. Idempotent. */
  #retentionTimer: (() => void) | undefined;

  /**
   * Retention runs on a timer as well as when groups settle, so a log-only topic (Kafka style,
   * nobody acking) is trimmed too. One timer for the whole engine, every 30 s of clock time.
   */
  #armRetention(): void {
    this.#retentionTimer = this.clock.setTimer(30_000, () => {
      if (this.#closed) return;
      for (const t of this.#topics.values()) {
        if (isCompacted(t.config)) this.compact(t.name, { onlyIfDirty: true }).catch((e: unknown) => this.#onError(e));
        if (t.config.retentionMs === undefined && t.config.retentionBytes === undefined) continue;
        for (const l of t.lanes.values()) this.settledUpTo(l);
      }
      this.#armRetention();
    });
  }

  readonly #compacting = new Set<Lane>();
  /** Per lane, what the last compaction pass saw: a pass with nothing new to do is skipped. */
  readonly #compacted = new WeakMap<Lane, { sealedEnd: number; lastExcluded: boolean; nextTombstoneExpiry: number }>();

  /**
   * Runs one compaction pass (compaction.ts) over every lane of `topicName`, or of every topic
   * whose cleanup policy includes 'compact'. Also run by the retention timer, with `onlyIfDirty`:
   * a lane is skipped when no segment was sealed since its last pass and no kept tombstone has
   * expired (a pass reads all sealed data twice, so an idle compacted topic must not pay that
   * every 30 s). A lane already being compacted is skipped. Resolves with the summed statistics.
   */
  async compact(topicName?: string, opts: { onlyIfDirty?: boolean } = {}): Promise<CompactionStats> {
    this.#check();
    const total: CompactionStats = { sealedEnd: -1, nextTombstoneExpiry: Infinity, segmentsRewritten: 0, recordsRemoved: 0, tombstonesRemoved: 0, bytesBefore: 0, bytesAfter: 0 };
    const topics = topicName === undefined ? [...this.#topics.values()].filter((t) => isCompacted(t.config)) : [this.#topics.get(topicName)];
    for (const t of topics) {
      if (!t) throw err('MQ_ERR_NOT_FOUND', `no topic "${String(topicName)}"`);
      for (const lane of [...t.lanes.values()]) {
        if (this.#compacting.has(lane) || this.#closed) continue;
        const sealed = lane.store.sealedSegments();
        const sealedEnd = sealed.length > 0 ? sealed[sealed.length - 1]!.end : -1;
        const lastExcluded = sealedEnd >= lane.store.endOffset;
        const seen = this.#compacted.get(lane);
        if (opts.onlyIfDirty && seen && seen.sealedEnd === sealedEnd && seen.lastExcluded === lastExcluded && this.clock.now() < seen.nextTombstoneExpiry) continue;
        this.#compacting.add(lane);
        try {
          const s = await compactPartition(lane.store, { now: this.clock.now(), deleteRetentionMs: t.config.deleteRetentionMs });
          this.#compacted.set(lane, { sealedEnd: s.sealedEnd, lastExcluded: s.sealedEnd >= lane.store.endOffset, nextTombstoneExpiry: s.nextTombstoneExpiry });
          total.sealedEnd = Math.max(total.sealedEnd, s.sealedEnd);
          total.nextTombstoneExpiry = Math.min(total.nextTombstoneExpiry, s.nextTombstoneExpiry);
          total.segmentsRewritten += s.segmentsRewritten;
          total.recordsRemoved += s.recordsRemoved;
          total.tombstonesRemoved += s.tombstonesRemoved;
          total.bytesBefore += s.bytesBefore;
          total.bytesAfter += s.bytesAfter;
        } catch (e) {
          // A store closed under the pass (topic deleted, engine closing) is not an error.
          if (!(isOmnibusError(e) && e.code === 'MQ_ERR_CLOSED')) throw e;
        } finally {
          this.#compacting.delete(lane);
        }
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#retentionTimer?.();
    for (const list of this.#dataWaiters.values()) for (const w of list) w();
    this.#dataWaiters.clear();
    await this.#txLog?.drain().catch((e: unknown) => this.#onError(e));
    for (const t of this.#topics.values()) for (const g of t.groups.values()) await g.close();
    await this.storage.close();
  }
}

/** The serialisable part of a group's options (a dead-letter transform is code: not persisted). */
type PersistedGroupOptions = Pick<GroupOptions, 'leaseMs' | 'maxAttempts' | 'messageTtlMs' | 'maxLength' | 'overflow'> & {
  deadLetter?: { topic?: string | undefined; exchange?: string | undefined; routingKey?: string | undefined };
};

function persistedOptions(c: GroupConfig, dl: DeadLetterTarget | undefined): PersistedGroupOptions {
  const o: PersistedGroupOptions = { leaseMs: c.leaseMs, maxAttempts: c.maxAttempts, messageTtlMs: c.messageTtlMs, maxLength: c.maxLength, overflow: c.overflow };
  if (dl) o.deadLetter = { topic: dl.topic, exchange: dl.exchange, routingKey: dl.routingKey };
  return o;
}

function applyGroupOptions(c: GroupConfig, o: GroupOptions): void {
  if (o.leaseMs !== undefined) {
    if (!(o.leaseMs > 0)) throw err('MQ_ERR_INVALID_ARGUMENT', `leaseMs must be > 0, got ${o.leaseMs}`);
    c.leaseMs = o.leaseMs;
  }
  if (o.maxAttempts !== undefined) {
    if (!(o.maxAttempts >= 0) || !Number.isInteger(o.maxAttempts)) throw err('MQ_ERR_INVALID_ARGUMENT', `maxAttempts must be an integer >= 0`);
    c.maxAttempts = o.maxAttempts;
  }
  if (o.messageTtlMs !== undefined) c.messageTtlMs = o.messageTtlMs;
  if (o.maxLength !== undefined) c.maxLength = o.maxLength;
  if (o.maxLengthBytes !== undefined) c.maxLengthBytes = o.maxLengthBytes;
  if (o.overflow !== undefined) c.overflow = o.overflow;
  if (o.filter !== undefined) c.filter = o.filter;
}

function maxTimestamp(records: readonly RecordInput[]): number {
  let m = 0;
  for (const r of records) if (r.timestamp > m) m = r.timestamp;
  return m;
}

/** FNV-1a over UTF-16 code units: stable, cheap, and good enough to spread keys over partitions. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


export { decodeName };

/** True when a topic's cleanup policy includes compaction. */
function isCompacted(c: TopicConfig): boolean {
  return c.cleanupPolicy === 'compact' || c.cleanupPolicy === 'compact,delete';
}
