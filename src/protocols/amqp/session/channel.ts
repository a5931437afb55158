/**
 * One AMQP channel: method dispatch to handlers/ (one file per method or method group, named
 * after the spec), content assembly for basic.publish, delivery tags and unacked deliveries,
 * consumers, basic.qos limits, publisher confirms, tx mode, and channel.close both ways.
 *
 * Ordering: methods of one channel run strictly in arrival order. A handler that returns a
 * promise (declares, get, tx.commit …) holds back later methods of the channel (a backlog, counted
 * by the connection's flow control) until it settles; publishes and acks are synchronous.
 *
 * Confirms are released in publish order: an entry completes when every destination queue has
 * the message durable; the contiguous completed prefix is then acknowledged with one
 * basic.ack(multiple=true) (nacks individually), so a slow fsync holds back later confirms rather
 * than reordering them.
 *
 * After a channel error the channel ignores everything but channel.close/close-ok (spec §2.3.7).
 */
import type { DeliveryImpl } from '../../../engine/group.js';
import type { Transaction } from '../../../engine/transaction.js';
import type { DecodedRecord } from '../../../engine/record.js';
import {
  basicDeliver,
  basicAck,
  basicNack,
  basicCancel,
  channelClose,
  channelCloseOk,
  channelFlowOk,
  accessRequestOk,
} from '../index.js';
import type { AmqpMethod, BasicPublishArgs, ContentHeader, Frame } from '../index.js';
import type { AmqpConnection } from './connection.js';
import { ClassicConsumer, StreamConsumer, streamOffsetValue } from './consumer.js';
import type { AmqpQueue } from './queue.js';
import { amqpError, EXCHANGE_HEADER, recordProps, recordPropsObject, replyTextOf } from './util.js';
import { basicPublish } from './handlers/basic-publish.js';
import { basicConsume } from './handlers/basic-consume.js';
import { basicCancelHandler } from './handlers/basic-cancel.js';
import { basicGet } from './handlers/basic-get.js';
import { basicAckHandler, basicNackHandler, basicRejectHandler } from './handlers/basic-ack.js';
import { basicQos } from './handlers/basic-qos.js';
import { basicRecover } from './handlers/basic-recover.js';
import { queueDeclare } from './handlers/queue-declare.js';
import { queueBind, queueUnbind } from './handlers/queue-bind.js';
import { queuePurge } from './handlers/queue-purge.js';
import { queueDelete } from './handlers/queue-delete.js';
import { exchangeDeclare } from './handlers/exchange-declare.js';
import { exchangeDelete } from './handlers/exchange-delete.js';
import { exchangeBind, exchangeUnbind } from './handlers/exchange-bind.js';
import { confirmSelect } from './handlers/confirm-select.js';
import { txSelect, txCommit, txRollback } from './handlers/tx.js';

export type Unacked =
  | { kind: 'queue'; d: DeliveryImpl; consumer: ClassicConsumer | undefined }
  | { kind: 'stream'; consumer: StreamConsumer };

interface ConfirmEntry {
  seq: number;
  remaining: number;
  ok: boolean;
}

interface PendingContent {
  args: BasicPublishArgs;
  header: ContentHeader | undefined;
  parts: Buffer[];
  got: number;
}

type Step = () => void | Promise<void>;

export class Channel {
  state: 'open' | 'closing' | 'closed' = 'open';
  flowActive = true;
  /** basic.qos global=false: limit for consumers created afterwards. */
  consumerLimit = 0;
  /** basic.qos global=true: unacked limit shared by the channel's consumers. */
  globalLimit = 0;
  readonly consumers = new Map<string, ClassicConsumer | StreamConsumer>();
  /** Direct reply-to consumer on this channel, if any. */
  replyTo: { token: string; tag: string } | undefined;
  /** Last queue declared on the channel (an empty queue name in later methods means it). */
  lastQueue = '';

  #nextTag = 1;
  readonly unacked = new Map<number, Unacked>();
  /** False once tags were re-inserted out of order (tx.rollback): multiple-acks scan fully. */
  unackedSorted = true;

  confirming = false;
  #publishSeq = 0;
  #confirms: ConfirmEntry[] = [];
  #confirmHead = 0;
  #confirmFlushQueued = false;

  tx: Transaction | undefined;
  /** Staged tx settlements we apply ourselves (reject = dead-letter), and all staged for rollback. */
  txRejects: DeliveryImpl[] = [];
  txStaged: [number, Unacked][] = [];
  txStreams = new Set<string>();

  #content: PendingContent | undefined;
  #busy = false;
  #backlog: Step[] = [];
  #backlogHead = 0;

  constructor(
    readonly conn: AmqpConnection,
    readonly id: number,
  ) {}

  get unackedCount(): number {
    return this.unacked.size;
  }

  get backlogSize(): number {
    return this.#backlog.length - this.#backlogHead;
  }

  nextDeliveryTag(): number {
    return this.#nextTag++;
  }

  // -----------------------------------------------------------------------------------------------
  // Input

  onFrame(f: Frame): void {
    if (this.state !== 'open') {
      if (f.type === 1) {
        if (f.payload.name === 'channel.close-ok') this.#finish();
        else if (f.payload.name === 'channel.close') {
          this.conn.sendMethod(this.id, channelCloseOk());
          this.#finish();
        }
      }
      return;
    }
    switch (f.type) {
      case 1:
        this.#onMethod(f.payload);
        return;
      case 2: {
        const c = this.#content;
        if (!c || c.header) throw amqpError(505, `unexpected content header on channel ${this.id}`);
        c.header = f.payload;
        if (f.payload.bodySize === 0) this.#completeContent(c, Buffer.alloc(0));
        return;
      }
      case 3: {
        const c = this.#content;
        if (!c || !c.header) throw amqpError(505, `unexpected content body on channel ${this.id}`);
        c.got += f.payload.length;
        if (c.got === c.header.bodySize && c.parts.length === 0) {
          this.#completeContent(c, f.payload);
          return;
        }
        c.parts.push(f.payload);
        if (c.got >= c.header.bodySize) this.#completeContent(c, Buffer.concat(c.parts, c.got));
        return;
      }
      default:
        return;
    }
  }

  #completeContent(c: PendingContent, body: Buffer): void {
    this.#content = undefined;
    const header = c.header!;
    this.dispatch(() => basicPublish(this, c.args, header, body), 60, 40);
  }

  #onMethod(m: AmqpMethod): void {
    const cls = m.classId;
    const mid = m.methodId;
    switch (m.name) {
      case 'basic.publish':
        this.#content = { args: m.args, header: undefined, parts: [], got: 0 };
        return;
      case 'basic.ack':
        return this.dispatch(() => basicAckHandler(this, m.args), cls, mid);
      case 'basic.nack':
        return this.dispatch(() => basicNackHandler(this, m.args), cls, mid);
      case 'basic.reject':
        return this.dispatch(() => basicRejectHandler(this, m.args), cls, mid);
      case 'basic.consume':
        return this.dispatch(() => basicConsume(this, m.args), cls, mid);
      case 'basic.cancel':
        return this.dispatch(() => basicCancelHandler(this, m.args), cls, mid);
      case 'basic.get':
        return this.dispatch(() => basicGet(this, m.args), cls, mid);
      case 'basic.qos':
        return this.dispatch(() => basicQos(this, m.args), cls, mid);
      case 'basic.recover':
        return this.dispatch(() => basicRecover(this, m.args.requeue, true), cls, mid);
      case 'basic.recover-async':
        return this.dispatch(() => basicRecover(this, m.args.requeue, false), cls, mid);
      case 'queue.declare':
        return this.dispatch(() => queueDeclare(this, m.args), cls, mid);
      case 'queue.bind':
        return this.dispatch(() => queueBind(this, m.args), cls, mid);
      case 'queue.unbind':
        return this.dispatch(() => queueUnbind(this, m.args), cls, mid);
      case 'queue.purge':
        return this.dispatch(() => queuePurge(this, m.args), cls, mid);
      case 'queue.delete':
        return this.dispatch(() => queueDelete(this, m.args), cls, mid);
      case 'exchange.declare':
        return this.dispatch(() => exchangeDeclare(this, m.args), cls, mid);
      case 'exchange.delete':
        return this.dispatch(() => exchangeDelete(this, m.args), cls, mid);
      case 'exchange.bind':
        return this.dispatch(() => exchangeBind(this, m.args), cls, mid);
      case 'exchange.unbind':
        return this.dispatch(() => exchangeUnbind(this, m.args), cls, mid);
      case 'confirm.select':
        return this.dispatch(() => confirmSelect(this, m.args.nowait), cls, mid);
      case 'tx.select':
        return this.dispatch(() => txSelect(this), cls, mid);
      case 'tx.commit':
        return this.dispatch(() => txCommit(this), cls, mid);
      case 'tx.rollback':
        return this.dispatch(() => txRollback(this), cls, mid);
      case 'access.request':
        this.conn.sendMethod(this.id, accessRequestOk({ ticket: 1 }));
        return;
      case 'channel.flow':
        this.flowActive = m.args.active;
        this.conn.sendMethod(this.id, channelFlowOk({ active: m.args.active }));
        if (m.args.active) this.wakeConsumers();
        return;
      case 'channel.flow-ok':
        return;
      case 'channel.close':
        // Methods queued before the close still run (a declare followed by close must finish).
        return this.dispatch(() => {
          this.release();
          this.conn.sendMethod(this.id, channelCloseOk());
          this.#finish();
        }, cls, mid);
      case 'channel.close-ok':
        return;
      default:
        // Server-to-client methods (basic.deliver, *-ok …) sent by a client.
        throw amqpError(540, `method ${m.name} is not valid from a client`, cls, mid);
    }
  }

  /** Runs `step` now, or after the async steps before it. Errors close the channel/connection. */
  dispatch(step: Step, classId: number, methodId: number): void {
    if (this.#busy || this.backlogSize > 0) {
      this.#backlog.push(() => this.#guard(step, classId, methodId));
      return;
    }
    this.#run(() => this.#guard(step, classId, methodId));
  }

  #guard(step: Step, classId: number, methodId: number): void | Promise<void> {
    if (this.state !== 'open') return;
    let r: void | Promise<void>;
    try {
      r = step();
    } catch (e) {
      this.#fail(e, classId, methodId);
      return;
    }
    if (r !== undefined) return r.catch((e: unknown) => this.#fail(e, classId, methodId));
  }

  #run(step: Step): void {
    const r = step();
    if (r === undefined) return;
    this.#busy = true;
    r.then(
      () => this.#next(),
      () => this.#next(),
    );
  }

  #next(): void {
    this.#busy = false;
    while (!this.#busy && this.backlogSize > 0) {
      const s = this.#backlog[this.#backlogHead]!;
      this.#backlog[this.#backlogHead++] = NOOP_STEP;
      if (this.#backlogHead === this.#backlog.length) {
        this.#backlog = [];
        this.#backlogHead = 0;
      }
      this.#run(s);
    }
    this.conn.flushPublishes();
    this.conn.checkFlow();
  }

  #fail(e: unknown, classId: number, methodId: number): void {
    const code = (e as { replyCode?: unknown }).replyCode;
    if (typeof code === 'number') {
      const ae = e as { replyCode: number; message: string; classId: number; methodId: number };
      const cid = ae.classId || classId;
      const mid = ae.classId ? ae.methodId : methodId;
      const hard = code >= 500 || code === 320 || code === 402;
      if (hard) this.conn.closeWith(code, ae.message, cid, mid);
      else this.closeWithError(code, ae.message, cid, mid);
      return;
    }
    const ce = e as { code?: string; message?: string };
    const msg = ce.message ?? String(e);
    // Engine errors that reach here map onto AMQP's soft errors.
    if (ce.code === 'MQ_ERR_NOT_FOUND') this.closeWithError(404, msg, classId, methodId);
    else if (ce.code === 'MQ_ERR_EXISTS' || ce.code === 'MQ_ERR_PRECONDITION' || ce.code === 'MQ_ERR_INVALID_ARGUMENT') this.closeWithError(406, msg, classId, methodId);
    else if (ce.code === 'MQ_ERR_RESOURCE_LOCKED') this.closeWithError(405, msg, classId, methodId);
    else {
      this.conn.broker.log(`amqp: internal error on channel ${this.id}: ${e instanceof Error ? e.stack ?? msg : msg}`);
      this.conn.closeWith(541, `INTERNAL_ERROR - ${msg}`, classId, methodId);
    }
  }

  /** Server-initiated channel.close (a soft error). */
  closeWithError(code: number, text: string, classId: number, methodId: number): void {
    if (this.state !== 'open') return;
    this.release();
    this.state = 'closing';
    this.conn.sendMethod(this.id, channelClose({ replyCode: code, replyText: replyTextOf(code, text), classId, methodId }));
  }

  #finish(): void {
    this.release();
    this.state = 'closed';
    if (this.conn.channels.get(this.id) === this) this.conn.channels.delete(this.id);
  }

  /**
   * Drops the channel's state: requeues unacked deliveries (redelivered), detaches consumers
   * (auto-delete queues may go), forgets direct reply-to and rolls back a transaction.
   */
  release(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.state = 'closing';
    this.#backlog = [];
    this.#backlogHead = 0;
    this.#content = undefined;
    for (const u of this.unacked.values()) {
      if (u.kind === 'queue') {
        u.d.nack().catch(NOOP);
        u.consumer?.settled();
      }
    }
    this.unacked.clear();
    for (const c of [...this.consumers.values()]) {
      c.detach();
      this.queueLostConsumer(c.queue, c);
    }
    this.consumers.clear();
    if (this.replyTo) {
      this.conn.broker.replyTo.delete(this.replyTo.token);
      this.replyTo = undefined;
    }
    this.tx?.rollback();
    this.tx = undefined;
    this.#confirms = [];
    this.#confirmHead = 0;
  }

  // -----------------------------------------------------------------------------------------------
  // Deliveries

  deliver(c: ClassicConsumer, d: DeliveryImpl): void {
    const tag = this.#nextTag++;
    const rec = d.rec;
    if (!c.noAck) this.unacked.set(tag, { kind: 'queue', d, consumer: c });
    this.conn.sendMessage(
      this.id,
      basicDeliver({ consumerTag: c.tag, deliveryTag: tag, redelivered: d.attempt > 1, exchange: rec.headers[EXCHANGE_HEADER] ?? '', routingKey: rec.key ?? '' }),
      recordProps(rec),
      rec.body,
      d,
    );
    if (c.noAck) d.ack().catch(NOOP);
  }

  deliverStream(c: StreamConsumer, rec: DecodedRecord): void {
    const tag = this.#nextTag++;
    this.unacked.set(tag, { kind: 'stream', consumer: c });
    const props = recordPropsObject(rec);
    props.headers = { ...(props.headers ?? {}), 'x-stream-offset': streamOffsetValue(rec.offset) };
    this.conn.sendMessage(
      this.id,
      basicDeliver({ consumerTag: c.tag, deliveryTag: tag, redelivered: false, exchange: rec.headers[EXCHANGE_HEADER] ?? '', routingKey: rec.key ?? '' }),
      props,
      rec.body,
    );
  }

  /** Credit may have come back (socket drained, flow on, global qos freed): pump again. */
  wakeConsumers(): void {
    for (const c of this.consumers.values()) c.wake();
  }

  /** A consumer left `q` (cancel or channel close): auto-delete and x-expires bookkeeping. */
  queueLostConsumer(q: AmqpQueue, c: ClassicConsumer | StreamConsumer): void {
    if (q.removeConsumer(c) && !q.deleted) {
      this.conn.broker.deleteQueue(q).catch((e: unknown) => this.conn.broker.log(`amqp: auto-delete of ${q.name} failed: ${String(e)}`));
    }
  }

  /** The queue was deleted under a consumer: basic.cancel to clients that understand it. */
  serverCancel(c: ClassicConsumer | StreamConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    this.consumers.delete(c.tag);
    c.detach();
    if (this.state === 'open' && this.conn.consumerCancelNotify) {
      this.conn.sendMethod(this.id, basicCancel({ consumerTag: c.tag, nowait: true }));
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Confirms

  /** Registers the next publish for confirmation; returns the completion callback. */
  trackConfirm(destinations: number): ((ok: boolean) => void) | undefined {
    if (!this.confirming) return undefined;
    const e: ConfirmEntry = { seq: ++this.#publishSeq, remaining: destinations, ok: true };
    this.#confirms.push(e);
    if (destinations === 0) {
      this.#flushConfirms();
      return undefined;
    }
    return (ok: boolean) => {
      if (!ok) e.ok = false;
      if (--e.remaining === 0) this.#queueConfirmFlush();
    };
  }

  /**
   * The engine completes a whole batch of publishes (every one of a socket read) in one loop:
   * flushing per completion sent one basic.ack per message (1,000 ack frames for a 1,000-message
   * window, each parsed by the client). The flush waits for setImmediate instead: after every
   * socket read and engine completion of this event-loop poll phase, so one basic.ack(multiple)
   * covers all of them (libuv reads up to 32 × 64 KiB per readable socket in one phase). Counted
   * with strace over 10,000 × 10 KiB pipelined publishes: 90 socket writes instead of 1,605 with a
   * flush per read. Still the same loop iteration, so no timer latency. Confirms are asynchronous
   * in AMQP (RabbitMQ sends them from its queue processes): a reply to a later method on the
   * channel may now precede them; their own order is kept.
   */
  #queueConfirmFlush(): void {
    if (this.#confirmFlushQueued) return;
    this.#confirmFlushQueued = true;
    setImmediate(this.#flushQueuedConfirms);
  }

  readonly #flushQueuedConfirms = (): void => {
    this.#confirmFlushQueued = false;
    try {
      this.#flushConfirms();
    } catch (e) {
      // A throw in a microtask would take the process down; this is a bug, so close the connection.
      this.conn.broker.log(`amqp: confirming on channel ${this.id} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      this.conn.closeWith(541, `INTERNAL_ERROR - ${e instanceof Error ? e.message : String(e)}`, 0, 0);
    }
  };

  /** A publish that can never be delivered (e.g. rejected): nack it in order. */
  failConfirm(): void {
    if (!this.confirming) return;
    this.#confirms.push({ seq: ++this.#publishSeq, remaining: 0, ok: false });
    this.#flushConfirms();
  }

  #flushConfirms(): void {
    if (this.state !== 'open') return;
    const q = this.#confirms;
    let h = this.#confirmHead;
    let ack = 0;
    while (h < q.length && q[h]!.remaining === 0) {
      const e = q[h++]!;
      if (e.ok) ack = e.seq;
      else {
        if (ack > 0) this.conn.sendMethod(this.id, basicAck({ deliveryTag: ack, multiple: true }));
        ack = 0;
        this.conn.sendMethod(this.id, basicNack({ deliveryTag: e.seq, multiple: false, requeue: false }));
      }
    }
    if (ack > 0) this.conn.sendMethod(this.id, basicAck({ deliveryTag: ack, multiple: true }));
    if (h === q.length) {
      this.#confirms = [];
      this.#confirmHead = 0;
    } else if (h > 4096) {
      this.#confirms = q.slice(h);
      this.#confirmHead = 0;
    } else this.#confirmHead = h;
  }

  startConfirms(): void {
    this.confirming = true;
  }

  /** Sends a message (basic.get-ok / basic.return / direct reply-to deliver). */
  sendContent(method: AmqpMethod, props: Uint8Array | import('../index.js').BasicProperties, body: Buffer): void {
    this.conn.sendMessage(this.id, method, props, body);
  }
}

const NOOP = (): void => {};
const NOOP_STEP: Step = () => {};
