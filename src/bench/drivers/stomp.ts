/**
 * A STOMP queue with stompit, the anchors' client (research/anchors-measured.md): works against a
 * real ActiveMQ and against Omnibus's STOMP listener alike.
 *
 * Mode pipelined (the only one): SEND `persistent:true` to `/queue/<name>` with a receipt on the
 * last message of every enqueue call (the harness runs two calls of 1000 concurrently: "receipts
 * batched, 2 windows in flight"); a call resolves on its receipt, which both brokers send only
 * after every earlier SEND of the connection was handled. Dequeue: SUBSCRIBE with
 * `ack: client-individual` and `activemq.prefetchSize: 1000` (or the target URL's `?prefetch=N`),
 * one ACK per message; at a settle
 * point that ACK carries a receipt and the point is settled when the receipt arrives, so a mark
 * means "received and acknowledged by the broker".
 *
 * Publisher and consumer use separate connections. TCP_NODELAY is set on both sockets.
 * stompit ships no types: the few calls used are typed locally. It is loaded with a dynamic import
 * so the CLI works where it is not installed.
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { OutgoingMessage } from '../../core/types.js';
import { asBuffer, type BenchDriver, type DequeueSink, type DriverMode } from '../driver.js';

/** ActiveMQ's default maxFrameSize (100 MiB) less room for headers. */
const MAX_PAYLOAD = 64 * 1024 * 1024;
/** `activemq.prefetchSize` unless the target URL says `?prefetch=N`. */
const PREFETCH = 1000;
/** No MESSAGE for this long while messages are expected: the subscription has stalled. */
const STALL_MS = 3000;

interface StompitMessage extends Readable {
  readonly headers: Record<string, string>;
}
interface StompitSendOptions {
  onReceipt?: () => void;
}
interface StompitClient {
  send(headers: Record<string, string>, options?: StompitSendOptions): Writable;
  subscribe(headers: Record<string, string>, cb: (err: Error | null, msg: StompitMessage) => void): { unsubscribe(headers?: Record<string, string>): void };
  ack(msg: StompitMessage, headers?: Record<string, string>, options?: StompitSendOptions): void;
  disconnect(cb?: (err?: Error | null) => void): void;
  destroy(err?: Error): void;
  on(event: 'error', cb: (e: Error) => void): void;
  removeListener(event: 'error', cb: (e: Error) => void): void;
  getTransportSocket?(): Socket;
}
interface Stompit {
  connect(opts: unknown, cb: (e: Error | null, c: StompitClient) => void): unknown;
}

function parseUrl(url: string): { host: string; port: number; prefetch: number; login?: string; passcode?: string } {
  const u = new URL(url);
  if (u.protocol !== 'stomp:') throw new Error(`the stomp driver needs a stomp://HOST:PORT target, got ${url}`);
  const pf = u.searchParams.get('prefetch');
  const prefetch = pf === null ? PREFETCH : Number(pf);
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new Error(`stomp driver: prefetch must be a positive integer, got ${String(pf)}`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port === '' ? 61613 : Number(u.port),
    prefetch,
    ...(u.username ? { login: decodeURIComponent(u.username), passcode: decodeURIComponent(u.password) } : {}),
  };
}

async function open(stompit: Stompit, url: string): Promise<StompitClient> {
  const { host, port, login, passcode } = parseUrl(url);
  const connectHeaders: Record<string, string> = { host: '/', 'heart-beat': '0,0', 'accept-version': '1.2' };
  if (login !== undefined) Object.assign(connectHeaders, { login, passcode: passcode ?? '' });
  return new Promise((resolve, reject) => {
    stompit.connect({ host, port, connectHeaders }, (e, c) => {
      if (e) return reject(e);
      // An 'error' without a listener would crash the process; operations report their own.
      c.on('error', () => {});
      resolve(c);
    });
  });
}

export async function stompDriver(url: string, mode: DriverMode): Promise<BenchDriver> {
  if (mode !== 'pipelined') throw new Error(`stomp driver has no mode "${String(mode)}" (pipelined)`);
  // A specifier in a variable: stompit has no type declarations (the shape used is typed above).
  const specifier = 'stompit';
  const mod = (await import(specifier).catch((e: unknown) => {
    throw new Error(`the stomp driver needs the stompit package (npm install stompit): ${e instanceof Error ? e.message : String(e)}`);
  })) as { default?: Stompit } & Partial<Stompit>;
  const stompit: Stompit = mod.default ?? (mod as Stompit);
  const pub = await open(stompit, url);
  let sub = await open(stompit, url);
  noDelay(pub);
  noDelay(sub);
  let closed = false;
  const stats = { stalls: 0, prefetch: parseUrl(url).prefetch };
  return {
    get name() {
      return `stomp ${mode} prefetch ${stats.prefetch}${stats.stalls > 0 ? ` (consumer stalled and re-subscribed ${stats.stalls}x)` : ''}`;
    },
    maxPayload: MAX_PAYLOAD,
    // Queues exist on first use in both brokers; the harness's queue names are unique per run.
    async setup() {},
    async teardown() {},
    enqueue: (queue, batch) => sendBatch(pub, queue, batch),
    async dequeue(queue, sink) {
      sub = await consume(stompit, url, sub, queue, sink, stats);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([pub, sub].map((c) => new Promise<void>((r) => {
        const t = setTimeout(() => {
          c.destroy();
          r();
        }, 2000);
        c.disconnect(() => {
          clearTimeout(t);
          r();
        });
      })));
    },
  };
}

function noDelay(c: StompitClient): void {
  const s = c.getTransportSocket?.();
  if (s && typeof s.setNoDelay === 'function') s.setNoDelay(true);
}

function sendBatch(c: StompitClient, queue: string, batch: readonly OutgoingMessage[]): Promise<void> {
  if (batch.length === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    c.on('error', onError);
    const last = batch.length - 1;
    batch.forEach((m, i) => {
      const body = asBuffer(m.body);
      const headers = { destination: `/queue/${queue}`, persistent: 'true', 'content-length': String(body.length) };
      const frame = c.send(
        headers,
        i === last
          ? {
              onReceipt: () => {
                c.removeListener('error', onError);
                resolve();
              },
            }
          : undefined,
      );
      frame.end(body);
    });
  });
}

function readBody(msg: StompitMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    msg.on('data', (c: Buffer) => chunks.push(c));
    msg.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    msg.once('error', reject);
  });
}

/**
 * Consumes until sink.done. A settle point's ACK carries a receipt (one outstanding at a time;
 * settle points reached while it is outstanding are covered by the next receipt).
 *
 * ActiveMQ 5.17 with its default 64 KiB socket buffers stops dispatching to a prefetch-1000
 * subscription under load: its STOMP transport holds one lock across a blocked socket write and the
 * reading of ACKs (docs/research/activemq-stomp-dequeue-stall.md); bench/stomp-mqtt-compare.mjs
 * gives it 4 MiB buffers, which avoids it. When nothing arrives for STALL_MS the subscription is
 * still moved to a fresh connection (what an application would do); unacked messages are
 * redelivered there unless the broker never noticed the old connection close. Each move is
 * counted in `stalls` (the CLI prints the driver's name again at the end when it changed).
 */
async function consume(stompit: Stompit, url: string, first: StompitClient, queue: string, sink: DequeueSink, stats: { stalls: number; prefetch: number }): Promise<StompitClient> {
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let over = false;
  const end = (): void => {
    over = true;
    finish();
  };
  const onAbort = (): void => end();
  sink.signal.addEventListener('abort', onAbort, { once: true });
  let lastAt = Date.now();
  let receiptOut = false;
  let settleDue = false;
  let current: { c: StompitClient; sub: { unsubscribe(): void }; onError: (e: Error) => void } | undefined;
  const subscribe = (c: StompitClient): void => {
    const onError = (e: Error): void => {
      if (current?.c !== c) return;
      sink.ackFailed(e);
      end();
    };
    c.on('error', onError);
    const sub = c.subscribe(
      { destination: `/queue/${queue}`, ack: 'client-individual', 'activemq.prefetchSize': String(stats.prefetch) },
      (err, msg) => {
        if (err) return onError(err);
        lastAt = Date.now();
        readBody(msg).then(
          (body) => {
            if (sink.done || current?.c !== c) return;
            if (sink.take(body)) settleDue = true;
            if (!settleDue || receiptOut) return c.ack(msg);
            settleDue = false;
            receiptOut = true;
            c.ack(msg, {}, {
              onReceipt: () => {
                receiptOut = false;
                sink.settled();
                if (sink.done) end();
              },
            });
          },
          (e: unknown) => onError(e instanceof Error ? e : new Error(String(e))),
        );
      },
    );
    current = { c, sub, onError };
  };
  subscribe(first);
  const watchdog = setInterval(() => {
    if (over || sink.done || Date.now() - lastAt < STALL_MS) return;
    lastAt = Date.now();
    const old = current;
    stats.stalls++;
    open(stompit, url).then(
      (c) => {
        if (over) return c.disconnect();
        if (old) {
          old.c.removeListener('error', old.onError);
          old.c.destroy();
        }
        noDelay(c);
        subscribe(c);
      },
      (e: unknown) => {
        sink.ackFailed(e);
        end();
      },
    );
  }, 250);
  try {
    await finished;
  } finally {
    clearInterval(watchdog);
    sink.signal.removeEventListener('abort', onAbort);
    if (current) {
      current.c.removeListener('error', current.onError);
      current.sub.unsubscribe();
    }
  }
  return current?.c ?? first;
}
