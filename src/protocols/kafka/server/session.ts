/**
 * One Kafka client connection: socket ⇄ frame splitter ⇄ per-API handler ⇄ responses.
 *
 * Ordering: requests are processed one at a time per connection, in arrival order, and each
 * response is written before the next request starts — exactly Kafka's model (the broker mutes a
 * channel while a request is in flight). That gives responses in request order for free (clients
 * match them by position: kafka-python raises CorrelationIdError otherwise), and keeps produce
 * appends in order, which idempotent sequence checks depend on. The price: a long-polling Fetch
 * delays later requests on the same connection by up to its max_wait_ms — the same as Kafka, and
 * clients are built for it. Pipelined requests wait in a queue; cross-connection work is parallel.
 * One exception: a request may release the connection early (ctx.release) once its
 * order-sensitive work is done — Produce of plain batches once its appends are issued — so the next
 * request starts while it awaits durability; its response is still written before any later one.
 * At most MAX_RELEASED such requests are outstanding per connection.
 *
 * Back-pressure: reading pauses while more than 64 requests (or 8 MiB of them) are queued or the
 * socket's write buffer holds more than 8 MiB, and resumes when both drain — so a client that does not read its
 * responses cannot grow our memory beyond that (plus one frame of at most maxRequestBytes).
 *
 * Failures: bytes that cannot be framed (negative or oversized size), a malformed header or body,
 * an unknown API key or a version we do not serve (other than ApiVersions, answered with
 * UNSUPPORTED_VERSION and our list, as Kafka does), or a request before SASL authentication when
 * users are configured: the connection is closed. Other connections are unaffected.
 */
import type net from 'node:net';
import { FrameSplitter } from '../codec/frame.js';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { decodeRequestHeader, encodeResponse } from '../codec/request-header.js';
import { API_CODECS } from '../generated/api-keys.js';
import { encodeApiVersionsResponse } from '../generated/api-versions.js';
import type { KafkaBroker } from './broker.js';
import { SUPPORTED_VERSIONS, type ApiKeyNum, type RequestContext, type SessionView } from './handler.js';
import { HANDLERS } from './handlers/index.js';
import { apiVersionsList } from './handlers/api-versions.js';
import { authenticatePlain } from './handlers/sasl-authenticate.js';
import { KafkaError } from './error-codes.js';

const MAX_QUEUED = 64;
/**
 * Reading also pauses while the queued frames hold more than this many bytes. Produce frames of
 * librdkafka are ~1 MB: 64 of them queued behind a slow disk pinned 64 MB, and the burst of buffers
 * freed afterwards outgrew the frame pool (server/frame-pool.ts), so the next burst was assembled
 * in fresh memory again (measured: 215 fresh 1 MiB buffers per 512 MB produced at 10 KiB records,
 * ~4 ms of page faults each). 8 MiB queued + MAX_RELEASED in flight stays within the pool.
 */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/**
 * Requests of one connection past their order-sensitive part (ctx.release: produce appends issued)
 * whose responses are not written yet. Bounds the memory a pipelining producer pins: at librdkafka's
 * 1 MB batches, 16 MiB of request buffers awaiting durability.
 */
const MAX_RELEASED = 16;
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
/** Before authentication only these are allowed (ApiVersions, SaslHandshake, SaslAuthenticate). */
const PRE_AUTH = new Set([18, 17, 36]);

let nextSessionId = 1;

export class KafkaSession implements SessionView {
  readonly id = nextSessionId++;
  readonly clientHost: string;
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  authenticated: boolean;
  user: string | undefined;
  rawSaslNext = false;
  saslMechanism: string | undefined;
  readonly #socket: net.Socket;
  readonly #broker: KafkaBroker;
  readonly #splitter: FrameSplitter;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  readonly #abort = new AbortController();
  #running = false;
  #paused = false;
  #closed = false;
  #closeAfter = false;
  /** Resolves when every response so far has been written (responses go out in request order). */
  #tail: Promise<void> = Promise.resolve();
  #released = 0;
  readonly #onBrokerClose: () => void;
  /** Resolves when the socket has fully closed. */
  readonly closed: Promise<void>;

  constructor(socket: net.Socket, broker: KafkaBroker) {
    this.#socket = socket;
    this.#broker = broker;
    socket.setNoDelay(true);
    this.#splitter = new FrameSplitter(broker.maxRequestBytes, (n) => broker.framePool.take(n));
    this.authenticated = broker.users === undefined;
    const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.clientHost = '/' + remote;
    const local = (socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    this.advertisedHost = broker.advertisedHost ?? (local === '::' || local === '0.0.0.0' ? '127.0.0.1' : local);
    this.advertisedPort = broker.advertisedPort ?? socket.localPort ?? 9092;
    this.#onBrokerClose = () => this.close();
    broker.signal.addEventListener('abort', this.#onBrokerClose, { once: true });
    this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.#cleanup());
    socket.on('drain', () => this.#pump());
    socket.on('end', () => this.close());
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  closeAfterResponse(): void {
    this.#closeAfter = true;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#splitter.push(chunk, (frame) => {
        this.#queue.push(frame);
        this.#queuedBytes += frame.length;
      });
    } catch (e) {
      this.#broker.log(`kafka: closing ${this.clientHost}: ${(e as Error).message}`);
      this.close();
      return;
    }
    if ((this.#queue.length >= MAX_QUEUED || this.#queuedBytes > MAX_QUEUED_BYTES) && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#drain()
      .catch((e: unknown) => {
        this.#broker.log(`kafka: closing ${this.clientHost} after an internal error: ${(e as Error).stack ?? String(e)}`);
        this.close();
      })
      .finally(() => {
        this.#running = false;
      });
  }

  async #drain(): Promise<void> {
    while (!this.#closed) {
      if (this.#socket.writableLength > WRITE_HIGH_WATER) return; // 'drain' pumps again
      const frame = this.#queue.shift();
      if (!frame) break;
      this.#queuedBytes -= frame.length;
      if (this.#released >= MAX_RELEASED) await this.#tail;
      await this.#process(frame);
      if (this.#closeAfter) {
        await this.#tail;
        this.close();
        return;
      }
    }
    if (this.#paused && this.#queue.length < MAX_QUEUED / 2 && this.#queuedBytes <= MAX_QUEUED_BYTES / 2 && !this.#closed) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  /** Writes after every earlier response (a released request may still be finishing). */
  #send(chunks: readonly Buffer[]): void {
    this.#tail = this.#tail.then(() => this.#write(chunks));
  }

  #write(chunks: readonly Buffer[]): void {
    if (this.#closed) return;
    if (chunks.length === 1) {
      this.#socket.write(chunks[0]!);
      return;
    }
    this.#socket.cork();
    for (const c of chunks) this.#socket.write(c);
    this.#socket.uncork();
  }

  async #process(frame: Buffer): Promise<void> {
    if (this.rawSaslNext) {
      // SaslHandshake v0 (and kafka-python 2.0.2): the token travels as a bare size-prefixed
      // frame, answered with a bare frame (empty on success); failure closes the connection.
      this.rawSaslNext = false;
      const ok = authenticatePlain(this, this.#broker, frame);
      if (!ok) {
        this.close();
        return;
      }
      const out = Buffer.alloc(4);
      this.#send([out]);
      return;
    }
    if (frame.length < 8) return this.#protocolError('request shorter than its header');
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const range = SUPPORTED_VERSIONS.get(apiKey);
    if (apiKey === 18 && (!range || apiVersion > range[1])) {
      // KIP-511: an ApiVersions request newer than ours gets a v0 response with
      // UNSUPPORTED_VERSION and our versions; the client retries with one we support.
      const w = new Writer(512);
      const at = w.reserveInt32();
      w.int32(correlationId);
      encodeApiVersionsResponse(w, 0, { errorCode: KafkaError.UNSUPPORTED_VERSION, apiKeys: apiVersionsList() });
      w.patchFrameSize(at);
      this.#send(w.chunks());
      return;
    }
    const handler = HANDLERS.get(apiKey);
    const codec = API_CODECS.get(apiKey);
    if (!range || !handler || !codec) return this.#protocolError(`unsupported api key ${apiKey}`);
    if (apiVersion < range[0] || apiVersion > range[1]) return this.#protocolError(`${codec.name} v${apiVersion} is not served (${range[0]}-${range[1]})`);
    if (!this.authenticated && !PRE_AUTH.has(apiKey)) return this.#protocolError(`${codec.name} before SASL authentication`);
    let clientId: string | null;
    let body: unknown;
    try {
      const r = new Reader(frame);
      clientId = decodeRequestHeader(r).clientId;
      body = codec.decodeRequest(r, apiVersion);
      // Trailing bytes are tolerated (a newer client may add tagged data we skip anyway).
    } catch (e) {
      return this.#protocolError(`malformed ${codec.name} v${apiVersion}: ${(e as Error).message}`);
    }
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let bytesFree = false;
    const requestBytesFree = (): void => {
      bytesFree = true;
    };
    const ctx: RequestContext = { broker: this.#broker, session: this, apiVersion, clientId, signal: this.#abort.signal, release, requestBytesFree };
    const work = Promise.resolve((handler as (c: RequestContext, b: unknown) => Promise<unknown> | unknown)(ctx, body));
    const prev = this.#tail;
    this.#released++;
    const done = (async () => {
      try {
        const res = await work;
        // Only after the handler's work has finished: nothing reads the frame any more.
        if (bytesFree) this.#broker.framePool.give(frame);
        await prev;
        if (res === null || res === undefined || this.#closed) return;
        this.#write(encodeResponse(apiKey as ApiKeyNum, apiVersion, correlationId, res as never));
      } finally {
        this.#released--;
      }
    })();
    // A failure after the request was released cannot reach #drain's catch: close here.
    this.#tail = done.catch((e: unknown) => {
      this.#broker.log(`kafka: closing ${this.clientHost} after an internal error: ${(e as Error).stack ?? String(e)}`);
      this.close();
    });
    // Next request once this one is done or has released the connection.
    await Promise.race([done, released]);
  }

  #protocolError(why: string): void {
    this.#broker.log(`kafka: closing ${this.clientHost}: ${why}`);
    this.close();
  }

  /** Ends the connection (in-flight work is abandoned; its results are discarded). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#socket.end();
    // A peer that does not read would keep a half-closed socket open: destroy after a grace period.
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  #cleanup(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#broker.signal.removeEventListener('abort', this.#onBrokerClose);
  }
}
