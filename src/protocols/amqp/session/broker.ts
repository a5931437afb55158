/**
 * State shared by every AMQP connection of one listener: the engine, the queue registry (AMQP
 * flags and arguments the engine does not keep), users, direct reply-to routes, stream wake-ups
 * and connection.blocked.
 *
 * Durable queue declarations (flags + arguments) are persisted in the storage log
 * `meta/amqp-queues` as JSON records and replayed by init(), so a restarted broker re-applies
 * TTL, DLX, max-length … to the engine groups (the engine persists topics, groups, exchanges and
 * bindings itself, but not group options).
 *
 * Not here: sockets and framing (connection.ts), per-channel state (channel.ts).
 */
import { err } from '../../../core/errors.js';
import type { Engine, GroupOptions } from '../../../engine/engine.js';
import { FORMAT_NATIVE } from '../../../engine/record.js';
import type { PartitionStore } from '../../../engine/storage/types.js';
import { DEFAULT_GROUP } from '../../../engine/topic.js';
import { FIELD_TAGS, fieldTagOf, type FieldTable, type FieldTag } from '../index.js';
import type { Channel } from './channel.js';
import type { AmqpConnection } from './connection.js';
import { deadLetterTarget } from './dead-letter.js';
import { AmqpQueue, ARG_NAMES, type QueueArgs } from './queue.js';
import { ResourceAlarms, type ResourceAlarmOptions } from './alarms.js';
import { plainTable } from './util.js';

/** RabbitMQ's consumer_timeout default: an unacked delivery older than this is requeued. */
export const LEASE_MS = 30 * 60 * 1000;

export interface AmqpBrokerOptions {
  /** user → password. Default: guest/guest (loopback only). */
  users?: ReadonlyMap<string, string>;
  /** Allow `guest` from non-loopback addresses (RabbitMQ's loopback_users = none). Default false. */
  guestAnywhere?: boolean;
  /** Proposed heartbeat in seconds (connection.tune). Default 60. */
  heartbeat?: number;
  /** Proposed and maximum frame size. Default 131072. */
  frameMax?: number;
  /** Proposed and maximum channel number. Default 2047. */
  channelMax?: number;
  /** Maximum open connections; more are refused. Default 10000. */
  maxConnections?: number;
  /**
   * Memory and disk alarms that block publishers (connection.blocked), as RabbitMQ's
   * vm_memory_high_watermark and disk_free_limit. Default: none (the `omnibus serve` listener
   * passes RabbitMQ's defaults, 0.4 of RAM and 50 MB).
   */
  alarms?: ResourceAlarmOptions;
  log?: (line: string) => void;
}

type QueueMetaRecord =
  /** raw: the declared x-arguments with their wire tags, for RabbitMQ's redeclare texts after a restart. */
  | { t: 'queue'; name: string; autoDelete: boolean; args: Record<string, unknown>; raw?: [string, FieldTag, string | number | boolean][] }
  | { t: 'drop'; name: string };

export const PREDECLARED: readonly [string, 'direct' | 'fanout' | 'topic' | 'headers'][] = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

export class AmqpBroker {
  readonly queues = new Map<string, AmqpQueue>();
  /** Group queues (x-omnibus-group-of) by the topic they consume: deleted with it. */
  readonly #groupQueues = new Map<string, Set<AmqpQueue>>();
  readonly connections = new Set<AmqpConnection>();
  /** Direct reply-to: token → consuming channel and consumer tag. */
  readonly replyTo = new Map<string, { ch: Channel; tag: string }>();
  /** Stream queue wake-ups: queue name → listeners. */
  readonly #streamWaiters = new Map<string, Set<() => void>>();
  readonly users: ReadonlyMap<string, string>;
  readonly opts: Required<Omit<AmqpBrokerOptions, 'users' | 'log' | 'alarms'>>;
  readonly alarms: ResourceAlarms | undefined;
  readonly log: (line: string) => void;
  #meta: PartitionStore | undefined;
  #blocked: string | undefined;
  #nextConnId = 1;

  constructor(
    readonly engine: Engine,
    opts: AmqpBrokerOptions = {},
  ) {
    this.users = opts.users ?? new Map([['guest', 'guest']]);
    this.opts = {
      guestAnywhere: opts.guestAnywhere ?? false,
      heartbeat: opts.heartbeat ?? 60,
      frameMax: opts.frameMax ?? 131072,
      channelMax: opts.channelMax ?? 2047,
      maxConnections: opts.maxConnections ?? 10_000,
    };
    this.log = opts.log ?? (() => {});
    const a = opts.alarms;
    this.alarms =
      a !== undefined && (a.memoryHighWatermarkBytes !== undefined || (a.diskFreeLimitBytes !== undefined && a.dataDir !== undefined))
        ? new ResourceAlarms({ ...a, clock: a.clock ?? engine.clock }, (reason, resource, on) => {
            // RabbitMQ's log lines: "memory resource limit alarm set on node ...".
            const al = this.alarms;
            const detail = resource === 'memory' ? `RSS ${al?.lastMemoryBytes ?? '?'} B, watermark ${a.memoryHighWatermarkBytes} B` : `free ${al?.lastDiskFreeBytes ?? '?'} B, limit ${a.diskFreeLimitBytes} B`;
            this.log(`amqp: ${resource} resource limit alarm ${on ? 'set' : 'cleared'} (${detail})${on ? ': publishers are blocked' : reason === undefined ? ': publishers unblocked' : ''}`);
            this.setBlocked(reason);
          })
        : undefined;
  }

  /** Stops the alarm sampling (listener shutdown). */
  close(): void {
    this.alarms?.stop();
  }

  nextConnectionId(): number {
    return this.#nextConnId++;
  }

  /** Predeclares the default and amq.* exchanges and restores durable queues. */
  async init(): Promise<void> {
    await this.alarms?.start();
    // A queue deleted through another protocol (or an admin API): its AMQP consumers get a
    // server-sent basic.cancel, as when a RabbitMQ queue is deleted under them.
    this.engine.onTopicDeleted((name) => {
      // The queue of that name and every group queue on its topic go with it.
      const own = this.queues.get(name);
      for (const q of [...(own && !own.isGroupView ? [own] : []), ...(this.#groupQueues.get(name) ?? [])]) {
        if (q.deleted) continue;
        this.#forget(q);
        q.dispose();
        if (q.durable && q.exclusiveOwner === undefined) this.#persist({ t: 'drop', name: q.name }).catch((e: unknown) => this.log(`amqp: forgetting ${q.name} failed: ${String(e)}`));
      }
      this.#groupQueues.delete(name);
      this.notifyStream(name);
    });
    for (const [name, type] of PREDECLARED) {
      if (!this.engine.exchanges.get(name)) {
        // The default exchange is not persisted: its bindings (one per queue) are rebuilt here.
        await this.engine.exchanges.declare({ name, type, durable: name !== '', autoDelete: false, internal: false, arguments: {} });
      }
    }
    if (!this.engine.storage.persistent) return;
    this.#meta = await this.engine.storage.open('meta/amqp-queues', { fsync: this.engine.fsync, fsyncIntervalMs: 200, segmentBytes: 1024 * 1024 });
    const decls = new Map<string, Extract<QueueMetaRecord, { t: 'queue' }>>();
    for (let off = this.#meta.startOffset; off < this.#meta.endOffset; ) {
      const batches = await this.#meta.read(off, 1 << 20);
      if (batches.length === 0) break;
      for (const b of batches) {
        if (b.baseOffset >= off) {
          const r = JSON.parse(b.payload.toString('utf8')) as QueueMetaRecord;
          if (r.t === 'queue') decls.set(r.name, r);
          else decls.delete(r.name);
        }
        off = b.baseOffset + b.count;
      }
    }
    // Group queues after the rest: their log queue must be registered first.
    const ordered = [...decls.values()].sort((a, b) => Number('groupOf' in a.args) - Number('groupOf' in b.args));
    for (const d of ordered) {
      const args = d.args as unknown as QueueArgs;
      if (!this.engine.getTopic(args.groupOf ?? d.name)) continue;
      await this.createQueue(d.name, true, d.autoDelete, undefined, args, rawFromMeta(d.raw, args), false);
    }
    // Other protocols' topics are reachable through the default exchange too.
    for (const name of this.engine.topicNames()) {
      await this.engine.exchanges.bind('', { kind: 'topic', name }, name).catch(() => {});
    }
  }

  /** Looks a queue up; a topic made by another protocol is adopted as a durable classic queue. */
  async findQueue(name: string): Promise<AmqpQueue | undefined> {
    const q = this.queues.get(name);
    if (q) return q;
    const t = this.engine.getTopic(name);
    if (!t) return undefined;
    return this.createQueue(name, t.config.durable !== false, false, undefined, { queueType: 'classic' }, {}, false);
  }

  /** Creates the engine topic/group and registers the queue. */
  async createQueue(name: string, durable: boolean, autoDelete: boolean, owner: AmqpConnection | undefined, args: QueueArgs, rawArgs: FieldTable, persist = true): Promise<AmqpQueue> {
    const existing = this.queues.get(name);
    if (existing) return existing;
    const stream = args.queueType === 'stream';
    const view = args.groupOf !== undefined;
    // A group queue's topic is its log queue's: it adds a group, never a topic.
    if (!view) await this.engine.topic(name, { durable, ...(args.messageTtl !== undefined && !stream ? { messageTtlMs: args.messageTtl } : {}) });
    else if (!this.engine.getTopic(args.groupOf!)) throw err('MQ_ERR_NOT_FOUND', `no topic "${args.groupOf!}" for group queue "${name}"`);
    let group;
    if (!stream && !args.log) {
      const opts: GroupOptions = {
        leaseMs: LEASE_MS,
        messageTtlMs: args.messageTtl ?? 0,
        maxLength: args.maxLength ?? 0,
        maxLengthBytes: args.maxLengthBytes ?? 0,
        overflow: args.overflow ?? 'drop-head',
      };
      if (args.deadLetterExchange !== undefined) {
        opts.deadLetter = deadLetterTarget(name, args.deadLetterExchange, args.deadLetterRoutingKey, () => this.engine.clock.now());
      }
      if (view) {
        // 'latest' is the log's end now, when the declaration is handled: a publish the client
        // issued after declare-ok is after it.
        opts.startAt = args.start === 'latest' ? this.engine.laneEnds(args.groupOf!) : 'earliest';
        group = await this.engine.group(args.groupOf!, name, opts);
      } else group = await this.engine.group(name, DEFAULT_GROUP, opts);
      // A backlog from before (a restart, another protocol's topic) counts towards the byte limit.
      if (args.maxLengthBytes !== undefined && group.readyCount > 0) await group.recountReadyBytes();
    }
    const again = this.queues.get(name);
    if (again) return again;
    const q = new AmqpQueue(name, durable, autoDelete, owner, args, rawArgs, group, (x) => {
      this.deleteQueue(x).catch((e: unknown) => this.log(`amqp: x-expires delete of ${x.name} failed: ${String(e)}`));
    });
    this.queues.set(name, q);
    if (view) {
      let set = this.#groupQueues.get(args.groupOf!);
      if (!set) this.#groupQueues.set(args.groupOf!, (set = new Set()));
      set.add(q);
    }
    // The default exchange routes a queue's name to its topic; a group queue has none of its own.
    if (!view) await this.engine.exchanges.bind('', { kind: 'topic', name }, name);
    if (persist && durable && owner === undefined) await this.#persist({ t: 'queue', name, autoDelete, args: { ...args }, raw: rawToMeta(rawArgs) });
    q.touch();
    return q;
  }

  /** Deletes the queue everywhere; returns the number of ready messages it had. */
  async deleteQueue(q: AmqpQueue): Promise<number> {
    if (q.deleted) return 0;
    const count = q.messageCount;
    this.#forget(q);
    q.dispose();
    // A group queue is a group on its log's topic; deleting a topic takes its group queues along
    // (onTopicDeleted).
    if (q.isGroupView) await this.engine.deleteGroup(q.topic, q.name);
    else await this.engine.deleteTopic(q.name);
    if (q.durable && q.exclusiveOwner === undefined) await this.#persist({ t: 'drop', name: q.name });
    this.notifyStream(q.name);
    return count;
  }

  /** Takes a queue out of the registry (and, for a group queue, out of its topic's set). */
  #forget(q: AmqpQueue): void {
    if (this.queues.get(q.name) === q) this.queues.delete(q.name);
    if (!q.isGroupView) return;
    const set = this.#groupQueues.get(q.topic);
    set?.delete(q);
    if (set?.size === 0) this.#groupQueues.delete(q.topic);
  }

  async #persist(r: QueueMetaRecord): Promise<void> {
    if (!this.#meta) return;
    this.#meta.append([{ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload: Buffer.from(JSON.stringify(r)) }]);
    await this.#meta.durable();
  }

  onStreamAppend(name: string, fn: () => void): () => void {
    let s = this.#streamWaiters.get(name);
    if (!s) this.#streamWaiters.set(name, (s = new Set()));
    s.add(fn);
    return () => {
      s.delete(fn);
      if (s.size === 0) this.#streamWaiters.delete(name);
    };
  }

  notifyStream(name: string): void {
    const s = this.#streamWaiters.get(name);
    if (s) for (const fn of [...s]) fn();
  }

  /**
   * connection.blocked / unblocked, driven by the resource alarms (or called directly): publishing
   * connections stop being read, and those with the capability are told why.
   */
  setBlocked(reason: string | undefined): void {
    if (this.#blocked === reason) return;
    this.#blocked = reason;
    for (const c of this.connections) c.onBlockedChange(reason);
  }

  get blockedReason(): string | undefined {
    return this.#blocked;
  }

  argsJson(t: FieldTable): Record<string, unknown> {
    return plainTable(t);
  }
}

/** The scalar x-arguments of a declaration with their wire tags (JSON-safe). */
function rawToMeta(t: FieldTable): [string, FieldTag, string | number | boolean][] {
  const out: [string, FieldTag, string | number | boolean][] = [];
  for (const [k, v] of Object.entries(t)) {
    const tag = fieldTagOf(t, k);
    if (tag !== undefined && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out.push([k, tag, v]);
  }
  return out;
}

function rawFromMeta(raw: [string, FieldTag, string | number | boolean][] | undefined, args: QueueArgs): FieldTable {
  const t: FieldTable = {};
  if (raw === undefined) {
    // Written before the raw arguments were kept: the normalised ones, with inferred tags.
    for (const [k, name] of Object.entries(ARG_NAMES) as [keyof QueueArgs, string][]) {
      const v = args[k];
      if (v !== undefined && (k !== 'queueType' || v === 'stream')) t[name] = v;
    }
    return t;
  }
  const tags: Record<string, FieldTag> = Object.create(null) as Record<string, FieldTag>;
  for (const [k, tag, v] of raw) {
    t[k] = v;
    tags[k] = tag;
  }
  Object.defineProperty(t, FIELD_TAGS, { value: tags });
  return t;
}
