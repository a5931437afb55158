/**
 * The public API every transport implements: memory:// and file:// (the embedded engine),
 * and later amqp://, redis://, kafka://, stomp://, mqtt://, zmq+tcp://, omnibus://.
 *
 * Model: a *topic* is an append-only log (1+ partitions). A *group* is a named set of competing
 * consumers on a topic: each message of the topic is delivered to one member of each group
 * (fan-out across groups, load-balancing within one). Subscribing without a group uses the group
 * "default". A new group starts at the earliest retained message unless `from: 'latest'`.
 */

/** Header values are strings on the wire of every transport; typed properties live in `properties`. */
export type Headers = Readonly<Record<string, string>>;

export interface Message {
  /** Unique per message within its topic; transport-specific format (offset-based here). */
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** Publish time, ms since epoch. */
  readonly timestamp: number;
  /** 0..255, higher first where the transport supports priorities. */
  readonly priority: number;
}

export interface OutgoingMessage {
  body: Uint8Array | string;
  key?: string;
  headers?: Record<string, string>;
  /** 0..255; default 0. */
  priority?: number;
  /** Deliver no earlier than now + delayMs. */
  delayMs?: number;
  /** Drop (or dead-letter) if not delivered within ttlMs of publishing. */
  ttlMs?: number;
  /** Producer-chosen timestamp (ms); default now. */
  timestamp?: number;
}

export interface Delivery extends Message {
  /** 1 on first delivery, +1 on every redelivery. */
  readonly attempt: number;
  /** True if this message was delivered before (attempt > 1). */
  readonly redelivered: boolean;
  /** Aborted when the lease is lost: it expired, the subscription closed, or the transport disconnected. */
  readonly signal: AbortSignal;
  /**
   * Settles the message as done. Idempotent: the first settlement (ack/nack/reject) wins and later
   * calls resolve without effect. Rejects with MQ_ERR_LEASE_LOST if the lease was already lost
   * (the message will be, or was, redelivered).
   */
  ack(): Promise<void>;
  /** Returns the message for redelivery, after `delayMs` if given. Idempotent like ack. */
  nack(opts?: { delayMs?: number }): Promise<void>;
  /** Never redeliver: dead-letter (if the group has a dead-letter target) or drop. Idempotent like ack. */
  reject(reason?: string): Promise<void>;
  /** Extends the lease by `ms` (default: the group's lease length) from now. */
  extend(ms?: number): Promise<void>;
}

export interface Capabilities {
  /** Messages survive a restart of the broker/process. */
  persistent: boolean;
  /** Named groups of competing consumers. */
  consumerGroups: boolean;
  /** 'partition': per-partition order with one consumer; 'key': per key; 'none'. */
  ordering: 'none' | 'partition' | 'key';
  /**
   * A new group can read messages published before it existed, as far as they are still retained.
   * The embedded engine frees a message once every group that exists has settled it (a queue's
   * disk is bounded by its backlog); Kafka keeps it for the topic's retention.
   */
  replay: boolean;
  /** Delays (publish delayMs and nack delayMs) are served natively. */
  nativeDelay: boolean;
  /** Rejected/expired messages go to a dead-letter target natively. */
  nativeDeadLetter: boolean;
  /** Priorities are honoured. */
  priorities: boolean;
  /** Leases expire and redeliver (visibility timeout). */
  leases: boolean;
  /** No duplicate is ever delivered. False for every at-least-once transport. */
  exactlyOnce: boolean;
  /** Largest body accepted, bytes. */
  maxPayload: number;
  /**
   * Capabilities the transport provides by emulation in the client (e.g. delays through TTL
   * queues, dead-lettering by republishing) rather than natively in the broker; the conformance
   * suite judges them like native ones. Names: 'delay', 'deadLetter', 'leases', 'attempts', 'ttl',
   * 'priorities', 'consumerGroups'. Absent or empty: everything claimed is native.
   */
  emulated?: readonly string[];
}

export interface SubscribeOptions {
  /** Group name; default 'default'. */
  group?: string;
  /** Maximum unsettled deliveries held by this subscriber; default 100. */
  prefetch?: number;
  /** Where a *new* group starts; default 'earliest'. Ignored for an existing group. */
  from?: 'earliest' | 'latest';
  /** Lease length in ms; an unsettled delivery older than this is redelivered. Default 30 000. */
  leaseMs?: number;
  /** After this many attempts a nacked message is dead-lettered instead; default unlimited. */
  maxAttempts?: number;
  /** Topic that receives rejected and exhausted messages; default none (dropped). */
  deadLetterTopic?: string;
  /**
   * A JMS / SQL-92 message selector over the headers (e.g. `color = 'red' AND weight > 10`;
   * numeric strings compare as numbers) and JMSPriority, JMSTimestamp, JMSMessageID, JMSXGroupID
   * (the key). Only matching messages are delivered to this subscriber; others wait for another
   * member of the group. An invalid selector throws MQ_ERR_SELECTOR.
   */
  selector?: string;
  /** Ends the subscription when aborted. */
  signal?: AbortSignal;
}

export interface BatchOptions {
  /** Most deliveries in one batch; default unlimited (a batch never holds more than prefetch). */
  max?: number;
}

export interface Subscription extends AsyncIterable<Delivery>, AsyncDisposable {
  readonly topic: string;
  readonly group: string;
  /**
   * The same deliveries a batch at a time: each step yields every delivery received and not yet
   * taken (at least one, at most `max`), in the order `for await` would give them; each is settled
   * on its own. Breaking out closes the subscription, as with `for await`. Why: iterating one
   * delivery per `next()` costs a promise, an iterator result and a microtask per message (~290 B
   * allocated on Node 20); a batch pays that once. Measured in-process on kafka://, that was at
   * most ~0.1 µs of the API layer's ~0.3–0.45 µs per record (docs/benchmarks.md). Use one reader
   * at a time: a second waiting reader (this or `next()`) rejects with MQ_ERR_INVALID_ARGUMENT.
   */
  batches(opts?: BatchOptions): AsyncIterable<readonly Delivery[]>;
  /**
   * Stops receiving and returns unsettled deliveries to the group (they are redelivered to other
   * members, with attempt + 1). Idempotent. Breaking out of `for await` does the same.
   */
  close(): Promise<void>;
}

export interface PublishOptions {
  signal?: AbortSignal;
}

export interface Transport extends AsyncDisposable {
  readonly scheme: string;
  readonly capabilities: Capabilities;
  /**
   * Publishes in order. Resolves when the transport has confirmed every message (for file://
   * with fsync 'always': after they are fsynced). A batch is all-or-nothing where the transport
   * can make it so (memory://, file://).
   */
  publish(topic: string, messages: readonly OutgoingMessage[], opts?: PublishOptions): Promise<void>;
  subscribe(topic: string, opts?: SubscribeOptions): Subscription;
  /** Closes subscriptions (returning unsettled messages), flushes and disconnects. Idempotent. */
  close(): Promise<void>;
}
