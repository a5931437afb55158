/**
 * An AMQP queue as the session layer sees it: an engine topic of the same name consumed by the
 * DEFAULT_GROUP group (classic queues) or read as a log (stream queues), plus the AMQP-only state
 * the engine does not model: declaration flags and arguments (for 406 on inequivalent redeclare),
 * the exclusive owner, auto-delete, x-expires, single-active-consumer and the consumer set.
 *
 * Not here: wire encoding (channel.ts / consumer.ts) and method semantics (handlers/).
 */
import type { Group } from '../../../engine/group.js';
import type { FieldTable } from '../index.js';
import type { AmqpConnection } from './connection.js';

/** A consumer attached to a queue (classic or stream). */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** Attaches to the engine (classic) or starts reading (stream); called when it becomes active. */
  activate(): void;
  /** Server-side cancel (queue deleted): notify the client if it supports it, and detach. */
  cancelByServer(): void;
}

/** Normalised declaration arguments that take part in the equivalence check. */
export interface QueueArgs {
  messageTtl?: number | undefined;
  expires?: number | undefined;
  maxLength?: number | undefined;
  maxLengthBytes?: number | undefined;
  overflow?: 'drop-head' | 'reject-publish' | 'reject-publish-dlx' | undefined;
  deadLetterExchange?: string | undefined;
  deadLetterRoutingKey?: string | undefined;
  maxPriority?: number | undefined;
  singleActiveConsumer?: boolean | undefined;
  queueType: 'classic' | 'stream';
  /** x-omnibus-log: the topic without a group of its own (only its group queues consume it). */
  log?: boolean | undefined;
  /** x-omnibus-group-of: this queue is the group named after it on that queue's topic. */
  groupOf?: string | undefined;
  /** x-omnibus-start: where a new group queue starts (default the earliest retained message). */
  start?: 'earliest' | 'latest' | undefined;
}

/** Argument names as the client sends them, for RabbitMQ's "inequivalent arg" message. */
export const ARG_NAMES: Record<keyof QueueArgs, string> = {
  messageTtl: 'x-message-ttl',
  expires: 'x-expires',
  maxLength: 'x-max-length',
  maxLengthBytes: 'x-max-length-bytes',
  overflow: 'x-overflow',
  deadLetterExchange: 'x-dead-letter-exchange',
  deadLetterRoutingKey: 'x-dead-letter-routing-key',
  maxPriority: 'x-max-priority',
  singleActiveConsumer: 'x-single-active-consumer',
  queueType: 'x-queue-type',
  log: 'x-omnibus-log',
  groupOf: 'x-omnibus-group-of',
  start: 'x-omnibus-start',
};

export class AmqpQueue {
  readonly consumers = new Set<QueueConsumer>();
  /** Single-active-consumer: consumers waiting for the active one to go. */
  readonly waiting: QueueConsumer[] = [];
  hadConsumer = false;
  deleted = false;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    readonly durable: boolean,
    readonly autoDelete: boolean,
    public exclusiveOwner: AmqpConnection | undefined,
    readonly args: QueueArgs,
    readonly rawArgs: FieldTable,
    /** The engine group (classic queues); undefined for streams. */
    readonly group: Group | undefined,
    private readonly onExpire: (q: AmqpQueue) => void,
  ) {}

  get isStream(): boolean {
    return this.args.queueType === 'stream';
  }

  /** The engine topic holding the messages: the queue's own, or for a group queue its log's. */
  get topic(): string {
    return this.args.groupOf ?? this.name;
  }

  /** A group queue (x-omnibus-group-of): consumes another queue's topic, holds no messages itself. */
  get isGroupView(): boolean {
    return this.args.groupOf !== undefined;
  }

  /** A log queue (x-omnibus-log): stores what is routed to it for its group queues; no consumers. */
  get isLog(): boolean {
    return this.args.log === true;
  }

  get messageCount(): number {
    return this.group?.readyCount ?? 0;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  hasExclusiveConsumer(): boolean {
    for (const c of this.consumers) if (c.exclusive) return true;
    return false;
  }

  /** Adds a consumer; with single-active-consumer only the first is active, the rest wait. */
  addConsumer(c: QueueConsumer): void {
    this.hadConsumer = true;
    this.#cancelExpiry();
    if (this.args.singleActiveConsumer && this.consumers.size > 0) {
      this.waiting.push(c);
      return;
    }
    this.consumers.add(c);
    c.activate();
  }

  /** Removes a consumer; returns true when an auto-delete queue lost its last consumer. */
  removeConsumer(c: QueueConsumer): boolean {
    const w = this.waiting.indexOf(c);
    if (w >= 0) {
      this.waiting.splice(w, 1);
      return false;
    }
    if (!this.consumers.delete(c)) return false;
    const next = this.waiting.shift();
    if (next) {
      this.consumers.add(next);
      next.activate();
    }
    if (this.consumers.size === 0) {
      if (this.autoDelete && this.hadConsumer) return true;
      this.touch();
    }
    return false;
  }

  /** The queue was used (declare, get, consume ended): restart the x-expires countdown. */
  touch(): void {
    const ms = this.args.expires;
    if (ms === undefined || this.deleted || this.consumers.size > 0) return;
    this.#cancelExpiry();
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      if (!this.deleted && this.consumers.size === 0) this.onExpire(this);
    }, ms);
    this.#expiryTimer.unref();
  }

  #cancelExpiry(): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  /** Marks deleted, cancels every consumer (server-sent basic.cancel) and timers. */
  dispose(): void {
    this.deleted = true;
    this.#cancelExpiry();
    const all = [...this.consumers, ...this.waiting];
    this.consumers.clear();
    this.waiting.length = 0;
    for (const c of all) c.cancelByServer();
  }
}
