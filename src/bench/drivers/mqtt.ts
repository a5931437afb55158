/**
 * An MQTT persistent session with mqtt.js (npm `mqtt`), MQTT 3.1.1, QoS 1: the anchors' "persist"
 * mode (research/anchors-measured.md, A3). Works against mosquitto and Omnibus's MQTT listener.
 *
 * Mode pipelined (the only one):
 * - setup: a subscriber (fixed client id per queue, clean session off) connects, subscribes to
 *   the topic `<queue>` at QoS 1 and disconnects, leaving a persistent session that collects;
 * - enqueue: a publisher (clean session) sends QoS 1 PUBLISHes with at most 1000 without their
 *   PUBACK at any time (one window shared by concurrent enqueue calls); a call resolves when all
 *   of its messages are PUBACKed;
 * - dequeue: the subscriber reconnects with clean session off and receives the backlog at QoS 1;
 *   mqtt.js PUBACKs each message after the 'message' handler ran, so a settle point is settled at
 *   once (like AMQP's basic.ack, PUBACK has no reply);
 * - teardown: a clean-session connect with the subscriber's id deletes the session.
 *
 * TCP_NODELAY is set on every socket (mqtt.js leaves Nagle on). mqtt is loaded with a dynamic
 * import so the CLI works where it is not installed.
 */
import type { Socket } from 'node:net';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { OutgoingMessage } from '../../core/types.js';
import { asBuffer, type BenchDriver, type DequeueSink, type DriverMode } from '../driver.js';

/** mosquitto's default message_size_limit is 256 MiB (the MQTT maximum); Omnibus's is smaller. */
const MAX_PAYLOAD = 16 * 1024 * 1024;
const WINDOW = 1000;

type Connect = (url: string, opts: IClientOptions) => MqttClient;

export async function mqttDriver(url: string, mode: DriverMode): Promise<BenchDriver> {
  if (mode !== 'pipelined') throw new Error(`mqtt driver has no mode "${String(mode)}" (pipelined)`);
  const mod = (await import('mqtt').catch((e: unknown) => {
    throw new Error(`the mqtt driver needs the mqtt package (npm install mqtt): ${e instanceof Error ? e.message : String(e)}`);
  })) as { connect?: Connect; default?: { connect: Connect } };
  const connectFn = mod.connect ?? mod.default?.connect;
  if (!connectFn) throw new Error('the mqtt package has no connect()');
  const u = new URL(url);
  if (u.protocol !== 'mqtt:') throw new Error(`the mqtt driver needs an mqtt://HOST:PORT target, got ${url}`);
  const tag = Math.random().toString(36).slice(2, 8);
  const open = async (opts: IClientOptions): Promise<MqttClient> => {
    const c = connectFn(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60, ...opts });
    // Received before 'connect' is emitted (a resumed session's backlog) must not be lost: callers
    // that consume attach their 'message' listener through opts.onClient before the CONNACK.
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => {
        const s = c.stream as Partial<Socket>;
        if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
        resolve();
      });
      c.once('error', reject);
      c.once('close', () => reject(new Error(`mqtt connection to ${url} closed before CONNACK`)));
    });
    c.removeAllListeners('error');
    c.on('error', () => {});
    return c;
  };
  const end = (c: MqttClient): Promise<void> => new Promise((r) => c.end(false, {}, () => r()));
  const subscriberId = (queue: string): string => `obench-${tag}-${queue}`.slice(0, 64);

  const pub = await open({ clean: true, clientId: `obench-${tag}-pub` });
  const window = new Window(WINDOW);
  let closed = false;
  return {
    name: `mqtt ${mode} (QoS 1, persistent session)`,
    maxPayload: MAX_PAYLOAD,
    async setup(queue) {
      const c = await open({ clean: true, clientId: subscriberId(queue) });
      await end(c);
      const s = await open({ clean: false, clientId: subscriberId(queue) });
      await s.subscribeAsync(queue, { qos: 1 });
      await end(s);
    },
    async teardown(queue) {
      const c = await open({ clean: true, clientId: subscriberId(queue) });
      await end(c);
    },
    enqueue: (queue, batch) => publishWindowed(pub, window, queue, batch),
    dequeue: (queue, sink) => consume(connectFn, url, subscriberId(queue), sink),
    async close() {
      if (closed) return;
      closed = true;
      await end(pub);
    },
  };
}

/** A counting semaphore for un-PUBACKed publishes, shared by concurrent enqueue calls. */
class Window {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  acquire(): Promise<void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

async function publishWindowed(c: MqttClient, window: Window, topic: string, batch: readonly OutgoingMessage[]): Promise<void> {
  let remaining = batch.length;
  let failure: unknown;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const onAck = (err?: Error): void => {
    window.release();
    if (err && failure === undefined) failure = err;
    if (--remaining === 0) resolveAll();
  };
  for (const m of batch) {
    const wait = window.acquire();
    if (wait) await wait;
    c.publish(topic, asBuffer(m.body), { qos: 1 }, onAck);
  }
  if (batch.length > 0) await all;
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
}

async function consume(connectFn: Connect, url: string, clientId: string, sink: DequeueSink): Promise<void> {
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const onAbort = (): void => finish();
  sink.signal.addEventListener('abort', onAbort, { once: true });
  const c = connectFn(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60, clean: false, clientId });
  // Attached before the CONNACK: the backlog can arrive in the same read.
  c.on('message', (_topic: string, payload: Buffer) => {
    if (sink.done) return;
    if (sink.take(payload)) sink.settled();
    if (sink.done) finish();
  });
  c.on('error', (e: Error) => {
    sink.ackFailed(e);
    finish();
  });
  c.once('connect', () => {
    const s = c.stream as Partial<Socket>;
    if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
  });
  c.once('close', () => finish());
  try {
    await finished;
  } finally {
    sink.signal.removeEventListener('abort', onAbort);
    // The PUBACK of the last message is written after this handler returns: let it go out.
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => c.end(false, {}, () => r()));
  }
}
