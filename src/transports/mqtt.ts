/**
 * mqtt:// and mqtts:// — any MQTT 5 broker (mosquitto 2, EMQX, HiveMQ, RabbitMQ's MQTT plugin
 * with v5) over the `mqtt` package.
 *
 *   connect('mqtt://127.0.0.1:1883')
 *   connect('mqtts://user:pass@broker:8883?clientId=billing-host1&sessionExpiry=86400')
 *   connect('mqtt://omnibus-host:1883?remakeShared=false')   // brokers without mosquitto 2.0.11's bug (see below)
 *
 * Model: a topic is an MQTT topic (no wildcards); a group is a shared subscription
 * `$share/<group>/<topic>` (MQTT 5), so the broker load-balances a group across processes; every
 * message is QoS 1; metadata (id, key, timestamp, attempt, expiry) and headers travel as MQTT 5
 * user properties, so other MQTT clients can read and write them.
 * Persistence: each subscription is a persistent session (cleanStart false, session expiry
 * `sessionExpiry` s, default 1 day) with client id `<clientId>.<group>.<topic>.<slot>`: the slot
 * is the lowest one free in this process, so a group closed and re-subscribed resumes its session
 * and receives what was published meanwhile. Two PROCESSES in one group need different
 * `clientId` prefixes (an MQTT broker disconnects the older of two clients with one id).
 *
 * What MQTT cannot do and is emulated client-side (capabilities.emulated):
 * - settlement: QoS 1 has no negative ack, and mqtt.js acknowledges one message at a time
 *   (withholding a PUBACK stalls the connection). So a message is PUBACKed on receipt and held by
 *   the client: nack, lease expiry and close republish it (QoS 1, with attempt + 1) to the
 *   group's retry topic `omnibus-retry/<group>/<topic>`, which the group also subscribes to.
 *   A message held when the client process DIES is lost: at-least-once holds only while the
 *   process lives. (Brokers with native nack semantics are better served by amqp:// or redis://.)
 * - delays: a delayed publish or nack is held in a timer and then published: lost if the process
 *   exits first.
 * - dead-letter: reject publishes to the dead-letter topic with x-attempts / x-original-topic /
 *   x-death-reason / x-error-message user properties.
 * - prefetch: the broker pushes; messages beyond `prefetch` wait in the subscription's buffer.
 * - TTL: message expiry interval is in whole seconds in MQTT; the exact expiry rides along and
 *   is checked on receipt.
 * Not supported: priorities, replay (a group's session exists from its first subscribe()).
 */
import type { IClientOptions, MqttClient } from 'mqtt';
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
  numParam,
  optionalDependency,
  randomId,
  type NetCapabilities,
  type SettleOps,
} from './common.js';

type MqttLib = typeof import('mqtt');
type Props = Record<string, string | string[]>;

const RETRY_PREFIX = 'omnibus-retry';
/** Slots in use per client-id stem, process-wide (several transports may share a process). */
const slots = new Map<string, Set<number>>();

function checkMqttTopic(topic: string): void {
  if (/[+#]/.test(topic) || topic.startsWith('$')) throw err('MQ_ERR_INVALID_ARGUMENT', `MQTT topic names may not contain + or # or start with $: "${topic}"`);
}

interface Raw {
  body: Buffer;
  props: Props;
}

export class MqttTransport extends NetTransport {
  readonly scheme: string;
  readonly capabilities: NetCapabilities;
  readonly lib: MqttLib;
  readonly url: string;
  readonly base: IClientOptions;
  readonly clientId: string;
  /** Re-make shared subscriptions on reconnect with UNSUBSCRIBE + SUBSCRIBE (`?remakeShared`, default true). */
  readonly remakeShared: boolean;
  readonly #pub: MqttClient;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #delayed = new Set<Promise<void>>();

  constructor(lib: MqttLib, url: string, scheme: string, base: IClientOptions, clientId: string, pub: MqttClient, onError?: (e: unknown) => void, remakeShared = true) {
    super(onError);
    this.remakeShared = remakeShared;
    this.lib = lib;
    this.url = url;
    this.scheme = scheme;
    this.base = base;
    this.clientId = clientId;
    this.#pub = pub;
    this.capabilities = {
      persistent: true,
      consumerGroups: true,
      ordering: 'partition',
      replay: false,
      nativeDelay: false,
      nativeDeadLetter: false,
      priorities: false,
      leases: false,
      exactlyOnce: false,
      maxPayload: 256 * 1024 * 1024 - 1024,
      emulated: ['delay', 'deadLetter', 'leases', 'redelivery', 'attempts', 'maxAttempts', 'ttl'],
    };
  }

  /** Publishes one message at QoS 1 (resolves on PUBACK). */
  async sendRaw(topic: string, body: Buffer, props: Props): Promise<void> {
    await this.#pub.publishAsync(topic, body, { qos: 1, properties: { userProperties: props } });
  }

  /** Publishes after `ms` (held in this process: see the module comment). */
  later(ms: number, run: () => Promise<void>): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        run().then(resolve, reject);
      }, ms);
      this.#timers.add(t);
    });
    this.#delayed.add(p);
    void p.catch((e: unknown) => this.report(e)).finally(() => this.#delayed.delete(p));
    return Promise.resolve();
  }

  protected async doPublish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    checkMqttTopic(topic);
    const now = Date.now();
    await Promise.all(
      messages.map((m) => {
        if (checkPriority(m) !== 0) {
          // Accepted and ignored: priorities are a hint (capabilities.priorities = false).
        }
        const props: Props = { ...headerProps(m.headers), [H.id]: messageIdFor(m), [H.ts]: String(m.timestamp ?? now) };
        if (m.key !== undefined) props[H.key] = m.key;
        if (m.ttlMs !== undefined) props[H.expires] = String(now + m.ttlMs);
        const body = bodyBytes(m);
        if (m.delayMs !== undefined && m.delayMs > 0) return this.later(m.delayMs, () => this.sendRaw(topic, body, props));
        return this.sendRaw(topic, body, props);
      }),
    );
  }

  protected createSubscription(topic: string, opts: SubscribeOptions): NetSubscription {
    checkMqttTopic(topic);
    return new MqttSubscription(this, topic, opts);
  }

  protected async disconnect(): Promise<void> {
    // Delayed publishes still waiting are published now rather than lost.
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#pub.endAsync().catch(() => undefined);
  }
}

/** mqtt.js creates its sockets itself: Nagle off on each (re)connect, for small QoS 1 round trips. */
function noDelay(c: MqttClient): void {
  const set = (): void => (c as unknown as { stream?: { setNoDelay?: (b: boolean) => void } }).stream?.setNoDelay?.(true);
  set();
  c.on('connect', set);
}

const HEADERS_JSON = 'x-omnibus-headers';

/**
 * Headers as user properties. Brokers refuse control characters in MQTT strings (mosquitto
 * drops the connection), so headers containing any travel JSON-escaped in one property instead.
 */
function headerProps(h: Record<string, string> | undefined): Props {
  if (!h) return {};
  const bad = /[\u0000-\u001f\u007f-\u009f]/;
  if (Object.entries(h).some(([k, v]) => bad.test(k) || bad.test(v))) return { [HEADERS_JSON]: JSON.stringify(h) };
  return { ...h };
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

class MqttSubscription extends NetSubscription {
  readonly #t: MqttTransport;
  readonly #retryTopic: string;
  readonly #stem: string;
  #slot = -1;
  #client: MqttClient | undefined;
  #ready: Promise<void> | undefined;
  readonly #backlog: Raw[] = [];

  constructor(t: MqttTransport, topic: string, opts: SubscribeOptions) {
    super(t, topic, opts);
    this.#t = t;
    this.#retryTopic = `${RETRY_PREFIX}/${this.group}/${topic}`;
    this.#stem = `${t.clientId}.${this.group}.${topic}`;
  }

  protected start(): void {
    let used = slots.get(this.#stem);
    if (!used) slots.set(this.#stem, (used = new Set()));
    let n = 0;
    while (used.has(n)) n++;
    used.add(n);
    this.#slot = n;
    const client = this.#t.lib.connect(this.#t.url, {
      ...this.#t.base,
      clientId: `${this.#stem}.${n}`.slice(0, 200),
      clean: false,
      resubscribe: true,
    });
    client.on('error', (e) => this.#t.report(e));
    noDelay(client);
    client.on('message', (_topic, payload, packet) => {
      this.#backlog.push({ body: payload, props: (packet.properties?.userProperties ?? {}) as Props });
      this.#pump();
    });
    this.#client = client;
    // Unsubscribe and subscribe again on every reconnect: mosquitto 2.0.11 restores a session
    // with its shared subscriptions from persistence, but they route nothing until re-made
    // (a plain re-SUBSCRIBE is not enough). Messages published between the broker's restart and
    // this re-subscription find no subscriber and are lost: a broker bug this cannot close.
    // On a broker without that bug the UNSUBSCRIBE does harm: when the group's last member
    // leaves, the shared subscription ends (MQTT 5 §4.8.2) with the messages queued for it, and
    // those published until the SUBSCRIBE are dropped (Omnibus: 37 of 10,000 across two
    // restarts). `?remakeShared=false` re-SUBSCRIBEs only (which replaces, keeping the queue).
    let first = true;
    client.on('connect', () => {
      if (first) return;
      const remake = this.#t.remakeShared ? client.unsubscribeAsync(this.#filters()) : Promise.resolve();
      const again = remake
        .then(() => client.subscribeAsync(this.#filters(), { qos: 1 }))
        .catch((e: unknown) => this.#t.report(e));
      this.#t.pendingSetup.add(again);
      void again.finally(() => this.#t.pendingSetup.delete(again));
    });
    this.#ready = (async () => {
      if (!client.connected) {
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
        });
      }
      await client.subscribeAsync(this.#filters(), { qos: 1 });
      first = false;
    })();
    // A publish after subscribe() waits for the SUBACK: the group's session then exists.
    this.#t.pendingSetup.add(this.#ready);
    this.#ready.then(
      () => this.#t.pendingSetup.delete(this.#ready!),
      (e: unknown) => {
        this.#t.pendingSetup.delete(this.#ready!);
        this.fail(e);
      },
    );
  }

  #filters(): string[] {
    return [`$share/${this.group}/${this.topic}`, `$share/${this.group}/${this.#retryTopic}`];
  }

  protected override onCredit(): void {
    this.#pump();
  }

  #pump(): void {
    while (this.credit() > 0 && !this.closed) {
      const r = this.#backlog.shift();
      if (!r) return;
      this.#deliver(r);
    }
  }

  #deliver(r: Raw): void {
    const p = r.props;
    const expires = single(p[H.expires]);
    if (expires !== undefined && Number(expires) <= Date.now()) return;
    const attempt = Number(single(p[H.attempt]) ?? 1);
    const packed = single(p[HEADERS_JSON]);
    const headers: Record<string, string> = packed !== undefined ? (JSON.parse(packed) as Record<string, string>) : {};
    if (packed === undefined) for (const [k, v] of Object.entries(p)) if (!k.startsWith('x-omnibus-')) headers[k] = single(v) ?? '';
    const id = single(p[H.id]) ?? randomId();
    const key = single(p[H.key]);
    const ts = Number(single(p[H.ts]) ?? Date.now());
    const again = (delayMs: number | undefined, nextAttempt: number): Promise<void> => {
      const props: Props = { ...p, [H.attempt]: String(nextAttempt) };
      const send = (): Promise<void> => this.#t.sendRaw(this.#retryTopic, r.body, props);
      return delayMs ? this.#t.later(delayMs, send) : send();
    };
    const deadLetter = async (reason: string): Promise<void> => {
      if (this.deadLetterTopic === undefined) return;
      const props: Props = { ...headerProps(deadLetterHeaders(headers, attempt, this.topic, reason)), [H.id]: id, [H.ts]: String(ts) };
      if (key !== undefined) props[H.key] = key;
      await this.#t.sendRaw(this.deadLetterTopic, r.body, props);
    };
    const ops: SettleOps = {
      ack: async () => undefined,
      nack: (delayMs) => again(delayMs, attempt + 1),
      reject: (reason) => deadLetter(reason),
      expired: () => {
        const max = this.maxAttempts;
        const next = max !== undefined && attempt >= max ? deadLetter(`lease expired on the last attempt (${max})`) : again(undefined, attempt + 1);
        next.catch((e: unknown) => this.#t.report(e));
      },
    };
    const d = new NetDelivery({ id, topic: this.topic, key, headers, body: r.body, timestamp: ts, priority: 0, attempt }, this, ops);
    this.#raw.set(d, r);
    this.push(d);
  }

  readonly #raw = new WeakMap<NetDelivery, Raw>();

  #lost: NetDelivery[] = [];

  protected async release(lost: NetDelivery[]): Promise<void> {
    // Done in stop(), after this client stopped receiving: a copy sent now could come back here.
    this.#lost.push(...lost);
  }

  protected async stop(): Promise<void> {
    await this.#ready?.catch(() => undefined);
    // Another member's SUBSCRIBE may still be in flight (subscribe() returned at once): the held
    // messages republished below to the retry topic must find it, as a publish() would.
    if (this.#t.pendingSetup.size > 0) await Promise.allSettled([...this.#t.pendingSetup]);
    const c = this.#client;
    this.#client = undefined;
    const used = slots.get(this.#stem);
    if (c) {
      // The last member keeps its session (and the group's share) so that messages published
      // while the group has no subscriber wait for it. Other members unsubscribe: a share held
      // by an offline session would strand messages there until that slot reconnects.
      if (used && used.size > 1) await c.unsubscribeAsync(this.#filters()).catch(() => undefined);
      await c.endAsync().catch(() => undefined);
    }
    used?.delete(this.#slot);
    // Held messages go back to the group (attempt + 1); buffered ones that no one saw keep theirs.
    const sends: Promise<void>[] = [];
    for (const d of this.#lost.splice(0)) {
      const r = this.#raw.get(d);
      if (r) sends.push(this.#t.sendRaw(this.#retryTopic, r.body, { ...r.props, [H.attempt]: String(d.attempt + 1) }));
    }
    for (const r of this.#backlog.splice(0)) sends.push(this.#t.sendRaw(this.#retryTopic, r.body, r.props));
    await Promise.all(sends);
  }
}

export async function connectMqtt(u: URL, options: ConnectOptions): Promise<MqttTransport> {
  const scheme = u.protocol.replace(/:$/, '');
  const mod = await optionalDependency(() => import('mqtt'), 'mqtt', scheme);
  const lib = ((mod as MqttLib & { default?: MqttLib }).default ?? mod) as MqttLib;
  const sessionExpiry = numParam(u, 'sessionExpiry') ?? 86_400;
  const clientId = u.searchParams.get('clientId') ?? 'omnibus';
  const remakeShared = !/^(false|0|no)$/i.test(u.searchParams.get('remakeShared') ?? '');
  const url = `${scheme}://${u.host}`;
  const base: IClientOptions = {
    protocolVersion: 5,
    reconnectPeriod: 200,
    connectTimeout: 10_000,
    properties: { sessionExpiryInterval: sessionExpiry },
  };
  if (u.username) base.username = decodeURIComponent(u.username);
  if (u.password) base.password = decodeURIComponent(u.password);
  const onError = typeof options['onError'] === 'function' ? (options['onError'] as (e: unknown) => void) : undefined;
  let pub: MqttClient;
  try {
    pub = await lib.connectAsync(url, { ...base, clientId: `${clientId}.pub.${randomId()}`, clean: true, properties: {} });
  } catch (e) {
    throw err('MQ_ERR_CLOSED', `cannot connect to ${url}: ${(e as Error).message}`, e);
  }
  pub.on('error', (e) => onError?.(e));
  noDelay(pub);
  return new MqttTransport(lib, url, scheme, base, clientId, pub, onError, remakeShared);
}
