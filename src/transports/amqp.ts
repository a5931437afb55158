/**
 * amqp:// and amqps:// — RabbitMQ (AMQP 0-9-1) over amqplib.
 *
 *   connect('amqp://guest:guest@127.0.0.1:5672/%2F')
 *   connect('amqps://user:pass@rabbit.example/vhost?heartbeat=10&maxPriority=10')
 *
 * Model: a topic is a durable fanout exchange named after it; a group is a durable queue
 * `<topic>.<group>` bound to it (so groups fan out, members of one group compete); one channel per
 * subscription with basic.qos = prefetch; publishes on one confirm channel (persistent messages:
 * a resolved publish is on disk in every bound queue). A group's queue exists from its first
 * subscribe(): messages published before that are not kept for it (`replay: false`).
 *
 * Native: routing, durability, confirms, prefetch, priorities (queues declared with
 * x-max-priority = 10: priorities above 10 are served as 10 but kept in the message), TTL
 * (per-message `expiration`), requeue on connection loss, delays (below).
 * Delays: with the rabbitmq_delayed_message_exchange plugin, an `x-delayed-message` exchange;
 * without it, TTL + dead-letter: the message waits in a queue `omnibus.delay.<ms>` whose
 * x-message-ttl is the delay rounded UP to 2 significant digits (≤ 10% late, ≤ 90 queues per
 * decade of delays), then dead-letters through the direct exchange `omnibus.return` back to its
 * topic exchange (routing key `t:<topic>`) or its group queue (`q:<queue>`).
 * Emulated by the client:
 * - attempts: RabbitMQ keeps only a `redelivered` flag, so nack() republishes the message to its
 *   group queue with x-omnibus-attempt + 1 (after the confirm, the original is acked: at-least-once,
 *   one extra copy per retry). A broker requeue (connection loss, close) counts as one attempt.
 *   x-death counts (from a user's own DLX) are read as attempts too.
 * - dead-letter: reject() publishes to the dead-letter topic's exchange with x-attempts,
 *   x-original-topic, x-death-reason and x-error-message, then acks. (A queue DLX could not carry the reason.)
 * - leases: a client-side lease per delivery (one timer per subscription watches them all) (RabbitMQ has only consumer_timeout, which closes the
 *   whole channel); on expiry the message is republished with attempt + 1.
 * Reconnect: on connection loss every subscription loses its leases (RabbitMQ requeues them),
 * the transport reconnects with backoff (100 ms doubling to 5 s with jitter, forever; each
 * handshake gives up after 10 s, as a booting broker may accept TCP and not answer), declares its
 * return/delay exchanges again, and every subscription re-declares its topic exchange, queue and
 * bindings and resumes consuming by itself (retrying with its own backoff if the broker goes down
 * again meanwhile). Publishes during the outage reject; a retried publish keeps its message id.
 *
 * On an Omnibus server (omnibus://, `omnibusQueues`, and connection.start product "Omnibus") the
 * topic exchange is bound to a log queue `<topic>` (x-omnibus-log) and a group is the group queue
 * `<topic>.<group>` of it (x-omnibus-group-of): one stored copy per message whatever the number of
 * groups, kept until every group settled it, and a new group starts at the earliest one still
 * kept (`replay: true`). Retries go to a per-group classic queue `omnibus.retry.<topic>.<group>`,
 * consumed beside it under one channel-wide prefetch (docs/transports/omnibus.md).
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { err } from '../core/errors.js';
import type { ConnectOptions } from '../core/registry.js';
import type { OutgoingMessage, SubscribeOptions } from '../core/types.js';
import {
  backoff,
  bodyBytes,
  checkPriority,
  deadLetterHeaders,
  delay,
  H,
  messageIdFor,
  NetDelivery,
  NetSubscription,
  NetTransport,
  numParam,
  optionalDependency,
  randomId,
  userHeaders,
  type NetCapabilities,
  type SettleOps,
} from './common.js';

type Amqplib = typeof import('amqplib');

const RETURN_EXCHANGE = 'omnibus.return';
const DELAY_EXCHANGE = 'omnibus.delay';
const PLUGIN_EXCHANGE = 'omnibus.delayed';
const DELAY_HEADER = 'omnibus-delay';
const MAX_PAYLOAD = 128 * 1024 * 1024; // RabbitMQ 3.10 max_message_size default
/** Handshake deadline per connection attempt (a booting broker may accept TCP and stay silent). */
const CONNECT_TIMEOUT_MS = 10_000;

/** Rounds a delay up to 2 significant digits: few distinct delay queues, never early. */
export function delayBucket(ms: number): number {
  const n = Math.ceil(ms);
  if (n < 100) return Math.max(1, n);
  const mag = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.ceil(n / mag) * mag;
}

export interface AmqpOptions {
  /** Aliases the transport (omnibus://) and its declared capabilities. */
  scheme?: string;
  capabilities?: Partial<NetCapabilities>;
  /**
   * Use the Omnibus server's log and group queues (x-omnibus-log / x-omnibus-group-of, see
   * docs/protocols/amqp.md) when connection.start says product "Omnibus": a new group then
   * replays what its topic still holds. Against any other server nothing changes.
   */
  omnibusQueues?: boolean;
}

/** What connection.start's server-properties.product says for an Omnibus server. */
export const OMNIBUS_PRODUCT = 'Omnibus';

/** The capabilities an Omnibus server's log and group queues add (see AmqpTransport.native). */
const NATIVE_CAPABILITIES: Partial<NetCapabilities> = { replay: true };

interface Conn {
  model: ChannelModel;
  pub: ConfirmChannel;
  /** Exchanges/queues declared on this connection (names; re-declared after a reconnect). */
  declared: Set<string>;
  plugin: boolean;
}

export class AmqpTransport extends NetTransport {
  readonly scheme: string;
  #capabilities: NetCapabilities;
  readonly maxPriority: number;
  /**
   * True once the first handshake found an Omnibus server and the options allow it: topics are
   * log queues and groups are group queues of them (set once, before connectAmqp returns; a
   * reconnect keeps the layout it started with).
   */
  native = false;
  readonly #wantNative: boolean;
  readonly #lib: Amqplib;
  readonly #url: string;
  #conn: Conn | undefined;
  #connecting: Promise<Conn> | undefined;
  #reconnecting = false;
  readonly #stop = new AbortController();

  constructor(lib: Amqplib, url: string, scheme: string, maxPriority: number, caps: Partial<NetCapabilities>, onError?: (e: unknown) => void, wantNative = false) {
    super(onError);
    this.#lib = lib;
    this.#url = url;
    this.scheme = scheme;
    this.maxPriority = maxPriority;
    this.#wantNative = wantNative;
    this.#capabilities = {
      persistent: true,
      consumerGroups: true,
      ordering: 'partition',
      replay: false,
      nativeDelay: true,
      nativeDeadLetter: false,
      priorities: maxPriority > 0,
      leases: true,
      exactlyOnce: false,
      maxPayload: MAX_PAYLOAD,
      emulated: ['deadLetter', 'attempts', 'leases', 'maxAttempts'],
      ...caps,
    };
  }

  get capabilities(): NetCapabilities {
    return this.#capabilities;
  }

  /** The live connection, connecting (once, shared) if there is none. */
  conn(): Promise<Conn> {
    if (this.isClosed && !this.#conn) return Promise.reject(err('MQ_ERR_CLOSED', 'the transport is closed'));
    if (this.#conn) return Promise.resolve(this.#conn);
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<Conn> {
    // A broker that accepts TCP while still booting (or shutting down) may never answer the
    // handshake: give up after CONNECT_TIMEOUT_MS and let the backoff loop try again.
    const model = await this.#lib.connect(this.#url, { noDelay: true, timeout: CONNECT_TIMEOUT_MS });
    try {
      model.on('error', () => undefined); // followed by 'close', handled there
      const pub = await model.createConfirmChannel();
      pub.on('error', () => undefined);
      const c: Conn = { model, pub, declared: new Set(), plugin: false };
      if (this.#firstHandshake) {
        this.#firstHandshake = false;
        if (this.#wantNative && model.connection.serverProperties?.product === OMNIBUS_PRODUCT) {
          this.native = true;
          this.#capabilities = { ...this.#capabilities, ...NATIVE_CAPABILITIES };
        }
      }
      // A closed publish channel (e.g. a channel error) is replaced on next use.
      pub.on('close', () => {
        if (this.#conn === c && !this.isClosed) this.#replacePub(c);
      });
      await pub.assertExchange(RETURN_EXCHANGE, 'direct', { durable: true });
      await pub.assertExchange(DELAY_EXCHANGE, 'headers', { durable: true });
      c.plugin = await this.#probePlugin();
      model.on('close', () => this.#lost(c));
      this.#conn = c;
      return c;
    } catch (e) {
      await model.close().catch(() => undefined);
      throw e;
    }
  }

  #replacePub(c: Conn): void {
    c.model
      .createConfirmChannel()
      .then((pub) => {
        pub.on('error', () => undefined);
        c.pub = pub;
      })
      .catch((e: unknown) => {
        // No publish channel on a live connection would fail every publish until the
        // connection drops: drop it now, so the reconnect loop builds a fresh one.
        this.report(e);
        void c.model.close().catch(() => undefined);
      });
  }

  #plugin: boolean | undefined;
  #firstHandshake = true;

  /**
   * Whether the delayed-message plugin is there. Declaring an unknown exchange type is a
   * connection error (503), so the probe runs once per transport on a throwaway connection.
   */
  async #probePlugin(): Promise<boolean> {
    if (this.#plugin !== undefined) return this.#plugin;
    const probe = await this.#lib.connect(this.#url, { noDelay: true, timeout: CONNECT_TIMEOUT_MS });
    probe.on('error', () => undefined);
    try {
      const ch = await probe.createChannel();
      ch.on('error', () => undefined);
      await ch.assertExchange(PLUGIN_EXCHANGE, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
      this.#plugin = true;
    } catch {
      this.#plugin = false;
    } finally {
      await probe.close().catch(() => undefined);
    }
    return this.#plugin;
  }

  #lost(c: Conn): void {
    if (this.#conn !== c) return;
    this.#conn = undefined;
    for (const s of this.subscriptions) (s as AmqpSubscription).detached();
    if (this.isClosed || this.#reconnecting) return;
    this.#reconnecting = true;
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 0; !this.isClosed; attempt++) {
      await delay(backoff(attempt), this.#stop.signal);
      if (this.isClosed) break;
      try {
        await this.conn();
      } catch (e) {
        this.report(e);
        continue;
      }
      // Lost again before we got here (a broker going down a second time right after its
      // handshake): #lost saw this loop running and left it to us, so keep going.
      if (this.#conn) break;
    }
    this.#reconnecting = false;
    if (this.isClosed) return;
    for (const s of this.subscriptions) (s as AmqpSubscription).reattach();
  }

  /**
   * Declares the topic's exchange (and its return binding) once per connection. On an Omnibus
   * server (native) also the topic's log queue, bound to the exchange: what is published is kept
   * from the first publish on, for groups that do not exist yet.
   */
  async ensureTopic(c: Conn, ch: Channel, topic: string): Promise<void> {
    if (c.declared.has('x:' + topic)) return;
    await ch.assertExchange(topic, 'fanout', { durable: true });
    await ch.bindExchange(topic, c.plugin ? PLUGIN_EXCHANGE : RETURN_EXCHANGE, `t:${topic}`);
    if (this.native) {
      const args: Record<string, unknown> = { 'x-omnibus-log': true };
      if (this.maxPriority > 0) args['x-max-priority'] = this.maxPriority;
      await ch.assertQueue(topic, { durable: true, arguments: args });
      await ch.bindQueue(topic, topic, '');
    }
    c.declared.add('x:' + topic);
  }

  async ensureDelayQueue(c: Conn, bucket: number): Promise<void> {
    const q = `omnibus.delay.${bucket}`;
    if (c.declared.has('q:' + q)) return;
    await c.pub.assertQueue(q, {
      durable: true,
      arguments: { 'x-message-ttl': bucket, 'x-dead-letter-exchange': RETURN_EXCHANGE, 'x-expires': bucket + 600_000 },
    });
    await c.pub.bindQueue(q, DELAY_EXCHANGE, '', { 'x-match': 'all', [DELAY_HEADER]: String(bucket) });
    c.declared.add('q:' + q);
  }

  /**
   * Publishes one message to an exchange (or, with `routingKey` and exchange '', a queue),
   * resolving on the broker's confirm. `delayMs` routes it through the delay machinery back to
   * `returnKey` (t:<topic> or q:<queue>).
   */
  async send(exchange: string, routingKey: string, body: Buffer, props: Options.Publish, delayMs: number | undefined, returnKey: string): Promise<void> {
    const c = await this.conn();
    if (delayMs !== undefined && delayMs > 0) {
      if (c.plugin) {
        props.headers = { ...props.headers, 'x-delay': Math.ceil(delayMs) };
        await this.#confirm(c, PLUGIN_EXCHANGE, returnKey, body, props);
        return;
      }
      const bucket = delayBucket(delayMs);
      await this.ensureDelayQueue(c, bucket);
      props.headers = { ...props.headers, [DELAY_HEADER]: String(bucket) };
      await this.#confirm(c, DELAY_EXCHANGE, returnKey, body, props);
      return;
    }
    await this.#confirm(c, exchange, routingKey, body, props);
  }

  #confirm(c: Conn, exchange: string, routingKey: string, body: Buffer, props: Options.Publish): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        c.pub.publish(exchange, routingKey, body, props, (e: unknown) => (e ? reject(e instanceof Error ? e : new Error(String(e))) : resolve()));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  protected async doPublish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const c = await this.conn();
    await this.ensureTopic(c, c.pub, topic);
    const now = Date.now();
    // Issued back to back (in order on the channel), confirmed together. An undelayed message
    // goes straight to the channel (no per-message async hop through send()).
    await Promise.all(
      messages.map((m) => {
        const props = this.props(m, now);
        if (m.delayMs === undefined || m.delayMs <= 0) return this.#confirm(c, topic, '', bodyBytes(m), props);
        return this.send(topic, '', bodyBytes(m), props, m.delayMs, `t:${topic}`);
      }),
    );
  }

  props(m: OutgoingMessage, now: number): Options.Publish {
    const priority = checkPriority(m);
    const ts = m.timestamp ?? now;
    const headers: Record<string, unknown> = { ...m.headers, [H.ts]: ts };
    if (m.key !== undefined) headers[H.key] = m.key;
    if (m.ttlMs !== undefined) headers[H.expires] = now + m.ttlMs;
    const p: Options.Publish = {
      persistent: true,
      messageId: messageIdFor(m),
      timestamp: Math.floor(ts / 1000),
      headers,
    };
    if (priority > 0) p.priority = priority;
    if (m.ttlMs !== undefined) p.expiration = String(Math.max(0, Math.round(m.ttlMs)));
    return p;
  }

  protected createSubscription(topic: string, opts: SubscribeOptions): NetSubscription {
    return new AmqpSubscription(this, topic, opts);
  }

  protected async disconnect(): Promise<void> {
    this.#stop.abort();
    const c = this.#conn ?? (this.#connecting ? await this.#connecting.catch(() => undefined) : undefined);
    this.#conn = undefined;
    if (c) await c.model.close().catch(() => undefined);
  }
}

/** Attempt of a delivery: our header, else x-death counts, plus one if the broker requeued it. */
function attemptOf(msg: ConsumeMessage): number {
  const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
  let base = Number(h[H.attempt] ?? 0);
  if (!base) {
    const deaths = h['x-death'];
    base = 1;
    if (Array.isArray(deaths)) {
      // Deaths by TTL in our own delay queues are waits, not attempts.
      for (const d of deaths as { count?: number; queue?: string; reason?: string }[]) {
        if (typeof d.queue === 'string' && d.queue.startsWith('omnibus.delay.')) continue;
        if (d.reason === 'rejected') base += Number(d.count ?? 0);
      }
    }
  }
  return base + (msg.fields.redelivered ? 1 : 0);
}

const BROKER_HEADERS = /^(x-death|x-first-death-|x-last-death-|x-delay$|omnibus-delay$)/;

class AmqpSubscription extends NetSubscription {
  readonly #t: AmqpTransport;
  readonly queue: string;
  /**
   * Where nack, a lease expiry and nack({ delayMs }) put the message back for this group only:
   * the group's queue on RabbitMQ; on an Omnibus server a classic queue `omnibus.retry.<queue>`
   * beside the group queue, since a group queue has no route of its own (what is routed reaches
   * every group of the log).
   */
  readonly retryQueue: string;
  #ch: Channel | undefined;
  #tags: string[] = [];
  #attaching: Promise<void> | undefined;
  #failures = 0;

  constructor(t: AmqpTransport, topic: string, opts: SubscribeOptions) {
    super(t, topic, opts);
    this.#t = t;
    this.queue = `${topic}.${this.group}`;
    this.retryQueue = t.native ? `omnibus.retry.${this.queue}` : this.queue;
  }

  protected start(): void {
    this.reattach();
  }

  /** (Re)declares the queue and consumes; retried with backoff until it works or we close. */
  reattach(): void {
    if (this.closed || this.#attaching) return;
    const p = this.#attach().then(
      () => {
        this.#failures = 0;
      },
      async (e: unknown) => {
        this.#t.report(e);
        if (this.closed) return;
        // A channel error on our own declarations (e.g. a queue with other arguments) will not
        // heal by retrying: end the subscription with it. Connection errors are retried.
        const code = (e as { code?: unknown }).code;
        if (code === 406 || code === 403 || code === 404) {
          this.fail(err('MQ_ERR_PRECONDITION', `cannot consume ${this.queue}: ${(e as Error).message}`, e));
          return;
        }
        await delay(backoff(this.#failures++), undefined);
        this.#attaching = undefined;
        this.reattach();
      },
    );
    this.#attaching = p;
    this.#t.pendingSetup.add(p);
    void p.finally(() => {
      this.#t.pendingSetup.delete(p);
      if (this.#attaching === p) this.#attaching = undefined;
    });
  }

  async #attach(): Promise<void> {
    const c = await this.#t.conn();
    const ch = await c.model.createChannel();
    ch.on('error', () => undefined);
    ch.on('close', () => {
      if (this.#ch !== ch) return;
      this.#ch = undefined;
      this.loseAll();
    });
    try {
      const native = this.#t.native;
      // Native: two queues consumed on this channel share one channel-wide limit (global qos).
      await ch.prefetch(this.prefetch, native);
      await this.#t.ensureTopic(c, ch, this.topic);
      const args: Record<string, unknown> = {};
      if (this.#t.maxPriority > 0) args['x-max-priority'] = this.#t.maxPriority;
      if (native) {
        // The group: its own delivery state on the topic's log queue, starting at the earliest
        // message the log still holds (or its end, for from: 'latest'; ignored once it exists).
        await ch.assertQueue(this.queue, { durable: true, arguments: { 'x-omnibus-group-of': this.topic, 'x-omnibus-start': this.from } });
      } else {
        await ch.assertQueue(this.queue, { durable: true, arguments: args });
        await ch.bindQueue(this.queue, this.topic, '');
      }
      if (this.retryQueue !== this.queue) await ch.assertQueue(this.retryQueue, { durable: true, arguments: args });
      await ch.bindQueue(this.retryQueue, c.plugin ? 'omnibus.delayed' : RETURN_EXCHANGE, `q:${this.retryQueue}`);
      if (this.closed) {
        await ch.close().catch(() => undefined);
        return;
      }
      this.#ch = ch;
      const tags: string[] = [];
      for (const q of this.retryQueue !== this.queue ? [this.queue, this.retryQueue] : [this.queue]) {
        tags.push((await ch.consume(q, (msg) => this.#onMessage(ch, msg), { noAck: false })).consumerTag);
      }
      this.#tags = tags;
    } catch (e) {
      if (this.#ch === ch) this.#ch = undefined;
      await ch.close().catch(() => undefined);
      throw e;
    }
  }

  /** The connection is gone: leases are lost (RabbitMQ requeues), the channel with it. */
  detached(): void {
    this.#ch = undefined;
    this.#tags = [];
    this.loseAll();
  }

  #onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // Consumer cancelled by the broker (queue deleted): declare again and resume.
      if (this.#ch === ch) {
        this.#ch = undefined;
        this.loseAll();
        void ch.close().catch(() => undefined);
        this.reattach();
      }
      return;
    }
    const props = msg.properties;
    const raw = (props.headers ?? {}) as Record<string, unknown>;
    const attempt = attemptOf(msg);
    const expires = raw[H.expires] !== undefined ? Number(raw[H.expires]) : undefined;
    const headers = userHeaders(Object.fromEntries(Object.entries(raw).filter(([k]) => !BROKER_HEADERS.test(k))));
    const id = typeof props.messageId === 'string' && props.messageId !== '' ? props.messageId : `${this.queue}:${randomId()}`;
    const ts = raw[H.ts] !== undefined ? Number(raw[H.ts]) : typeof props.timestamp === 'number' ? props.timestamp * 1000 : Date.now();
    const key = raw[H.key] !== undefined ? String(raw[H.key]) : undefined;
    const priority = Number(props.priority ?? 0);
    const settleOn = (fn: (c: Channel) => void): void => {
      if (this.#ch !== ch) throw err('MQ_ERR_LEASE_LOST', `the channel of message ${id} closed; it is redelivered`);
      fn(ch);
    };
    /** Republishes the message to this group's queue with attempt + 1, then acks the original. */
    const retry = async (delayMs: number | undefined): Promise<void> => {
      const p: Options.Publish = {
        persistent: true,
        messageId: id,
        timestamp: props.timestamp as number | undefined,
        headers: { ...raw, [H.attempt]: attempt + 1 },
      };
      if (priority > 0) p.priority = priority;
      if (expires !== undefined) p.expiration = String(Math.max(0, expires - Date.now()));
      for (const k of Object.keys(p.headers as object)) if (BROKER_HEADERS.test(k)) delete (p.headers as Record<string, unknown>)[k];
      await this.#t.send('', this.retryQueue, msg.content, p, delayMs, `q:${this.retryQueue}`);
      settleOn((c) => c.ack(msg));
    };
    const deadLetter = async (reason: string): Promise<void> => {
      if (this.deadLetterTopic !== undefined) {
        const c = await this.#t.conn();
        await this.#t.ensureTopic(c, c.pub, this.deadLetterTopic);
        const h: Record<string, unknown> = { ...deadLetterHeaders(headers, attempt, this.topic, reason), [H.ts]: ts };
        if (key !== undefined) h[H.key] = key;
        await this.#t.send(this.deadLetterTopic, '', msg.content, { persistent: true, messageId: id, headers: h, priority: priority || undefined }, undefined, '');
        settleOn((c) => c.ack(msg));
      } else settleOn((c) => c.reject(msg, false));
    };
    const ops: SettleOps = {
      ack: async () => settleOn((c) => c.ack(msg)),
      nack: (delayMs) => retry(delayMs),
      reject: (reason) => deadLetter(reason),
      expired: () => {
        const max = this.maxAttempts;
        const next = max !== undefined && attempt >= max ? deadLetter(`lease expired on the last attempt (${max})`) : retry(undefined);
        next.catch((e: unknown) => this.#t.report(e));
      },
    };
    this.push(new NetDelivery({ id, topic: this.topic, key, headers, body: msg.content, timestamp: ts, priority, attempt }, this, ops));
  }

  protected async release(lost: NetDelivery[]): Promise<void> {
    void lost;
    // Closing the channel (stop) requeues every unacked message at its place in the queue,
    // marked redelivered (attempt + 1): nothing to do one by one.
  }

  protected async stop(): Promise<void> {
    if (this.#attaching) await this.#attaching.catch(() => undefined);
    const ch = this.#ch;
    this.#ch = undefined;
    if (!ch) return;
    for (const tag of this.#tags) await ch.cancel(tag).catch(() => undefined);
    await ch.close().catch(() => undefined);
  }
}

export async function connectAmqp(u: URL, options: ConnectOptions, amqpOptions: AmqpOptions = {}): Promise<AmqpTransport> {
  const scheme = amqpOptions.scheme ?? u.protocol.replace(/:$/, '');
  const lib = await optionalDependency(() => import('amqplib'), 'amqplib', scheme);
  const maxPriority = numParam(u, 'maxPriority') ?? 10;
  if (maxPriority > 255) throw err('MQ_ERR_INVALID_URL', `maxPriority must be 0..255, got ${maxPriority}`);
  const url = new URL(u.href);
  url.searchParams.delete('maxPriority');
  const onError = typeof options['onError'] === 'function' ? (options['onError'] as (e: unknown) => void) : undefined;
  const t = new AmqpTransport((lib as Amqplib & { default?: Amqplib }).default ?? lib, url.href, scheme, maxPriority, amqpOptions.capabilities ?? {}, onError, amqpOptions.omnibusQueues ?? false);
  try {
    await t.conn();
  } catch (e) {
    await t.close();
    throw err('MQ_ERR_CLOSED', `cannot connect to ${scheme}://${u.host}: ${(e as Error).message}`, e);
  }
  return t;
}
