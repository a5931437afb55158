/**
 * Kafka over the wire, for the seed harness: a topic of one partition per size (so the seed's
 * sequence order is the log order), produced and then consumed through any Kafka broker —
 * Omnibus's Kafka listener (`omnibus serve`) or another.
 *
 * Modes:
 * - kcat: librdkafka through Debian's kcat, so the client is not the bottleneck of what is
 *   measured. One long-lived `kcat -P` per topic is fed newline-delimited bodies on stdin (the
 *   seed payloads are ASCII digits and letters: no newline inside); kcat batches them as
 *   librdkafka does (linger 5 ms, batches up to 1 MB) with acks=1. kcat prints no per-message
 *   delivery report, so a batch counts as enqueued when the partition's high watermark (ListOffsets,
 *   polled every POLL_MS over one kafkajs admin connection) has reached its last record: the
 *   broker appended it, which is what acks=1 acknowledges. The harness should keep many batches
 *   in flight (SeedOptions.publishers ≈ 100 × 1000 records) or the 2 ms poll paces the run.
 *   Dequeue runs `kcat -C -o beginning -c N` and splits its stdout on newlines.
 * - kafkajs: the Node client in the repo (kafkajs 2.2.4), one producer.send per batch with
 *   acks=1 (publishers in flight as the harness chooses), and a consumer group reading with
 *   eachBatch; a settle point is settled at once (Kafka consumers have no per-message ack; the
 *   group's offsets are not committed during the run).
 *
 * Not measured here: librdkafka's mock cluster (it lives inside one client process, so produce and
 * consume must share it: bench/kafka-seed.mjs drives it from confluent-kafka).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { OutgoingMessage } from '../../core/types.js';
import { asBuffer, sleep, type BenchDriver, type DequeueSink } from '../driver.js';
import type { Producer } from 'kafkajs';

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise<void>((r) => proc.once('exit', () => r()));
}

export type KafkaDriverMode = 'kcat' | 'kafkajs';

/** Kafka's default message.max.bytes (1 MB); Omnibus's engine accepts more, clients do not by default. */
const KAFKA_MAX_MESSAGE = 1_000_000;
/** High-watermark poll interval for kcat produce confirmation. */
const POLL_MS = 2;
/**
 * kcat keeps the tail of its stdin (a few records short of a read block) until more input or EOF.
 * When batches are waiting, everything was handed to the pipe, nothing was written and the
 * watermark has not moved for this long, the driver ends kcat's stdin (kcat flushes and exits) and starts a new kcat for the next batch: the
 * run's last batch pays this once.
 */
const TAIL_FLUSH_MS = 200;

interface KcatProducer {
  proc: ChildProcess;
  sent: number;
  error?: Error;
  lastWrite: number;
  lastHw: number;
  lastHwChange: number;
  drained?: Promise<void> | undefined;
}

interface Waiter {
  end: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export async function kafkaDriver(bootstrap: string, mode: KafkaDriverMode, opts: { kcat?: string } = {}): Promise<BenchDriver> {
  if (mode !== 'kcat' && mode !== 'kafkajs') throw new Error(`kafka driver has no mode "${String(mode)}"`);
  const { Kafka, logLevel } = await import('kafkajs').catch((e: unknown) => {
    throw new Error(`the kafka driver needs the kafkajs package: ${e instanceof Error ? e.message : String(e)}`);
  });
  const kcatBin = opts.kcat ?? 'kcat';
  const kafka = new Kafka({ clientId: 'omnibus-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  // kafkajs: one producer per topic. A kafkajs client keeps every topic it ever produced to in
  // its metadata requests, so after teardown deleted the previous size's topic a shared
  // producer's next metadata refresh fails with UNKNOWN_TOPIC_OR_PARTITION (non-retriable).
  const jsProducers = new Map<string, Producer>();

  // kcat produce state, per topic.
  const producers = new Map<string, KcatProducer>();
  /** kcat producers whose stdin was ended, by topic: the next one starts after it exited (order). */
  const retiring = new Map<string, Promise<void>>();
  const sentTotal = new Map<string, number>();
  const waiters = new Map<string, Waiter[]>();
  let polling = false;
  let closed = false;

  const highWatermark = async (topic: string): Promise<number> => {
    const offs = await admin.fetchTopicOffsets(topic);
    return Number(offs[0]?.high ?? 0);
  };

  /** One poll loop for all topics' waiters while any wait. */
  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      while (!closed) {
        let any = false;
        for (const [topic, ws] of waiters) {
          if (ws.length === 0) continue;
          any = true;
          const p = producers.get(topic);
          if (p?.error) {
            for (const w of ws.splice(0)) w.reject(p.error);
            continue;
          }
          const hw = await highWatermark(topic);
          while (ws.length > 0 && ws[0]!.end <= hw) ws.shift()!.resolve();
          if (p && ws.length > 0) {
            const now = Date.now();
            if (hw !== p.lastHw) {
              p.lastHw = hw;
              p.lastHwChange = now;
            } else if (p.proc.stdin!.writableLength === 0 && now - p.lastWrite > TAIL_FLUSH_MS && now - p.lastHwChange > TAIL_FLUSH_MS) retire(topic, p);
          }
        }
        if (!any) return;
        await sleep(POLL_MS);
      }
    } finally {
      polling = false;
    }
  };

  const retire = (topic: string, p: KcatProducer): void => {
    if (producers.get(topic) !== p) return;
    producers.delete(topic);
    p.proc.stdin!.end();
    retiring.set(topic, exited(p.proc));
  };

  const kcatProducer = async (topic: string): Promise<KcatProducer> => {
    const r = retiring.get(topic);
    if (r) await r;
    let p = producers.get(topic);
    if (p) return p;
    const proc = spawn(kcatBin, ['-b', bootstrap, '-P', '-t', topic, '-p', '0', '-X', 'acks=1', '-X', `message.max.bytes=${KAFKA_MAX_MESSAGE + 1024}`], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const now = Date.now();
    const state: KcatProducer = { proc, sent: 0, lastWrite: now, lastHw: -1, lastHwChange: now };
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    proc.stdin!.on('error', (e: Error) => (state.error ??= e));
    proc.once('exit', (code) => {
      if (code !== 0) state.error ??= new Error(`kcat -P exited ${code}: ${stderr}`);
    });
    p = state;
    producers.set(topic, p);
    return p;
  };

  const kcatEnqueue = async (topic: string, batch: readonly OutgoingMessage[]): Promise<void> => {
    const p = await kcatProducer(topic);
    if (p.error) throw p.error;
    let bytes = 0;
    for (const m of batch) bytes += (m.body as Uint8Array).length + 1;
    const buf = Buffer.allocUnsafe(bytes);
    let off = 0;
    for (const m of batch) {
      const b = asBuffer(m.body);
      b.copy(buf, off);
      off += b.length;
      buf[off++] = 10;
    }
    // Offsets are counted per topic across kcat processes.
    sentTotal.set(topic, (sentTotal.get(topic) ?? 0) + batch.length);
    const end = sentTotal.get(topic)!;
    p.sent += batch.length;
    p.lastWrite = Date.now();
    const ok = p.proc.stdin!.write(buf);
    const acked = new Promise<void>((resolve, reject) => {
      let ws = waiters.get(topic);
      if (!ws) waiters.set(topic, (ws = []));
      ws.push({ end, resolve, reject });
    });
    void poll();
    if (!ok) {
      // One shared 'drain' wait for all publishers blocked on this pipe.
      // 'close' too: a retired (ended) stdin flushes its buffer but never emits 'drain'.
      p.drained ??= new Promise<void>((r) => {
        const done = (): void => {
          p.drained = undefined;
          p.proc.stdin!.off('drain', done);
          p.proc.stdin!.off('close', done);
          r();
        };
        p.proc.stdin!.once('drain', done);
        p.proc.stdin!.once('close', done);
      });
      await p.drained;
    }
    await acked;
  };

  const kcatDequeue = async (topic: string, sink: DequeueSink): Promise<void> => {
    const proc = spawn(kcatBin, ['-b', bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-q', '-c', String(sink.remaining), '-X', 'fetch.message.max.bytes=4194304'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const exited = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
    const onAbort = (): void => void proc.kill('SIGKILL');
    sink.signal.addEventListener('abort', onAbort, { once: true });
    let rest: Buffer | undefined;
    proc.stdout!.on('data', (chunk: Buffer) => {
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
        if (sink.take(buf.subarray(start, i))) sink.settled();
        start = i + 1;
      }
      rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
    });
    try {
      const code = await exited;
      if (code !== 0 && !sink.signal.aborted && !sink.done) throw new Error(`kcat -C exited ${code}: ${stderr}`);
    } finally {
      sink.signal.removeEventListener('abort', onAbort);
    }
  };

  const kafkajsDequeue = async (topic: string, sink: DequeueSink): Promise<void> => {
    const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytes: 64 << 20, maxBytesPerPartition: 16 << 20, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => resolve();
        sink.signal.addEventListener('abort', onAbort, { once: true });
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                if (m.value && sink.take(m.value)) sink.settled();
              }
              if (sink.done) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
  };

  return {
    name: `kafka ${mode}`,
    maxPayload: KAFKA_MAX_MESSAGE,
    async setup(topic) {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      if (mode === 'kafkajs') {
        const p = kafka.producer({ allowAutoTopicCreation: false });
        await p.connect();
        jsProducers.set(topic, p);
      }
    },
    enqueue: (topic, batch) =>
      mode === 'kcat'
        ? kcatEnqueue(topic, batch)
        : jsProducers
            .get(topic)!
            .send({ topic, acks: 1, messages: batch.map((m) => ({ value: asBuffer(m.body) })) })
            .then(() => undefined),
    async dequeue(topic, sink) {
      // kcat -P buffers until its stdin closes or linger expires: end it so its last batch is flushed.
      const p = producers.get(topic);
      if (p) retire(topic, p);
      await retiring.get(topic);
      retiring.delete(topic);
      await (mode === 'kcat' ? kcatDequeue(topic, sink) : kafkajsDequeue(topic, sink));
    },
    async teardown(topic) {
      const p = jsProducers.get(topic);
      jsProducers.delete(topic);
      if (p) await p.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const p of producers.values()) p.proc.kill('SIGKILL');
      producers.clear();
      for (const ws of waiters.values()) for (const w of ws.splice(0)) w.reject(new Error('driver closed'));
      for (const p of jsProducers.values()) await p.disconnect();
      jsProducers.clear();
      await admin.disconnect();
    },
  };
}
