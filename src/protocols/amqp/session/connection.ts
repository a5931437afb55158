/**
 * One AMQP 0-9-1 client connection: socket ⇄ FrameParser, the handshake (protocol header,
 * connection.start/start-ok/secure/tune/tune-ok/open), heartbeats both ways, connection.close in
 * both directions, connection.blocked/unblocked, and the two batching points of the hot path:
 *
 * - Publishes: channels hand complete messages to `enqueuePublish`; every publish that arrives in
 *   one socket read is appended with ONE engine.publish call per destination queue (flushed at the
 *   end of the read, or earlier when a method on the same connection needs them applied).
 * - Writes: frames produced in one event-loop turn (a pump delivering 100 messages, confirms,
 *   replies) go out in one socket write, flushed on process.nextTick.
 *
 * Backpressure (never buffer without bound): the socket stops being read while (a) our pending
 * writes plus socket.writableLength exceed WRITE_HWM, (b) more than MAX_OUTSTANDING publishes or
 * MAX_OUTSTANDING_BYTES are waiting for the engine, (c) a channel has more than MAX_BACKLOG
 * methods queued behind an async one, or (d) the broker is blocked and this connection publishes.
 * Consumers get no credit while (a) holds, and are woken on 'drain'.
 *
 * Errors: an AmqpError from the parser or a handler closes the channel (soft codes) or the
 * connection (hard codes), with RabbitMQ's reply texts; a bug in a handler closes the connection
 * with 541. Nothing a client sends can take the listener down.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import {
  FrameParser,
  PROTOCOL_HEADER,
  encodeHeartbeat,
  encodeMethodFrame,
  encodeMessage,
  encodeMessageParts,
  isAmqpError,
  decodeFieldTable,
  connectionStart,
  connectionTune,
  connectionOpenOk,
  connectionClose,
  connectionCloseOk,
  connectionBlocked,
  connectionUnblocked,
  connectionUpdateSecretOk,
  channelOpenOk,
  FRAME_MIN_SIZE,
} from '../index.js';
import type { AmqpMethod, FieldTable, Frame, PropertiesInput } from '../index.js';
import type { RecordInput } from '../../../engine/record.js';
import type { AmqpBroker } from './broker.js';
import { Channel } from './channel.js';
import { amqpError, isHardError, isLoopback, replyTextOf } from './util.js';

/** Pending output above which consumers get no credit and the socket is not read. */
export const WRITE_HWM = 4 * 1024 * 1024;
/**
 * Message bodies at least this long are written by reference (encodeMessageParts: the frames
 * around the body in a small buffer, the stored body itself in the writev) instead of being
 * copied into a send buffer. Below it the copy is cheaper than a writev entry and Writable's
 * per-chunk bookkeeping.
 */
export const BY_REFERENCE_MIN = 4096;
/** Pieces shorter than this are coalesced into one buffer when a flush also holds by-reference bodies. */
const COALESCE_MAX = 1024;
/** Publishes waiting for the engine above which the socket is not read. */
export const MAX_OUTSTANDING = 50_000;
export const MAX_OUTSTANDING_BYTES = 64 * 1024 * 1024;
/** Methods queued behind an async one on a channel above which the socket is not read. */
export const MAX_BACKLOG = 10_000;
/** How long we wait for close-ok after sending connection.close. */
const CLOSE_TIMEOUT_MS = 3000;
/** A client that has not finished the handshake by then is dropped (RabbitMQ: 10 s). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

function serverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
const VERSION = serverVersion();

export const SERVER_CAPABILITIES: FieldTable = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  consumer_priorities: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: true,
};

type State = 'header' | 'start-ok' | 'tune-ok' | 'open' | 'opened' | 'closing' | 'closed';

interface PublishBatch {
  records: RecordInput[];
  /** Per record: the confirm to complete, or undefined without confirms. */
  done: ((ok: boolean) => void)[];
  bytes: number;
  stream: boolean;
}

export class AmqpConnection {
  readonly id: number;
  state: State = 'header';
  readonly parser: FrameParser;
  frameMax: number;
  channelMax: number;
  heartbeat = 0;
  readonly channels = new Map<number, Channel>();
  user = '';
  clientProperties: FieldTable = {};
  consumerCancelNotify = false;
  blockedCapable = false;
  #authFailureClose = false;

  #out: Buffer[] = [];
  #outBytes = 0;
  /** Buffers in #out written by reference (message bodies): the flush must not concat them. */
  #outRefs = 0;
  /**
   * Releases of the bodies in #out pinned by their deliveries (consumers with `pinsBodies`): run
   * once the socket has written everything of this flush (a body may live in a recycled
   * file-read slab, which must not be reused while the socket still holds a view of it).
   */
  #outReleases: (() => void)[] = [];
  #flushScheduled = false;
  #waitingDrain = false;
  #starved = false;

  #batch = new Map<string, PublishBatch>();
  #outstanding = 0;
  #outstandingBytes = 0;
  readonly #inflight = new Set<Promise<void>>();
  #paused = false;
  /** A publish arrived while a resource alarm was on: blocked until every alarm clears. */
  #publishedInAlarm = false;
  #blockedSent = false;

  #lastRecv = Date.now();
  #lastSend = Date.now();
  #hbTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #closedResolve!: () => void;
  readonly closed: Promise<void>;

  constructor(
    readonly socket: Socket,
    readonly broker: AmqpBroker,
  ) {
    this.id = broker.nextConnectionId();
    this.frameMax = broker.opts.frameMax;
    this.channelMax = broker.opts.channelMax;
    this.parser = new FrameParser({ maxFrameSize: this.frameMax });
    this.closed = new Promise((r) => (this.#closedResolve = r));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', () => this.#teardown());
    socket.on('close', () => this.#teardown());
    this.#closeTimer = setTimeout(() => {
      if (this.state !== 'opened' && this.state !== 'closed') socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    this.#closeTimer.unref();
    broker.connections.add(this);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  // -----------------------------------------------------------------------------------------------
  // Output

  send(buf: Buffer): void {
    if (this.state === 'closed') return;
    this.#out.push(buf);
    this.#outBytes += buf.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  sendMethod(channel: number, m: AmqpMethod): void {
    this.send(encodeMethodFrame(channel, m));
  }

  /**
   * A content-carrying method with its header and body frames. Bodies of BY_REFERENCE_MIN bytes
   * or more are not copied: their frames go out as pieces around the body itself (one writev).
   * The body must not change after this call (stored records never do); `pin` (the delivery) then
   * keeps its bytes valid until the socket has written them. A smaller body is copied here.
   */
  sendMessage(channel: number, method: AmqpMethod, props: PropertiesInput, body: Buffer, pin?: { holdBody(): () => void }): void {
    if (this.state === 'closed') return;
    if (body.length < BY_REFERENCE_MIN) {
      this.send(encodeMessage(channel, method, props, body, this.frameMax));
      return;
    }
    this.#outBytes += encodeMessageParts(channel, method, props, body, this.frameMax, this.#out);
    this.#outRefs++;
    if (pin !== undefined) this.#outReleases.push(pin.holdBody());
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const out = this.#out;
    const refs = this.#outRefs;
    this.#outRefs = 0;
    const releases = this.#outReleases;
    if (releases.length > 0) this.#outReleases = [];
    if (out.length === 0 || this.socket.destroyed) {
      this.#out = [];
      this.#outBytes = 0;
      for (const r of releases) r();
      return;
    }
    this.#out = [];
    const bytes = this.#outBytes;
    this.#outBytes = 0;
    // Writes complete in order, so the last one's callback means every pinned body was written
    // (it also runs, with an error, if the socket is destroyed first).
    const done =
      releases.length === 0
        ? undefined
        : (): void => {
            for (const r of releases) r();
          };
    let ok: boolean;
    if (out.length === 1) ok = this.socket.write(out[0]!, done);
    else if (refs === 0 && bytes <= 1024 * 1024) ok = this.socket.write(Buffer.concat(out, bytes), done);
    else {
      // One writev: bodies by reference, runs of small pieces (frame headers around the bodies,
      // confirms, replies) coalesced into one buffer each so the iovec count stays ~2 per message.
      const pieces: Buffer[] = [];
      let runStart = 0;
      let runBytes = 0;
      for (let i = 0; i <= out.length; i++) {
        const b = i < out.length ? out[i]! : undefined;
        if (b !== undefined && b.length < COALESCE_MAX) {
          runBytes += b.length;
          continue;
        }
        if (i - runStart === 1) pieces.push(out[runStart]!);
        else if (i - runStart > 1) pieces.push(Buffer.concat(out.slice(runStart, i), runBytes));
        if (b !== undefined) pieces.push(b);
        runStart = i + 1;
        runBytes = 0;
      }
      this.socket.cork();
      ok = true;
      const last = pieces.length - 1;
      for (let i = 0; i < last; i++) ok = this.socket.write(pieces[i]!) && ok;
      ok = this.socket.write(pieces[last]!, done) && ok;
      this.socket.uncork();
    }
    this.#lastSend = Date.now();
    if (!ok) this.#waitingDrain = true;
    if (!this.writeBlocked) this.#wakeStarved();
    this.#checkFlow();
  };

  /** True while pending output is above the high-water mark: consumers must not get more. */
  get writeBlocked(): boolean {
    return this.#outBytes + this.socket.writableLength > WRITE_HWM;
  }

  /** Called by consumers that were refused credit because of writeBlocked. */
  markStarved(): void {
    this.#starved = true;
  }

  #onDrain(): void {
    this.#waitingDrain = false;
    this.#wakeStarved();
    this.#checkFlow();
  }

  #wakeStarved(): void {
    if (!this.#starved) return;
    this.#starved = false;
    for (const ch of this.channels.values()) ch.wakeConsumers();
  }

  // -----------------------------------------------------------------------------------------------
  // Input

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.#lastRecv = Date.now();
    this.parser.push(chunk);
    this.#processFrames();
  }

  /** Handles every complete frame the parser holds, unless a resource alarm blocks this connection. */
  #processFrames(): void {
    if (this.state === 'closed') return;
    for (;;) {
      // Blocked (a basic.publish met a resource alarm): the rest stays in the parser until unblocked.
      if (this.#publishedInAlarm) break;
      let f: Frame | undefined;
      try {
        f = this.parser.read();
        if (f === undefined) break;
        this.#onFrame(f);
      } catch (e) {
        this.#onError(e, f === undefined ? 0 : f.channel);
      }
      if ((this.state as State) === 'closed' || this.parser.isFailed) break;
    }
    this.flushPublishes();
    this.#checkFlow();
  }

  #onFrame(f: Frame): void {
    if (f.type === 'protocol-header') {
      if (!f.payload.ok) {
        // RabbitMQ's answer to a wrong header: our header, then close.
        this.socket.end(PROTOCOL_HEADER);
        this.#teardown();
        return;
      }
      this.state = 'start-ok';
      this.sendMethod(
        0,
        connectionStart({
          versionMajor: 0,
          versionMinor: 9,
          serverProperties: {
            product: 'Omnibus',
            version: VERSION,
            platform: `Node.js ${process.version}`,
            copyright: 'Omnibus contributors',
            information: 'Licensed under the Apache License 2.0',
            cluster_name: 'omnibus',
            capabilities: SERVER_CAPABILITIES,
          },
          mechanisms: Buffer.from('PLAIN AMQPLAIN'),
          locales: Buffer.from('en_US'),
        }),
      );
      return;
    }
    if (this.state === 'closing') {
      if (f.type === 1 && f.channel === 0) {
        if (f.payload.name === 'connection.close-ok') this.#teardown();
        else if (f.payload.name === 'connection.close') {
          this.sendMethod(0, connectionCloseOk());
          this.#endAfterFlush();
        }
      }
      return;
    }
    if (f.type === 8) return; // heartbeat: liveness only (#lastRecv)
    if (f.channel === 0) {
      if (f.type !== 1) throw amqpError(505, `unexpected frame type ${f.type} on channel 0`);
      this.#onConnectionMethod(f.payload);
      return;
    }
    if (this.state !== 'opened') throw amqpError(504, `channel ${f.channel} used before connection.open-ok`);
    // As RabbitMQ's reader: a basic.publish during a resource alarm blocks the connection at once,
    // before its content is read (that message lands when the alarm clears).
    if (f.type === 1 && f.payload.name === 'basic.publish' && this.broker.blockedReason !== undefined) this.#publishedInAlarm = true;
    let ch = this.channels.get(f.channel);
    if (f.type === 1 && f.payload.name === 'channel.open') {
      if (ch) throw amqpError(504, `second 'channel.open' seen on channel ${f.channel}`, 20, 10);
      if (f.channel > this.channelMax) throw amqpError(530, `channel number ${f.channel} exceeds negotiated channel_max ${this.channelMax}`, 20, 10);
      this.parser.resetChannel(f.channel);
      ch = new Channel(this, f.channel);
      this.channels.set(f.channel, ch);
      this.sendMethod(f.channel, channelOpenOk());
      return;
    }
    if (!ch) throw amqpError(504, `expected 'channel.open' on channel ${f.channel}`);
    ch.onFrame(f);
  }

  #onConnectionMethod(m: AmqpMethod): void {
    switch (this.state) {
      case 'start-ok':
        if (m.name !== 'connection.start-ok') throw amqpError(503, `expected connection.start-ok, got ${m.name}`, m.classId, m.methodId);
        this.#startOk(m.args.clientProperties, m.args.mechanism, m.args.response);
        return;
      case 'tune-ok': {
        if (m.name === 'connection.secure-ok') throw amqpError(503, 'unexpected connection.secure-ok', m.classId, m.methodId);
        if (m.name !== 'connection.tune-ok') throw amqpError(503, `expected connection.tune-ok, got ${m.name}`, m.classId, m.methodId);
        const max = this.broker.opts.frameMax;
        const fm = m.args.frameMax === 0 ? max : m.args.frameMax;
        if (fm > max) throw amqpError(530, `frame_max=${fm} > ${max} max size`, 10, 31);
        if (fm < FRAME_MIN_SIZE) throw amqpError(530, `frame_max=${fm} < ${FRAME_MIN_SIZE} min size`, 10, 31);
        this.frameMax = fm;
        this.parser.setMaxFrameSize(fm);
        const cm = m.args.channelMax === 0 ? this.broker.opts.channelMax : Math.min(m.args.channelMax, this.broker.opts.channelMax);
        this.channelMax = cm;
        this.heartbeat = m.args.heartbeat;
        this.state = 'open';
        this.#startHeartbeats();
        return;
      }
      case 'open':
        if (m.name !== 'connection.open') throw amqpError(503, `expected connection.open, got ${m.name}`, m.classId, m.methodId);
        if (m.args.virtualHost !== '/') throw amqpError(530, `vhost ${m.args.virtualHost} not found`, 10, 40);
        this.state = 'opened';
        if (this.#closeTimer) clearTimeout(this.#closeTimer);
        this.#closeTimer = undefined;
        this.sendMethod(0, connectionOpenOk());
        return;
      default:
        break;
    }
    switch (m.name) {
      case 'connection.close':
        this.sendMethod(0, connectionCloseOk());
        this.#endAfterFlush();
        return;
      case 'connection.close-ok':
        this.#teardown();
        return;
      case 'connection.update-secret':
        this.sendMethod(0, connectionUpdateSecretOk());
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
        return; // clients may not send these; RabbitMQ ignores them
      default:
        throw amqpError(503, `unexpected method ${m.name} on channel 0`, m.classId, m.methodId);
    }
  }

  #startOk(props: FieldTable, mechanism: string, response: Buffer): void {
    this.clientProperties = props;
    const caps = props['capabilities'];
    if (caps && typeof caps === 'object' && !Array.isArray(caps)) {
      const c = caps as FieldTable;
      this.consumerCancelNotify = c['consumer_cancel_notify'] === true;
      this.blockedCapable = c['connection.blocked'] === true;
      this.#authFailureClose = c['authentication_failure_close'] === true;
    }
    let user: string | undefined;
    let pass: string | undefined;
    if (mechanism === 'PLAIN') {
      const parts = response.toString('utf8').split('\0');
      if (parts.length === 3) [, user, pass] = parts;
    } else if (mechanism === 'AMQPLAIN') {
      try {
        const t = decodeFieldTable(response, false);
        user = typeof t['LOGIN'] === 'string' ? t['LOGIN'] : undefined;
        pass = typeof t['PASSWORD'] === 'string' ? t['PASSWORD'] : undefined;
      } catch {
        // Some clients length-prefix the table.
        const t = decodeFieldTable(response, true);
        user = typeof t['LOGIN'] === 'string' ? t['LOGIN'] : undefined;
        pass = typeof t['PASSWORD'] === 'string' ? t['PASSWORD'] : undefined;
      }
    } else {
      throw amqpError(504, `unknown authentication mechanism '${mechanism}'`, 10, 11);
    }
    const ok =
      user !== undefined &&
      pass !== undefined &&
      this.broker.users.get(user) === pass &&
      (user !== 'guest' || this.broker.opts.guestAnywhere || isLoopback(this.remoteAddress));
    if (!ok) {
      const text = `ACCESS_REFUSED - Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`;
      if (this.#authFailureClose) this.closeWith(403, text, 10, 11);
      else this.destroy();
      return;
    }
    this.user = user!;
    this.state = 'tune-ok';
    this.sendMethod(0, connectionTune({ channelMax: this.broker.opts.channelMax, frameMax: this.broker.opts.frameMax, heartbeat: this.broker.opts.heartbeat }));
  }

  // -----------------------------------------------------------------------------------------------
  // Errors and closing

  #onError(e: unknown, channel: number): void {
    if (!isAmqpError(e)) {
      this.broker.log(`amqp: internal error on connection ${this.id}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      this.closeWith(541, `INTERNAL_ERROR - ${e instanceof Error ? e.message : String(e)}`, 0, 0);
      return;
    }
    const ch = e.channel !== 0 ? e.channel : channel;
    if (!isHardError(e.replyCode) && ch !== 0 && !e.fatal) {
      const c = this.channels.get(ch);
      if (c) {
        c.closeWithError(e.replyCode, e.message, e.classId, e.methodId);
        return;
      }
    }
    this.closeWith(e.replyCode, e.message, e.classId, e.methodId);
    // Framing is lost: close-ok could not be read anyway, so do not wait for it.
    if (e.fatal) this.#endAfterFlush();
  }

  /** Server-initiated connection.close; waits for close-ok (bounded), then closes the socket. */
  closeWith(code: number, text: string, classId: number, methodId: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const handshake = this.state === 'header';
    this.state = 'closing';
    this.#releaseChannels();
    if (handshake) {
      this.destroy();
      return;
    }
    this.sendMethod(0, connectionClose({ replyCode: code, replyText: replyTextOf(code, text), classId, methodId }));
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(() => this.destroy(), CLOSE_TIMEOUT_MS);
    this.#closeTimer.unref();
  }

  #endAfterFlush(): void {
    this.#releaseChannels();
    if (this.state !== 'closed') this.state = 'closing';
    process.nextTick(() => {
      this.#flush();
      this.socket.end();
      this.#teardown();
    });
  }

  destroy(): void {
    this.#flush();
    this.socket.destroySoon();
    this.#teardown();
  }

  #releaseChannels(): void {
    for (const ch of [...this.channels.values()]) ch.release();
    this.channels.clear();
  }

  #teardown(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#releaseChannels();
    if (this.#hbTimer) clearInterval(this.#hbTimer);
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.broker.connections.delete(this);
    // Exclusive queues die with their connection.
    for (const q of [...this.broker.queues.values()]) {
      if (q.exclusiveOwner === this) {
        this.broker.deleteQueue(q).catch((e: unknown) => this.broker.log(`amqp: deleting exclusive queue ${q.name} failed: ${String(e)}`));
      }
    }
    if (!this.socket.destroyed) this.socket.destroySoon();
    const all = [...this.#inflight];
    Promise.allSettled(all).then(() => this.#closedResolve(), () => this.#closedResolve());
  }

  /** Shutdown: connection.close 320 and wait (bounded) for the socket to go. */
  async shutdown(): Promise<void> {
    if (this.state === 'opened' || this.state === 'open') {
      this.closeWith(320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", 0, 0);
    } else this.destroy();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
    await this.closed;
    clearTimeout(t);
  }

  // -----------------------------------------------------------------------------------------------
  // Heartbeats

  #startHeartbeats(): void {
    const hb = this.heartbeat;
    if (hb <= 0) return;
    const ms = hb * 1000;
    this.#hbTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.#lastSend >= ms / 2) {
        this.send(encodeHeartbeat());
      }
      if (!this.#paused && now - this.#lastRecv > ms * 2) {
        this.broker.log(`amqp: connection ${this.id}: missed heartbeats from client, closing`);
        this.socket.destroy();
        this.#teardown();
      }
    }, Math.max(250, ms / 2));
    this.#hbTimer.unref();
  }

  // -----------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Queues one record for `topic`; `done` (optional) is called with the outcome once the engine
   * has it durable. Records queued in one socket read are appended in one engine call per topic.
   */
  enqueuePublish(topic: string, rec: RecordInput, done: ((ok: boolean) => void) | undefined, stream: boolean): void {
    let b = this.#batch.get(topic);
    if (!b) this.#batch.set(topic, (b = { records: [], done: [], bytes: 0, stream }));
    b.records.push(rec);
    b.done.push(done ?? NOOP);
    b.bytes += rec.body.byteLength;
  }

  /** Hands every queued publish to the engine. Returns the promise of the whole flush. */
  flushPublishes(): Promise<void> | undefined {
    if (this.#batch.size === 0) return undefined;
    const batches = this.#batch;
    this.#batch = new Map();
    const ps: Promise<void>[] = [];
    for (const [topic, b] of batches) {
      this.#outstanding += b.records.length;
      this.#outstandingBytes += b.bytes;
      const p = this.#publishBatch(topic, b).finally(() => {
        this.#outstanding -= b.records.length;
        this.#outstandingBytes -= b.bytes;
        this.#inflight.delete(p);
        if (b.stream) this.broker.notifyStream(topic);
        this.#checkFlow();
      });
      this.#inflight.add(p);
      ps.push(p);
    }
    return ps.length === 1 ? ps[0] : Promise.all(ps).then(() => undefined);
  }

  /** Flushes queued publishes and waits for every publish of this connection in flight. */
  async publishBarrier(): Promise<void> {
    this.flushPublishes();
    if (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  async #publishBatch(topic: string, b: PublishBatch): Promise<void> {
    const engine = this.broker.engine;
    try {
      await engine.publish(topic, b.records);
      for (const d of b.done) d(true);
    } catch (e) {
      if ((e as { code?: string }).code === 'MQ_ERR_REJECTED' && b.records.length > 1) {
        // reject-publish overflow refused the batch: find out which records still fit.
        for (let i = 0; i < b.records.length; i++) {
          let ok = true;
          try {
            await engine.publish(topic, [b.records[i]!]);
          } catch {
            ok = false;
          }
          b.done[i]!(ok);
        }
        return;
      }
      if ((e as { code?: string }).code !== 'MQ_ERR_REJECTED') this.broker.log(`amqp: publish to ${topic} failed: ${String(e)}`);
      for (const d of b.done) d(false);
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Flow control

  #checkFlow(): void {
    if (this.state === 'closed') return;
    this.#notifyBlocked();
    let backlog = 0;
    for (const ch of this.channels.values()) backlog += ch.backlogSize;
    const pause =
      this.writeBlocked ||
      this.#outstanding > MAX_OUTSTANDING ||
      this.#outstandingBytes > MAX_OUTSTANDING_BYTES ||
      backlog > MAX_BACKLOG ||
      this.#publishedInAlarm;
    if (pause && !this.#paused) {
      this.#paused = true;
      this.socket.pause();
    } else if (!pause && this.#paused) {
      this.#paused = false;
      this.#lastRecv = Date.now();
      this.socket.resume();
    }
  }

  /** Re-evaluates flow control (after a channel drained its backlog). */
  checkFlow(): void {
    this.#checkFlow();
  }

  onBlockedChange(_reason: string | undefined): void {
    if (this.state !== 'opened') return;
    this.#checkFlow();
  }

  /**
   * As RabbitMQ 3.10's reader (checked by the differential suite): a connection is blocked when a
   * basic.publish arrives while an alarm is on, not when the alarm is raised, so a connection that
   * published before but only consumes now, or only consumes, keeps being served (consumers can
   * drain the queues that caused a memory alarm). Nothing after that method frame is handled
   * until the alarm clears, its content included. connection.blocked goes out once per blocked
   * period, connection.unblocked when every alarm has cleared.
   */
  #notifyBlocked(): void {
    const reason = this.broker.blockedReason;
    if (reason === undefined && this.#publishedInAlarm) {
      this.#publishedInAlarm = false;
      // Frames read before the block (the blocked publish's content, at least) are handled now.
      process.nextTick(() => this.#processFrames());
    }
    if (!this.blockedCapable || this.state !== 'opened') return;
    if (reason !== undefined && this.#publishedInAlarm && !this.#blockedSent) {
      this.#blockedSent = true;
      this.sendMethod(0, connectionBlocked({ reason }));
    } else if (reason === undefined && this.#blockedSent) {
      this.#blockedSent = false;
      this.sendMethod(0, connectionUnblocked());
    }
  }

  get waitingDrain(): boolean {
    return this.#waitingDrain;
  }
}

const NOOP = (): void => {};
