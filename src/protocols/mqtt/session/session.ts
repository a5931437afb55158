/**
 * One MQTT session: the state that outlives a network connection (MQTT 3.1.1 §4.1, 5.0 §4.1).
 *
 *   subscriptions   Map filter → Sub, plus a per-session MQTT-syntax trie used at delivery time to
 *                   find which subscriptions a message matched (for the granted QoS, Subscription
 *                   Identifiers, No Local, Retain As Published) and to apply the `$` rule
 *   queue           engine topic `mqtt-subscription-<clientId>` bound to `amq.topic` once per
 *                   (non-shared) filter, consumed by group 'default' — durable for persistent
 *                   sessions, so QoS ≥ 1 messages published while offline wait there
 *   shared subs     one consumer per `$share/g/f` on the shared topic of (g, f) (broker.ts)
 *   inflight1       packet id → in-flight QoS 1 delivery (an array indexed by id: no per-delivery
 *                   entry object or hash lookup)
 *   outbound        packet id → in-flight QoS 2 delivery. QoS 1 and QoS 2 are acked to the engine
 *                   on PUBACK and on PUBREC (from PUBREC on, the client owns the message; only the
 *                   PUBREL/PUBCOMP step remains, recorded in the session store)
 *   q2in            inbound QoS 2 packet ids between PUBREC and PUBREL (duplicates are not re-published)
 *
 * Flow control: all of the session's consumers share one window (the client's Receive Maximum,
 * capped by the server's maxInflight): each sink's prefetch is computed from the session-wide
 * count, so `$share` consumers cannot push the client past its limit. QoS 0 deliveries are acked
 * as soon as they are written — unless the socket is above its high-water mark, in which case the
 * ack waits for 'drain' and the window closes; the socket buffer is bounded by window × message.
 *
 * Outbound QoS 2 packet ids of messages not yet PUBRECed are kept across reconnects and, for
 * persistent sessions, across restarts (store.ts 'q2o', written as the PUBLISH is sent, not
 * awaited: a crash before that record is on disk resends the message with a new packet id).
 */
import { isOmnibusError } from '../../../core/errors.js';
import type { Consumer, DeliveryImpl, Group } from '../../../engine/group.js';
import { DEFAULT_GROUP } from '../../../engine/topic.js';
import { TopicTrie } from '../../../engine/routing/topic-trie.js';
import type { MqttBroker } from './broker.js';
import type { MqttConnection } from './connection.js';
import { deliveryProps, MQTT_EXCHANGE, recordPublisher, RETAINED_FOR_HEADER, viewRecord, type OutboundView } from './message.js';
import type { SubOptions } from './store.js';

/** MQTT never redelivers within a connection; a lease only ends with the connection. */
export const MQTT_LEASE_MS = 24 * 3600 * 1000;
/**
 * Payload bytes of QoS 1 deliveries a session may have unacknowledged, whatever its window in
 * messages: a delivery holds its record's body until the PUBACK, so 32,768 × 10 KiB would hold
 * 320 MiB. At 8 MiB the window is the message count below ~256 B and the bytes above (~800 in
 * flight at 10 KiB, as with the old 1,024 window).
 */
const MAX_INFLIGHT_BYTES = 8 * 1024 * 1024;

export interface Sub {
  /** As subscribed, including any `$share/<group>/` prefix. */
  filter: string;
  /** The topic filter without the share prefix. */
  topicFilter: string;
  shareGroup: string | undefined;
  canonical: string;
  opts: SubOptions;
  /** Shared subscriptions: the shared topic and this session's consumer on it. */
  sharedTopic?: string;
  group?: Group | undefined;
  consumer?: Consumer | undefined;
}

interface Outbound {
  qos: 1 | 2;
  stage: 'publish' | 'pubrel';
  d: DeliveryImpl | undefined;
  okey: string | undefined;
}

export class MqttSession {
  readonly subs = new Map<string, Sub>();
  readonly trie = new TopicTrie<Sub>({ syntax: 'mqtt' });
  readonly queueTopic: string;
  readonly outbound = new Map<number, Outbound>();
  /** In-flight QoS 1 deliveries by packet id (QoS 1 ids are never in `outbound`). */
  readonly #inflight1: (DeliveryImpl | undefined)[] = new Array<DeliveryImpl | undefined>(65536).fill(undefined);
  readonly q2in = new Set<number>();
  persistent = false;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF = never. */
  expiry = 0;
  version = 4;
  conn: MqttConnection | undefined;
  window = 1024;
  /** Free window slots that make a refill worthwhile (a quarter of the window, at least 1). */
  #refillAt = 256;
  expiryTimer: (() => void) | undefined;
  destroyed = false;
  #group: Group | undefined;
  #consumer: Consumer | undefined;
  #queueReady: Promise<void> | undefined;
  readonly #idByOffset = new Map<string, number>();
  #nextId = 1;
  #inflight1Count = 0;
  /** Payload bytes of those QoS 1 deliveries (bounded by MAX_INFLIGHT_BYTES). */
  #inflight1Bytes = 0;
  /** Consumers on shared subscriptions (the window is summed over them only when there are any). */
  #sharedConsumers = 0;
  /** The last routing key → MQTT topic conversion (a backlog is mostly one topic). */
  readonly #topicMemo = { key: '', topic: '' };
  /** The UTF-8 bytes of the last topic delivered. */
  #topicBytesOf = '';
  #topicBytes: Buffer = Buffer.alloc(0);
  /** Reused for every delivery's record view. */
  readonly #view: OutboundView = { topic: undefined, qos: 0, retain: false, props: undefined, foreign: undefined };
  /** Per-delivery result of matching the subscriptions (reused). */
  #dQos = -1;
  #dRetain = false;
  #dSubIds: number[] | undefined;
  #subsGen = 0;
  #matchGen = -1;
  #matchTopic = '';
  #matchSubs: readonly Sub[] = [];
  /** QoS 0 deliveries written while the socket was congested: acked on drain. */
  #deferred: DeliveryImpl[] = [];

  constructor(
    readonly broker: MqttBroker,
    readonly clientId: string,
  ) {
    this.queueTopic = `mqtt-subscription-${clientId}`;
  }

  // --- consumers -----------------------------------------------------------------------------

  #consumers(): Consumer[] {
    const out: Consumer[] = [];
    if (this.#consumer) out.push(this.#consumer);
    for (const s of this.subs.values()) if (s.consumer) out.push(s.consumer);
    return out;
  }

  #inflight(): number {
    let n = this.#consumer?.inflight ?? 0;
    if (this.#sharedConsumers > 0) for (const s of this.subs.values()) if (s.consumer) n += s.consumer.inflight;
    return n;
  }

  #makeSink(shared: Sub | undefined, holder: { c: Consumer | undefined }) {
    const session = this;
    return {
      get prefetch(): number {
        const conn = session.conn;
        const mine = holder.c?.inflight ?? 0;
        if (!conn || conn.congested || session.#inflight1Bytes >= MAX_INFLIGHT_BYTES) return mine;
        return mine + Math.max(0, session.window - session.#inflight());
      },
      // Refill in batches: the group tops the window up once a quarter of it is free (or at half,
      // or when nothing is in flight), not after every read of PUBACKs. A client acking each
      // message as it handles it (mqtt.js) sends its PUBACKs a few at a time: refilling per read
      // was one engine pump and one socket write per ~10 deliveries. Per quarter window (256 of
      // 1024) the broker made 1,500–2,600 write calls instead of 27,000–34,000 to drain 200,000
      // × 128 B (with the group's paced state log), and the client still holds three quarters
      // of its window while the next batch is read and written.
      // With large messages the byte bound holds the window first: refill once a quarter of it is free.
      drained: () => session.window - session.#inflight() >= session.#refillAt && session.#inflight1Bytes <= (MAX_INFLIGHT_BYTES * 3) / 4,
      push: (d: DeliveryImpl) => this.#deliver(d, shared),
      // A body is used only while writing it (copied, or pinned until the socket wrote it:
      // connection.writePublish) and, for QoS ≥ 1, resent only while its delivery is unacked.
      pinsBodies: true,
    };
  }

  /** Creates the queue topic and group on first need (a publish-only client never has one). */
  ensureQueue(): Promise<void> {
    this.#queueReady ??= (async () => {
      const engine = this.broker.engine;
      await engine.topic(this.queueTopic, { partitions: 1, durable: this.persistent });
      this.#group = await engine.group(this.queueTopic, DEFAULT_GROUP, { leaseMs: MQTT_LEASE_MS });
      if (this.conn && !this.#consumer && !this.destroyed) this.#startMain();
    })();
    return this.#queueReady;
  }

  #startMain(): void {
    const g = this.#group;
    if (!g || g.closed) return;
    const holder: { c: Consumer | undefined } = { c: undefined };
    holder.c = this.#consumer = g.addConsumer(this.#makeSink(undefined, holder));
  }

  /** Starts (or restarts) consuming a shared subscription. */
  startShared(sub: Sub, group: Group): void {
    sub.group = group;
    if (!this.conn || sub.consumer) return;
    const holder: { c: Consumer | undefined } = { c: undefined };
    this.#sharedConsumers++;
    holder.c = sub.consumer = group.addConsumer(this.#makeSink(sub, holder));
  }

  stopShared(sub: Sub): void {
    if (!sub.consumer) return;
    this.#sharedConsumers--;
    if (sub.group) sub.group.removeConsumer(sub.consumer);
    sub.consumer = undefined;
  }

  /** A connection takes the session: resend PUBRELs, then start the consumers. */
  async attach(conn: MqttConnection): Promise<void> {
    this.conn = conn;
    this.expiryTimer?.();
    this.expiryTimer = undefined;
    this.window = Math.max(1, Math.min(conn.clientReceiveMaximum, this.broker.opts.maxInflight));
    this.#refillAt = Math.max(1, this.window >> 2);
    for (const [id, o] of this.outbound) {
      if (o.stage === 'pubrel') conn.send({ type: 'pubrel', packetId: id });
      else o.d = undefined;
    }
    if (this.subs.size > 0 || this.persistent) {
      for (const s of this.subs.values()) if (s.shareGroup === undefined) {
        await this.ensureQueue();
        break;
      }
      if (this.#group && !this.#consumer) this.#startMain();
      for (const s of this.subs.values()) if (s.shareGroup !== undefined) await this.broker.resumeShared(this, s);
    }
  }

  /** The connection is gone: return unacked deliveries to the engine (redelivered with DUP). */
  detach(): void {
    this.conn = undefined;
    if (this.#consumer && this.#group) this.#group.removeConsumer(this.#consumer);
    this.#consumer = undefined;
    for (const s of this.subs.values()) this.stopShared(s);
    for (const d of this.#deferred) this.#settle(d.ack());
    this.#deferred = [];
    // QoS 1 ids are free again (the redelivery gets any id); QoS 2 ids stay reserved for the
    // redelivery of the same message (the client may hold that id awaiting PUBREL).
    if (this.#inflight1Count > 0) {
      this.#inflight1.fill(undefined);
      this.#inflight1Count = 0;
      this.#inflight1Bytes = 0;
    }
    for (const o of this.outbound.values()) o.d = undefined;
  }

  // --- subscriptions --------------------------------------------------------------------------

  async addSubscription(sub: Sub): Promise<boolean> {
    const existed = this.subs.get(sub.filter);
    this.subsChanged();
    if (existed) {
      existed.opts = sub.opts;
      return true;
    }
    this.subs.set(sub.filter, sub);
    if (sub.shareGroup !== undefined) {
      await this.broker.joinShared(this, sub);
      return false;
    }
    this.trie.add(sub.topicFilter, sub);
    await this.ensureQueue();
    await this.broker.engine.exchanges.bind(MQTT_EXCHANGE, { kind: 'topic', name: this.queueTopic }, sub.canonical);
    return false;
  }

  async removeSubscription(filter: string): Promise<boolean> {
    const sub = this.subs.get(filter);
    if (!sub) return false;
    this.subs.delete(filter);
    this.subsChanged();
    if (sub.shareGroup !== undefined) {
      this.stopShared(sub);
      await this.broker.leaveShared(this, sub);
      return true;
    }
    this.trie.delete(sub.topicFilter, sub);
    if (this.broker.engine.exchanges.get(MQTT_EXCHANGE)) {
      await this.broker.engine.exchanges.unbind(MQTT_EXCHANGE, { kind: 'topic', name: this.queueTopic }, sub.canonical);
    }
    return true;
  }

  /** Ends the session: bindings, queue, shared memberships and stored state go. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.detach();
    this.expiryTimer?.();
    this.expiryTimer = undefined;
    for (const f of [...this.subs.keys()]) await this.removeSubscription(f);
    if (this.#queueReady) {
      await this.#queueReady.catch(() => {});
      if (this.broker.engine.getTopic(this.queueTopic)) await this.broker.engine.deleteTopic(this.queueTopic);
    }
    this.outbound.clear();
    this.#inflight1.fill(undefined);
    this.#inflight1Count = 0;
    this.#inflight1Bytes = 0;
    this.#idByOffset.clear();
    this.broker.store.write({ t: 'x', c: this.clientId });
  }

  // --- delivery -------------------------------------------------------------------------------

  #allocId(): number | undefined {
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (this.#inflight1[id] === undefined && (this.outbound.size === 0 || !this.outbound.has(id))) return id;
    }
    return undefined;
  }

  /** Folds one matching subscription into the delivery's QoS, RETAIN and Subscription Identifiers. */
  #consider(s: Sub, v: OutboundView, rec: DeliveryImpl['rec']): void {
    if (s.opts.nl && recordPublisher(rec) === this.clientId) return;
    const q = s.opts.qos < v.qos ? s.opts.qos : v.qos;
    if (q > this.#dQos) this.#dQos = q;
    if (s.opts.rap && v.retain) this.#dRetain = true;
    if (s.opts.id !== undefined) (this.#dSubIds ??= []).push(s.opts.id);
  }

  #deliver(d: DeliveryImpl, shared: Sub | undefined): void {
    const conn = this.conn;
    if (!conn) {
      this.#settle(d.nack());
      return;
    }
    const rec = d.rec;
    const v = viewRecord(rec, this.#topicMemo, this.#view);
    const topic = v.topic;
    if (topic === undefined) {
      this.#settle(d.ack());
      return;
    }
    this.#dQos = -1;
    this.#dRetain = false;
    this.#dSubIds = undefined;
    const retainedFor = rec.headers[RETAINED_FOR_HEADER];
    if (shared) this.#consider(shared, v, rec);
    else if (retainedFor !== undefined) {
      const s = this.subs.get(retainedFor);
      if (s) this.#consider(s, v, rec);
      this.#dRetain = true;
    } else {
      // The `$` rule and unsubscribed-while-queued messages: no matching subscription, no delivery.
      const subs = this.#match(topic);
      for (let i = 0; i < subs.length; i++) this.#consider(subs[i]!, v, rec);
    }
    const qos = this.#dQos;
    if (qos < 0) {
      this.#settle(d.ack());
      return;
    }
    let expiry: number | undefined;
    if (rec.expiresAt !== 0) {
      const left = Math.ceil((rec.expiresAt - this.broker.engine.clock.now()) / 1000);
      if (left <= 0) {
        this.#settle(d.ack());
        return;
      }
      expiry = left;
    }
    let id = 0;
    let okey: string | undefined;
    /** A QoS 2 message resent under the id it was first sent with (before a reconnect or restart). */
    let resent = false;
    if (qos > 0) {
      // Only QoS 2 redeliveries reuse their packet id (keyed by the record's place); QoS 1 ones
      // take any free id, so they need no key string.
      let got: number | undefined;
      if (qos === 2) {
        okey = `${d.topic}\u0000${rec.offset}`;
        got = this.#idByOffset.get(okey);
        const prev = got !== undefined ? this.outbound.get(got) : undefined;
        if (!prev || prev.okey !== okey) got = undefined;
        else resent = true;
      }
      if (got === undefined) {
        got = this.#allocId();
        if (got === undefined) {
          this.#settle(d.nack({ delayMs: 100 }));
          return;
        }
        if (qos === 2 && this.persistent) this.broker.store.write({ t: 'q2o', c: this.clientId, id: got, k: okey! });
      }
      id = got;
      if (qos === 1) {
        this.#inflight1[id] = d;
        this.#inflight1Count++;
        this.#inflight1Bytes += rec.body.length;
      } else {
        this.outbound.set(id, { qos: 2, stage: 'publish', d, okey });
        this.#idByOffset.set(okey!, id);
      }
    }
    let raw: Buffer[] | undefined;
    let propsLen = 0;
    if (conn.version === 5) {
      raw = [];
      if (v.props) raw.push(v.props);
      const extra = deliveryProps(expiry, this.#dSubIds ?? [], v.foreign);
      if (extra.length > 0) raw.push(extra);
      for (const r of raw) propsLen += r.length;
    }
    if (topic !== this.#topicBytesOf) {
      this.#topicBytesOf = topic;
      this.#topicBytes = Buffer.from(topic, 'utf8');
    }
    const flags = (qos > 0 && (d.attempt > 1 || resent) ? 8 : 0) | (qos << 1) | (this.#dRetain ? 1 : 0);
    if (!conn.writePublish(flags, this.#topicBytes, id, raw, propsLen, rec.body, d)) {
      // Larger than the client's Maximum Packet Size: discarded, as MQTT 5 §3.1.2.11.4 says.
      if (qos > 0) this.#forget(id);
      this.#settle(d.ack());
      return;
    }
    if (qos === 0) {
      if (conn.congested) this.#deferred.push(d);
      else this.#settle(d.ack());
    }
  }

  /**
   * The subscriptions matching `topic`, remembered for the last topic: a backlog is mostly one
   * topic, and a trie walk (split, per-level lookups, a result array) per delivery is ~1 µs.
   */
  #match(topic: string): readonly Sub[] {
    if (topic !== this.#matchTopic || this.#matchGen !== this.#subsGen) {
      this.#matchTopic = topic;
      this.#matchGen = this.#subsGen;
      this.#matchSubs = this.trie.match(topic);
    }
    return this.#matchSubs;
  }

  /** Call after changing `trie` or a subscription's options. */
  subsChanged(): void {
    this.#subsGen++;
  }

  #forget(id: number): void {
    const d = this.#inflight1[id];
    if (d !== undefined) {
      this.#inflight1[id] = undefined;
      this.#inflight1Count--;
      this.#inflight1Bytes -= d.rec.body.length;
      return;
    }
    const o = this.outbound.get(id);
    this.outbound.delete(id);
    if (o?.okey !== undefined) this.#idByOffset.delete(o.okey);
    if (o?.stage === 'publish' && this.persistent) this.broker.store.write({ t: 'q2o-', c: this.clientId, id });
  }

  /** Socket drained: ack deferred QoS 0 deliveries and let every consumer refill. */
  onDrain(): void {
    const list = this.#deferred;
    this.#deferred = [];
    for (const d of list) this.#settle(d.ack());
    this.#kick();
  }

  #kick(): void {
    if (this.#group) this.#group.schedulePump();
    for (const s of this.subs.values()) s.group?.schedulePump();
  }

  /**
   * Settles with the engine without awaiting. A lease lost meanwhile (its expiry, or the
   * consumer's removal when the connection dropped, raced the client's PUBACK) is not an error:
   * the engine redelivers that message. Anything else is logged: an unhandled rejection would
   * take the whole server down over one late acknowledgement.
   */
  #settle(p: Promise<void>): void {
    p.catch((e: unknown) => {
      if (!isOmnibusError(e, 'MQ_ERR_LEASE_LOST')) this.broker.log(`mqtt: settling a delivery to ${this.clientId} failed: ${String(e)}`);
    });
  }

  /** QoS 1 deliveries written to the client and not yet PUBACKed. */
  get unacked(): number {
    return this.#inflight1Count;
  }

  onPuback(id: number): boolean {
    const d = this.#inflight1[id];
    if (d === undefined) return false;
    this.#inflight1[id] = undefined;
    this.#inflight1Count--;
    this.#inflight1Bytes -= d.rec.body.length;
    this.#settle(d.ack());
    this.#afterAck();
    return true;
  }

  /** PUBREC: the client has the message. Ack it to the engine; only PUBREL/PUBCOMP remain. */
  onPubrec(id: number, failed: boolean): boolean {
    const o = this.outbound.get(id);
    if (!o || o.qos !== 2) return false;
    if (o.d) {
      this.#settle(o.d.ack());
      this.#afterAck();
    }
    if (o.okey !== undefined) this.#idByOffset.delete(o.okey);
    if (failed) {
      this.#forget(id);
      return true;
    }
    if (o.stage !== 'pubrel') {
      o.stage = 'pubrel';
      o.d = undefined;
      o.okey = undefined;
      if (this.persistent) this.broker.store.write({ t: 'rel', c: this.clientId, id });
    }
    return true;
  }

  onPubcomp(id: number): boolean {
    const o = this.outbound.get(id);
    if (!o || o.stage !== 'pubrel') return false;
    this.outbound.delete(id);
    if (this.persistent) this.broker.store.write({ t: 'rel-', c: this.clientId, id });
    return true;
  }

  #afterAck(): void {
    // With several consumers (shared subscriptions) an ack on one frees window for the others.
    if (this.#sharedConsumers > 0 && this.#consumers().length > 1) this.#kick();
  }

  /**
   * Restores state recorded by the session store (after a restart). A QoS 2 message sent and not
   * PUBRECed keeps its packet id: when the engine redelivers it, it goes out again under that id
   * with DUP set, so a client that had received it does not take it twice.
   */
  restore(q2in: Iterable<number>, rel: Iterable<number>, q2out: Iterable<[number, string]>): void {
    for (const id of q2in) this.q2in.add(id);
    for (const id of rel) this.outbound.set(id, { qos: 2, stage: 'pubrel', d: undefined, okey: undefined });
    for (const [id, okey] of q2out) {
      this.outbound.set(id, { qos: 2, stage: 'publish', d: undefined, okey });
      this.#idByOffset.set(okey, id);
    }
  }
}
