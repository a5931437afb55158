/**
 * basic.consume's two kinds of consumer:
 *
 * - ClassicConsumer: an engine ConsumerSink on the queue's DEFAULT_GROUP group. Its `prefetch` is
 *   computed on every credit check, so it folds in the per-consumer limit, the channel's global
 *   limit (basic.qos global=true), channel.flow and socket backpressure (no credit while the
 *   connection's output is above its high-water mark; woken on drain). prefetch 0 = unlimited,
 *   bounded in practice by that backpressure.
 * - StreamConsumer: reads a stream queue's log with engine.readLog from its own offset
 *   (x-stream-offset); acks only return credit. New data is noticed through the broker's
 *   notifyStream (AMQP publishes) or engine.waitForData (publishes from other protocols, which the
 *   engine does not signal to log readers).
 *
 * A client basic.cancel keeps a ClassicConsumer attached with zero credit until its unacked
 * deliveries are settled (RabbitMQ lets a cancelled consumer's messages still be acked).
 */
import type { Consumer, ConsumerSink, DeliveryImpl } from '../../../engine/group.js';
import { decodeBatch, FORMAT_NATIVE, type DecodedRecord } from '../../../engine/record.js';
import { GONE_HEADER, nativeFromForeign } from '../../../engine/formats.js';
import { FieldTyped } from '../index.js';
import type { Channel } from './channel.js';
import type { AmqpQueue, QueueConsumer } from './queue.js';

/** Credit used for "unlimited" prefetch (0); output backpressure bounds it in practice. */
const UNLIMITED = 1 << 30;
/** Stream consumers without basic.qos get this many unacked messages. */
const STREAM_DEFAULT_CREDIT = 1000;

export class ClassicConsumer implements QueueConsumer, ConsumerSink {
  /**
   * A delivery's body is used only to send it (copied, or pinned until the socket wrote it:
   * connection.sendMessage) and, until it is acked, for requeue and dead-lettering, which the
   * engine keeps valid; so deliveries may come from recycled file-read slabs.
   */
  readonly pinsBodies = true;
  engineConsumer: Consumer | undefined;
  cancelled = false;
  detached = false;

  constructor(
    readonly ch: Channel,
    readonly queue: AmqpQueue,
    readonly tag: string,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly limit: number,
    /** x-priority of basic.consume (see ConsumerSink.priority). */
    readonly priority: number = 0,
  ) {}

  get prefetch(): number {
    const inflight = this.engineConsumer?.inflight ?? 0;
    if (this.cancelled || !this.ch.flowActive) return 0;
    const conn = this.ch.conn;
    if (conn.writeBlocked) {
      conn.markStarved();
      return 0;
    }
    let room = this.limit > 0 && !this.noAck ? this.limit - inflight : UNLIMITED;
    const g = this.ch.globalLimit;
    if (g > 0 && !this.noAck) room = Math.min(room, g - this.ch.unackedCount);
    return inflight + Math.max(0, room);
  }

  push(d: DeliveryImpl): void {
    this.ch.deliver(this, d);
  }

  activate(): void {
    if (this.cancelled || this.queue.group === undefined) return;
    this.engineConsumer = this.queue.group.addConsumer(this);
  }

  /** Asks the group to deliver again (credit came back from outside the group's view). */
  wake(): void {
    this.queue.group?.schedulePump();
  }

  /** Called after one of this consumer's deliveries was settled. */
  settled(): void {
    if (this.cancelled && (this.engineConsumer?.inflight ?? 0) === 0) this.detach();
  }

  /** basic.cancel from the client. */
  cancel(): void {
    this.cancelled = true;
    if ((this.engineConsumer?.inflight ?? 0) === 0) this.detach();
    this.ch.queueLostConsumer(this.queue, this);
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.cancelled = true;
    if (this.engineConsumer && this.queue.group) this.queue.group.removeConsumer(this.engineConsumer);
  }

  cancelByServer(): void {
    this.ch.serverCancel(this);
  }
}

export class StreamConsumer implements QueueConsumer {
  cancelled = false;
  unacked = 0;
  #offset = -1;
  #reading = false;
  #again = false;
  #unsubscribe: (() => void) | undefined;
  #waiting = false;
  #stop: AbortController | undefined;

  constructor(
    readonly ch: Channel,
    readonly queue: AmqpQueue,
    readonly tag: string,
    readonly exclusive: boolean,
    readonly limit: number,
    readonly startSpec: unknown,
  ) {}

  get credit(): number {
    if (this.cancelled || !this.ch.flowActive || this.ch.conn.writeBlocked) return 0;
    const lim = this.limit > 0 ? this.limit : STREAM_DEFAULT_CREDIT;
    return lim - this.unacked;
  }

  activate(): void {
    this.#unsubscribe = this.ch.conn.broker.onStreamAppend(this.queue.name, () => this.wake());
    this.wake();
  }

  /** Wakes the consumer when the log grows past `offset`, whoever appended (any protocol). */
  #awaitData(offset: number): void {
    if (this.#waiting || this.cancelled) return;
    this.#waiting = true;
    this.#stop ??= new AbortController();
    this.ch.conn.broker.engine.waitForData(this.queue.name, 0, offset, this.#stop.signal).then(
      () => {
        this.#waiting = false;
        this.wake();
      },
      () => {
        this.#waiting = false;
      },
    );
  }

  async #resolveStart(): Promise<number> {
    const engine = this.ch.conn.broker.engine;
    const { start, end } = engine.logBounds(this.queue.name, 0);
    const s = this.startSpec;
    if (s === 'first') return start;
    if (s === 'last') return Math.max(start, end - 1);
    if (s === undefined || s === null || s === 'next') return end;
    if (s instanceof Date) return engine.offsetForTimestamp(this.queue.name, 0, s.getTime());
    if (typeof s === 'number' || typeof s === 'bigint') return Math.min(Math.max(Number(s), start), end);
    return end;
  }

  wake(): void {
    if (this.cancelled) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = true;
    this.#read().then(
      () => {
        this.#reading = false;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      },
      (e: unknown) => {
        this.#reading = false;
        this.ch.conn.broker.log(`amqp: stream consumer ${this.tag} on ${this.queue.name} failed: ${String(e)}`);
      },
    );
  }

  async #read(): Promise<void> {
    const engine = this.ch.conn.broker.engine;
    if (this.#offset < 0) this.#offset = await this.#resolveStart();
    while (!this.cancelled && this.credit > 0) {
      this.#again = false;
      const { start, end } = engine.logBounds(this.queue.name, 0);
      if (this.#offset < start) this.#offset = start;
      if (this.#offset >= end) {
        this.#awaitData(this.#offset);
        return;
      }
      const batches = await engine.readLog(this.queue.name, 0, this.#offset, 256 * 1024);
      if (batches.length === 0) return;
      const recs: DecodedRecord[] = [];
      for (const raw of batches) {
        // Batches in another protocol's format (Kafka) are read through its registered decoder.
        const b = raw.format === FORMAT_NATIVE ? raw : nativeFromForeign(raw);
        if (!b) continue;
        decodeBatch(b.payload, b.baseOffset, b.count, this.#offset, (r) => {
          if (r.headers[GONE_HEADER] === undefined) recs.push(r);
        });
      }
      let next = batches[batches.length - 1]!.baseOffset + batches[batches.length - 1]!.count;
      for (const r of recs) {
        if (this.cancelled || this.credit <= 0) {
          next = r.offset;
          break;
        }
        this.unacked++;
        this.ch.deliverStream(this, r);
      }
      this.#offset = Math.max(this.#offset, next);
    }
  }

  /** An ack (or nack/reject) returned credit. */
  settled(n: number): void {
    this.unacked = Math.max(0, this.unacked - n);
    this.wake();
  }

  cancel(): void {
    this.detach();
    this.ch.queueLostConsumer(this.queue, this);
  }

  detach(): void {
    this.cancelled = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#stop?.abort();
    this.#stop = undefined;
  }

  cancelByServer(): void {
    this.ch.serverCancel(this);
  }
}

/** `x-stream-offset` header value RabbitMQ adds to stream deliveries (a signed 64-bit long). */
export function streamOffsetValue(offset: number): FieldTyped {
  return new FieldTyped('l', offset);
}
