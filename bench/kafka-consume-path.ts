/**
 * The kafka:// transport's own consume cost, without a broker or kafkajs' wire decoding: the real
 * KafkaSubscription is handed synthetic eachBatch calls (what kafkajs passes it: batches of
 * records with an offset string, a timestamp string, the value and an x-omnibus-id header) and the
 * application side drains it with `for await` + `ack()`, as the bench's transport driver does.
 * The baseline makes the same batches and loops over them, as a bare eachBatch consumer does.
 * The difference is the API layer's CPU per message: NetSubscription/NetDelivery, leases, the
 * partition track, header mapping. It is low-noise (no sockets, no broker process), so it shows
 * changes of a few tens of ns that the end-to-end runs on a loaded machine cannot.
 *
 *   node --import tsx bench/kafka-consume-path.ts [--size 128] [--count 600000] [--rounds 3] [--read each|batches]
 *
 * What stands in for kafkajs here is only the consumer object the transport drives (connect,
 * subscribe, run → eachBatch, commitOffsets): nothing is asserted, it is a measurement.
 */
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { KafkaTransport } from '../src/transports/kafka.js';

const argv = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const size = Number(flag('size', '128'));
const count = Number(flag('count', '600000'));
const rounds = Number(flag('rounds', '3'));
/** each: `for await` over the subscription; batches: over `sub.batches()`. */
const read = flag('read', 'each');
/** Records per fetch: ~6,000 at 128 B from a 1 MB partition fetch. */
const perBatch = 6000;

interface EachBatch {
  eachBatch: (p: unknown) => Promise<void>;
}

function makeBatch(base: number, value: Buffer): { topic: string; partition: number; messages: unknown[] } {
  const messages: unknown[] = [];
  for (let i = 0; i < perBatch; i++) {
    messages.push({ offset: String(base + i), key: null, value: value.subarray(0, size), timestamp: String(1_764_290_000_000 + i), headers: { 'x-omnibus-id': Buffer.from('0123456789abcdef') }, attributes: 0 });
  }
  return { topic: 'bench', partition: 0, messages };
}

// A fetch is I/O: timers (the transport's 20 ms commit) run between batches.
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

async function transportPath(): Promise<number> {
  let run: EachBatch | undefined;
  const consumer = {
    events: { CRASH: 'crash', REBALANCING: 'rebalancing', GROUP_JOIN: 'join' },
    on: () => undefined,
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (cfg: EachBatch) => void (run = cfg),
    commitOffsets: async () => undefined,
    disconnect: async () => undefined,
    seek: () => undefined,
  } as unknown as Consumer;
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const admin = { createTopics: async () => true, disconnect: async () => undefined } as unknown as Admin;
  const producer = { disconnect: async () => undefined, send: async () => [] } as unknown as Producer;
  const t = new KafkaTransport('kafka', kafka, producer, admin, 1, { sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 }, true);
  const sub = t.subscribe('bench', { group: 'g', prefetch: 1000 });
  while (!run) await tick();
  const value = Buffer.alloc(size, 0x61);
  const c0 = process.cpuUsage();
  const feed = (async () => {
    for (let b = 0; b < count / perBatch; b++) {
      const batch = makeBatch(b * perBatch, value);
      await tick();
      await run!.eachBatch({ batch, resolveOffset: () => undefined, heartbeat: async () => undefined, pause: () => () => undefined, isRunning: () => true, isStale: () => false });
    }
  })();
  let n = 0;
  if (read === 'batches') {
    outer: for await (const batch of sub.batches()) {
      for (const d of batch) {
        void d.ack();
        if (++n === count) break outer;
      }
    }
  } else {
    for await (const d of sub) {
      void d.ack();
      if (++n === count) break;
    }
  }
  await feed;
  const c = process.cpuUsage(c0);
  await t.close();
  return (c.user + c.system) / count;
}

async function bareLoop(): Promise<number> {
  const value = Buffer.alloc(size, 0x61);
  let bytes = 0;
  const c0 = process.cpuUsage();
  for (let b = 0; b < count / perBatch; b++) {
    const batch = makeBatch(b * perBatch, value);
    await tick();
    for (const m of batch.messages as { value: Buffer }[]) bytes += m.value.length;
  }
  const c = process.cpuUsage(c0);
  if (bytes !== count * size) throw new Error('lost records');
  return (c.user + c.system) / count;
}

const fmt = (x: number): string => x.toFixed(3);
for (let r = 0; r < rounds; r++) {
  const a = await transportPath();
  const b = await bareLoop();
  process.stdout.write(`round ${r + 1}, ${size} B × ${count}: transport path ${fmt(a)} µs/msg, bare eachBatch loop ${fmt(b)} µs/msg, API layer ${fmt(a - b)} µs/msg\n`);
}
