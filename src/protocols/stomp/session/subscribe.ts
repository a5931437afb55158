/**
 * SUBSCRIBE / UNSUBSCRIBE and the Subscription object.
 *
 * A subscription has one Source per destination part (composite destinations subscribe to
 * each). A Source is one engine consumer:
 *   queue  (/queue/q)     the shared group `default` of engine topic q; a JMS selector is a
 *                         per-consumer filter (non-matching messages stay for other consumers);
 *                         exclusive consumers and message groups go through QueueState (broker.ts)
 *   route  (/topic/p, /exchange/x/k)  a private engine topic bound to the exchange with the
 *                         subscription's pattern, consumed by its own group; a selector is a
 *                         group filter (non-matching messages are dropped for this subscriber).
 *                         Non-durable: transient topic `stomp-sub:…`, unbound and deleted when the
 *                         subscription ends. Durable (activemq.subscriptionName + client-id):
 *                         durable topic `stomp-durable:<client-id>:<name>` with a durable binding;
 *                         it keeps collecting while the client is away and across restarts, until
 *                         an UNSUBSCRIBE carrying activemq.subscriptionName removes it.
 * See docs/protocols/stomp.md for why topics are per-subscriber copies.
 */
import type { Consumer, DeliveryImpl, Group } from '../../../engine/group.js';
import type { DecodedRecord } from '../../../engine/record.js';
import { compileSelector, type Selector } from '../../../engine/selector/index.js';
import { isOmnibusError } from '../../../core/errors.js';
import { header, type StompFrame } from '../codec/frame.js';
import type { QueueMember, QueueState } from './broker.js';
import type { StompConnection } from './connection.js';
import type { Destination } from './destination.js';
import { StompError } from './errors.js';
import { selectorProps } from './message.js';
import { resolveDestinations } from './send.js';

export type AckMode = 'auto' | 'client' | 'client-individual';

export interface Pending {
  d: DeliveryImpl;
  sub: Subscription;
  messageId: string;
  ackId: string | undefined;
}

export interface Source extends QueueMember {
  readonly sub: Subscription;
  readonly dest: Destination;
  readonly engineTopic: string;
  consumer: Consumer | undefined;
  queueState: QueueState | undefined;
  /** Route sources: binding to remove, and whether the topic is deleted on close. */
  binding: { exchange: string; key: string } | undefined;
  durable: boolean;
}

export class Subscription {
  readonly unacked = new Map<string, Pending>();
  readonly sources: Source[] = [];
  closed = false;

  constructor(
    readonly conn: StompConnection,
    readonly id: string,
    readonly ackMode: AckMode,
    readonly prefetch: number,
    readonly selector: Selector | undefined,
    readonly exclusive: boolean,
  ) {}

  /** Pending deliveries up to and including `p`, in delivery order (client mode is cumulative). */
  takeUpTo(p: Pending): Pending[] {
    const out: Pending[] = [];
    for (const x of this.unacked.values()) {
      out.push(x);
      if (x === p) break;
    }
    for (const x of out) this.conn.forget(x);
    return out;
  }

  /**
   * Detaches every source (unsettled deliveries return to their queues with the attempt counted).
   * `destroyDurable` also deletes a durable subscription's topic.
   */
  async close(destroyDurable: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.unacked.values()) this.conn.forget(p);
    this.unacked.clear();
    const engine = this.conn.engine;
    for (const s of this.sources) {
      try {
        if (s.consumer) s.group.removeConsumer(s.consumer);
        if (s.queueState) {
          s.queueState.remove(s);
          this.conn.broker.dropQueueState(s.engineTopic);
        }
        if (s.durable && this.conn.broker.durableActive.get(s.engineTopic) === this.conn) this.conn.broker.durableActive.delete(s.engineTopic);
        if (s.binding && (!s.durable || destroyDurable)) {
          if (!engine.closed) {
            await engine.exchanges.unbind(s.binding.exchange, { kind: 'topic', name: s.engineTopic }, s.binding.key).catch(() => false);
            await engine.deleteTopic(s.engineTopic);
          }
        }
      } catch (e) {
        if (!isOmnibusError(e, 'MQ_ERR_CLOSED')) throw e;
      }
    }
  }
}

function parseAck(v: string | undefined): AckMode {
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'client' || v === 'client-individual') return v;
  throw new StompError(`Invalid ack mode "${v}"`, 'ack must be auto, client or client-individual');
}

function parsePrefetch(v: string | undefined, dflt: number): number {
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v.trim());
  if (!Number.isInteger(n)) throw new StompError(`Invalid activemq.prefetchSize "${v.slice(0, 40)}"`);
  // 0 is ActiveMQ's pull mode, which STOMP cannot drive: treat it as 1.
  return Math.max(1, Math.min(n, 65_535));
}

const TRUE = (v: string | undefined) => v !== undefined && v.trim().toLowerCase() === 'true';

export async function handleSubscribe(c: StompConnection, f: StompFrame): Promise<void> {
  const destText = header(f, 'destination');
  const dests = resolveDestinations(c, destText, true);
  let id = header(f, 'id');
  if (id === undefined || id === '') {
    if (c.version !== '1.0') throw new StompError('SUBSCRIBE without an id header', 'STOMP 1.1 and 1.2 require an id on SUBSCRIBE');
    id = destText!;
  }
  if (c.subs.has(id)) throw new StompError(`Duplicate subscription id "${id}"`);
  const ackMode = parseAck(header(f, 'ack'));
  const prefetch = parsePrefetch(header(f, 'activemq.prefetchSize'), c.broker.opts.defaultPrefetch);
  const selText = header(f, 'selector');
  let selector: Selector | undefined;
  if (selText !== undefined && selText.trim() !== '') {
    try {
      selector = compileSelector(selText, { convertNumericStrings: true });
    } catch (e) {
      if (isOmnibusError(e, 'MQ_ERR_SELECTOR')) throw new StompError(e.message, `selector: ${selText}`);
      throw e;
    }
  }
  const exclusive = TRUE(header(f, 'activemq.exclusive'));
  const durableName = header(f, 'activemq.subscriptionName') ?? header(f, 'durable-subscription-name');
  if (durableName !== undefined && durableName !== '' && (c.clientId === undefined || c.clientId === '')) {
    throw new StompError('A durable subscription needs a client-id', 'send client-id on CONNECT to use activemq.subscriptionName');
  }
  const sub = new Subscription(c, id, ackMode, prefetch, selector, exclusive);
  c.subs.set(id, sub);
  try {
    for (let i = 0; i < dests.length; i++) await addSource(c, sub, dests[i]!, i, durableName || undefined);
  } catch (e) {
    c.subs.delete(id);
    await sub.close(false);
    throw e;
  }
}

async function addSource(c: StompConnection, sub: Subscription, dest: Destination, index: number, durableName: string | undefined): Promise<void> {
  const broker = c.broker;
  const engine = c.engine;
  // pinsBodies (both consumers below): deliver() copies the body into the MESSAGE frame before it
  // returns, and after that only settles the delivery, so its body may live in a recycled
  // file-read slab.
  const push = (d: DeliveryImpl): void => c.deliver(src, d);
  let src: Source;
  if (dest.kind === 'queue') {
    if (dest.temp) await c.ensureTempQueue(dest.name);
    const group = await broker.group(dest.name);
    const qs = broker.queueState(dest.name);
    const s: Source = { sub, dest, engineTopic: dest.name, group, exclusive: sub.exclusive, consumer: undefined, queueState: qs, binding: undefined, durable: false };
    src = s;
    sub.sources.push(s);
    qs.add(s);
    const selector = sub.selector;
    const filter = (rec: DecodedRecord): boolean => {
      if (selector && !selector.matches(selectorProps(rec))) return false;
      const gid = rec.headers['JMSXGroupID'];
      return gid === undefined || qs.acceptsGroup(s, gid);
    };
    const prefetch = sub.prefetch;
    s.consumer = group.addConsumer({
      get prefetch() {
        return qs.active(s) ? prefetch : 0;
      },
      push,
      filter,
      pinsBodies: true,
    });
    // A new exclusive owner may have taken over from consumers that were receiving.
    if (sub.exclusive) for (const m of qs.members) m.group.schedulePump();
    return;
  }
  if (!engine.exchanges.get(dest.exchange)) throw new StompError(`no exchange "${dest.exchange}"`);
  const durable = durableName !== undefined;
  const topic = durable
    ? `stomp-durable:${c.clientId}:${durableName}${index > 0 ? ':' + index : ''}`
    : `stomp-sub:${broker.id}:${c.id}:${c.nextSubscriptionSeq()}`;
  if (durable) {
    const holder = broker.durableActive.get(topic);
    if (holder !== undefined && holder !== c) throw new StompError(`Durable subscription "${durableName}" of client "${c.clientId}" is in use`);
    broker.durableActive.set(topic, c);
  }
  await engine.topic(topic, { durable });
  const binding = { exchange: dest.exchange, key: dest.key };
  const selector = sub.selector;
  const group = await broker.group(topic, { filter: selector ? (rec) => selector.matches(selectorProps(rec)) : undefined });
  const s: Source = { sub, dest, engineTopic: topic, group, exclusive: false, consumer: undefined, queueState: undefined, binding, durable };
  src = s;
  sub.sources.push(s);
  await engine.exchanges.bind(dest.exchange, { kind: 'topic', name: topic }, dest.key);
  if (sub.closed) return;
  s.consumer = group.addConsumer({ prefetch: sub.prefetch, push, pinsBodies: true });
}

export async function handleUnsubscribe(c: StompConnection, f: StompFrame): Promise<void> {
  let id = header(f, 'id');
  if ((id === undefined || id === '') && c.version === '1.0') id = header(f, 'destination');
  const durableName = header(f, 'activemq.subscriptionName') ?? header(f, 'durable-subscription-name');
  const sub = id === undefined ? undefined : c.subs.get(id);
  if (sub) {
    c.subs.delete(sub.id);
    await sub.close(durableName !== undefined && durableName !== '');
    return;
  }
  if (durableName !== undefined && durableName !== '' && c.clientId !== undefined) {
    // Removing a durable subscription that is not active on this connection.
    const prefix = `stomp-durable:${c.clientId}:${durableName}`;
    for (const name of c.engine.topicNames()) {
      if (name !== prefix && !name.startsWith(prefix + ':')) continue;
      if (c.broker.durableActive.has(name)) throw new StompError(`Durable subscription "${durableName}" is in use`);
      await c.engine.deleteTopic(name);
    }
    return;
  }
  if (id === undefined) throw new StompError('UNSUBSCRIBE without an id header');
  throw new StompError(`No subscription with id "${id}"`);
}
