/**
 * Redis list queue over RESP with ioredis, the anchors' client (research/anchors-measured.md):
 * LPUSH to enqueue, RPOP to dequeue (FIFO). Works against a real redis-server and against
 * Omnibus's RESP listener alike; the same code and client times both.
 *
 * Modes (the harness supplies batches of 1000; see modeDefaults for how many are in flight):
 * - naive: one awaited LPUSH / RPOP per message (a round trip each);
 * - pipelined: a pipeline of 1000 single-value LPUSH / RPOP per call, 2 calls in flight;
 * - batch: one variadic LPUSH of 1000 values / `RPOP key 1000` per call, 2 in flight.
 *
 * RPOP removes the message: there is no ack, so a settle point is settled at once.
 * ioredis is loaded with a dynamic import so the CLI works where it is not installed; its
 * default `noDelay: true` (TCP_NODELAY) is passed explicitly because Nagle + delayed ACK turns
 * one-message round trips into ~40 ms stalls.
 */
import type { Redis as RedisClient } from 'ioredis';
import type { OutgoingMessage } from '../../core/types.js';
import { asBuffer, sleep, type BenchDriver, type DequeueSink, type DriverMode } from '../driver.js';

/** Redis's proto-max-bulk-len default (512 MB). */
const REDIS_MAX_BULK = 512 * 1024 * 1024;
/** Values per pipeline / variadic command, and the dequeue pipeline depth. */
const CHUNK = 1000;
const DEQUEUE_IN_FLIGHT = 2;
/** How long a pull loop waits after finding the list empty (only happens if messages are missing). */
const EMPTY_BACKOFF_MS = 5;

export async function redisDriver(url: string, mode: DriverMode): Promise<BenchDriver> {
  if (mode !== 'naive' && mode !== 'pipelined' && mode !== 'batch') throw new Error(`redis driver has no mode "${String(mode)}"`);
  const { Redis } = await import('ioredis').catch((e: unknown) => {
    throw new Error(`the redis driver needs the ioredis package (npm install ioredis): ${e instanceof Error ? e.message : String(e)}`);
  });
  const client = new Redis(url, {
    noDelay: true,
    lazyConnect: true,
    // Fail instead of silently queueing commands while disconnected: the run would be void.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  await client.connect();
  let closed = false;
  return {
    name: `redis ${mode}`,
    maxPayload: REDIS_MAX_BULK,
    setup: async (key) => void (await client.del(key)),
    teardown: async (key) => void (await client.del(key)),
    enqueue: (key, batch) => enqueue(client, mode, key, batch),
    dequeue: (key, sink) => dequeue(client, mode, key, sink),
    async close() {
      if (closed) return;
      closed = true;
      await client.quit().catch(() => client.disconnect());
    },
  };
}

async function enqueue(client: RedisClient, mode: DriverMode, key: string, batch: readonly OutgoingMessage[]): Promise<void> {
  if (mode === 'naive') {
    for (const m of batch) await client.lpush(key, asBuffer(m.body));
    return;
  }
  if (mode === 'batch') {
    await client.lpush(key, ...batch.map((m) => asBuffer(m.body)));
    return;
  }
  const p = client.pipeline();
  for (const m of batch) p.lpush(key, asBuffer(m.body));
  checkPipeline(await p.exec());
}

function checkPipeline(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('redis pipeline was discarded');
  for (const [err] of results) if (err) throw err;
}

async function dequeue(client: RedisClient, mode: DriverMode, key: string, sink: DequeueSink): Promise<void> {
  if (mode === 'naive') {
    while (!sink.done && !sink.signal.aborted) {
      const v = await client.rpopBuffer(key);
      if (v === null) await sleep(EMPTY_BACKOFF_MS);
      else if (sink.take(v)) sink.settled();
    }
    return;
  }
  // Two requests in flight; replies are consumed in the order they were sent (one connection), so
  // FIFO order is preserved. A request asks for at most what is still expected beyond the other
  // one's, so the tail does not flood the server with pops of an empty list.
  let asked = 0;
  const request = (): { n: number; reply: Promise<(Buffer | null)[]> } => {
    const n = Math.max(1, Math.min(CHUNK, sink.remaining - asked));
    asked += n;
    return { n, reply: pop(client, mode, key, n) };
  };
  const inFlight = Array.from({ length: DEQUEUE_IN_FLIGHT }, request);
  try {
    while (!sink.done && !sink.signal.aborted) {
      const head = inFlight.shift()!;
      const values = await head.reply;
      asked -= head.n;
      let got = 0;
      for (const v of values) {
        if (v === null) continue;
        got++;
        if (sink.take(v)) sink.settled();
      }
      if (got === 0) await sleep(EMPTY_BACKOFF_MS);
      if (!sink.done) inFlight.push(request());
    }
  } finally {
    // Settle what is still in flight (its values are lost to this run if it ended early, as a
    // real consumer's would be); never leave a rejection unhandled.
    await Promise.allSettled(inFlight.map((r) => r.reply));
  }
}

async function pop(client: RedisClient, mode: DriverMode, key: string, n: number): Promise<(Buffer | null)[]> {
  if (mode === 'batch') return (await client.rpopBuffer(key, n)) ?? [];
  const p = client.pipeline();
  for (let i = 0; i < n; i++) p.rpopBuffer(key);
  const results = await p.exec();
  checkPipeline(results);
  return (results ?? []).map(([, v]) => (v as Buffer | null) ?? null);
}
