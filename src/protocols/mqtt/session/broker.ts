/**
 * Server-wide MQTT state over one engine: sessions by client id, the connection that holds each,
 * retained messages, shared subscriptions, pending wills, and the session store.
 *
 * Routing (see docs/protocols/mqtt.md): every MQTT publish goes to the engine's topic exchange
 * `amq.topic` — the one AMQP and STOMP topic subscribers use — with the canonical routing key
 * (`a/b/c` → `a.b.c`). A session's non-shared subscriptions are bindings from `amq.topic` to its
 * queue topic; a shared subscription `$share/g/f` is one engine topic `mqtt-share/g/f` bound with
 * f and consumed by every member's consumer in group 'default' (competing consumers).
 *
 * Will messages and session expiry use the engine clock's one-shot timers (one per pending will or
 * expiring offline session, never one per message).
 */
import type { Engine } from '../../../engine/engine.js';
import type { RecordInput } from '../../../engine/record.js';
import type { Clock } from '../../../core/clock.js';
import { DEFAULT_GROUP } from '../../../engine/topic.js';
import { mqttFilterToCanonical, mqttTopicToCanonical } from '../../../engine/routing/topic-trie.js';
import type { Will } from '../codec/index.js';
import type { MqttConnection } from './connection.js';
import { MQTT_EXCHANGE, toRecord, type InboundMessage } from './message.js';
import { RetainedStore } from './retained.js';
import { MQTT_LEASE_MS, MqttSession, type Sub } from './session.js';
import { SessionStore, type SubOptions } from './store.js';

export interface MqttBrokerOptions {
  /** User → password. Undefined: no authentication (any or no credentials accepted). */
  users?: ReadonlyMap<string, string> | undefined;
  /** Largest packet accepted from a client (fixed header included). Default engine max message + 64 KiB. */
  maxPacketSize?: number;
  /** Inbound QoS 1/2 publishes awaiting their ack before the socket stops being read (announced as Receive Maximum in v5). Default 1024. */
  receiveMaximum?: number;
  /** Outbound QoS 1/2 window per session (the client's Receive Maximum caps it further, and 8 MiB of payload in flight does too: session.ts MAX_INFLIGHT_BYTES). Default 32,768: half the packet-id space, so a free id is found in a few probes. */
  maxInflight?: number;
  /** Topic Alias Maximum announced to v5 clients (inbound aliases). Default 1024. */
  topicAliasMaximum?: number;
  /** A connection that sends no CONNECT within this time is closed. Default 10 s. */
  connectTimeoutMs?: number;
  /** Socket write-buffer high-water mark in bytes; above it the connection stops reading and delivering. Default 1 MiB. */
  highWaterMark?: number;
  log?: ((line: string) => void) | undefined;
}

type Resolved = Required<Omit<MqttBrokerOptions, 'users' | 'log'>> & Pick<MqttBrokerOptions, 'users' | 'log'>;

interface Shared {
  topic: string;
  canonical: string;
  members: Set<MqttSession>;
}

const MAX_TIMER = 2 ** 31 - 1;

/** A one-shot timer for delays longer than setTimeout allows (session expiry may be 136 years). */
export function longTimer(clock: Clock, ms: number, fn: () => void): () => void {
  let cancel: () => void;
  const at = clock.now() + ms;
  const arm = (left: number): void => {
    cancel = clock.setTimer(Math.min(left, MAX_TIMER), () => {
      const rest = at - clock.now();
      if (rest > 0) arm(rest);
      else fn();
    });
  };
  arm(ms);
  return () => cancel();
}

export function parseShare(filter: string): { group: string; topicFilter: string } | undefined | null {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice(7);
  const i = rest.indexOf('/');
  if (i <= 0) return null;
  const group = rest.slice(0, i);
  const topicFilter = rest.slice(i + 1);
  if (group.includes('+') || group.includes('#') || topicFilter === '') return null;
  return { group, topicFilter };
}

/** Builds a Sub from a stored or requested filter; throws MQ_ERR_INVALID_ARGUMENT / returns null for invalid. */
export function makeSub(filter: string, opts: SubOptions): Sub | null {
  const share = parseShare(filter);
  if (share === null) return null;
  const topicFilter = share ? share.topicFilter : filter;
  let canonical: string;
  try {
    canonical = mqttFilterToCanonical(topicFilter);
  } catch {
    return null;
  }
  const sub: Sub = { filter, topicFilter, shareGroup: share?.group, canonical, opts };
  if (share) sub.sharedTopic = `mqtt-share/${share.group}/${topicFilter}`;
  return sub;
}

export class MqttBroker {
  readonly opts: Resolved;
  readonly sessions = new Map<string, MqttSession>();
  /** Client id → the connection currently holding the session. */
  readonly connected = new Map<string, MqttConnection>();
  readonly connections = new Set<MqttConnection>();
  store!: SessionStore;
  retained!: RetainedStore;
  readonly #shared = new Map<string, Shared>();
  readonly #wills = new Map<string, { cancel: () => void; fire: () => void }>();

  constructor(
    readonly engine: Engine,
    opts: MqttBrokerOptions = {},
  ) {
    this.opts = {
      users: opts.users,
      log: opts.log,
      maxPacketSize: opts.maxPacketSize ?? Math.min(268_435_460, engine.maxMessageBytes + 65_536),
      receiveMaximum: opts.receiveMaximum ?? 1024,
      maxInflight: opts.maxInflight ?? 32768,
      topicAliasMaximum: opts.topicAliasMaximum ?? 1024,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      highWaterMark: opts.highWaterMark ?? 1024 * 1024,
    };
  }

  get clock(): Clock {
    return this.engine.clock;
  }

  async init(): Promise<void> {
    const engine = this.engine;
    if (!engine.exchanges.get(MQTT_EXCHANGE)) {
      await engine.exchanges.declare({ name: MQTT_EXCHANGE, type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} });
    }
    const fsync = engine.fsync;
    this.store = await SessionStore.open(engine.storage, fsync);
    this.retained = await RetainedStore.open(engine.storage, fsync);
    await this.#recover();
  }

  /**
   * Rebuilds persistent sessions from the store (offline, with their expiry clocks running) and
   * removes what clean sessions left behind when the previous process died without ending them:
   * their transient queues are gone, but their bindings on the durable `amq.topic` are not.
   */
  async #recover(): Promise<void> {
    const now = this.clock.now();
    const stale: { c: string; subs: Map<string, SubOptions> }[] = [];
    for (const st of [...this.store.state.values()]) {
      const expired = st.persistent && st.expiry !== 0xffffffff && st.disconnectedAt > 0 && now >= st.disconnectedAt + st.expiry * 1000;
      if (!st.persistent || expired) {
        stale.push({ c: st.clientId, subs: st.subs });
        continue;
      }
      const s = new MqttSession(this, st.clientId);
      s.persistent = true;
      s.expiry = st.expiry;
      s.version = st.version;
      for (const [f, o] of st.subs) {
        const sub = makeSub(f, o);
        if (!sub) continue;
        s.subs.set(f, sub);
        if (sub.shareGroup === undefined) s.trie.add(sub.topicFilter, sub);
        else this.#sharedEntry(sub).members.add(s);
      }
      s.restore(st.q2in, st.rel, st.q2out);
      this.sessions.set(st.clientId, s);
      this.#armExpiry(s, st.disconnectedAt > 0 ? st.disconnectedAt : now);
    }
    for (const { c, subs } of stale) {
      const queue = `mqtt-subscription-${c}`;
      for (const [f] of subs) {
        const sub = makeSub(f, { qos: 0 });
        if (!sub) continue;
        if (sub.sharedTopic !== undefined) {
          const sh = this.#shared.get(sub.sharedTopic);
          if (sh && sh.members.size > 0) continue;
          await this.#unbind(sub.sharedTopic, sub.canonical);
          if (this.engine.getTopic(sub.sharedTopic)) await this.engine.deleteTopic(sub.sharedTopic);
        } else await this.#unbind(queue, sub.canonical);
      }
      if (this.engine.getTopic(queue)) await this.engine.deleteTopic(queue);
      this.store.write({ t: 'x', c });
    }
    await this.store.durable();
  }

  async #unbind(topic: string, canonical: string): Promise<void> {
    if (!this.engine.exchanges.get(MQTT_EXCHANGE)) return;
    await this.engine.exchanges.unbind(MQTT_EXCHANGE, { kind: 'topic', name: topic }, canonical);
  }

  // --- publishing -------------------------------------------------------------------------------

  /**
   * Routes an application message through `amq.topic` (and stores it as retained if flagged).
   * Resolves, once durable, with whether any subscription received it.
   */
  async publish(m: InboundMessage): Promise<boolean> {
    const rec = toRecord(m, this.clock.now());
    const retained = m.retain ? this.retained.set(m.topic, rec) : undefined;
    const routed = await this.engine.exchanges.publish(MQTT_EXCHANGE, rec.key!, [rec]);
    if (retained) await retained;
    return routed.routed;
  }

  /**
   * Routes records that share one topic (consecutive QoS 0/1 non-retained PUBLISHes of one
   * connection) as one engine append: one route lookup, one storage frame and one durability wait
   * for the lot instead of one per message. Resolves, once durable, with whether any subscription
   * received them (the same answer for every record: routing depends only on the topic).
   */
  async publishBatch(key: string, recs: readonly RecordInput[]): Promise<boolean> {
    const routed = await this.engine.exchanges.publish(MQTT_EXCHANGE, key, recs);
    return routed.routed;
  }

  /** Copies the retained messages matching `sub` into the session's queue (after its SUBACK). */
  async sendRetained(session: MqttSession, sub: Sub): Promise<void> {
    const found = this.retained.match(sub.topicFilter, this.clock.now());
    if (found.length === 0) return;
    await session.ensureQueue();
    const recs = found.map((e) => ({ ...e.rec, key: mqttTopicToCanonical(e.topic), headers: { ...e.rec.headers, 'x-mqtt-retained-for': sub.filter } }));
    await this.engine.publish(session.queueTopic, recs);
  }

  // --- shared subscriptions -----------------------------------------------------------------------

  #sharedEntry(sub: Sub): Shared {
    const name = sub.sharedTopic!;
    let sh = this.#shared.get(name);
    if (!sh) {
      sh = { topic: name, canonical: sub.canonical, members: new Set() };
      this.#shared.set(name, sh);
    }
    return sh;
  }

  /** Adds `session` to the shared subscription of `sub` (creating its topic and binding) and starts consuming. */
  async joinShared(session: MqttSession, sub: Sub): Promise<void> {
    const sh = this.#sharedEntry(sub);
    sh.members.add(session);
    await this.resumeShared(session, sub);
  }

  async resumeShared(session: MqttSession, sub: Sub): Promise<void> {
    const name = sub.sharedTopic!;
    // Durable as soon as one persistent session shares it: its offline share must survive a restart.
    await this.engine.topic(name, { partitions: 1, durable: true });
    await this.engine.exchanges.bind(MQTT_EXCHANGE, { kind: 'topic', name }, sub.canonical);
    const group = await this.engine.group(name, DEFAULT_GROUP, { leaseMs: MQTT_LEASE_MS });
    if (!session.destroyed && session.subs.get(sub.filter) === sub) session.startShared(sub, group);
  }

  async leaveShared(session: MqttSession, sub: Sub): Promise<void> {
    const sh = this.#shared.get(sub.sharedTopic!);
    if (!sh) return;
    sh.members.delete(session);
    if (sh.members.size > 0) return;
    this.#shared.delete(sh.topic);
    await this.#unbind(sh.topic, sh.canonical);
    if (this.engine.getTopic(sh.topic)) await this.engine.deleteTopic(sh.topic);
  }

  // --- session lifecycle ------------------------------------------------------------------------

  #armExpiry(s: MqttSession, since: number): void {
    s.expiryTimer?.();
    s.expiryTimer = undefined;
    if (s.expiry === 0xffffffff) return;
    const left = since + s.expiry * 1000 - this.clock.now();
    s.expiryTimer = longTimer(this.clock, Math.max(0, left), () => {
      s.expiryTimer = undefined;
      if (s.conn || this.sessions.get(s.clientId) !== s) return;
      this.sessions.delete(s.clientId);
      this.#wills.get(s.clientId)?.fire();
      s.destroy().catch((e: unknown) => this.#log(`mqtt: ending expired session ${s.clientId}: ${String(e)}`));
    });
  }

  /** A reconnect within the Will Delay Interval cancels the will (MQTT 5 §3.1.3.2.2). */
  cancelWill(clientId: string): void {
    const w = this.#wills.get(clientId);
    if (!w) return;
    w.cancel();
    this.#wills.delete(clientId);
  }

  /** Publishes a will now or after its delay. */
  #will(clientId: string, will: Will, delaySeconds: number): void {
    const fire = (): void => {
      this.cancelWill(clientId);
      this.publish({ topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, properties: will.properties, propsRaw: undefined, clientId }).catch(
        (e: unknown) => this.#log(`mqtt: publishing the will of ${clientId}: ${String(e)}`),
      );
    };
    if (delaySeconds <= 0) {
      fire();
      return;
    }
    this.cancelWill(clientId);
    const cancel = longTimer(this.clock, delaySeconds * 1000, fire);
    this.#wills.set(clientId, { cancel, fire });
  }

  /**
   * The connection holding `session` ended. Publishes the will (unless the client disconnected
   * normally), then ends the session (Session Expiry 0) or starts its expiry clock.
   */
  async connectionEnded(conn: MqttConnection, session: MqttSession, will: Will | undefined): Promise<void> {
    if (this.connected.get(session.clientId) === conn) this.connected.delete(session.clientId);
    if (session.conn !== conn) return;
    session.detach();
    const ends = session.expiry === 0;
    if (will) {
      const delay = conn.version === 5 ? (will.properties?.willDelayInterval ?? 0) : 0;
      this.#will(session.clientId, will, ends ? 0 : Math.min(delay, session.expiry));
    }
    if (ends) {
      if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
      await session.destroy();
      return;
    }
    const now = this.clock.now();
    this.store.write({ t: 'disc', c: session.clientId, at: now });
    this.#armExpiry(session, now);
  }

  #log(line: string): void {
    this.opts.log?.(line);
  }

  log(line: string): void {
    this.#log(line);
  }

  /** For tests and diagnostics. */
  sharedMembers(topic: string): number {
    return this.#shared.get(topic)?.members.size ?? 0;
  }

  /** Closes every connection (v5: DISCONNECT 0x8B) and makes the stores durable. */
  async close(): Promise<void> {
    await Promise.all([...this.connections].map((c) => c.close(0x8b, 'server shutting down')));
    for (const w of this.#wills.values()) w.cancel();
    this.#wills.clear();
    for (const s of this.sessions.values()) {
      s.expiryTimer?.();
      s.expiryTimer = undefined;
    }
    await this.store.durable();
  }
}

