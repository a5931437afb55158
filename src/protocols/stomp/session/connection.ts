/**
 * One STOMP connection: parses frames, runs them one at a time in arrival order, writes MESSAGE /
 * RECEIPT / ERROR frames, keeps heart-beats, and on close returns everything it held.
 *
 * Ordering and receipts: frames are handled strictly in order; a handler that must wait (SUBSCRIBE
 * creating a group, COMMIT) holds the frames behind it. SEND does not wait for durability: the
 * append happens in call order and the durability promise joins a chain, and a RECEIPT is written
 * once every publish issued before it is durable. So a client streaming persistent SENDs with a
 * receipt every N frames pays one fsync wait per N (the storage coalesces the fsyncs), not per
 * message; a failed publish ends the connection with an ERROR naming that frame's receipt.
 *
 * Backpressure: the socket stops being read while more than `outputHighWater` bytes are unsent or
 * more than 256 frames wait behind a slow handler; it resumes on drain. Deliveries are bounded by
 * prefetch; in auto-ack mode a delivery is acked when its bytes reach the kernel, so prefetch also
 * bounds what an auto-ack subscription keeps in user space.
 *
 * Not done here: command semantics (connect.ts, send.ts, subscribe.ts, ack.ts, transaction.ts).
 */
import { isOmnibusError } from '../../../core/errors.js';
import type { DeliveryImpl } from '../../../engine/group.js';
import { encodeFrame, HEARTBEAT, type HeaderList } from '../codec/encoder.js';
import { StompFrameError } from '../codec/errors.js';
import { header, type StompFrame, type StompVersion } from '../codec/frame.js';
import { StompParser } from '../codec/parser.js';
import type { StompBroker } from './broker.js';
import { TOPIC_EXCHANGE, type Destination, type DestinationContext } from './destination.js';
import type { RecordInput } from '../../../engine/record.js';
import { publishNow } from './send.js';
import { StompError } from './errors.js';
import { messageHeaders } from './message.js';
import type { Pending, Source, Subscription } from './subscribe.js';
import type { StompTx } from './transaction.js';
import type { StompTransport } from './transport.js';
import { dispatch } from './dispatch.js';

const MAX_INBOX = 256;
/**
 * Read coalescing. A producer streaming SENDs without receipts (a receipt on the last of every
 * 1000, as the bench client does) was read almost as eagerly as it wrote: a read every 3–6
 * frames, each a wake-up from epoll, a 'data' callback and an engine append of a handful of
 * records. So once COALESCE_MIN SENDs in a row came without a receipt and a read is handled,
 * the connection stops reading for COALESCE_MS on the engine clock: the frames of that
 * millisecond arrive in one read (~40 at 40,000 SENDs/s) and become one append. Measured with
 * bench/stomp-enqueue-probe.mjs (50,000 × 512 B, four passes each way, load 4–5): broker reads
 * 0.23–0.40 → 0.05–0.18 per SEND, broker CPU median 19.2 → 15.8 µs per SEND, and the client is
 * preempted less (involuntary context switches 0.19–0.28 → 0.02–0.05 per SEND). What waits: a
 * frame arriving during a pause, read at most COALESCE_MS later. Only a connection streaming
 * small SENDs pauses; a frame with a receipt (or any other command) ends the streak, so a lone
 * SEND, a SEND with a receipt and the frames after it are read at once. Bodies of COALESCE_BODY
 * or more end it too: their reads are big already, and a millisecond of 10 KiB SENDs (~180 KB)
 * outgrew the receive window the kernel offers a connection read that seldom, so the client
 * stalled (10 KiB enqueue 12,000–18,500 → 4,600 msg/s when they paused). For the same reason a
 * read of COALESCE_READ or more is not followed by a pause: that stream fills half the window
 * in a millisecond (at 2,000 B SENDs the client waited ~15 % of the time without this rule).
 * Needs the socket's read handle to stop while paused (readable high-water mark 1, see the
 * listener).
 */
const COALESCE_MIN = 32;
const COALESCE_MS = 1;
const COALESCE_BODY = 2048;
const COALESCE_READ = 32 * 1024;
const noop = (): void => {};
/** Queues appended to without a durability point since, past which one is made anyway. */
const MAX_UNDURABLE = 1024;

/** Two destinations that append to the same place (one engine append can hold both's records). */
function sameTarget(a: Destination, b: Destination): boolean {
  if (a === b) return true;
  if (a.kind === 'queue') return b.kind === 'queue' && a.name === b.name;
  return b.kind === 'route' && a.exchange === b.exchange && a.key === b.key;
}

export class StompConnection {
  readonly id: number;
  readonly parser: StompParser;
  version: StompVersion = '1.0';
  connected = false;
  closed = false;
  clientId: string | undefined;
  login: string | undefined;
  readonly subs = new Map<string, Subscription>();
  /** 1.2 `ack` ids → pending deliveries of client / client-individual subscriptions. */
  readonly byAck = new Map<string, Pending>();
  readonly txs = new Map<string, StompTx>();
  readonly tempQueues = new Set<string>();
  /** Queues appended to (send.ts, publishNow) since the last durability point. */
  readonly undurable = new Set<string>();
  /** SEND `destination` texts already mapped (send.ts). */
  readonly sendDestinations = new Map<string, Destination[]>();
  readonly #tempCreating = new Map<string, Promise<void>>();
  #inbox: StompFrame[] = [];
  #inboxHead = 0;
  #running = false;
  #readPaused = false;
  #coalescing = false;
  #sendStreak = 0;
  #durable: Promise<void> = Promise.resolve();
  #batch: { dest: Destination; recs: RecordInput[]; frame: StompFrame } | undefined;
  #ackSeq = 0;
  #msgSeq = 0;
  readonly #msgPrefix: string;
  #subSeq = 0;
  #lastRead = Date.now();
  #lastWrite = Date.now();
  #timers: NodeJS.Timeout[] = [];
  #cleanup: Promise<void> | undefined;

  constructor(
    readonly broker: StompBroker,
    readonly transport: StompTransport,
  ) {
    this.id = broker.nextConnectionId();
    this.#msgPrefix = `ID:omnibus-${broker.id}-${this.id}-`;
    this.parser = new StompParser(broker.opts.limits);
    broker.connections.add(this);
    const t = setTimeout(() => {
      if (!this.connected && !this.closed) this.fatal('no CONNECT frame within ' + broker.opts.connectTimeoutMs + ' ms');
    }, broker.opts.connectTimeoutMs);
    t.unref();
    this.#timers.push(t);
  }

  get engine() {
    return this.broker.engine;
  }

  readonly destCtx: DestinationContext = {
    tempQueue: (n) => `stomp-temp-queue:${this.broker.id}:${this.id}:${n}`,
    tempTopic: (n) => `stomp-temp-topic.${this.broker.id}.${this.id}.${n}`,
  };

  // -------------------------------------------------------------------------------------------
  // Input
  // -------------------------------------------------------------------------------------------

  /** Bytes from the peer. */
  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.#lastRead = Date.now();
    try {
      this.parser.push(chunk, this.#onFrame);
    } catch (e) {
      if (e instanceof StompFrameError) this.fatal(e.message);
      else this.#internal(e);
      return;
    }
    this.#checkPressure();
    if (!this.#coalescing && !this.#readPaused && !this.closed && this.#sendStreak >= COALESCE_MIN && chunk.byteLength < COALESCE_READ) {
      this.#coalescing = true;
      this.transport.pauseReading();
      this.engine.clock.setTimer(COALESCE_MS, this.#endCoalesce);
    }
  }

  readonly #endCoalesce = (): void => {
    this.#coalescing = false;
    if (!this.#readPaused && !this.closed) this.transport.resumeReading();
  };

  readonly #onFrame = (f: StompFrame): void => {
    if (this.closed) return;
    if (f.command === 'SEND' && f.body.length < COALESCE_BODY && header(f, 'receipt') === undefined) this.#sendStreak++;
    else this.#sendStreak = 0;
    this.#inbox.push(f);
    if (!this.#running) this.#run();
  };

  #run(): void {
    this.#running = true;
    while (this.#inboxHead < this.#inbox.length && !this.closed) {
      const f = this.#inbox[this.#inboxHead++]!;
      let r: void | Promise<void>;
      try {
        if (f.command !== 'SEND') this.flushPublishes();
        r = dispatch(this, f);
      } catch (e) {
        this.#fail(e, header(f, 'receipt'));
        break;
      }
      if (r) {
        r.then(
          () => {
            this.#after(f);
            this.#run();
          },
          (e: unknown) => {
            this.#fail(e, header(f, 'receipt'));
            this.#running = false;
          },
        ).catch((e: unknown) => this.#internal(e));
        return;
      }
      this.#after(f);
    }
    this.flushPublishes();
    this.#inbox = [];
    this.#inboxHead = 0;
    this.#running = false;
    this.#checkPressure();
  }

  /** The generic part of every frame: a `receipt` header gets a RECEIPT once prior publishes are durable. */
  #after(f: StompFrame): void {
    if (f.command === 'DISCONNECT' || f.command === 'CONNECT' || f.command === 'STOMP') return;
    const r = header(f, 'receipt');
    if (r !== undefined) {
      this.flushPublishes();
      this.receipt(r).catch(noop);
    }
  }

  receipt(id: string): Promise<void> {
    this.flushPublishes();
    this.#syncPoint(id);
    return this.#durable.then(() => {
      if (!this.closed) this.send('RECEIPT', [['receipt-id', id]]);
    });
  }

  /**
   * Queues a record for publishing. Consecutive SENDs to the same destination within one read
   * become one engine append (one storage frame, one durability wait): at 128 B that is ~2x the
   * SEND rate of one append per frame. Flushed before any other command, before a RECEIPT, at 512
   * records, and when the frames read so far are handled — so order and receipts are unchanged.
   */
  queuePublish(dest: Destination, rec: RecordInput, f: StompFrame): void {
    if (this.#batch && !sameTarget(this.#batch.dest, dest)) this.flushPublishes();
    if (!this.#batch) this.#batch = { dest, recs: [], frame: f };
    this.#batch.recs.push(rec);
    if (this.#batch.recs.length >= 512) this.flushPublishes();
  }

  flushPublishes(): void {
    const b = this.#batch;
    if (!b) return;
    this.#batch = undefined;
    let p: Promise<unknown>;
    try {
      p = publishNow(this, b.dest, b.recs);
    } catch (e) {
      p = Promise.reject(e);
    }
    this.trackPublish(p, b.frame);
    // A producer that spreads SENDs over many queues and never asks for a receipt must not grow
    // the set of queues owed a sync without bound: past MAX_UNDURABLE, sync them now.
    if (this.undurable.size >= MAX_UNDURABLE) this.#syncPoint(undefined);
  }

  /**
   * Joins a publish to the durability chain; a failure ends the connection with an ERROR naming
   * the frame's receipt. Only that receipt id is kept until the publish settles, not the frame:
   * a frame's body is a view of the socket read it came in (64 KiB), which would otherwise stay
   * reachable for the whole fsync wait and be promoted by the GC instead of dying young.
   */
  trackPublish(p: Promise<unknown>, f: StompFrame): void {
    const receipt = header(f, 'receipt');
    const q = p.then(noop, (e: unknown) => this.#fail(e, receipt));
    this.#durable = this.#durable.then(() => q);
  }

  /**
   * A durability point: once every publish issued so far is appended (the chain), waits until the
   * queues appended to since the last point are durable. Chained, not called at once: a publish
   * to a queue being created appends only after its creation. A failed fsync ends the connection
   * with an ERROR naming `receipt`.
   */
  #syncPoint(receipt: string | undefined): void {
    if (this.undurable.size === 0) return;
    const names = [...this.undurable];
    this.undurable.clear();
    const engine = this.engine;
    const synced = this.#durable.then((): Promise<unknown> => (names.length === 1 ? engine.durable(names[0]!) : Promise.all(names.map((n) => engine.durable(n)))));
    const q = synced.then(noop, (e: unknown) => this.#fail(e, receipt));
    this.#durable = q;
  }

  /** Resolves when every publish issued so far is durable (or failed). */
  whenDurable(): Promise<void> {
    this.flushPublishes();
    this.#syncPoint(undefined);
    return this.#durable;
  }

  #checkPressure(): void {
    if (this.closed) return;
    const pending = this.#inbox.length - this.#inboxHead;
    const over = this.transport.bufferedBytes > this.broker.opts.outputHighWater || pending > MAX_INBOX;
    if (over && !this.#readPaused) {
      this.#readPaused = true;
      if (!this.#coalescing) this.transport.pauseReading();
    } else if (!over && this.#readPaused) {
      this.#readPaused = false;
      if (!this.#coalescing) this.transport.resumeReading();
    }
  }

  /** Called by the transport when its write buffer drained. */
  onDrain(): void {
    this.#checkPressure();
  }

  // -------------------------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------------------------

  send(command: string, headers: HeaderList, body?: Uint8Array, cb?: (e?: Error | null) => void): void {
    if (this.closed) return;
    this.#lastWrite = Date.now();
    this.transport.write(encodeFrame(command, headers, body, this.version), cb);
    if (!this.#readPaused && this.transport.bufferedBytes > this.broker.opts.outputHighWater) this.#checkPressure();
  }

  nextMessageId(): string {
    return this.#msgPrefix + ++this.#msgSeq;
  }

  nextSubscriptionSeq(): number {
    return ++this.#subSeq;
  }

  /** Sends one delivery as a MESSAGE frame. Hot path. */
  deliver(src: Source, d: DeliveryImpl): void {
    const sub = src.sub;
    if (this.closed || sub.closed) return;
    const rec = d.rec;
    const messageId = rec.headers['message-id'] ?? `ID:${d.topic}:${d.id}`;
    const stored = rec.headers['destination'];
    let destination = src.dest.header;
    let original: string | undefined;
    if (src.dest.kind === 'route') {
      // A message published through AMQP/MQTT carries its routing key in `key`: show the topic it
      // was published to (as ActiveMQ does for wildcard subscribers), not the pattern.
      if (stored !== undefined) destination = stored;
      else if (rec.key !== undefined && src.dest.exchange === TOPIC_EXCHANGE) destination = '/topic/' + rec.key;
    } else if (stored !== undefined && stored !== destination && !src.dest.temp) original = stored;
    if (sub.ackMode === 'auto') {
      const h = messageHeaders({ rec, messageId, destination, subscription: sub.id, ack: undefined, attempt: d.attempt, originalDestination: original });
      this.send('MESSAGE', h, rec.body, (e) => {
        if (!e) d.ack().catch(noop);
      });
      return;
    }
    const ackId = this.version === '1.2' ? String(++this.#ackSeq) : undefined;
    const p: Pending = { d, sub, messageId, ackId };
    sub.unacked.set(messageId, p);
    if (ackId !== undefined) this.byAck.set(ackId, p);
    const h = messageHeaders({ rec, messageId, destination, subscription: sub.id, ack: ackId, attempt: d.attempt, originalDestination: original });
    this.send('MESSAGE', h, rec.body);
  }

  /** Forgets a pending delivery (settled or handed to a transaction). */
  forget(p: Pending): void {
    p.sub.unacked.delete(p.messageId);
    if (p.ackId !== undefined) this.byAck.delete(p.ackId);
  }

  // -------------------------------------------------------------------------------------------
  // Heart-beats
  // -------------------------------------------------------------------------------------------

  /** `sendMs`: we write an EOL when idle that long; `recvMs`: the peer must send something that often. */
  startHeartbeats(sendMs: number, recvMs: number): void {
    if (sendMs > 0) {
      // Checked twice per interval, so the longest silence the peer sees is sendMs, not ~2x.
      const half = Math.max(1, Math.floor(sendMs / 2));
      const t = setInterval(() => {
        if (Date.now() - this.#lastWrite >= half && !this.closed) {
          this.#lastWrite = Date.now();
          this.transport.write(HEARTBEAT);
        }
      }, half);
      t.unref();
      this.#timers.push(t);
    }
    if (recvMs > 0) {
      // Twice the interval, as the spec's "some tolerance" (ActiveMQ allows 1.5x; network jitter
      // on a loaded CI machine made 1.5x flaky for 100 ms beats).
      const limit = recvMs * 2;
      const t = setInterval(() => {
        if (Date.now() - this.#lastRead > limit && !this.closed) this.fatal(`no data or heart-beat from the client for ${limit} ms`);
      }, recvMs);
      t.unref();
      this.#timers.push(t);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Temp queues
  // -------------------------------------------------------------------------------------------

  /** Creates this connection's temp queue (transient engine topic) once; deleted when the connection closes. */
  ensureTempQueue(name: string): Promise<void> | undefined {
    if (this.tempQueues.has(name)) return undefined;
    let p = this.#tempCreating.get(name);
    if (!p) {
      p = this.engine.topic(name, { durable: false }).then(
        () => {
          this.tempQueues.add(name);
          this.#tempCreating.delete(name);
        },
        (e: unknown) => {
          this.#tempCreating.delete(name);
          throw e;
        },
      );
      this.#tempCreating.set(name, p);
    }
    return p;
  }

  // -------------------------------------------------------------------------------------------
  // Errors and close
  // -------------------------------------------------------------------------------------------

  /** Ends the connection for `e` with an ERROR naming `receipt` (the failed frame's, if it had one). */
  #fail(e: unknown, receipt: string | undefined): void {
    if (e instanceof StompError) this.fatal(e.message, receipt, e.detail, e.headers);
    else if (isOmnibusError(e)) this.fatal(e.message, receipt, e.code);
    else this.#internal(e, receipt);
  }

  #internal(e: unknown, receipt?: string): void {
    this.broker.opts.log(`stomp: connection ${this.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    this.fatal('internal error', receipt, e instanceof Error ? e.message : String(e));
  }

  /** Sends ERROR (with `receipt-id` when the offending frame asked for a receipt), then closes the connection. */
  fatal(message: string, receipt?: string, detail?: string, extra: readonly (readonly [string, string])[] = []): void {
    if (this.closed) return;
    const h: [string, string][] = [['message', message]];
    if (receipt !== undefined) h.push(['receipt-id', receipt]);
    for (const x of extra) h.push([x[0], x[1]]);
    const body = Buffer.from(detail ?? message);
    h.push(['content-type', 'text/plain'], ['content-length', String(body.length)]);
    this.send('ERROR', h, body);
    this.close(true).catch((e: unknown) => this.broker.opts.log(`stomp: cleanup of connection ${this.id}: ${String(e)}`));
  }

  /** Closes: returns unsettled deliveries, drops open transactions and temp queues. */
  close(graceful: boolean): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (graceful) this.transport.end();
      else this.transport.destroy();
    }
    this.#cleanup ??= this.#release();
    return this.#cleanup;
  }

  /** Transport closed underneath us. */
  onTransportClosed(): void {
    this.closed = true;
    this.#cleanup ??= this.#release();
    this.#cleanup.catch((e: unknown) => this.broker.opts.log(`stomp: cleanup of connection ${this.id}: ${String(e)}`));
  }

  /** Listener shutdown. */
  shutdown(): Promise<void> {
    return this.close(true);
  }

  async #release(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#inbox = [];
    this.#inboxHead = 0;
    this.#batch = undefined;
    this.txs.clear();
    const subs = [...this.subs.values()];
    this.subs.clear();
    this.byAck.clear();
    for (const s of subs) await s.close(false);
    for (const t of this.tempQueues) await this.engine.deleteTopic(t).catch(noop);
    this.tempQueues.clear();
    if (this.clientId !== undefined && this.broker.clientIds.get(this.clientId) === this) this.broker.clientIds.delete(this.clientId);
    this.broker.connections.delete(this);
  }
}
