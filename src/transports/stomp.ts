/**
 * stomp:// — ActiveMQ 5 (Classic) over STOMP 1.2, with @stomp/stompjs over @stomp/tcp-wrapper.
 *
 *   connect('stomp://127.0.0.1:61613')
 *   connect('stomp://admin:secret@amq.example:61613?priorities=true&vhost=amq')
 *   connect('stomp://127.0.0.1:61613?groups=queue')        // brokers without virtual topics
 *
 * Model (`groups=virtual`, the default): ActiveMQ virtual topics. A publish goes to
 * `/topic/VirtualTopic.<topic>`; a group consumes the queue `/queue/Consumer.<group>.VirtualTopic.<topic>`,
 * which ActiveMQ creates on the group's first SUBSCRIBE and from then on fills with a copy of
 * every message of the topic. Why virtual topics rather than `/queue/<topic>.<group>` or durable
 * topic subscriptions: fan-out across groups and competition within a group are then both done
 * by the broker (a queue load-balances its consumers; a durable subscription allows only ONE
 * active consumer, so it cannot be a group), the publisher needs to know no group, and the group
 * queue is an ordinary durable queue — it keeps collecting while the group has no consumer and
 * survives broker restarts, so no durable topic subscription is needed anywhere. Group names may
 * not contain `.` (ActiveMQ's consumer pattern `Consumer.*.VirtualTopic.>`).
 * `groups=queue`: the topic is the queue `/queue/<topic>` and every subscriber competes on it
 * whatever its group (capabilities.consumerGroups = false) — for STOMP brokers without virtual
 * topics (Omnibus' own STOMP listener, RabbitMQ's STOMP plugin).
 *
 * One STOMP connection publishes (every SEND carries a receipt: a publish resolves once ActiveMQ
 * stored the persistent message), and one connection per subscription consumes, SUBSCRIBEd with
 * `ack: client-individual` and `activemq.prefetchSize` = prefetch. A connection per subscription
 * costs a socket and ~2 frames of handshake, and buys exact release semantics: closing it makes
 * ActiveMQ redeliver whatever it still holds.
 *
 * Native: routing, persistence, prefetch, TTL (`expires`), delays (`AMQ_SCHEDULED_DELAY`: the
 * broker needs `schedulerSupport="true"`; without it ActiveMQ delivers delayed messages AT ONCE —
 * nothing on the wire tells), priorities with `?priorities=true` (0..9; the queues need
 * `prioritizedMessages="true"`; higher values are sent as 9, kept in a header).
 * Emulated (capabilities.emulated), as in amqp.ts:
 * - attempts: ActiveMQ 5's STOMP NACK is a "poison ack" straight to ActiveMQ.DLQ, and its
 *   `redelivered` flag is a boolean. So nack() republishes the message to its group queue with
 *   x-omnibus-attempt + 1 (delayed: with AMQ_SCHEDULED_DELAY) and acks the original once the
 *   republish has its receipt: at-least-once, one extra SEND per retry. A broker redelivery
 *   (connection loss) counts as one more attempt (`redelivered: true`, or `JMSXDeliveryCount`
 *   where a broker sends it).
 * - dead-letter: the framework's policy (maxAttempts + deadLetterTopic): reject() and exhausted
 *   attempts publish to the dead-letter TOPIC with x-attempts / x-original-topic / x-death-reason /
 *   x-error-message, then ack. ActiveMQ's own ActiveMQ.DLQ is never used by this transport
 *   (it would lose the reason and the topic model); reject() without a dead-letter topic drops.
 * - leases: a client-side lease per delivery (one timer per subscription watches them all); on expiry the message is republished (attempt + 1).
 * Reconnect: stompjs reconnects every 200 ms; each subscription SUBSCRIBEs again by itself on
 * every reconnect (leases held over the lost connection are lost: signals abort, ActiveMQ
 * redelivers). Publishes while the publish connection is down reject with MQ_ERR_UNAVAILABLE.
 * Not supported: selectors (not passed through), replay (a group's queue starts at its first
 * subscribe()), ordering by key across consumers (ActiveMQ message groups are not used).
 */
import type { Client, IFrame, IMessage, IStompSocket, StompHeaders } from '@stomp/stompjs';
import { err } from '../core/errors.js';
import type { ConnectOptions } from '../core/registry.js';
import type { OutgoingMessage, SubscribeOptions } from '../core/types.js';
import {
  bodyBytes,
  checkPriority,
  deadLetterHeaders,
  H,
  messageIdFor,
  NetDelivery,
  NetSubscription,
  NetTransport,
  optionalDependency,
  randomId,
  type NetCapabilities,
  type SettleOps,
} from './common.js';

type StompLib = typeof import('@stomp/stompjs');
type TcpLib = typeof import('@stomp/tcp-wrapper');

/** ActiveMQ's STOMP maxDataLength default (100 MiB) minus room for headers. */
const MAX_PAYLOAD = 100 * 1024 * 1024 - 64 * 1024;
const RECONNECT_MS = 200;
/** User headers that cannot travel as STOMP headers: base64 of their JSON. */
const HEADERS_PACKED = 'x-omnibus-headers-b64';

/**
 * Headers STOMP or ActiveMQ give a meaning (or add on delivery). A user header with one of these
 * names travels inside the JSON header x-omnibus-headers instead, so it round-trips unchanged.
 */
const RESERVED = new Set([
  'destination',
  'content-length',
  'content-type',
  'receipt',
  'receipt-id',
  'transaction',
  'message-id',
  'subscription',
  'ack',
  'id',
  'redelivered',
  'timestamp',
  'expires',
  'priority',
  'persistent',
  'reply-to',
  'correlation-id',
  'type',
  'original-destination',
  'dlqdeliveryfailurecause',
  'scheduledjobid',
  'selector',
]);
const BROKER_ONLY = /^(JMS|AMQ_|_AMQ|activemq\.)/i;

function packHeaders(h: Record<string, string> | undefined): StompHeaders {
  if (!h) return {};
  const plain: StompHeaders = {};
  const packed: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    // Names are not escaped by STOMP (only values): ':' or line breaks in a name, reserved or
    // broker-interpreted names go in the packed header. So do values that do not survive the
    // trip: a backslash (stompjs 7 unescapes `\\n` as a newline) and characters outside the
    // BMP (ActiveMQ 5.17 mangles 4-byte UTF-8 in header values), and leading or trailing
    // blanks (stompjs trims values).
    if (RESERVED.has(k.toLowerCase()) || BROKER_ONLY.test(k) || k.startsWith('x-omnibus-') || /[:\r\n\u0000\\]/.test(k) || /[\r\u0000\\\uD800-\uDFFF]/.test(v) || v !== v.trim()) packed[k] = v;
    else plain[k] = v;
  }
  // Base64 of the JSON: JSON escapes are backslashes, which stompjs would unescape wrongly.
  if (Object.keys(packed).length > 0) plain[HEADERS_PACKED] = Buffer.from(JSON.stringify(packed), 'utf8').toString('base64');
  return plain;
}

function unpackHeaders(raw: StompHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith('x-omnibus-') || RESERVED.has(k.toLowerCase()) || BROKER_ONLY.test(k)) continue;
    out[k] = v;
  }
  const packed = raw[HEADERS_PACKED];
  if (packed !== undefined) Object.assign(out, JSON.parse(Buffer.from(packed, 'base64').toString('utf8')) as Record<string, string>);
  return out;
}

interface Pending {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * One stompjs client that reconnects by itself. `send` resolves on the SEND's RECEIPT and
 * rejects when the connection drops first (the broker may or may not have the message: the
 * caller retries, the message id stays the same). `generation` changes on every (re)connect.
 */
class StompConn {
  readonly client: Client;
  generation = 0;
  readonly #pending = new Map<string, Pending>();
  #waiters: Pending[] = [];
  #closed = false;
  #lastError: string | undefined;

  constructor(
    lib: StompLib,
    tcp: TcpLib,
    readonly host: string,
    readonly port: number,
    headers: StompHeaders,
    private readonly onUp: (gen: number) => void,
    private readonly onDown: () => void,
    private readonly report: (e: unknown) => void,
  ) {
    this.client = new lib.Client({
      webSocketFactory: () => {
        const w = new tcp.TCPWrapper(host, port);
        // Small frames (acks, receipts) must not wait for Nagle: ~40 ms per round trip otherwise.
        (w as unknown as { socket?: { setNoDelay?: (b: boolean) => void } }).socket?.setNoDelay?.(true);
        return w as unknown as IStompSocket;
      },
      connectHeaders: headers,
      stompVersions: new lib.Versions(['1.2', '1.1']),
      reconnectDelay: RECONNECT_MS,
      // 10 s heart-beats both ways: a silently dead broker is noticed within ~20 s.
      heartbeatIncoming: 10_000,
      heartbeatOutgoing: 10_000,
      connectionTimeout: 10_000,
      debug: () => undefined,
    });
    this.client.onConnect = () => {
      this.generation++;
      this.#lastError = undefined;
      for (const w of this.#waiters.splice(0)) w.resolve();
      this.onUp(this.generation);
    };
    this.client.onStompError = (f: IFrame) => {
      const msg = f.headers['message'] ?? 'ERROR frame';
      this.#lastError = msg;
      const rid = f.headers['receipt-id'];
      const p = rid !== undefined ? this.#pending.get(rid) : undefined;
      if (p && rid !== undefined) {
        this.#pending.delete(rid);
        p.reject(err('MQ_ERR_REJECTED', `${host}:${port} refused the frame: ${msg}`));
      } else this.report(err('MQ_ERR_PROTOCOL', `STOMP ERROR from ${host}:${port}: ${msg} ${f.body}`));
    };
    this.client.onWebSocketClose = () => this.#down();
    this.client.onWebSocketError = () => undefined; // followed by a close
  }

  #down(): void {
    const e = err('MQ_ERR_UNAVAILABLE', `the STOMP connection to ${this.host}:${this.port} closed${this.#lastError ? `: ${this.#lastError}` : ''}`);
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
    if (this.#closed) for (const w of this.#waiters.splice(0)) w.reject(err('MQ_ERR_CLOSED', 'the transport is closed'));
    this.onDown();
  }

  /** Resolves on the first CONNECTED; rejects on the first failure (no retry for the first connection). */
  open(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no CONNECTED within ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        void this.close();
        reject(err('MQ_ERR_UNAVAILABLE', `cannot connect to stomp://${this.host}:${this.port}: ${e.message}`, e));
      };
      const prevClose = this.client.onWebSocketClose;
      const prevError = this.client.onStompError;
      this.client.onWebSocketClose = (ev) => {
        prevClose(ev);
        if (this.generation === 0) fail(new Error(this.#lastError ?? 'connection refused or closed'));
      };
      this.#waiters.push({
        resolve: () => {
          clearTimeout(timer);
          this.client.onWebSocketClose = prevClose;
          this.client.onStompError = prevError;
          resolve();
        },
        reject: (e) => fail(e as Error),
      });
      this.client.activate();
    });
  }

  get connected(): boolean {
    return this.client.connected && !this.#closed;
  }

  /** SEND with a receipt; resolves on the RECEIPT. */
  send(destination: string, headers: StompHeaders, body: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(err('MQ_ERR_CLOSED', 'the transport is closed'));
    if (!this.client.connected) return Promise.reject(err('MQ_ERR_UNAVAILABLE', `not connected to ${this.host}:${this.port} (reconnecting)`));
    const receipt = `r-${randomId()}`;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(receipt, { resolve, reject });
      this.client.watchForReceipt(receipt, () => {
        const p = this.#pending.get(receipt);
        this.#pending.delete(receipt);
        p?.resolve();
      });
      try {
        this.client.publish({ destination, headers: { ...headers, receipt }, binaryBody: body });
      } catch (e) {
        this.#pending.delete(receipt);
        reject(err('MQ_ERR_UNAVAILABLE', `send to ${this.host}:${this.port} failed: ${(e as Error).message}`, e));
      }
    });
  }

  /** SUBSCRIBE with a receipt (so the group's queue exists when it resolves). */
  subscribe(destination: string, headers: StompHeaders, onMessage: (m: IMessage) => void): Promise<void> {
    const receipt = `s-${randomId()}`;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(receipt, { resolve, reject });
      this.client.watchForReceipt(receipt, () => {
        this.#pending.delete(receipt);
        resolve();
      });
      try {
        this.client.subscribe(destination, onMessage, { ...headers, receipt });
      } catch (e) {
        this.#pending.delete(receipt);
        reject(err('MQ_ERR_UNAVAILABLE', `subscribe on ${this.host}:${this.port} failed: ${(e as Error).message}`, e));
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.deactivate().catch(() => undefined);
    this.#down();
  }
}

export interface StompSettings {
  host: string;
  port: number;
  headers: StompHeaders;
  mode: 'virtual' | 'queue';
  priorities: boolean;
}

export class StompTransport extends NetTransport {
  readonly scheme = 'stomp';
  readonly capabilities: NetCapabilities;
  readonly lib: StompLib;
  readonly tcp: TcpLib;
  readonly settings: StompSettings;
  readonly pub: StompConn;

  constructor(lib: StompLib, tcp: TcpLib, settings: StompSettings, onError?: (e: unknown) => void) {
    super(onError);
    this.lib = lib;
    this.tcp = tcp;
    this.settings = settings;
    this.pub = this.connection(
      () => undefined,
      () => undefined,
    );
    this.capabilities = {
      persistent: true,
      consumerGroups: settings.mode === 'virtual',
      ordering: 'partition',
      replay: false,
      nativeDelay: true,
      nativeDeadLetter: false,
      priorities: settings.priorities,
      leases: true,
      exactlyOnce: false,
      maxPayload: MAX_PAYLOAD,
      emulated: ['deadLetter', 'attempts', 'leases', 'maxAttempts'],
    };
  }

  connection(onUp: (gen: number) => void, onDown: () => void): StompConn {
    const s = this.settings;
    return new StompConn(this.lib, this.tcp, s.host, s.port, s.headers, onUp, onDown, (e) => this.report(e));
  }

  /** Where a publish to `topic` goes. */
  topicDestination(topic: string): string {
    return this.settings.mode === 'virtual' ? `/topic/VirtualTopic.${topic}` : `/queue/${topic}`;
  }

  /** The queue a group of `topic` consumes (and where its retries are sent). */
  groupDestination(topic: string, group: string): string {
    return this.settings.mode === 'virtual' ? `/queue/Consumer.${group}.VirtualTopic.${topic}` : `/queue/${topic}`;
  }

  headersFor(m: OutgoingMessage, now: number): StompHeaders {
    const priority = checkPriority(m);
    const ts = m.timestamp ?? now;
    const h: StompHeaders = { ...packHeaders(m.headers), persistent: 'true', [H.id]: messageIdFor(m), [H.ts]: String(ts) };
    if (m.key !== undefined) h[H.key] = m.key;
    if (priority > 0) {
      h['priority'] = String(Math.min(9, priority));
      h[H.priority] = String(priority);
    }
    if (m.ttlMs !== undefined) h['expires'] = String(now + Math.max(1, Math.round(m.ttlMs)));
    if (m.delayMs !== undefined && m.delayMs > 0) h['AMQ_SCHEDULED_DELAY'] = String(Math.ceil(m.delayMs));
    return h;
  }

  protected async doPublish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const now = Date.now();
    const dest = this.topicDestination(topic);
    // Written back to back on one connection (in order), receipts awaited together.
    await Promise.all(messages.map((m) => this.pub.send(dest, this.headersFor(m, now), bodyBytes(m))));
  }

  protected createSubscription(topic: string, opts: SubscribeOptions): NetSubscription {
    return new StompSubscription(this, topic, opts);
  }

  protected async disconnect(): Promise<void> {
    await this.pub.close();
  }
}

class StompSubscription extends NetSubscription {
  readonly #t: StompTransport;
  readonly destination: string;
  #conn: StompConn | undefined;
  #ready: Promise<void> | undefined;
  readonly #msgOf = new WeakMap<NetDelivery, IMessage>();

  constructor(t: StompTransport, topic: string, opts: SubscribeOptions) {
    super(t, topic, opts);
    this.#t = t;
    if (t.settings.mode === 'virtual' && /[.*>\s/]/.test(this.group)) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `stomp:// group names may not contain ".", "*", ">", "/" or spaces (ActiveMQ virtual topic consumer queues), got "${this.group}"`);
    }
    this.destination = t.groupDestination(topic, this.group);
  }

  protected start(): void {
    let first = true;
    let firstDone: (() => void) | undefined;
    this.#ready = new Promise<void>((resolve) => (firstDone = resolve));
    const conn = this.#t.connection(
      (gen) => {
        const sub = conn
          .subscribe(this.destination, { ack: 'client-individual', 'activemq.prefetchSize': String(this.prefetch), id: `sub-${randomId()}` }, (m) => this.#onMessage(conn, gen, m))
          .catch((e: unknown) => this.#t.report(e));
        if (first) {
          first = false;
          void sub.finally(() => firstDone?.());
        }
      },
      () => this.loseAll(),
    );
    this.#conn = conn;
    const ready = this.#ready;
    // A publish after subscribe() waits for the SUBSCRIBE receipt: the group's queue then exists.
    this.#t.pendingSetup.add(ready);
    void ready.finally(() => this.#t.pendingSetup.delete(ready));
    conn.open(10_000).catch((e: unknown) => {
      firstDone?.();
      this.fail(e);
    });
  }

  #onMessage(conn: StompConn, gen: number, m: IMessage): void {
    const raw = m.headers;
    if (this.closed) return; // unacked: ActiveMQ redelivers it when this connection closes
    const expires = raw['expires'] !== undefined ? Number(raw['expires']) : 0;
    const base = Number(raw[H.attempt] ?? 1);
    const count = raw['JMSXDeliveryCount'] !== undefined ? Number(raw['JMSXDeliveryCount']) : undefined;
    const attempt = base + (count !== undefined && count > 1 ? count - 1 : raw['redelivered'] === 'true' ? 1 : 0);
    const headers = unpackHeaders(raw);
    const id = raw[H.id] ?? raw['message-id'] ?? randomId();
    const ts = raw[H.ts] !== undefined ? Number(raw[H.ts]) : raw['timestamp'] !== undefined ? Number(raw['timestamp']) : Date.now();
    const key = raw[H.key];
    // Ours carry their priority in x-omnibus-priority (absent = 0; the broker says 4, JMS's
    // default, for every message without one); a foreign message's is the broker's.
    const priority = raw[H.priority] !== undefined ? Number(raw[H.priority]) : raw[H.id] === undefined && raw['priority'] !== undefined ? Number(raw['priority']) : 0;
    const body = m.binaryBody;
    const ackOn = (): void => {
      if (conn.generation !== gen || !conn.connected) throw err('MQ_ERR_LEASE_LOST', `the connection of message ${id} dropped; it is redelivered`);
      m.ack();
    };
    if (expires > 0 && expires <= Date.now()) {
      // ActiveMQ expires on dispatch; a message that expired in our prefetch buffer is dropped here.
      ackOn();
      return;
    }
    /** Republishes the message to this group's queue with `next` as its attempt, then acks it. */
    const again = async (delayMs: number | undefined, next: number): Promise<void> => {
      const h: StompHeaders = {};
      for (const [k, v] of Object.entries(raw)) if (!RESERVED.has(k.toLowerCase()) && !BROKER_ONLY.test(k)) h[k] = v;
      h[H.attempt] = String(next);
      h['persistent'] = 'true';
      if (raw['priority'] !== undefined && priority > 0) h['priority'] = raw['priority'];
      if (expires > 0) h['expires'] = String(expires);
      if (delayMs !== undefined && delayMs > 0) h['AMQ_SCHEDULED_DELAY'] = String(Math.ceil(delayMs));
      await this.#t.pub.send(this.destination, h, body);
      ackOn();
    };
    const deadLetter = async (reason: string): Promise<void> => {
      const dlt = this.deadLetterTopic;
      if (dlt !== undefined) {
        const h: StompHeaders = { ...packHeaders(deadLetterHeaders(headers, attempt, this.topic, reason)), persistent: 'true', [H.id]: id, [H.ts]: String(ts) };
        if (key !== undefined) h[H.key] = key;
        if (priority > 0) {
          h['priority'] = String(Math.min(9, priority));
          h[H.priority] = String(priority);
        }
        await this.#t.pub.send(this.#t.topicDestination(dlt), h, body);
      }
      ackOn();
    };
    const ops: SettleOps = {
      ack: async () => ackOn(),
      nack: (delayMs) => again(delayMs, attempt + 1),
      reject: (reason) => deadLetter(reason),
      expired: () => {
        const max = this.maxAttempts;
        const next = max !== undefined && attempt >= max ? deadLetter(`lease expired on the last attempt (${max})`) : again(undefined, attempt + 1);
        next.catch((e: unknown) => this.#t.report(e));
      },
    };
    const d = new NetDelivery({ id, topic: this.topic, key, headers, body, timestamp: ts, priority, attempt }, this, ops);
    this.#msgOf.set(d, m);
    this.push(d);
  }

  protected async release(lost: NetDelivery[]): Promise<void> {
    void lost;
    // Nothing one by one: stop() closes this subscription's connection, and ActiveMQ redelivers
    // every message it dispatched there and did not get an ACK for, flagged redelivered
    // (attempt + 1), to the group's other consumers.
  }

  protected async stop(): Promise<void> {
    await this.#ready;
    const c = this.#conn;
    this.#conn = undefined;
    await c?.close();
  }
}

export async function connectStomp(u: URL, options: ConnectOptions): Promise<StompTransport> {
  const lib = await optionalDependency(() => import('@stomp/stompjs'), '@stomp/stompjs', 'stomp');
  const tcp = await optionalDependency(() => import('@stomp/tcp-wrapper'), '@stomp/tcp-wrapper', 'stomp');
  const mode = u.searchParams.get('groups') ?? 'virtual';
  if (mode !== 'virtual' && mode !== 'queue') throw err('MQ_ERR_INVALID_URL', `groups must be "virtual" or "queue", got "${mode}"`);
  const prio = u.searchParams.get('priorities');
  const headers: StompHeaders = { host: u.searchParams.get('vhost') ?? (u.hostname || '127.0.0.1') };
  if (u.username) headers['login'] = decodeURIComponent(u.username);
  if (u.password) headers['passcode'] = decodeURIComponent(u.password);
  const settings: StompSettings = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 61613,
    headers,
    mode,
    priorities: prio === 'true' || prio === '1',
  };
  const onError = typeof options['onError'] === 'function' ? (options['onError'] as (e: unknown) => void) : undefined;
  const t = new StompTransport(lib, tcp, settings, onError);
  try {
    await t.pub.open(10_000);
  } catch (e) {
    await t.close();
    throw e;
  }
  return t;
}
