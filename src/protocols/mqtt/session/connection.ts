/**
 * One MQTT network connection (TCP socket or WebSocket stream): framing, packet dispatch,
 * keep-alive, ordered acknowledgements, flow control and shutdown. Packet semantics live in one
 * handler module per packet type (connect.ts, publish.ts, subscribe.ts, …).
 *
 * Ordering: packets are handled in arrival order. Handlers that must finish before the next packet
 * (CONNECT, SUBSCRIBE, UNSUBSCRIBE: a PUBLISH right after a SUBSCRIBE must see the new binding)
 * return a promise, and later packets wait in a queue meanwhile; PUBLISH handling starts the
 * engine append synchronously and does not block the queue. Acks to inbound QoS 1/2 publishes go
 * out in the order the publishes arrived, whatever order their appends became durable in.
 *
 * Backpressure: reading stops while (a) the socket's write buffer is above the high-water mark,
 * (b) more than `receiveMaximum` inbound QoS 1/2 publishes await their ack, or (c) more than 256
 * packets wait behind a pending handler; it resumes when all clear (a at 'drain', b at half).
 */
import type { Duplex } from 'node:stream';
import { encodePacket, encodePublish, encodePublishHead, MqttCodecError, MqttDecoder, publishBodySize, RC, varintSize, writePublishHead, type Packet, type ProtocolVersion, type PublishPacket, type Will } from '../codec/index.js';
import type { MqttBroker } from './broker.js';
import type { MqttSession } from './session.js';
import { MqttViolation } from './violation.js';
import { handleConnect } from './connect.js';
import { handlePublish, handlePubrel, publishFailed } from './publish.js';
import { toRecord, type InboundMessage, type PropsMemo } from './message.js';
import type { RecordInput } from '../../../engine/record.js';
import { mqttTopicToCanonical } from '../../../engine/routing/topic-trie.js';
import { handlePuback, handlePubcomp, handlePubrec } from './acks.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';
import { handlePingreq } from './ping.js';
import { handleDisconnect } from './disconnect.js';

const QUEUE_PAUSE = 256;
const P_CONGESTED = 1;
const P_ACKS = 2;
const P_QUEUE = 4;
const P_COALESCE = 8;
/**
 * Ack coalescing. A client that PUBACKs each message as it handles it (mqtt.js writes every PUBACK
 * on its own) wakes a broker that is waiting in epoll with every 4-byte write, and the waker pays
 * for the wake-up: in a 200,000 × 128 B drain, 9 % of mqtt.js's CPU was the scheduler switching to
 * the woken broker on return from its PUBACK `writev` (mosquitto, busier per message, 0.5 %). So
 * once a read is handled while the session still has COALESCE_MIN or more QoS 1 deliveries
 * unacknowledged, the connection stops reading for a while and the PUBACKs of that while come in
 * one read. The pause grows with what the client holds: a client draining at most 200,000 msg/s
 * needs unacked / 200 ms for it, and the pause is at most half of that (256 → 1 ms, 1,024 → 2 ms,
 * 20,000 or more → COALESCE_MAX_MS). Long pauses also spare the client: PUBACKs left unread fill
 * this socket's receive buffer, the advertised window closes and the client's kernel merges its
 * PUBACKs into a few segments instead of sending (and delivering over loopback) one segment each.
 * mosquitto's clients get this by mosquitto reading PUBACKs late. Measured on a 200,000 × 128 B
 * drain: broker read calls ~35,000 → ~2,500 and broker CPU −30 % with 1 ms pauses; with this
 * pause and a 32,768 window (session.ts), client segments 146,000–167,000 → 43,000–55,000, client
 * CPU 13.2–16.4 → 11.0–14.0 µs/msg against 1 ms pauses and a 1,024 window. The cost: a PUBLISH
 * from a client that also holds that many unacknowledged deliveries is read up to
 * COALESCE_MAX_MS later. A connection with a window below 256 (a client Receive Maximum below
 * 256) never pauses. Needs the socket's read handle to stop while paused (see the listener:
 * readable high-water mark 1); a WebSocket stream keeps reading into its buffer, harmlessly.
 */
const COALESCE_MIN = 256;
const COALESCE_MAX_MS = 50;

/** How long to leave PUBACKs unread with `unacked` deliveries outstanding (see COALESCE_MIN). */
export function coalesceMs(unacked: number): number {
  return Math.min(COALESCE_MAX_MS, Math.max(1, Math.floor(unacked / 400)));
}

interface AckSlot {
  buf: Buffer | undefined;
}

/** Consecutive QoS 0/1 non-retained PUBLISHes to one topic, appended to the engine together. */
interface PublishBatch {
  topic: string;
  key: string;
  recs: RecordInput[];
  /** Ordered-ack callbacks of the QoS 1 publishes among them. */
  acks: ((p: Packet) => void)[];
  packetIds: number[];
  bytes: number;
}

/**
 * A batch is flushed at this many records or payload bytes: big enough that a pipelining client's
 * read (64 KiB, i.e. ~400 × 128 B PUBLISHes) is one append, small enough that the first PUBACK of
 * a batch of 10 KiB messages is not held back behind megabytes of copying.
 */
const BATCH_RECORDS = 512;
const BATCH_BYTES = 1024 * 1024;
/**
 * Payloads of at least this many bytes are written by reference after a separate header; below
 * it, one copy into one buffer is cheaper than an extra writev entry.
 */
const SEPARATE_PAYLOAD = 2048;
/**
 * Output slab: the small packets of one event-loop turn are encoded (PUBLISH) or copied (others)
 * into it back to back and handed to the socket as one buffer when the turn ends, instead of one
 * fresh Buffer and one stream.write (a write request, a writev entry) each — for a window of 1000
 * 1 KiB deliveries that is ~16 writes instead of 1000. A slab is never rewritten: when full, the
 * next one is allocated (the socket may still hold views of the old one).
 */
const OUT_SLAB = 64 * 1024;
const NO_BYTES = Buffer.alloc(0);

export class MqttConnection {
  state: 'new' | 'connecting' | 'open' | 'closed' = 'new';
  version: ProtocolVersion = 4;
  session: MqttSession | undefined;
  clientId = '';
  /** Set by CONNECT; cleared by a normal DISCONNECT. */
  will: Will | undefined;
  clientReceiveMaximum = 65535;
  clientMaxPacketSize = 268_435_460;
  /** Inbound topic aliases (v5). */
  readonly aliases = new Map<number, string>();
  congested = false;
  readonly decoder: MqttDecoder;
  readonly remote: string;
  #paused = 0;
  #queue: Packet[] = [];
  #busy = false;
  #acks: AckSlot[] = [];
  #ackHead = 0;
  #keepalive = 0;
  #lastRx = 0;
  #kaTimer: NodeJS.Timeout | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #corked = false;
  #out: Buffer = NO_BYTES;
  #outStart = 0;
  #outPos = 0;
  #ended: Promise<void> | undefined;
  #closeReason: string | undefined;
  #batch: PublishBatch | undefined;
  /** The canonical routing key of the last topic published to (publishers mostly repeat one topic). */
  #lastTopic = '';
  #lastKey = '';
  readonly #propsMemo: PropsMemo = [];

  constructor(
    readonly stream: Duplex,
    readonly broker: MqttBroker,
    remote: string,
    first?: Buffer,
  ) {
    this.remote = remote;
    this.decoder = new MqttDecoder({ maxPacketSize: broker.opts.maxPacketSize });
    this.decoder.onPuback = (id) => this.#fastPuback(id);
    broker.connections.add(this);
    stream.on('data', (c: Buffer) => this.#onData(c));
    stream.on('drain', () => this.#onDrain());
    stream.on('error', (e: Error) => {
      this.#closeReason ??= e.message;
    });
    stream.on('close', () => void this.#end());
    stream.on('end', () => void this.#end());
    this.#connectTimer = setTimeout(() => void this.close(undefined, 'no CONNECT in time'), broker.opts.connectTimeoutMs);
    this.#connectTimer.unref();
    if (first) this.#onData(first);
  }

  // --- input ----------------------------------------------------------------------------------

  #firstByteSeen = false;

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.#lastRx = Date.now();
    if (!this.#firstByteSeen && chunk.length > 0) {
      this.#firstByteSeen = true;
      // The first packet must be CONNECT (MQTT-3.1.0-1): anything else is closed at its first
      // byte, instead of waiting for the length it announces until the connect timeout.
      if (chunk[0] !== 0x10) {
        void this.close(undefined, 'the first packet is not CONNECT');
        return;
      }
    }
    try {
      this.decoder.push(chunk, (p) => this.#dispatch(p));
      this.flushPublishes();
      if (this.#paused === 0 && this.session !== undefined && this.session.unacked >= COALESCE_MIN) {
        this.#pause(P_COALESCE);
        this.broker.clock.setTimer(coalesceMs(this.session.unacked), this.#endCoalesce);
      }
    } catch (e) {
      // The packets before the bad one were valid: route what they published.
      this.flushPublishes();
      if (e instanceof MqttCodecError) {
        if (e.reasonCode === 0x84 && this.state === 'new') {
          // Unsupported protocol level: CONNACK 0x01 (3.1.1 form, what such clients understand).
          this.#write(encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 1 }, 4));
          void this.close(undefined, e.message);
          return;
        }
        void this.close(e.reasonCode, e.message);
        return;
      }
      this.#fail(e);
    }
  }

  readonly #endCoalesce = (): void => {
    this.#resume(P_COALESCE);
  };

  /**
   * A success PUBACK straight from the decoder (no Packet object): settled at once when no
   * handler is pending (else it takes the ordinary path and waits its turn in the queue).
   */
  #fastPuback(id: number): boolean {
    if (this.#busy || this.state !== 'open') return false;
    const s = this.session;
    if (s === undefined) return false;
    s.onPuback(id);
    return true;
  }

  #dispatch(p: Packet): void {
    if (this.state === 'closed') return;
    if (this.#busy) {
      this.#queue.push(p);
      if (this.#queue.length >= QUEUE_PAUSE) this.#pause(P_QUEUE);
      return;
    }
    this.#run(p);
  }

  #run(p: Packet): void {
    let r: Promise<void> | void;
    try {
      // A SUBSCRIBE, UNSUBSCRIBE or DISCONNECT must see the publishes before it routed.
      if (p.type !== 'publish' && p.type !== 'puback' && p.type !== 'pingreq') this.flushPublishes();
      r = this.#handle(p);
    } catch (e) {
      this.#fail(e);
      return;
    }
    if (r) {
      this.#busy = true;
      r.then(
        () => {
          this.#busy = false;
          this.#drainQueue();
        },
        (e: unknown) => {
          this.#busy = false;
          this.#fail(e);
        },
      );
    }
  }

  #drainQueue(): void {
    while (!this.#busy && this.#queue.length > 0 && this.state !== 'closed') this.#run(this.#queue.shift()!);
    this.flushPublishes();
    if (this.#queue.length < QUEUE_PAUSE / 2) this.#resume(P_QUEUE);
  }

  #handle(p: Packet): Promise<void> | void {
    if (this.state === 'new') {
      if (p.type !== 'connect') throw new MqttViolation(RC.PROTOCOL_ERROR, `first packet is ${p.type.toUpperCase()}, not CONNECT`);
      clearTimeout(this.#connectTimer);
      this.state = 'connecting';
      return handleConnect(this, p);
    }
    switch (p.type) {
      case 'publish':
        return handlePublish(this, p);
      case 'puback':
        return handlePuback(this, p);
      case 'pubrec':
        return handlePubrec(this, p);
      case 'pubrel':
        return handlePubrel(this, p);
      case 'pubcomp':
        return handlePubcomp(this, p);
      case 'subscribe':
        return handleSubscribe(this, p);
      case 'unsubscribe':
        return handleUnsubscribe(this, p);
      case 'pingreq':
        return handlePingreq(this);
      case 'disconnect':
        return handleDisconnect(this, p);
      case 'auth':
        throw new MqttViolation(RC.BAD_AUTH_METHOD, 'enhanced authentication is not supported');
      default:
        throw new MqttViolation(RC.PROTOCOL_ERROR, `a client may not send ${p.type.toUpperCase()}`);
    }
  }

  // --- batched publishing -----------------------------------------------------------------------

  /**
   * Queues a QoS 0/1 non-retained message. Consecutive ones to the same topic become one engine
   * append (one route lookup, one storage frame, one durability wait): a pipelining client's
   * 128 B QoS 1 publishes cost ~14 µs of broker CPU each instead of ~30 µs with one append per
   * message (50,000 into a persistent session, file storage, fsync interval). The batch is flushed when the
   * topic changes, at BATCH_RECORDS / BATCH_BYTES, before any packet other than PUBLISH, PUBACK
   * and PINGREQ, and once the packets read so far are handled — so routing order, ack order and
   * the visibility of SUBSCRIBE/UNSUBSCRIBE are as with one append per message.
   */
  queuePublish(topic: string, m: InboundMessage, packetId: number | undefined): void {
    let b = this.#batch;
    if (b !== undefined && b.topic !== topic) {
      this.flushPublishes();
      b = undefined;
    }
    if (topic !== this.#lastTopic) {
      this.#lastTopic = topic;
      this.#lastKey = mqttTopicToCanonical(topic);
    }
    if (b === undefined) b = this.#batch = { topic, key: this.#lastKey, recs: [], acks: [], packetIds: [], bytes: 0 };
    b.recs.push(toRecord(m, this.broker.clock.now(), this.#lastKey, this.#propsMemo));
    b.bytes += m.payload.length;
    if (m.qos === 1) {
      b.acks.push(this.orderedAck());
      b.packetIds.push(packetId!);
    }
    if (b.recs.length >= BATCH_RECORDS || b.bytes >= BATCH_BYTES) this.flushPublishes();
  }

  /** Appends the queued batch (if any); its PUBACKs go out, in order, once it is durable. */
  flushPublishes(): void {
    const b = this.#batch;
    if (b === undefined) return;
    this.#batch = undefined;
    this.broker.publishBatch(b.key, b.recs).then(
      (any) => {
        const rc = this.version === 5 && !any ? RC.NO_MATCHING_SUBSCRIBERS : undefined;
        for (let i = 0; i < b.acks.length; i++) {
          const ack: Packet = rc === undefined ? { type: 'puback', packetId: b.packetIds[i]! } : { type: 'puback', packetId: b.packetIds[i]!, reasonCode: rc };
          b.acks[i]!(ack);
        }
      },
      (e: unknown) => {
        if (b.acks.length === 0) {
          this.broker.log(`mqtt: QoS 0 publish from ${this.clientId} to ${b.topic} failed: ${String(e)}`);
          return;
        }
        publishFailed(this, b.topic, e, (reasonCode) => {
          for (let i = 0; i < b.acks.length; i++) b.acks[i]!({ type: 'puback', packetId: b.packetIds[i]!, reasonCode });
        });
      },
    );
  }

  #fail(e: unknown): void {
    if (e instanceof MqttViolation) {
      void this.close(e.reasonCode, e.message);
      return;
    }
    this.broker.log(`mqtt: ${this.clientId || this.remote}: ${e instanceof Error ? e.message : String(e)}`);
    void this.close(RC.UNSPECIFIED_ERROR, 'internal error');
  }

  // --- keep-alive -------------------------------------------------------------------------------

  /** Starts the keep-alive watchdog: 1.5 × keepalive without a byte received closes the connection. */
  startKeepalive(seconds: number): void {
    this.#keepalive = seconds;
    if (seconds === 0) return;
    const limit = seconds * 1500;
    const check = (): void => {
      if (this.state === 'closed') return;
      const idle = Date.now() - this.#lastRx;
      if (idle >= limit) {
        void this.close(RC.KEEP_ALIVE_TIMEOUT, `keep-alive timeout (${seconds} s × 1.5)`);
        return;
      }
      this.#kaTimer = setTimeout(check, limit - idle);
      this.#kaTimer.unref();
    };
    this.#lastRx = Date.now();
    this.#kaTimer = setTimeout(check, limit);
    this.#kaTimer.unref();
  }

  get keepalive(): number {
    return this.#keepalive;
  }

  // --- output -----------------------------------------------------------------------------------

  #write(buf: Buffer): void {
    if (this.state === 'closed') return;
    this.#begin();
    if (buf.length < SEPARATE_PAYLOAD) {
      const at = this.#reserve(buf.length);
      this.#out.set(buf, at);
      this.#outPos = at + buf.length;
    } else {
      this.#emitOut();
      this.stream.write(buf);
    }
    this.#checkCongestion();
  }

  /** Batches every packet written in this event-loop turn into one socket write (deliveries come in bursts). */
  #begin(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.stream.cork();
    process.nextTick(this.#endTurn);
  }

  readonly #endTurn = (): void => {
    this.#corked = false;
    this.#emitOut();
    this.stream.uncork();
  };

  /** Hands the slab's pending bytes to the stream. */
  #emitOut(): void {
    if (this.#outPos === this.#outStart) return;
    const b = this.#out.subarray(this.#outStart, this.#outPos);
    this.#outStart = this.#outPos;
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.write(b);
  }

  /** Makes room for `n` bytes in the slab; returns where they go (the caller advances #outPos). */
  #reserve(n: number): number {
    if (this.#outPos + n > this.#out.length) {
      this.#emitOut();
      this.#out = Buffer.allocUnsafe(Math.max(OUT_SLAB, n));
      this.#outStart = this.#outPos = 0;
    }
    return this.#outPos;
  }

  #checkCongestion(): void {
    if (!this.congested && this.stream.writableLength + this.#outPos - this.#outStart > this.broker.opts.highWaterMark) {
      this.congested = true;
      this.#pause(P_CONGESTED);
    }
  }

  #onDrain(): void {
    if (!this.congested) return;
    this.congested = false;
    this.#resume(P_CONGESTED);
    this.session?.onDrain();
  }

  send(p: Packet): void {
    this.#write(encodePacket(p, this.version));
  }

  /** Writes a PUBLISH; false (nothing written) when it exceeds the client's Maximum Packet Size. */
  sendPublish(p: PublishPacket, rawProps: readonly Buffer[]): boolean {
    if (p.payload.length < SEPARATE_PAYLOAD) {
      const buf = encodePublish(p, this.version, rawProps);
      if (buf.length > this.clientMaxPacketSize) return false;
      this.#write(buf);
      return true;
    }
    // Large payloads go out by reference (the stored record's bytes) after their header, in the
    // same corked writev: no fresh buffer and no copy per delivery.
    const head = encodePublishHead(p, this.version, rawProps);
    if (head.length + p.payload.length > this.clientMaxPacketSize) return false;
    this.#write(head);
    this.#write(p.payload);
    return true;
  }

  /**
   * Writes the PUBLISH of a stored message straight into the output slab: `flags` = DUP/QoS/RETAIN
   * bits, `topic` already UTF-8, `rawProps` (v5 only) `propsLen` bytes of properties. Payloads of
   * SEPARATE_PAYLOAD bytes or more go out by reference after the header; `pin` (the delivery)
   * then keeps the payload's bytes valid until the socket has written them: a delivered body may
   * live in a recycled file-read slab (the engine's `pinsBodies`), reused once its delivery is
   * acked and no write holds it. A smaller payload is copied here, so nothing holds it after the
   * call. False (nothing written) when the packet exceeds the client's Maximum Packet Size.
   */
  writePublish(flags: number, topic: Buffer, packetId: number, rawProps: readonly Buffer[] | undefined, propsLen: number, payload: Buffer, pin?: { holdBody(): () => void }): boolean {
    const body = publishBodySize(this.version, (flags >> 1) & 3, topic.length, propsLen, payload.length);
    const size = 1 + varintSize(body) + body;
    if (size > this.clientMaxPacketSize) return false;
    if (this.state === 'closed') return true;
    this.#begin();
    const big = payload.length >= SEPARATE_PAYLOAD;
    const at = this.#reserve(big ? size - payload.length : size);
    const pos = writePublishHead(this.#out, at, body, this.version, flags, topic, packetId, rawProps, propsLen);
    if (big) {
      this.#outPos = pos;
      this.#emitOut();
      // The callback also runs (with an error) when the stream is destroyed before writing.
      if (pin !== undefined) this.stream.write(payload, pin.holdBody());
      else this.stream.write(payload);
    } else {
      this.#out.set(payload, pos);
      this.#outPos = pos + payload.length;
    }
    this.#checkCongestion();
    return true;
  }

  /** Reserves the next place in the inbound-ack order; call the result with the ack's bytes. */
  orderedAck(): (p: Packet) => void {
    const slot: AckSlot = { buf: undefined };
    this.#acks.push(slot);
    if (this.#acks.length - this.#ackHead >= this.broker.opts.receiveMaximum) this.#pause(P_ACKS);
    return (p: Packet) => {
      slot.buf = encodePacket(p, this.version);
      this.#flushAcks();
    };
  }

  #flushAcks(): void {
    const q = this.#acks;
    while (this.#ackHead < q.length) {
      const s = q[this.#ackHead]!;
      if (s.buf === undefined) break;
      this.#write(s.buf);
      this.#ackHead++;
    }
    if (this.#ackHead === q.length) {
      this.#acks = [];
      this.#ackHead = 0;
    } else if (this.#ackHead > 1024) {
      this.#acks = q.slice(this.#ackHead);
      this.#ackHead = 0;
    }
    if (this.#acks.length - this.#ackHead < this.broker.opts.receiveMaximum / 2) this.#resume(P_ACKS);
  }

  #pause(bit: number): void {
    if (this.#paused === 0) this.stream.pause();
    this.#paused |= bit;
  }

  #resume(bit: number): void {
    if ((this.#paused & bit) === 0) return;
    this.#paused &= ~bit;
    if (this.#paused === 0 && this.state !== 'closed') this.stream.resume();
  }

  // --- shutdown ---------------------------------------------------------------------------------

  /**
   * Closes the connection: MQTT 5 clients get a DISCONNECT with `reasonCode` first (when given and
   * the connection was accepted). Resolves when the session has been detached (and, for a session
   * that ends, destroyed), so a taking-over connection can proceed.
   */
  close(reasonCode?: number, why?: string): Promise<void> {
    if (this.state !== 'closed') {
      this.#closeReason ??= why;
      if (reasonCode !== undefined && this.version === 5 && this.state === 'open') {
        const props = why !== undefined ? { reasonString: why.slice(0, 200) } : undefined;
        this.#write(encodePacket(props ? { type: 'disconnect', reasonCode, properties: props } : { type: 'disconnect', reasonCode }, 5));
      }
      this.#emitOut();
      this.stream.end();
      // A peer that never reads would keep a half-closed socket open: destroy after a grace period.
      setTimeout(() => this.stream.destroy(), 2000).unref();
    }
    return this.#end();
  }

  /** The client sent DISCONNECT: close without a will (or with it, for v5 reason 0x04). */
  endNormally(sendWill: boolean): Promise<void> {
    if (!sendWill) this.will = undefined;
    return this.close();
  }

  #end(): Promise<void> {
    this.#ended ??= (async () => {
      const wasOpen = this.state === 'open' || this.state === 'connecting';
      this.state = 'closed';
      clearTimeout(this.#connectTimer);
      clearTimeout(this.#kaTimer);
      this.#queue = [];
      this.broker.connections.delete(this);
      if (!this.stream.destroyed && this.stream.writableEnded === false) {
        this.#emitOut();
        this.stream.end();
      }
      const s = this.session;
      if (s && wasOpen) await this.broker.connectionEnded(this, s, this.will);
    })().catch((e: unknown) => this.broker.log(`mqtt: closing ${this.clientId}: ${String(e)}`));
    return this.#ended;
  }

  /** True once the connection is closing or closed (a method, so checks after awaits are not narrowed away). */
  isClosed(): boolean {
    return this.state === 'closed';
  }

  get closeReason(): string | undefined {
    return this.#closeReason;
  }
}
