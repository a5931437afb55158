/**
 * A Group is queue semantics over a topic's log: competing consumers with per-message state.
 *
 * Every message of the topic is, for this group, in exactly one state:
 *
 *   ready     — not yet read (offset >= cursor.readOffset), read-ahead (cursor.buffer), or
 *               returned for redelivery (cursor.redeliver)
 *   delayed   — waiting in the group's deadline heap (publish delay, or nack with delay)
 *   leased    — delivered to a consumer, not settled (cursor.leased; deadline = lease expiry)
 *   settled   — acked, rejected, expired, filtered out or dead-lettered (below lowWater, or in
 *               cursor.settled above it)
 *
 * The heap holds only compact indexes: per lane a read offset, a low-water mark, a RangeSet of
 * settled offsets above it, the leased map (bounded by the consumers' prefetch) and the delayed
 * heap (one small object per delayed message). Message bodies stay in storage; a backlog of any
 * size costs the same heap.
 *
 * Persistence (persistent storage only): settlements and nacks are appended to the group's state
 * log (`groups/<topic>/<group>`) once per event-loop turn, as ranges; a snapshot replaces the
 * history when the log passes 1 MiB. Recovery replays it: ready = everything at or above the
 * low-water mark that is not settled. Acks are written lazily (not fsynced before the ack
 * resolves): a crash can only re-deliver an acked message, never lose an unacked one.
 *
 * Not done here: routing (the engine routes before appending), wire protocols, Kafka-style
 * committed offsets (engine.ts keeps those; they need no per-message state).
 */
import { err } from '../core/errors.js';
import { readU32LE } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { DeadlineHeap } from './deadline-heap.js';
import { RangeSet } from './range-set.js';
import { decodeBatch, decodeRecordAt, FORMAT_NATIVE, plainBodyStart, type DecodedRecord } from './record.js';
import { GONE_HEADER, nativeFromForeign } from './formats.js';
import { appendJson, readJson } from './storage/json-log.js';
import type { Lane } from './topic.js';
import type { PartitionStore, ReadLease, StoredBatch } from './storage/types.js';

export interface GroupConfig {
  leaseMs: number;
  /** Ready-message limit (AMQP x-max-length); 0 = unlimited. */
  maxLength: number;
  /** What happens past maxLength: drop (dead-letter) the oldest, or refuse the publish. */
  overflow: 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
  /**
   * Ready-message body-byte limit (AMQP x-max-length-bytes, RabbitMQ's message_bytes_ready: the
   * sum of the body sizes of the ready messages, properties not counted); 0 or absent = unlimited.
   * Same overflow as maxLength.
   */
  maxLengthBytes?: number;
  /** A nacked/expired-lease message on its maxAttempts-th attempt is dead-lettered; 0 = unlimited. */
  maxAttempts: number;
  /** Per-message TTL applied at delivery (ms after publish); 0 = none. */
  messageTtlMs: number;
  /** Group-wide filter (RocketMQ tags/SQL, JMS topic subscriptions): non-matching messages are settled. */
  filter?: ((r: DecodedRecord) => boolean) | undefined;
}

export type DeadLetterReason = 'rejected' | 'expired' | 'max-attempts' | 'maxlen';

/** Engine services a group needs; keeps group.ts free of engine internals. */
export interface GroupHost {
  readonly clock: Clock;
  /** Called for a message that leaves the group dead; the engine publishes it to the DLQ target if any. */
  deadLetter(group: Group, rec: DecodedRecord, reason: DeadLetterReason, attempt: number, detail: string | undefined): Promise<void>;
  /** Reports an internal failure (storage error) that could not be thrown to a caller. */
  onError(e: unknown): void;
  /** Lane data may be deleted below this offset as far as this group is concerned. */
  settledUpTo(lane: Lane): void;
}

const READ_BYTES = 512 * 1024;
const STATE_SNAPSHOT_BYTES = 1024 * 1024;
/**
 * While settlements keep coming, the state log is appended at most once per this many
 * milliseconds (the first settlement after a quiet period still goes out at the next turn). One
 * append per event-loop turn with acks meant one JSON record, one partition frame and one
 * threadpool write per few acks for a consumer that acks each message as it arrives (an MQTT
 * QoS 1 subscriber draining a backlog reads its PUBACKs a few at a time): ~14 % of the broker's
 * CPU in a profile of such a drain (file storage, 128 B). At 10 ms it is at most 100 appends a
 * second per group. The cost: a process crash can forget the acks of the last 10 ms as well as
 * those of the turn in progress — those messages come again (acks are at-least-once; an fsync
 * 'interval' store already loses up to its interval on a power cut). persistState() and close()
 * still write at once. Real time, not the injected clock: it paces I/O and changes no delivery
 * semantics, and a manual clock in a test would otherwise hold settlements back for ever.
 */
const STATE_FLUSH_MS = 10;
const RESOLVED: Promise<void> = Promise.resolve();
const NOOP = (): void => undefined;

interface RedeliverItem {
  offset: number;
  /** Deliveries so far. */
  attempts: number;
  rec: DecodedRecord | undefined;
}

interface DelayedItem {
  due: number;
  cursor: Cursor;
  offset: number;
  attempts: number;
  /** Body bytes, counted back into the ready bytes when it is due (undefined = unknown, 0). */
  bytes?: number;
}

/** Receives a message body as `buf[start, end)` (see Group.takeBodies for how long it stays valid). */
export type BodyVisitor = (buf: Buffer, start: number, end: number) => void;

class Cursor {
  readOffset: number;
  lowWater: number;
  readonly settled = new RangeSet();
  readonly leased = new Map<number, DeliveryImpl>();
  /** FIFO of returned messages (array + head index: shift() is O(n)). */
  redeliver: RedeliverItem[] = [];
  redeliverHead = 0;
  /**
   * Read-ahead: raw batches from storage, decoded one record at a time as they are delivered.
   * Decoding lazily keeps at most one decoded record per cursor alive beyond what consumers hold
   * (decoding a whole 512 KiB read up front kept ~3,500 objects alive at 128 B and pushed them
   * into the old generation: dequeue ran at half speed).
   */
  #batches: StoredBatch[] = [];
  #bi = 0;
  #ri = 0;
  #pos = 0;
  #from = 0;
  #head: DecodedRecord | undefined;
  /**
   * The lease on the pooled buffer #batches live in (storage readLeased), held once by the
   * cursor while it reads them. A record taken with shift() may go anywhere, so it escapes the
   * lease (the buffer is never reused); shiftPinned() takes a reference for a delivery instead.
   */
  #lease: ReadLease | undefined;
  /** Records in #batches not yet decoded (approximate ready count for the read-ahead). */
  #undecoded = 0;
  /** Advances monotonically whenever a buffered record is taken (progress detection). */
  taken = 0;
  /** Called for placeholder records of foreign batches (compacted-away offsets): the group settles them. */
  onGone: ((offset: number) => void) | undefined;
  /** Offsets at or above readOffset that must be skipped by the forward read (recovered nacks). */
  readonly skip = new Set<number>();
  /** Previous delivery counts recovered from the state log, consumed by the forward read. */
  readonly recoveredAttempts = new Map<number, number>();
  /** Ack ranges not yet written to the state log. */
  pendingSettled: number[] = [];
  constructor(
    readonly lane: Lane,
    start: number,
  ) {
    this.readOffset = start;
    this.lowWater = start;
  }
  get store(): PartitionStore {
    return this.lane.store;
  }
  hasRedeliver(): boolean {
    return this.redeliverHead < this.redeliver.length;
  }
  /** Replaces the read-ahead with `batches` (native format only), skipping offsets below `from`. */
  setBatches(batches: StoredBatch[], from: number, lease?: ReadLease): void {
    const old = this.#lease;
    if (old !== undefined) {
      if (this.#head !== undefined) old.escape(); // peeked and not taken: its holder is unknown
      old.release();
    }
    this.#lease = lease;
    this.#batches = batches;
    this.#bi = 0;
    this.#ri = 0;
    this.#pos = 0;
    this.#from = from;
    this.#head = undefined;
    // Counted: records at or above `from` not already settled (peek() skips those uncounted).
    let n = 0;
    for (const b of batches) {
      const lo = Math.max(from, b.baseOffset, this.lowWater);
      const hi = b.baseOffset + b.count - 1;
      if (hi >= lo) n += hi - lo + 1 - this.settled.countIn(lo, hi);
    }
    this.#undecoded = n;
  }

  /**
   * Drops the read-ahead and moves readOffset back to the first record it had not handed out,
   * so records there can be settled out of order (Group.takeNewest) and the forward read skips
   * them. Only valid while no recovered-delay offsets are pending (`skip` is empty).
   */
  rewind(): void {
    let next = this.readOffset;
    if (this.#head) next = this.#head.offset;
    else if (this.#bi < this.#batches.length) next = Math.max(this.#from, this.#batches[this.#bi]!.baseOffset + this.#ri);
    this.setBatches([], 0);
    this.readOffset = next;
  }

  /** The next buffered record (decoding it if needed), or undefined when the read-ahead is empty. */
  peek(): DecodedRecord | undefined {
    if (this.#head) return this.#head;
    // The batch walk is written out here rather than through #current() (as takePlain has it):
    // this is every delivery's path, and with the call per record embedded dequeue at 128 B
    // measured 1.50–1.62 M msg/s against 1.43–1.66 inline (four alternating runs each; medians
    // 1.55 and 1.62).
    const batches = this.#batches;
    while (this.#bi < batches.length) {
      const b = batches[this.#bi]!;
      if (this.#ri >= b.count) {
        this.#bi++;
        this.#ri = 0;
        this.#pos = 0;
        continue;
      }
      const off = b.baseOffset + this.#ri;
      this.#ri++;
      if (off < this.#from) {
        this.#pos += 4 + b.payload.readUInt32LE(this.#pos);
        continue;
      }
      const rec = decodeRecordAt(b.payload, this.#pos, off);
      this.#pos += rec.size;
      // Below the low-water mark is settled too: the mark may have passed read-ahead records
      // (settled out of order, then the gap before them closed), dropping their ranges.
      const settled = off < this.lowWater || this.settled.has(off);
      if (!settled) this.#undecoded--;
      if (this.skip.size > 0 && this.skip.delete(off)) continue;
      if (settled) continue;
      if (rec.headers[GONE_HEADER] !== undefined) {
        this.onGone?.(off);
        continue;
      }
      this.#head = rec;
      return rec;
    }
    if (this.#batches.length > 0) this.setBatches([], 0);
    return undefined;
  }

  /** The read-ahead batch with records left to walk (moving past finished ones), or undefined. */
  #current(): StoredBatch | undefined {
    const batches = this.#batches;
    while (this.#bi < batches.length) {
      const b = batches[this.#bi]!;
      if (this.#ri < b.count) return b;
      this.#bi++;
      this.#ri = 0;
      this.#pos = 0;
    }
    return undefined;
  }

  /** Nothing left in the read-ahead (no head, every batch walked): the next record needs a read. */
  drained(): boolean {
    return this.#head === undefined && this.#bi >= this.#batches.length;
  }

  /** Body bytes of the record takePlain() last handed out. */
  plainBytes = 0;

  /**
   * peek() + shift() without decoding, for a plain record (record.ts plainBodyStart): `visit`
   * gets its body as a byte range of the read-ahead. When that is a pooled read buffer, its lease
   * is retained once per buffer and pushed to `holds`: the range stays valid until the caller
   * releases it. Returns the record's offset, or -1 when the read-ahead is empty or its next
   * record is not plain; that record is then left decoded for peek(), and the caller takes the
   * general path.
   */
  takePlain(visit: BodyVisitor, holds: ReadLease[]): number {
    if (this.#head) return -1;
    for (let b = this.#current(); b !== undefined; b = this.#current()) {
      const off = b.baseOffset + this.#ri;
      const payload = b.payload;
      const pos = this.#pos;
      // As peek(): below `from` or settled (not counted in #undecoded) is passed over.
      if (off < this.#from || off < this.lowWater || this.settled.has(off)) {
        this.#ri++;
        this.#pos += 4 + payload.readUInt32LE(pos);
        continue;
      }
      const q = this.skip.size > 0 ? -1 : plainBodyStart(payload, pos);
      if (q < 0) {
        // Recovered-delay skips, a record that is not plain, or corrupt framing: peek() applies
        // its rules from here (and decodes the head, or throws on corruption).
        this.peek();
        return -1;
      }
      // plainBodyStart checked this length against the payload.
      const end = pos + 4 + readU32LE(payload, pos);
      this.#ri++;
      this.#pos = end;
      this.#undecoded--;
      this.taken++;
      const lease = this.#lease;
      if (lease !== undefined && holds[holds.length - 1] !== lease) {
        lease.retain();
        holds.push(lease);
      }
      this.plainBytes = end - q;
      visit(payload, q, end);
      return off;
    }
    if (this.#batches.length > 0) this.setBatches([], 0);
    return -1;
  }

  /** Consumes the record returned by peek(); it may be kept anywhere, so its buffer is never reused. */
  shift(): void {
    this.#head = undefined;
    this.taken++;
    this.#lease?.escape();
  }

  /**
   * Consumes the record returned by peek() for a holder that releases what this returns when it
   * no longer needs the record's bytes (a delivery to a consumer with `pinsBodies`).
   */
  shiftPinned(): ReadLease | undefined {
    this.#head = undefined;
    this.taken++;
    const l = this.#lease;
    l?.retain();
    return l;
  }

  hasBuffered(): boolean {
    return this.peek() !== undefined;
  }

  get bufferedCount(): number {
    return Math.max(0, this.#undecoded) + (this.#head ? 1 : 0);
  }
  /** True if something may be deliverable without waiting for time to pass. */
  mayHaveReady(): boolean {
    return this.hasRedeliver() || this.hasBuffered() || this.readOffset < this.store.endOffset;
  }
  /** Messages ready to deliver (settled-ahead records excluded; recovered delayed ones are estimated). */
  readyCount(): number {
    return (
      this.redeliver.length -
      this.redeliverHead +
      this.bufferedCount +
      this.unreadCount()
    );
  }
  /** Records at or above readOffset that are neither settled nor recovered-delayed. */
  unreadCount(): number {
    const from = Math.max(this.readOffset, this.lowWater);
    const end = this.store.endOffset;
    return Math.max(0, end - from - this.skip.size - this.settled.countIn(from, end - 1));
  }
}

/** One member of a group: a subscription's receiving end. */
export interface ConsumerSink {
  /** Maximum unsettled deliveries. */
  readonly prefetch: number;
  /** Receives deliveries; the group never pushes more than prefetch - inflight. */
  push(d: DeliveryImpl): void;
  /**
   * False while the consumer still holds deliveries its application has not taken yet (used to
   * batch refills); absent means always drained.
   */
  drained?(): boolean;
  /**
   * Consumer priority (AMQP x-priority): while a higher-priority consumer has credit, lower ones
   * get nothing; equal priorities share round-robin. Default 0.
   */
  readonly priority?: number | undefined;
  /** Per-consumer filter (JMS selector on a shared queue); non-matching messages wait for another consumer. */
  readonly filter?: ((r: DecodedRecord) => boolean) | undefined;
  /**
   * The consumer uses a delivery's body (and props) only until it acks it, or until it calls the
   * function `holdBody()` returned: it pins every asynchronous use (a socket write by reference
   * in flight) with holdBody() and releases it from that write's callback. The body's buffer may
   * then be a recycled file-read slab (storage readLeased), reused for other records once every
   * such holder is done; acked bodies must not be read again (their length stays right), and a
   * holdBody() taken after ack() protects nothing. A nack, reject or lost lease keeps
   * the body valid for ever (it goes back to the queue or to a dead-letter target).
   */
  readonly pinsBodies?: boolean;
}

export class Consumer {
  inflight = 0;
  closed = false;
  constructor(
    readonly id: number,
    readonly sink: ConsumerSink,
  ) {}
  get credit(): number {
    return this.closed ? 0 : this.sink.prefetch - this.inflight;
  }
}

export class Group {
  readonly cursors: Cursor[] = [];
  readonly #byLane = new Map<string, Cursor>();
  readonly consumers: Consumer[] = [];
  #rr = 0;
  #nextConsumerId = 1;
  readonly #delayed = new DeadlineHeap<DelayedItem>();
  #pumping = false;
  #again = false;
  #pumpScheduled = false;
  #closed = false;
  #leaseTimer: (() => void) | undefined;
  #leaseTimerAt = Infinity;
  #delayTimer: (() => void) | undefined;
  #delayTimerAt = Infinity;
  #stateDirty = false;
  #stateScheduled = false;
  #stateTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the last scheduled state append (see STATE_FLUSH_MS). */
  #stateFlushedAt = -Infinity;
  #stateWrite: Promise<void> = RESOLVED;
  #pendingNacks: { lane: string; offset: number; attempts: number; due: number }[] = [];
  /**
   * Body bytes of the ready messages (x-max-length-bytes): + on append and when a message returns
   * (nack, lost lease, delay due), − when one is leased, delayed, dropped, expired, filtered out or
   * taken. Exact for messages appended while the group exists; recountReadyBytes() sets it from
   * storage for a backlog that predates it. Reset to 0 whenever no message is ready, so a path
   * that settles without a record in hand (retention, foreign formats) cannot leave a drift.
   */
  #readyBytes = 0;

  constructor(
    readonly topicName: string,
    readonly name: string,
    public config: GroupConfig,
    readonly host: GroupHost,
    /** Persistent state log, or undefined for in-memory storage. */
    readonly stateLog: PartitionStore | undefined,
    /**
     * Where a new group's cursors start: 'earliest', 'latest' (the end when the lane is added), or
     * explicit offsets per lane key captured when the subscriber asked (lanes missing from the map
     * start at their beginning: all their messages are newer than the request).
     */
    readonly startAt: 'earliest' | 'latest' | ReadonlyMap<string, number>,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  // ---------------------------------------------------------------------------------------------
  // Lanes
  // ---------------------------------------------------------------------------------------------

  /** Adds a lane (at creation, recovery, or when a priority lane appears). Idempotent. */
  addLane(lane: Lane, createdNow = false): Cursor {
    let c = this.#byLane.get(lane.key);
    if (c) return c;
    // A lane created after the group exists starts at its beginning: its messages are new.
    const sa = this.startAt;
    const start =
      createdNow || sa === 'earliest'
        ? lane.store.startOffset
        : sa === 'latest'
          ? lane.store.endOffset
          : Math.max(lane.store.startOffset, Math.min(sa.get(lane.key) ?? lane.store.startOffset, lane.store.endOffset));
    c = new Cursor(lane, start);
    const cur = c;
    c.onGone = (o) => this.#settle(cur, o);
    this.#byLane.set(lane.key, c);
    this.cursors.push(c);
    // Highest priority first; equal priorities by partition.
    this.cursors.sort((a, b) => b.lane.priority - a.lane.priority || a.lane.partition - b.lane.partition);
    return c;
  }

  cursorFor(laneKey: string): Cursor | undefined {
    return this.#byLane.get(laneKey);
  }

  /** The lowest offset this group still needs in `lane`. */
  lowWater(laneKey: string): number | undefined {
    return this.#byLane.get(laneKey)?.lowWater;
  }

  // ---------------------------------------------------------------------------------------------
  // Consumers
  // ---------------------------------------------------------------------------------------------

  addConsumer(sink: ConsumerSink): Consumer {
    if (this.#closed) throw err('MQ_ERR_CLOSED', `group "${this.name}" is closed`);
    const c = new Consumer(this.#nextConsumerId++, sink);
    this.consumers.push(c);
    if ((sink.priority ?? 0) !== 0) this.#prioritized = true;
    if (sink.pinsBodies === true) this.#pinningConsumers++;
    this.schedulePump();
    return c;
  }

  /** Removes a consumer, returning its unsettled deliveries for redelivery (attempt + 1). */
  removeConsumer(c: Consumer): void {
    if (c.closed) return;
    c.closed = true;
    const i = this.consumers.indexOf(c);
    if (i >= 0) this.consumers.splice(i, 1);
    if (c.sink.pinsBodies === true) this.#pinningConsumers--;
    // Leases are found through the cursors rather than a per-consumer set: closing is rare, and a
    // set would cost an insert and a delete per delivery (~6 % of dequeue time at 128 B).
    for (const cur of this.cursors) for (const d of [...cur.leased.values()]) if (d.consumer === c) this.#loseLease(d, false);
    this.schedulePump();
  }

  /** Called when new data was appended to one of the lanes, or state changed. */
  schedulePump(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    // A resolved-promise continuation, not queueMicrotask: the latter allocates an AsyncResource
    // per call (~3 % of dequeue time when acks trigger it).
    RESOLVED.then(this.#runPump).catch((e: unknown) => this.host.onError(e));
  }

  readonly #runPump = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    this.#pumpLoop().then(
      () => this.#endPump(),
      (e: unknown) => {
        this.#pumping = false;
        this.#notifyIdle();
        this.host.onError(e);
      },
    );
  }

  /** Releases the pump: runs it again if work arrived meanwhile, else wakes whenIdle() waiters. */
  #endPump(): void {
    this.#pumping = false;
    if (this.#again) {
      this.#again = false;
      this.#pump();
    } else this.#notifyIdle();
  }

  #idleWaiters: (() => void)[] = [];

  #notifyIdle(): void {
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once a pump has run to completion after this call (every deliverable message went out). */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      if (this.#pumping) this.#again = true;
      else {
        this.#pumpScheduled = false;
        this.#pump();
      }
    });
  }

  /** Messages with an expiry were published to the topic: head expiry must be swept without consumers. */
  sawExpiring = false;

  /** True when the group has work to do even without consumers (TTL at the head, max length). */
  get needsHousekeeping(): boolean {
    return this.config.messageTtlMs > 0 || this.config.maxLength > 0 || (this.config.maxLengthBytes ?? 0) > 0 || this.sawExpiring;
  }

  #getter: Consumer | undefined;

  /**
   * Takes one ready message, if any, leased to no consumer (AMQP basic.get, Redis RPOP). The
   * delivery is settled through its own ack/nack/reject like any other.
   */
  async get(): Promise<DeliveryImpl | undefined> {
    if (this.#closed) throw err('MQ_ERR_CLOSED', `group "${this.name}" is closed`);
    let got: DeliveryImpl | undefined;
    const c = new Consumer(0, { prefetch: 1, push: (d) => void (got = d) });
    // Only the getter may receive while it is installed; gets are serialised.
    while (this.#getter) await this.whenIdle();
    this.#getter = c;
    this.consumers.push(c);
    try {
      await this.whenIdle();
    } finally {
      this.#getter = undefined;
      c.closed = true;
      const i = this.consumers.indexOf(c);
      if (i >= 0) this.consumers.splice(i, 1);
    }
    return got;
  }

  /**
   * Removes up to `max` ready messages in delivery order and settles them as consumed in one
   * step, with no consumer and no lease (Redis `RPOP key count`). Per message this is a decode
   * and a settle, where get() + ack() costs a consumer install, a pump pass, a lease and an ack
   * per message. Messages met on the way that have expired are dead-lettered, ones
   * the group filter rejects are settled, and delayed ones are scheduled, as delivery would do.
   * The settlements reach the state log lazily, like acks. A message taken here cannot be given
   * back: use get() when the caller may have to return it (e.g. a move that can fail).
   */
  async takeBatch(max: number): Promise<DecodedRecord[]> {
    const out: DecodedRecord[] = [];
    await this.#takeInto(max, out, undefined);
    return out;
  }

  /**
   * takeBatch() for a caller that needs only the bodies (Redis `RPOP key count` writing its
   * reply): each body goes to `visit`, in delivery order, and plain records (record.ts
   * plainBodyStart) are never decoded into objects. Returns how many were taken.
   *
   * From the first call on, the group reads ahead into the store's pooled buffers (readLeased):
   * a 1 KiB drain of 1 GB through fresh 512 KiB reads spent ~20 % of the broker's CPU in V8's
   * external-memory GCs. A range handed to `visit` stays valid until every lease pushed to
   * `holds` (also when this rejects) is released; the caller must release each once.
   */
  takeBodies(max: number, visit: BodyVisitor, holds: ReadLease[]): Promise<number> {
    this.#copiesBodies = true;
    return this.#takeInto(max, undefined, visit, holds);
  }

  /** takeBodies() was used: the read-ahead goes into pooled buffers (see #fill). */
  #copiesBodies = false;

  async #takeInto(max: number, out: DecodedRecord[] | undefined, visit: BodyVisitor | undefined, holds: ReadLease[] = []): Promise<number> {
    if (this.#closed) throw err('MQ_ERR_CLOSED', `group "${this.name}" is closed`);
    let n = 0;
    if (!(max > 0)) return n;
    // Exclusive with the pump and get(): they move the same cursors. Holding the pump flag makes
    // any pump requested meanwhile run once this returns.
    while (this.#pumping || this.#getter) await this.whenIdle();
    this.#pumping = true;
    try {
      if (this.needsHousekeeping) await this.#housekeep();
      const now = this.host.clock.now();
      const checkEach = this.config.messageTtlMs > 0 || this.config.filter !== undefined;
      const plain = visit !== undefined && !checkEach;
      for (const c of this.cursors) {
        let took = false;
        while (n < max && !this.#closed) {
          // Fastest path: a plain record in the read-ahead, copied by the visitor undecoded.
          if (plain && c.recoveredAttempts.size === 0 && !c.hasRedeliver()) {
            const off = c.takePlain(visit, holds);
            if (off >= 0) {
              this.#readyBytes = Math.max(0, this.#readyBytes - c.plainBytes);
              this.#settleOne(c, off);
              n++;
              took = true;
              continue;
            }
            // An empty read-ahead is refilled here: through #peek() its first record would be decoded.
            if (c.drained() && c.readOffset < c.store.endOffset) {
              const before = c.readOffset;
              await this.#fill(c);
              if (c.readOffset > before) continue;
            }
          }
          // Fast path: the next record is in the read-ahead and nothing was returned before it.
          let rec: DecodedRecord | undefined;
          let attempts = 0;
          if (!c.hasRedeliver() && (rec = c.peek()) !== undefined) {
            c.shift();
            if (c.recoveredAttempts.size > 0) {
              attempts = c.recoveredAttempts.get(rec.offset) ?? 0;
              c.recoveredAttempts.delete(rec.offset);
            }
            if (rec.deliverAt > now) {
              this.#unready(rec);
              this.#schedule(c, rec.offset, attempts, rec.deliverAt, rec.body.length);
              continue;
            }
          } else {
            const h = await this.#peek(c);
            if (!h) break;
            this.#take(c, h.fromRedeliver);
            if (!h.fromRedeliver && h.attempts > 0) c.recoveredAttempts.delete(h.rec.offset);
            rec = h.rec;
            attempts = h.attempts;
          }
          if ((checkEach || rec.expiresAt !== 0) && (await this.#expireOrFilter(c, rec, attempts, now))) continue;
          this.#unready(rec);
          this.#settleOne(c, rec.offset);
          if (out !== undefined) out.push(rec);
          else visit!(rec.body, 0, rec.body.length);
          n++;
          took = true;
        }
        if (took) this.host.settledUpTo(c.lane);
        if (n >= max) break;
      }
    } finally {
      this.#endPump();
    }
    return n;
  }

  /**
   * Removes up to `max` of the newest ready messages, newest first, and settles them (Redis LPOP
   * on a list whose LPUSHes append: a stack). Reads only the tail of the log: a decode per
   * message plus one read per batch touched, where taking them in delivery order would mean
   * reading the whole backlog. The forward read skips the settled offsets later.
   *
   * Returns undefined, changing nothing, when the tail is not plain: more than one lane,
   * returned, delayed or expiring messages, a group filter, TTL or max length, or a foreign batch
   * at the tail. The caller then needs another way (e.g. taking everything and re-appending).
   */
  async takeNewest(max: number): Promise<DecodedRecord[] | undefined> {
    if (this.#closed) throw err('MQ_ERR_CLOSED', `group "${this.name}" is closed`);
    if (!(max > 0)) return [];
    while (this.#pumping || this.#getter) await this.whenIdle();
    const c = this.cursors[0];
    if (c === undefined || this.cursors.length !== 1) return undefined;
    if (c.hasRedeliver() || c.skip.size > 0 || this.#delayed.size > 0 || this.needsHousekeeping || this.config.filter !== undefined) return undefined;
    this.#pumping = true;
    try {
      const now = this.host.clock.now();
      const lo = Math.max(c.lowWater, c.lane.start);
      const picked: DecodedRecord[] = [];
      // Decoded records of the batch holding `off`, from `from` (only as far down as needed).
      let recs: DecodedRecord[] = [];
      let from = 0;
      for (let off = c.settled.below(c.store.endOffset - 1); off >= lo && picked.length < max; off = c.settled.below(off - 1)) {
        if (c.leased.has(off)) continue;
        if (recs.length === 0 || off < from) {
          const raw = (await c.store.read(off, 1))[0];
          if (raw === undefined || raw.baseOffset > off || raw.baseOffset + raw.count <= off || raw.format !== FORMAT_NATIVE) return undefined;
          from = Math.max(lo, raw.baseOffset, off - (max - picked.length) + 1);
          recs = [];
          // Only up to `off`: the records above it were taken before (a batch popped from its end
          // in runs of k was decoded to its end each time, O(batch² / k)).
          decodeBatch(raw.payload, raw.baseOffset, off - raw.baseOffset + 1, from, (r) => recs.push(r));
        }
        const rec = recs[off - from];
        if (rec === undefined || rec.offset !== off) return undefined;
        if (rec.deliverAt > now || rec.expiresAt !== 0 || rec.headers[GONE_HEADER] !== undefined) return undefined;
        picked.push(rec);
      }
      if (picked.length === 0) return picked;
      // Some of them may sit in the read-ahead: it is dropped and re-read past them later.
      if (picked[picked.length - 1]!.offset < c.readOffset) c.rewind();
      // Oldest first: consecutive offsets then coalesce into one range of the state log's
      // pending settlements (newest first made each message a range of its own: two JSON
      // numbers per message in the state log on file://, instead of two per run).
      for (let i = picked.length - 1; i >= 0; i--) this.#settleOne(c, picked[i]!.offset);
      this.host.settledUpTo(c.lane);
      return picked;
    } finally {
      this.#endPump();
    }
  }

  /**
   * The ready messages in the order they would be delivered (returned ones first, then the log,
   * highest priority lane first), without taking them, at most `max` (Redis LRANGE, LINDEX).
   * Leased, delayed, expired and settled messages are left out. A snapshot read from storage:
   * O(ready messages) reads, nothing reserved.
   */
  async peekReady(max = Infinity): Promise<DecodedRecord[]> {
    const out: DecodedRecord[] = [];
    if (!(max > 0)) return out;
    const now = this.host.clock.now();
    const ttl = this.config.messageTtlMs;
    const filter = this.config.filter;
    let delayed: Set<string> | undefined;
    if (this.#delayed.size > 0) {
      delayed = new Set();
      for (const item of this.#delayed.items()) delayed.add(`${item.cursor.lane.key}\0${item.offset}`);
    }
    for (const c of this.cursors) {
      if (out.length >= max) break;
      const returned = new Set<number>();
      for (let i = c.redeliverHead; i < c.redeliver.length; i++) {
        const item = c.redeliver[i]!;
        returned.add(item.offset);
        if (out.length >= max) continue;
        const rec = item.rec ?? (await this.#readOne(c, item.offset));
        if (rec) out.push(rec);
      }
      const lane = c.lane;
      let off = Math.max(c.lowWater, lane.start);
      const keep = (r: DecodedRecord): void => {
        if (out.length >= max) return;
        const o = r.offset;
        if (c.settled.has(o) || c.leased.has(o) || returned.has(o) || c.skip.has(o)) return;
        if (delayed?.has(`${lane.key}\0${o}`) || r.deliverAt > now) return;
        if ((r.expiresAt !== 0 && r.expiresAt <= now) || (ttl > 0 && r.timestamp + ttl <= now)) return;
        if (r.headers[GONE_HEADER] !== undefined || (filter !== undefined && !filter(r))) return;
        out.push(r);
      };
      while (off < c.store.endOffset && out.length < max) {
        const batches = await c.store.read(off, READ_BYTES);
        if (batches.length === 0) break;
        const before = off;
        for (const raw of batches) {
          const next = raw.baseOffset + raw.count;
          if (next <= off) continue;
          const b = raw.format === FORMAT_NATIVE ? raw : nativeFromForeign(raw);
          if (b) decodeBatch(b.payload, b.baseOffset, b.count, off, keep);
          off = next;
        }
        if (off === before) break;
      }
    }
    return out;
  }

  async #pumpLoop(): Promise<void> {
    for (;;) {
      this.#again = false;
      let progressed = false;
      if (this.needsHousekeeping) await this.#housekeep();
      for (const c of this.cursors) {
        if (this.#closed || !this.#hasCredit()) return;
        while (c.mayHaveReady() && this.#hasCredit()) {
          const before = c.readOffset + c.redeliverHead + c.taken;
          if (!(await this.#deliverFrom(c))) break;
          if (c.readOffset + c.redeliverHead + c.taken !== before) progressed = true;
        }
        // A higher-priority lane with ready messages starves lower ones only while it has them.
        if (c.mayHaveReady() && this.#hasCredit()) break;
      }
      if (!this.#again && !progressed) return;
    }
  }

  /** The highest-priority accepting consumer with credit; round-robin among equals. */
  #pickByPriority(rec: DecodedRecord): Consumer | undefined {
    const n = this.consumers.length;
    let best: Consumer | undefined;
    let bestIdx = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.#rr + k) % n;
      const c = this.consumers[i]!;
      if (c.credit <= 0 || (c.sink.filter !== undefined && !c.sink.filter(rec))) continue;
      if (!best || (c.sink.priority ?? 0) > (best.sink.priority ?? 0)) {
        best = c;
        bestIdx = i;
      }
    }
    if (best) this.#rr = (bestIdx + 1) % n;
    return best;
  }

  /** True if a consumer with credit has a filter (selective consumers need look-ahead). */
  #anySelective(): boolean {
    for (const c of this.consumers) if (c.credit > 0 && c.sink.filter !== undefined) return true;
    return false;
  }

  /** Removes redelivery item `i` (O(1) at the head, a splice elsewhere: only selective consumers skip). */
  #dropRedeliver(c: Cursor, i: number): number {
    if (i === c.redeliverHead) return ++c.redeliverHead;
    c.redeliver.splice(i, 1);
    return i;
  }

  #hasCredit(): boolean {
    if (this.#getter) return this.#getter.credit > 0;
    for (const c of this.consumers) if (c.credit > 0) return true;
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Housekeeping: max length and expiry at the head, with or without consumers
  // ---------------------------------------------------------------------------------------------

  #expiryTimer: (() => void) | undefined;
  #expiryTimerAt = Infinity;

  /** The next ready record of `c` without taking it (reads ahead if needed). */
  async #peek(c: Cursor): Promise<{ rec: DecodedRecord; attempts: number; fromRedeliver: boolean } | undefined> {
    const now = this.host.clock.now();
    for (;;) {
      if (c.hasRedeliver()) {
        const item = c.redeliver[c.redeliverHead]!;
        if (!item.rec) item.rec = await this.#readOne(c, item.offset);
        if (!item.rec) {
          c.redeliverHead++;
          this.#settle(c, item.offset);
          continue;
        }
        return { rec: item.rec, attempts: item.attempts, fromRedeliver: true };
      }
      if (!c.hasBuffered()) {
        if (c.readOffset >= c.store.endOffset) return undefined;
        const before = c.readOffset;
        await this.#fill(c);
        if (!c.hasBuffered()) {
          if (c.readOffset > before) continue;
          return undefined;
        }
      }
      const rec = c.peek()!;
      const prev = c.recoveredAttempts.get(rec.offset) ?? 0;
      if (rec.deliverAt > now) {
        c.shift();
        this.#unready(rec);
        this.#schedule(c, rec.offset, prev, rec.deliverAt, rec.body.length);
        continue;
      }
      return { rec, attempts: prev, fromRedeliver: false };
    }
  }

  #take(c: Cursor, fromRedeliver: boolean): void {
    if (fromRedeliver) c.redeliverHead++;
    else c.shift();
  }

  async #housekeep(): Promise<void> {
    const now = this.host.clock.now();
    const max = this.config.maxLength;
    const maxBytes = this.config.maxLengthBytes ?? 0;
    if ((max > 0 || maxBytes > 0) && this.config.overflow === 'drop-head') {
      // Oldest first: lowest priority lane's head is not "oldest" in RabbitMQ either — it drops
      // from the head of the queue it would deliver next, which is what #peek returns. As
      // RabbitMQ's maybe_drop_head: while the ready count is above max or the ready body bytes
      // are above maxBytes (a message larger than maxBytes on its own is dropped too).
      let excess = max > 0 ? this.readyCount - max : 0;
      for (const c of [...this.cursors].reverse()) {
        while (excess > 0 || (maxBytes > 0 && this.readyBytes > maxBytes)) {
          const h = await this.#peek(c);
          if (!h) break;
          this.#take(c, h.fromRedeliver);
          this.#unready(h.rec);
          await this.host.deadLetter(this, h.rec, 'maxlen', h.attempts, undefined);
          this.#settle(c, h.rec.offset);
          excess--;
        }
      }
    }
    // Expiry at the head (RabbitMQ expires messages when they reach the head of the queue).
    let nextExpiry = Infinity;
    const ttl = this.config.messageTtlMs;
    for (const c of this.cursors) {
      for (;;) {
        const h = await this.#peek(c);
        if (!h) break;
        const exp = Math.min(h.rec.expiresAt || Infinity, ttl > 0 ? h.rec.timestamp + ttl : Infinity);
        if (exp <= now) {
          this.#take(c, h.fromRedeliver);
          this.#unready(h.rec);
          await this.host.deadLetter(this, h.rec, 'expired', h.attempts, undefined);
          this.#settle(c, h.rec.offset);
          continue;
        }
        if (exp < nextExpiry) nextExpiry = exp;
        break;
      }
    }
    if (nextExpiry < Infinity && nextExpiry !== this.#expiryTimerAt && !this.#closed) {
      this.#expiryTimer?.();
      this.#expiryTimerAt = nextExpiry;
      this.#expiryTimer = this.host.clock.setTimer(nextExpiry - now, () => {
        this.#expiryTimer = undefined;
        this.#expiryTimerAt = Infinity;
        this.schedulePump();
      });
    }
  }

  /**
   * Admission check for a publish of `count` records (reject-publish overflow). Throws
   * MQ_ERR_REJECTED when the queue is full.
   */
  admit(count: number, records?: readonly { readonly body: Uint8Array }[]): void {
    if (this.config.overflow === 'drop-head') return;
    const max = this.config.maxLength;
    if (max > 0 && this.readyCount + count > max) {
      throw err('MQ_ERR_REJECTED', `queue "${this.topicName}" is full (max length ${max})`);
    }
    // RabbitMQ's will_overflow, message by message: refused when its body would take the ready
    // bytes above the limit (exactly at the limit is admitted; a body larger than the limit never is).
    const maxBytes = this.config.maxLengthBytes ?? 0;
    if (maxBytes > 0 && records !== undefined) {
      let bytes = this.readyBytes;
      for (const r of records) {
        bytes += r.body.length;
        if (bytes > maxBytes) throw err('MQ_ERR_REJECTED', `queue "${this.topicName}" is full (max length bytes ${maxBytes})`);
      }
    }
  }

  /** The engine appended these records to the topic: they are ready in this group. */
  appended(records: readonly { readonly body: Uint8Array }[]): void {
    for (const r of records) this.#readyBytes += r.body.length;
  }

  /** Body bytes of the ready messages (see #readyBytes). */
  get readyBytes(): number {
    if (this.#readyBytes !== 0 && this.readyCount === 0) this.#readyBytes = 0;
    return this.#readyBytes;
  }

  /**
   * Sets the ready bytes from storage (a backlog that was there before the group was configured
   * with maxLengthBytes, e.g. after a restart). Reads every ready message once.
   */
  async recountReadyBytes(): Promise<number> {
    let n = 0;
    for (const r of await this.peekReady()) n += r.body.length;
    this.#readyBytes = n;
    return n;
  }

  /** A ready message stops being ready (leased, delayed, dropped, taken). */
  #unready(rec: DecodedRecord): void {
    this.#readyBytes = Math.max(0, this.#readyBytes - rec.body.length);
  }

  /** Some consumer ever had a non-zero priority: picking must compare priorities. */
  #prioritized = false;
  /** Consumers with `pinsBodies`: while there are any, read-ahead goes into pooled buffers. */
  #pinningConsumers = 0;

  /** Picks the next consumer with credit (round-robin) that accepts `rec`, or undefined. */
  #pickConsumer(rec: DecodedRecord): Consumer | undefined {
    const g = this.#getter;
    if (g) return g.credit > 0 && (g.sink.filter === undefined || g.sink.filter(rec)) ? g : undefined;
    if (this.#prioritized) return this.#pickByPriority(rec);
    const n = this.consumers.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#rr + k) % n;
      const c = this.consumers[i]!;
      if (c.credit > 0 && (c.sink.filter === undefined || c.sink.filter(rec))) {
        this.#rr = (i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  /**
   * Delivers what it can from cursor `c`. Returns false when nothing more can be delivered from
   * it right now (no matching consumer with credit, or the lane is exhausted).
   */
  async #deliverFrom(c: Cursor): Promise<boolean> {
    const now = this.host.clock.now();
    // 1. Returned messages first (RabbitMQ requeues to the head). With selective consumers a
    //    returned message nobody present matches must not block the ones behind it: the scan
    //    steps over it (it stays in place, in order, for a consumer that will match).
    let i = c.redeliverHead;
    while (i < c.redeliver.length) {
      const item = c.redeliver[i]!;
      if (!item.rec) item.rec = await this.#readOne(c, item.offset);
      if (!item.rec) {
        // Gone from storage (retention deleted it): settle.
        i = this.#dropRedeliver(c, i);
        this.#settle(c, item.offset);
        continue;
      }
      if (await this.#expireOrFilter(c, item.rec, item.attempts, now)) {
        i = this.#dropRedeliver(c, i);
        continue;
      }
      const consumer = this.#pickConsumer(item.rec);
      if (!consumer) {
        if (!this.#hasCredit()) return false;
        if (!this.#anySelective()) return false;
        i++;
        continue;
      }
      i = this.#dropRedeliver(c, i);
      this.#lease(c, consumer, item.rec, item.attempts + 1, now);
    }
    if (c.redeliverHead > 1024 && c.redeliverHead * 2 > c.redeliver.length) {
      c.redeliver = c.redeliver.slice(c.redeliverHead);
      c.redeliverHead = 0;
    }
    // 2. Read-ahead, refilled from storage.
    if (!c.hasBuffered()) {
      if (c.readOffset >= c.store.endOffset) return false;
      const before = c.readOffset;
      await this.#fill(c);
      // Progress is required to go on: a read that returned nothing must not spin.
      if (!c.hasBuffered()) return c.readOffset > before && c.readOffset < c.store.endOffset;
    }
    for (let rec = c.peek(); rec !== undefined; rec = c.peek()) {
      const prev = c.recoveredAttempts.size > 0 ? (c.recoveredAttempts.get(rec.offset) ?? 0) : 0;
      if (rec.deliverAt > now) {
        c.shift();
        this.#unready(rec);
        this.#schedule(c, rec.offset, prev, rec.deliverAt, rec.body.length);
        continue;
      }
      if ((rec.expiresAt !== 0 || this.config.messageTtlMs > 0 || this.config.filter !== undefined) && (await this.#expireOrFilter(c, rec, prev, now))) {
        c.shift();
        continue;
      }
      const consumer = this.#pickConsumer(rec);
      if (!consumer) {
        if (this.#anySelective()) {
          // Consumers with credit exist but none matches this message. A message nobody can take
          // would block the lane for ever, so it moves aside to the redelivery list; that list
          // holds the record in memory (bounded by the number of unmatched messages).
          c.shift();
          c.redeliver.push({ offset: rec.offset, attempts: prev, rec });
          continue;
        }
        return false;
      }
      const lease = consumer.sink.pinsBodies === true ? c.shiftPinned() : (c.shift(), undefined);
      if (prev) c.recoveredAttempts.delete(rec.offset);
      this.#lease(c, consumer, rec, prev + 1, now, lease);
    }
    return true;
  }

  /** Settles expired or filtered-out messages; true if `rec` was consumed that way. */
  async #expireOrFilter(c: Cursor, rec: DecodedRecord, attempts: number, now: number): Promise<boolean> {
    const ttl = this.config.messageTtlMs;
    const expired = (rec.expiresAt !== 0 && rec.expiresAt <= now) || (ttl > 0 && rec.timestamp + ttl <= now);
    if (expired) {
      this.#unready(rec);
      await this.host.deadLetter(this, rec, 'expired', attempts, undefined);
      this.#settle(c, rec.offset);
      return true;
    }
    if (this.config.filter !== undefined && !this.config.filter(rec)) {
      this.#unready(rec);
      this.#settle(c, rec.offset);
      return true;
    }
    return false;
  }

  async #fill(c: Cursor): Promise<void> {
    const logStart = c.lane.logStart;
    if (c.readOffset < logStart) {
      // The log was truncated past unread records (DeleteRecords / XTRIM): they are gone.
      c.settled.addRange(c.readOffset, logStart - 1);
      if (this.stateLog) {
        c.pendingSettled.push(c.readOffset, logStart - 1);
        this.#markStateDirty();
      }
      c.lowWater = c.settled.advance(c.lowWater);
      c.readOffset = logStart;
    }
    // Everything below the low-water mark is settled (it can be ahead after a rewind).
    if (c.readOffset < c.lowWater) c.readOffset = c.lowWater;
    const from = c.readOffset;
    let batches: StoredBatch[];
    let lease: ReadLease | undefined;
    if (c.store.readLeased !== undefined && (this.#pinningConsumers > 0 || this.#copiesBodies)) {
      ({ batches, lease } = await c.store.readLeased(from, READ_BYTES));
    } else batches = await c.store.read(from, READ_BYTES);
    let next = from;
    const native: StoredBatch[] = [];
    for (const b of batches) {
      const end = b.baseOffset + b.count;
      if (b.format === FORMAT_NATIVE) native.push(b);
      else {
        const converted = nativeFromForeign(b);
        if (converted) native.push(converted);
        // No decoder for this format (see formats.ts): its records are skipped by queue groups.
        else for (let o = Math.max(from, b.baseOffset); o < end; o++) this.#settle(c, o);
      }
      if (end > next) next = end;
    }
    c.setBatches(native, from, lease);
    c.readOffset = Math.max(c.readOffset, next);
  }

  async #readOne(c: Cursor, offset: number): Promise<DecodedRecord | undefined> {
    if (offset < c.store.startOffset) return undefined;
    const batches = await c.store.read(offset, 1);
    let found: DecodedRecord | undefined;
    for (const raw of batches) {
      if (raw.baseOffset > offset || raw.baseOffset + raw.count <= offset) continue;
      const b = raw.format === FORMAT_NATIVE ? raw : nativeFromForeign(raw);
      if (!b) continue;
      decodeBatch(b.payload, b.baseOffset, b.count, offset, (r) => {
        if (r.offset === offset) found = r;
      });
    }
    return found;
  }

  #lease(c: Cursor, consumer: Consumer, rec: DecodedRecord, attempt: number, now: number, lease?: ReadLease): void {
    const d = new DeliveryImpl(this, c, consumer, rec, attempt, now + this.config.leaseMs);
    d.lease = lease; // before push(): the sink may pin or ack at once
    this.#unready(rec);
    c.leased.set(rec.offset, d);
    consumer.inflight++;
    if (d.deadline < this.#leaseTimerAt) this.#armLeaseTimer(d.deadline);
    consumer.sink.push(d);
  }

  // ---------------------------------------------------------------------------------------------
  // Settlement
  // ---------------------------------------------------------------------------------------------

  /** Marks `offset` settled in cursor `c` and moves the low-water mark. */
  #settle(c: Cursor, offset: number): void {
    this.#settleOne(c, offset);
    this.host.settledUpTo(c.lane);
  }

  /** #settle without telling the host (takeBatch tells it once per lane). */
  #settleOne(c: Cursor, offset: number): void {
    if (offset === c.lowWater) {
      c.lowWater = c.settled.advance(offset + 1);
    } else if (offset > c.lowWater) {
      c.settled.add(offset);
    }
    if (this.stateLog) {
      const p = c.pendingSettled;
      const n = p.length;
      if (n > 0 && p[n - 1]! + 1 === offset) p[n - 1] = offset;
      else p.push(offset, offset);
      this.#markStateDirty();
    }
  }

  /** @internal Called by DeliveryImpl. */
  ack(d: DeliveryImpl): void {
    this.#release(d);
    d.dropLease(false);
    this.#settle(d.cursor, d.rec.offset);
    // Refill a consumer when half its window is free, or when it has handed out everything it
    // holds (so a consumer holding slow messages still gets the next one), not after every ack:
    // in a for-await loop that is one pump per prefetch/2 acks instead of one per ack.
    const c = d.consumer;
    if (c.inflight === 0 || (c.sink.prefetch - c.inflight) * 2 >= c.sink.prefetch || c.sink.drained?.() !== false) this.schedulePump();
  }

  /** @internal */
  async nack(d: DeliveryImpl, delayMs: number): Promise<void> {
    this.#release(d);
    d.dropLease(true);
    const max = this.config.maxAttempts;
    if (max > 0 && d.attempt >= max) {
      await this.host.deadLetter(this, d.rec, 'max-attempts', d.attempt, undefined);
      this.#settle(d.cursor, d.rec.offset);
    } else if (delayMs > 0) {
      const due = this.host.clock.now() + delayMs;
      this.#schedule(d.cursor, d.rec.offset, d.attempt, due, d.rec.body.length);
      this.#recordNack(d.cursor, d.rec.offset, d.attempt, due);
    } else {
      this.#readyBytes += d.rec.body.length;
      d.cursor.redeliver.push({ offset: d.rec.offset, attempts: d.attempt, rec: d.rec });
      this.#recordNack(d.cursor, d.rec.offset, d.attempt, 0);
    }
    this.schedulePump();
  }

  /** @internal */
  async reject(d: DeliveryImpl, reason: string | undefined): Promise<void> {
    this.#release(d);
    d.dropLease(true);
    await this.host.deadLetter(this, d.rec, 'rejected', d.attempt, reason);
    this.#settle(d.cursor, d.rec.offset);
    this.schedulePump();
  }

  /** @internal */
  extend(d: DeliveryImpl, ms: number | undefined): void {
    d.deadline = this.host.clock.now() + (ms ?? this.config.leaseMs);
    if (d.deadline < this.#leaseTimerAt) this.#armLeaseTimer(d.deadline);
  }

  #release(d: DeliveryImpl): void {
    d.cursor.leased.delete(d.rec.offset);
    d.consumer.inflight--;
  }

  /** The lease ends without settlement: back to ready with its attempt counted. */
  #loseLease(d: DeliveryImpl, expired: boolean): void {
    if (d.state !== 0) return;
    d.state = 2;
    this.#release(d);
    d.dropLease(true);
    d.abort(expired ? 'lease expired' : 'subscription closed');
    const max = this.config.maxAttempts;
    if (expired && max > 0 && d.attempt >= max) {
      this.host.deadLetter(this, d.rec, 'max-attempts', d.attempt, 'lease expired').then(
        () => this.#settle(d.cursor, d.rec.offset),
        (e: unknown) => this.host.onError(e),
      );
      return;
    }
    this.#readyBytes += d.rec.body.length;
    d.cursor.redeliver.push({ offset: d.rec.offset, attempts: d.attempt, rec: d.rec });
    this.#recordNack(d.cursor, d.rec.offset, d.attempt, 0);
  }

  #armLeaseTimer(at: number): void {
    this.#leaseTimer?.();
    this.#leaseTimerAt = at;
    this.#leaseTimer = this.host.clock.setTimer(at - this.host.clock.now(), () => {
      this.#leaseTimer = undefined;
      this.#leaseTimerAt = Infinity;
      this.#expireLeases();
    });
  }

  #expireLeases(): void {
    const now = this.host.clock.now();
    let next = Infinity;
    let any = false;
    for (const c of this.cursors) {
      for (const d of c.leased.values()) {
        if (d.deadline <= now) {
          this.#loseLease(d, true);
          any = true;
        } else if (d.deadline < next) next = d.deadline;
      }
    }
    if (next < Infinity) this.#armLeaseTimer(next);
    if (any) this.schedulePump();
  }

  // ---------------------------------------------------------------------------------------------
  // Delays
  // ---------------------------------------------------------------------------------------------

  #schedule(c: Cursor, offset: number, attempts: number, due: number, bytes?: number): void {
    this.#delayed.push({ due, cursor: c, offset, attempts, bytes });
    if (due < this.#delayTimerAt) this.#armDelayTimer(due);
  }

  #armDelayTimer(at: number): void {
    this.#delayTimer?.();
    this.#delayTimerAt = at;
    this.#delayTimer = this.host.clock.setTimer(at - this.host.clock.now(), () => {
      this.#delayTimer = undefined;
      this.#delayTimerAt = Infinity;
      this.#releaseDue();
    });
  }

  #releaseDue(): void {
    if (this.#closed) return;
    const now = this.host.clock.now();
    let moved = false;
    for (let top = this.#delayed.peek(); top && top.due <= now; top = this.#delayed.peek()) {
      this.#delayed.pop();
      this.#readyBytes += top.bytes ?? 0;
      top.cursor.redeliver.push({ offset: top.offset, attempts: top.attempts, rec: undefined });
      moved = true;
    }
    const top = this.#delayed.peek();
    if (top) this.#armDelayTimer(top.due);
    if (moved) this.schedulePump();
  }

  get delayedCount(): number {
    return this.#delayed.size;
  }

  /** Messages ready for delivery across lanes (unread ones estimated from offsets). */
  get readyCount(): number {
    let n = 0;
    for (const c of this.cursors) n += c.readyCount();
    return n;
  }

  get leasedCount(): number {
    let n = 0;
    for (const c of this.cursors) n += c.leased.size;
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // State log
  // ---------------------------------------------------------------------------------------------

  #recordNack(c: Cursor, offset: number, attempts: number, due: number): void {
    if (!this.stateLog) return;
    this.#pendingNacks.push({ lane: c.lane.key, offset, attempts, due });
    this.#markStateDirty();
  }

  #markStateDirty(): void {
    this.#stateDirty = true;
    if (this.#stateScheduled) return;
    this.#stateScheduled = true;
    const wait = this.#stateFlushedAt + STATE_FLUSH_MS - performance.now();
    if (wait <= 0) setImmediate(this.#runStateFlush);
    else this.#stateTimer = setTimeout(this.#runStateFlush, Math.ceil(wait));
  }

  readonly #runStateFlush = (): void => {
    this.#stateScheduled = false;
    this.#stateTimer = undefined;
    this.#stateFlushedAt = performance.now();
    this.#stateWrite = this.#stateWrite.then(() => this.flushState()).catch((e: unknown) => this.host.onError(e));
  };

  /** Appends pending settlements/nacks to the state log (one batch), snapshotting when large. */
  async flushState(): Promise<void> {
    const log = this.stateLog;
    if (!log || !this.#stateDirty) return;
    this.#stateDirty = false;
    const settled: Record<string, number[]> = {};
    let any = false;
    for (const c of this.cursors) {
      if (c.pendingSettled.length > 0) {
        settled[c.lane.key] = c.pendingSettled;
        c.pendingSettled = [];
        any = true;
      }
    }
    const nacks = this.#pendingNacks;
    this.#pendingNacks = [];
    if (!any && nacks.length === 0) return;
    const op: StateOp = { t: 'ops', s: settled, n: nacks.map((x) => [x.lane, x.offset, x.attempts, x.due]) };
    appendJson(log, op);
    if (log.sizeBytes > STATE_SNAPSHOT_BYTES) await this.#snapshot();
  }

  async #snapshot(): Promise<void> {
    const log = this.stateLog!;
    const lanes: SnapshotLane[] = [];
    for (const c of this.cursors) {
      // Attempt counts for leased and returned messages survive as nack entries.
      const nacks: [number, number, number][] = [];
      for (const d of c.leased.values()) nacks.push([d.rec.offset, d.attempt, 0]);
      for (let i = c.redeliverHead; i < c.redeliver.length; i++) {
        const r = c.redeliver[i]!;
        if (r.attempts > 0) nacks.push([r.offset, r.attempts, 0]);
      }
      for (const [o, a] of c.recoveredAttempts) nacks.push([o, a, 0]);
      lanes.push({ lane: c.lane.key, low: c.lowWater, settled: c.settled.toArray(), nacks });
    }
    for (const item of this.#delayed.items()) {
      lanes.find((l) => l.lane === item.cursor.lane.key)?.nacks.push([item.offset, item.attempts, item.due]);
    }
    const at = appendJson(log, { t: 'snapshot', lanes });
    await log.durable();
    await log.truncateBefore(at);
  }

  /** Records the cursors' starting points, so a group created at 'latest' restarts where it began. */
  async persistStart(): Promise<void> {
    if (this.stateLog) await this.#snapshot();
  }

  /** Replays the state log (called once, after lanes are added, before any consumer). */
  async recover(): Promise<void> {
    const log = this.stateLog;
    if (!log) return;
    const ops = await readJson<StateOp>(log);
    const nackMap = new Map<Cursor, Map<number, { attempts: number; due: number }>>();
    const nacksOf = (c: Cursor) => {
      let m = nackMap.get(c);
      if (!m) nackMap.set(c, (m = new Map()));
      return m;
    };
    for (const op of ops) {
      if (op.t === 'snapshot') {
        nackMap.clear();
        for (const l of op.lanes) {
          const c = this.#byLane.get(l.lane);
          if (!c) continue;
          c.lowWater = Math.max(l.low, c.store.startOffset);
          c.readOffset = c.lowWater;
          for (let i = 0; i + 1 < l.settled.length; i += 2) c.settled.addRange(l.settled[i]!, l.settled[i + 1]!);
          for (const [o, a, due] of l.nacks) nacksOf(c).set(o, { attempts: a, due });
        }
      } else {
        for (const key in op.s) {
          const c = this.#byLane.get(key);
          if (!c) continue;
          const r = op.s[key]!;
          for (let i = 0; i + 1 < r.length; i += 2) {
            c.settled.addRange(r[i]!, r[i + 1]!);
            for (let o = r[i]!; o <= r[i + 1]! && nackMap.get(c)?.size; o++) nackMap.get(c)!.delete(o);
          }
        }
        for (const [key, o, a, due] of op.n) {
          const c = this.#byLane.get(key);
          if (c) nacksOf(c).set(o, { attempts: a, due });
        }
      }
    }
    for (const c of this.cursors) {
      c.lowWater = c.settled.advance(Math.max(c.lowWater, c.store.startOffset));
      c.readOffset = c.lowWater;
      for (const [o, n] of nackMap.get(c) ?? []) {
        if (o < c.lowWater || c.settled.has(o)) continue;
        if (n.due > 0) {
          c.skip.add(o);
          this.#schedule(c, o, n.attempts, n.due);
        } else c.recoveredAttempts.set(o, n.attempts);
      }
    }
  }

  /**
   * Settles `offset` of lane `laneKey` unless it is already settled: a committed transaction's ack
   * replayed at recovery (after recover(), before any consumer). Idempotent.
   */
  settleAt(laneKey: string, offset: number): void {
    const c = this.#byLane.get(laneKey);
    if (!c || offset < c.lowWater || c.settled.has(offset)) return;
    this.#settle(c, offset);
    // The forward read skips settled offsets above lowWater; below it, it must not start.
    if (c.readOffset < c.lowWater && !c.hasBuffered()) c.readOffset = c.lowWater;
  }

  /** Writes pending settlements now, after any write in progress, and waits for their durability. */
  async persistState(): Promise<void> {
    if (!this.stateLog) return;
    const w = this.#stateWrite.then(() => this.flushState());
    this.#stateWrite = w.catch((e: unknown) => this.host.onError(e));
    await w;
    await this.stateLog.durable();
  }

  /** Drops every ready message (queue purge): returns how many. Leased messages stay leased. */
  purge(): number {
    let n = 0;
    for (const c of this.cursors) {
      n += c.readyCount();
      for (let i = c.redeliverHead; i < c.redeliver.length; i++) this.#settle(c, c.redeliver[i]!.offset);
      for (let r = c.peek(); r !== undefined; r = c.peek()) {
        this.#settle(c, r.offset);
        c.shift();
      }
      c.redeliver = [];
      c.redeliverHead = 0;
      const end = c.store.endOffset;
      if (c.readOffset < end) {
        c.settled.addRange(c.readOffset, end - 1);
        if (this.stateLog) {
          c.pendingSettled.push(c.readOffset, end - 1);
          this.#markStateDirty();
        }
        c.lowWater = c.settled.advance(c.lowWater);
        c.readOffset = end;
      }
      c.skip.clear();
      this.host.settledUpTo(c.lane);
    }
    for (const item of this.#delayed.items()) this.#settle(item.cursor, item.offset);
    n += this.#delayed.size;
    this.#delayed.clear();
    this.#readyBytes = 0;
    return n;
  }

  /** Stops timers and returns every lease (consumers are closed by their subscriptions). */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const c of [...this.consumers]) this.removeConsumer(c);
    this.#closed = true;
    this.#leaseTimer?.();
    this.#delayTimer?.();
    this.#expiryTimer?.();
    clearTimeout(this.#stateTimer);
    this.#stateTimer = undefined;
    this.#notifyIdle();
    this.#stateDirty = true;
    await this.#stateWrite;
    await this.flushState();
    if (this.stateLog) await this.stateLog.durable();
  }
}

type SnapshotLane = { lane: string; low: number; settled: number[]; nacks: [number, number, number][] };
type StateOp =
  | { t: 'ops'; s: Record<string, number[]>; n: [string, number, number, number][] }
  | { t: 'snapshot'; lanes: SnapshotLane[] };


// -----------------------------------------------------------------------------------------------
// Deliveries
// -----------------------------------------------------------------------------------------------

const LEASE_LOST = () => Promise.reject(err('MQ_ERR_LEASE_LOST', 'the lease on this delivery was lost; it will be redelivered'));

/**
 * One leased message. Fields are computed lazily: at a million deliveries a second the id string
 * and AbortController are only built if someone reads them.
 */
export class DeliveryImpl {
  /** 0 leased, 1 settled, 2 lease lost. */
  state = 0;
  #ac: AbortController | undefined;
  #abortReason: string | undefined;
  constructor(
    readonly group: Group,
    readonly cursor: Cursor,
    readonly consumer: Consumer,
    readonly rec: DecodedRecord,
    readonly attempt: number,
    public deadline: number,
  ) {}

  /** The delivery's hold on a pooled read buffer (consumers with `pinsBodies` only). */
  lease: ReadLease | undefined = undefined;

  /**
   * Keeps the body valid until the returned function is called (once; later calls do nothing),
   * even past ack(). For consumers with `pinsBodies` that write the body by reference: call it
   * before the write and the result from the write's callback. A no-op for other bodies.
   */
  holdBody(): () => void {
    const l = this.lease;
    if (l === undefined) return NOOP;
    l.retain();
    let held = true;
    return () => {
      if (held) {
        held = false;
        l.release();
      }
    };
  }

  /** @internal The lease ends: released on ack; on a return or dead-lettering the body lives on (escaped). */
  dropLease(keep: boolean): void {
    const l = this.lease;
    if (l === undefined) return;
    this.lease = undefined;
    if (keep) l.escape();
    l.release();
  }

  get topic(): string {
    return this.group.topicName;
  }
  get id(): string {
    const l = this.cursor.lane;
    return l.priority === 0 ? `${l.partition}-${this.rec.offset}` : `${l.partition}.p${l.priority}-${this.rec.offset}`;
  }
  get offset(): number {
    return this.rec.offset;
  }
  get partition(): number {
    return this.cursor.lane.partition;
  }
  get key(): string | undefined {
    return this.rec.key;
  }
  get headers(): Readonly<Record<string, string>> {
    return this.rec.headers;
  }
  get body(): Buffer {
    return this.rec.body;
  }
  get timestamp(): number {
    return this.rec.timestamp;
  }
  get priority(): number {
    return this.rec.priority;
  }
  get redelivered(): boolean {
    return this.attempt > 1;
  }
  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#abortReason !== undefined) this.#ac.abort(err('MQ_ERR_LEASE_LOST', this.#abortReason));
    }
    return this.#ac.signal;
  }
  /** @internal */
  abort(reason: string): void {
    this.#abortReason = reason;
    this.#ac?.abort(err('MQ_ERR_LEASE_LOST', reason));
  }

  ack(): Promise<void> {
    if (this.state === 1) return RESOLVED;
    if (this.state === 2) return LEASE_LOST();
    this.state = 1;
    this.group.ack(this);
    return RESOLVED;
  }
  nack(opts?: { delayMs?: number }): Promise<void> {
    if (this.state === 1) return RESOLVED;
    if (this.state === 2) return LEASE_LOST();
    this.state = 1;
    return this.group.nack(this, opts?.delayMs ?? 0);
  }
  reject(reason?: string): Promise<void> {
    if (this.state === 1) return RESOLVED;
    if (this.state === 2) return LEASE_LOST();
    this.state = 1;
    return this.group.reject(this, reason);
  }
  extend(ms?: number): Promise<void> {
    if (this.state === 1) return RESOLVED;
    if (this.state === 2) return LEASE_LOST();
    this.group.extend(this, ms);
    return RESOLVED;
  }
}
