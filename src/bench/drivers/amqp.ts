/**
 * AMQP 0-9-1 queue with amqplib, the anchors' client (research/anchors-measured.md): publish to
 * the default exchange with publisher confirms, consume with manual acks. Works against a real
 * RabbitMQ and against Omnibus's AMQP listener alike.
 *
 * The queue is a classic, non-durable queue with transient messages (the anchors' RabbitMQ runs),
 * or with `durable` a durable queue and persistent messages (delivery-mode 2): RabbitMQ then
 * confirms a message only once its message store has it on disk, the fair opponent of Omnibus on
 * file:// (which confirms every publish once the engine has it in its log).
 *
 * Modes:
 * - naive: publish and wait for its confirm, one message at a time; then basic.get + basic.ack
 *   one at a time (a round trip per message each way);
 * - pipelined: at most 1000 publishes unconfirmed at any time (one window shared by every
 *   concurrent enqueue call; a call resolves when all of its messages are confirmed), honouring
 *   the channel's back-pressure ('drain'); then basic.consume with prefetch 1000 and one ack per
 *   message. The frames amqplib writes in one event-loop turn leave in one writev
 *   (coalesceWrites), not one write(2) per frame.
 *
 * basic.ack has no reply in AMQP, so a settle point is settled once the ack is written.
 * amqplib is loaded with a dynamic import so the CLI works where it is not installed. Its socket
 * default is Nagle ON (`noDelay: false`), which made naive consumers run at ~23 msg/s in the
 * anchors (delayed-ACK stalls): `{ noDelay: true }` is always passed.
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Writable } from 'node:stream';
import type { OutgoingMessage } from '../../core/types.js';
import { asBuffer, sleep, type BenchDriver, type DequeueSink, type DriverMode } from '../driver.js';

/** RabbitMQ 3.10's max_message_size default (128 MiB). */
const RABBIT_MAX_MESSAGE = 128 * 1024 * 1024;
const WINDOW = 1000;
/**
 * Socket write buffer (Node's default is 16 KiB). amqplib's muxer stops handing frames to the
 * socket once this much is queued, which with the socket corked (coalesceWrites) would cut a
 * burst into 16 KiB writes; 4 MiB holds a window of 1,000 × 4 KiB messages.
 */
const SOCKET_HWM = 4 * 1024 * 1024;
const PREFETCH = 1000;
/** How long basic.get waits after an empty reply (only happens if messages are missing). */
const EMPTY_BACKOFF_MS = 5;

export async function amqpDriver(url: string, mode: DriverMode, opts: { durable?: boolean } = {}): Promise<BenchDriver> {
  const durable = opts.durable === true;
  if (mode !== 'naive' && mode !== 'pipelined') throw new Error(`amqp driver has no mode "${String(mode)}" (naive or pipelined)`);
  const amqp = await import('amqplib').catch((e: unknown) => {
    throw new Error(`the amqp driver needs the amqplib package (npm install amqplib): ${e instanceof Error ? e.message : String(e)}`);
  });
  // writableHighWaterMark is passed on to net.connect (amqplib's SocketOptions type omits it).
  const socketOptions = { noDelay: true, writableHighWaterMark: SOCKET_HWM };
  const conn: ChannelModel = await amqp.connect(url, socketOptions);
  // An 'error' event without a listener would crash the process; the failing operation rejects anyway.
  conn.on('error', () => {});
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  pub.on('error', () => {});
  sub.on('error', () => {});
  const window = new Window(WINDOW);
  if (mode === 'pipelined') coalesceWrites((conn.connection as unknown as { stream?: Writable }).stream);
  let closed = false;
  return {
    name: `amqp ${mode}${durable ? ' durable' : ''}`,
    maxPayload: RABBIT_MAX_MESSAGE,
    async setup(queue) {
      await sub.assertQueue(queue, { durable, autoDelete: false });
      await sub.purgeQueue(queue);
    },
    async teardown(queue) {
      await sub.deleteQueue(queue);
    },
    enqueue: (queue, batch) => (mode === 'naive' ? publishEach(pub, queue, batch, durable) : publishWindowed(pub, window, queue, batch, durable)),
    dequeue: (queue, sink) => (mode === 'naive' ? getEach(sub, queue, sink) : consumeAll(sub, queue, sink)),
    async close() {
      if (closed) return;
      closed = true;
      await conn.close().catch(() => {});
    },
  };
}

function publishOne(ch: ConfirmChannel, queue: string, body: Buffer, persistent: boolean, onConfirm: (err: unknown) => void): boolean {
  return ch.sendToQueue(queue, body, { persistent }, onConfirm);
}

async function publishEach(ch: ConfirmChannel, queue: string, batch: readonly OutgoingMessage[], persistent: boolean): Promise<void> {
  for (const m of batch) {
    await new Promise<void>((resolve, reject) => {
      publishOne(ch, queue, asBuffer(m.body), persistent, (err) => (err ? reject(toError(err)) : resolve()));
    });
  }
}

/** A counting semaphore for unconfirmed publishes, shared by concurrent enqueue calls. */
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
    // A waiter takes the slot over directly, so the count never overshoots.
    if (next) next();
    else this.#free++;
  }
}

/**
 * Coalesces amqplib's socket writes. amqplib hands every publish to the socket as two writes (the
 * method and header frames in one buffer, the body frame in another), each its own write(2) while
 * the socket keeps up: strace of 20,000 × 10 KiB pipelined publishes counted 40,032 client
 * writes, and the broker then read ~20 KiB per read(2) (9,979 reads), paying its per-read cost
 * for two messages at a time. Here the first write of an event-loop turn corks the socket and a
 * setImmediate uncorks it, so every frame amqplib writes until then (its muxer writes from
 * setImmediate callbacks and 'drain') leaves in one writev. The frames and their order on the
 * wire are unchanged; the cost is at most one event-loop turn of latency per write. Same code
 * against every broker.
 */
function coalesceWrites(socket: Writable | undefined): void {
  if (socket === undefined) return;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return write(...args);
  }) as Writable['write'];
}

async function publishWindowed(ch: ConfirmChannel, window: Window, queue: string, batch: readonly OutgoingMessage[], persistent: boolean): Promise<void> {
  let remaining = batch.length;
  let failure: unknown;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const onConfirm = (err: unknown): void => {
    window.release();
    if (err && failure === undefined) failure = err;
    if (--remaining === 0) resolveAll();
  };
  for (const m of batch) {
    const wait = window.acquire();
    if (wait) await wait;
    if (!publishOne(ch, queue, asBuffer(m.body), persistent, onConfirm)) {
      // The socket buffer is full: wait for amqplib's drain before writing more.
      await new Promise<void>((r) => ch.once('drain', r));
    }
  }
  if (batch.length > 0) await all;
  if (failure !== undefined) throw toError(failure);
}

async function getEach(ch: Channel, queue: string, sink: DequeueSink): Promise<void> {
  while (!sink.done && !sink.signal.aborted) {
    const msg = await ch.get(queue, { noAck: false });
    if (msg === false) {
      await sleep(EMPTY_BACKOFF_MS);
      continue;
    }
    const settle = sink.take(msg.content);
    ch.ack(msg);
    if (settle) sink.settled();
  }
}

/** basic.consume with manual acks and `prefetch` until the sink is done (also the raw driver's consumer). */
export async function consumeAll(ch: Channel, queue: string, sink: DequeueSink, prefetch = PREFETCH): Promise<void> {
  await ch.prefetch(prefetch);
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const onAbort = (): void => finish();
  sink.signal.addEventListener('abort', onAbort, { once: true });
  const { consumerTag } = await ch.consume(
    queue,
    (msg: ConsumeMessage | null) => {
      // null = the server cancelled the consumer (e.g. the queue was deleted).
      if (msg === null) return finish();
      const settle = sink.take(msg.content);
      ch.ack(msg);
      if (settle) sink.settled();
      if (sink.done) finish();
    },
    { noAck: false },
  );
  try {
    if (!sink.done) await finished;
  } finally {
    sink.signal.removeEventListener('abort', onAbort);
    // Unacked deliveries (none on success) return to the queue when the consumer is cancelled.
    await ch.cancel(consumerTag).catch(() => {});
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
