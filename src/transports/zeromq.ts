/**
 * zmq+tcp:// — brokerless messaging over ZeroMQ (the `zeromq` package, libzmq prebuilt).
 *
 *   connect('zmq+tcp://127.0.0.1:5555?bind=1')      publisher: binds a PUB (or PUSH) socket there
 *   connect('zmq+tcp://127.0.0.1:5555')             subscriber: connects a SUB (or PULL) socket
 *   connect('zmq+tcp://host-a:5555,host-b:5555')    subscriber of several publishers
 *   ...?pattern=pushpull                            PUSH/PULL instead of PUB/SUB (see below)
 *
 * There is no broker, so there is nothing that persists, replays or redelivers across processes:
 * - pattern=pubsub (default): every connected subscriber process receives every message of the
 *   topics it subscribed to (SUB filters on the topic frame). Fan-out.
 * - pattern=pushpull: each message goes to ONE connected puller process (round robin, by libzmq):
 *   one implicit work-sharing group across processes. A puller receives every topic.
 * Inside one process, received messages feed an in-memory Omnibus engine (memory://), which
 * provides the Delivery contract locally: groups of competing subscriptions within this
 * transport, nack/redelivery with attempts, delays, leases, dead-letter topics, priorities. All
 * of that lives and dies with the process (capabilities.emulated lists it).
 * Publishing and subscribing on the same transport short-circuits through that engine (a
 * message carries its origin, the socket copy is dropped): a subscribe() is effective for the
 * next publish() at once, with no ZeroMQ "slow joiner" gap. Across processes that gap exists
 * (messages sent before a SUB connection completes its handshake are dropped: typically a few ms).
 * High-water marks: libzmq's default 1000 messages per peer; beyond it PUB drops and PUSH blocks.
 */
import { err } from '../core/errors.js';
import { connect as connectRegistry, type ConnectOptions } from '../core/registry.js';
import type { Capabilities, OutgoingMessage, PublishOptions, SubscribeOptions, Subscription, Transport } from '../core/types.js';
import { bodyBytes, checkPriority, checkTopic, decodeEnvelope, encodeEnvelope, messageIdFor, optionalDependency, randomId, type EnvelopeMeta, type NetCapabilities } from './common.js';

type Zmq = typeof import('zeromq');
type Sender = InstanceType<Zmq['Publisher']> | InstanceType<Zmq['Push']>;
type Receiver = InstanceType<Zmq['Subscriber']> | InstanceType<Zmq['Pull']>;

export class ZmqTransport implements Transport {
  readonly scheme = 'zmq+tcp';
  readonly capabilities: NetCapabilities;
  readonly #local: Transport;
  readonly #zmq: Zmq;
  readonly #endpoints: string[];
  readonly #bind: boolean;
  readonly #push: boolean;
  readonly #origin = randomId();
  #sender: Sender | undefined;
  #receiver: Receiver | undefined;
  #receiving: Promise<void> | undefined;
  readonly #topics = new Set<string>();
  #closing: Promise<void> | undefined;
  /** A send in progress: ZeroMQ sockets take one send at a time. */
  #sendQueue: Promise<void> = Promise.resolve();
  readonly #onError: ((e: unknown) => void) | undefined;

  constructor(zmq: Zmq, local: Transport, endpoints: string[], bind: boolean, push: boolean, onError?: (e: unknown) => void) {
    this.#zmq = zmq;
    this.#local = local;
    this.#endpoints = endpoints;
    this.#bind = bind;
    this.#push = push;
    this.#onError = onError;
    const c: Capabilities = local.capabilities;
    this.capabilities = {
      ...c,
      persistent: false,
      consumerGroups: false,
      replay: false,
      nativeDelay: false,
      nativeDeadLetter: false,
      leases: false,
      priorities: false,
      maxPayload: 256 * 1024 * 1024,
      emulated: ['groups (within one transport)', 'redelivery (within one transport)', 'delay', 'deadLetter', 'leases', 'priorities', 'ttl'],
    };
  }

  async start(): Promise<void> {
    if (this.#bind) {
      const s: Sender = this.#push ? new this.#zmq.Push() : new this.#zmq.Publisher();
      for (const e of this.#endpoints) await s.bind(e);
      this.#sender = s;
    }
  }

  #ensureReceiver(topic: string): void {
    if (!this.#receiver) {
      if (this.#bind) {
        // A binding (publishing) transport receives only its own messages, through the engine.
        return;
      }
      const r: Receiver = this.#push ? new this.#zmq.Pull() : new this.#zmq.Subscriber();
      for (const e of this.#endpoints) r.connect(e);
      this.#receiver = r;
      this.#receiving = this.#receive(r);
    }
    if (!this.#topics.has(topic)) {
      this.#topics.add(topic);
      if (this.#receiver instanceof this.#zmq.Subscriber) this.#receiver.subscribe(`${topic}\u0000`);
    }
  }

  async #receive(r: Receiver): Promise<void> {
    try {
      for await (const frames of r) {
        const [tf, body] = frames;
        if (!tf || !body) continue;
        const topic = tf.toString('utf8').replace(/\u0000$/, '');
        if (!this.#topics.has(topic)) continue;
        try {
          const { meta, body: payload } = decodeEnvelope(body);
          if (meta.o === this.#origin) continue;
          const now = Date.now();
          const m: OutgoingMessage = { body: payload, timestamp: meta.ts };
          if (meta.k !== undefined) m.key = meta.k;
          if (meta.h) m.headers = meta.h;
          if (meta.p) m.priority = meta.p;
          if (meta.exp !== undefined) m.ttlMs = Math.max(0, meta.exp - now);
          if (meta.d !== undefined && meta.d > now) m.delayMs = meta.d - now;
          await this.#local.publish(topic, [m]);
        } catch (e) {
          this.#onError?.(e);
        }
      }
    } catch (e) {
      if (!this.#closing) this.#onError?.(e);
    }
  }

  readonly #inflight = new Set<Promise<void>>();

  async publish(topic: string, messages: readonly OutgoingMessage[], opts?: PublishOptions): Promise<void> {
    if (this.#closing) throw err('MQ_ERR_CLOSED', 'the transport is closed');
    opts?.signal?.throwIfAborted();
    // close() lets publishes issued before it finish.
    const p = this.#publish(topic, messages);
    this.#inflight.add(p);
    try {
      await p;
    } finally {
      this.#inflight.delete(p);
    }
  }

  async #publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    checkTopic(topic);
    const now = Date.now();
    const frames: Buffer[][] = [];
    for (const m of messages) {
      const p = checkPriority(m);
      const meta: EnvelopeMeta = { id: messageIdFor(m), ts: m.timestamp ?? now, o: this.#origin };
      if (m.key !== undefined) meta.k = m.key;
      if (m.headers) meta.h = m.headers;
      if (p) meta.p = p;
      if (m.ttlMs !== undefined) meta.exp = now + m.ttlMs;
      if (m.delayMs !== undefined && m.delayMs > 0) meta.d = now + m.delayMs;
      frames.push([Buffer.from(`${topic}\u0000`), encodeEnvelope(meta, bodyBytes(m))]);
    }
    // Local subscribers first (same order), then the network.
    await this.#local.publish(topic, messages);
    const s = this.#sender;
    if (!s) return;
    const sending = this.#sendQueue.then(async () => {
      for (const f of frames) await s.send(f);
    });
    this.#sendQueue = sending.catch(() => undefined);
    await sending;
  }

  subscribe(topic: string, opts?: SubscribeOptions): Subscription {
    if (this.#closing) throw err('MQ_ERR_CLOSED', 'the transport is closed');
    checkTopic(topic);
    this.#ensureReceiver(topic);
    // A group's local queue starts now: messages received before it are not replayed to it.
    return this.#local.subscribe(topic, { from: 'latest', ...opts });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inflight]);
      await this.#sendQueue;
      await this.#local.close();
      this.#sender?.close();
      this.#receiver?.close();
      await this.#receiving;
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export async function connectZmq(u: URL, options: ConnectOptions): Promise<ZmqTransport> {
  const zmq = await optionalDependency(() => import('zeromq'), 'zeromq', 'zmq+tcp');
  const hosts = u.host.split(',').filter((h) => h !== '');
  if (hosts.length === 0) throw err('MQ_ERR_INVALID_URL', 'zmq+tcp:// needs host:port, e.g. zmq+tcp://127.0.0.1:5555');
  const q = u.searchParams;
  const pattern = q.get('pattern') ?? 'pubsub';
  if (pattern !== 'pubsub' && pattern !== 'pushpull') throw err('MQ_ERR_INVALID_URL', `pattern must be pubsub or pushpull, got "${pattern}"`);
  const bind = q.get('bind') === '1' || q.get('bind') === 'true';
  const local = await connectRegistry('memory://', options.clock !== undefined ? { clock: options.clock } : {});
  const onError = typeof options['onError'] === 'function' ? (options['onError'] as (e: unknown) => void) : undefined;
  const t = new ZmqTransport((zmq as Zmq & { default?: Zmq }).default ?? zmq, local, hosts.map((h) => `tcp://${h}`), bind, pattern === 'pushpull', onError);
  try {
    await t.start();
  } catch (e) {
    await t.close();
    throw err('MQ_ERR_RESOURCE_LOCKED', `cannot bind ${hosts.join(',')}: ${(e as Error).message}`, e);
  }
  return t;
}
