/**
 * The baseline of the transports' API overhead: what a transport puts on the wire, written by hand
 * with the bare client library, so `--driver transport --target URL` and `--driver raw --target
 * URL` move the same messages through the same broker with the same commands, and the difference
 * is the Omnibus API layer (NetSubscription, NetDelivery, lease timers, header mapping).
 *
 * - redis://: what the redis:// transport does. Publish: one MULTI of XADDs per batch, fields
 *   b (body), i (a 16-char message id), ts. Consume: XGROUP CREATE from 0, then XREADGROUP COUNT
 *   <free credit> BLOCK 100 on a connection of its own, one XACK with the ids of each reply on the
 *   command connection (the transport sends the acks of one event-loop turn as one XACK); acks
 *   are awaited every `ackBatch` and at settle points, like the transport driver's bulk acks.
 *   Credit is prefetch minus unacked, as in the transport.
 * - amqp://: what the amqp:// transport does. A durable fanout exchange named after the topic, a
 *   durable queue <topic>.<group> with x-max-priority 10 bound to it (declared in setup, as the
 *   transport driver does for brokers without replay); publishes on a confirm channel, persistent,
 *   with messageId, timestamp and the x-omnibus-ts header, a batch confirmed as a whole; a consumer
 *   with basic.qos = prefetch acking every delivery.
 * - kafka://: what the kafka:// transport does, with bare kafkajs and the transport's client
 *   settings. Setup creates the topic (1 partition) as the transport's first publish does.
 *   Publish: one producer.send per batch, acks=-1, each record with value, timestamp and the
 *   x-omnibus-id header (a 16-char id). Consume: a consumer in group `<group>.<topic>` (the
 *   transport's group naming) from the earliest offset, autoCommit off, reading with eachBatch
 *   and committing the offset after the batch (and at each settle point) with commitOffsets; the
 *   transport commits the settled prefix every 20 ms the same way.
 *
 * What it leaves out on purpose, as API-layer work: the transport's periodic maintenance (Redis:
 * the delayed-message/nack-delay Lua ticks every 100 ms and the XPENDING lease scan every second;
 * Kafka: the retry topic the transport's consumer also reads, and decoding every header into the
 * delivery's headers) is part of what the transport costs, and is therefore not reproduced here.
 */
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import type { Redis as RedisClient } from 'ioredis';
import type { Consumer } from 'kafkajs';
import type { OutgoingMessage } from '../../core/types.js';
import { asBuffer, type BenchDriver, type DequeueSink } from '../driver.js';
import { consumeAll } from './amqp.js';

export interface RawDriverOptions {
  group: string;
  prefetch: number;
  /** Outstanding acks are awaited every this many deliveries (redis). */
  ackBatch: number;
}

export async function rawDriver(url: string, opts: RawDriverOptions): Promise<BenchDriver> {
  const scheme = new URL(url).protocol.replace(/:$/, '');
  if (scheme === 'redis' || scheme === 'rediss') return rawRedis(url, opts);
  if (scheme === 'amqp' || scheme === 'amqps') return rawAmqp(url, opts);
  if (scheme === 'kafka') return rawKafka(url, opts);
  throw new Error(`the raw driver speaks redis://, amqp:// and kafka://, not ${scheme}://`);
}

function hexId(): string {
  const a = (Math.random() * 0x1_0000_0000) >>> 0;
  const b = (Math.random() * 0x1_0000_0000) >>> 0;
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

// ------------------------------------------------------------------------------------- redis

async function rawRedis(url: string, opts: RawDriverOptions): Promise<BenchDriver> {
  const { Redis } = await import('ioredis');
  const open = (): RedisClient => {
    const c = new Redis(url, { noDelay: true, protocol: 2, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    return c;
  };
  const cmd = open();
  await cmd.connect();
  let closed = false;
  return {
    name: 'raw ioredis streams (XADD in MULTI, XREADGROUP, XACK)',
    maxPayload: 512 * 1024 * 1024,
    setup: async () => {},
    teardown: async (topic) => void (await cmd.del(topic)),
    async enqueue(topic, batch) {
      if (batch.length === 0) return;
      const now = String(Date.now());
      const tx = cmd.multi();
      for (const m of batch) tx.xadd(topic, '*', 'b', asBuffer(m.body), 'i', hexId(), 'ts', now);
      const res = await tx.exec();
      if (!res) throw new Error('redis transaction aborted');
      for (const [e] of res) if (e) throw e;
    },
    async dequeue(topic, sink) {
      await cmd.xgroup('CREATE', topic, opts.group, '0', 'MKSTREAM').catch((e: unknown) => {
        if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
      });
      const reader = open();
      await reader.connect();
      const consumer = `c-${hexId()}`;
      let unacked = 0;
      let pending: Promise<unknown>[] = [];
      const flush = async (): Promise<void> => {
        const p = pending;
        pending = [];
        await Promise.all(p);
      };
      try {
        while (!sink.done && !sink.signal.aborted) {
          const credit = opts.prefetch - unacked;
          if (credit <= 0) {
            await flush();
            continue;
          }
          const res = (await reader.callBuffer('XREADGROUP', 'GROUP', opts.group, consumer, 'COUNT', credit, 'BLOCK', 100, 'STREAMS', topic, '>')) as
            | [Buffer, [Buffer, Buffer[]][]][]
            | null;
          // The ids of one reply are acked with one XACK, as the transport coalesces the acks
          // of one event-loop turn (its consumer acks the buffered deliveries in one turn).
          let ids: Buffer[] = [];
          const ackIds = (): void => {
            if (ids.length === 0) return;
            const n = ids.length;
            pending.push(
              cmd.xack(topic, opts.group, ...ids).then(
                () => void (unacked -= n),
                (e: unknown) => {
                  unacked -= n;
                  sink.ackFailed(e);
                },
              ),
            );
            ids = [];
          };
          for (const [, items] of res ?? []) {
            for (const [id, f] of items) {
              let body: Buffer | undefined;
              for (let i = 0; i + 1 < f.length; i += 2) if (f[i]!.length === 1 && f[i]![0] === 0x62 /* b */) body = f[i + 1];
              const settle = sink.take(body ?? Buffer.alloc(0));
              unacked++;
              ids.push(id);
              if (ids.length >= opts.ackBatch) {
                ackIds();
                await flush();
              }
              if (settle) {
                ackIds();
                await flush();
                sink.settled();
              }
              if (sink.done) break;
            }
          }
          ackIds();
        }
        await flush();
      } finally {
        reader.disconnect();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await cmd.quit().catch(() => cmd.disconnect());
    },
  };
}

// -------------------------------------------------------------------------------------- amqp

async function rawAmqp(url: string, opts: RawDriverOptions): Promise<BenchDriver> {
  const amqp = await import('amqplib');
  const conn: ChannelModel = await amqp.connect(url, { noDelay: true });
  conn.on('error', () => undefined);
  const pub: ConfirmChannel = await conn.createConfirmChannel();
  pub.on('error', () => undefined);
  const queueOf = (topic: string): string => `${topic}.${opts.group}`;
  let closed = false;
  return {
    name: 'raw amqplib (persistent publish with confirms to a fanout exchange, consume + ack)',
    maxPayload: 128 * 1024 * 1024,
    async setup(topic) {
      await pub.assertExchange(topic, 'fanout', { durable: true });
      await pub.assertQueue(queueOf(topic), { durable: true, arguments: { 'x-max-priority': 10 } });
      await pub.bindQueue(queueOf(topic), topic, '');
    },
    async teardown(topic) {
      await pub.deleteQueue(queueOf(topic));
      await pub.deleteExchange(topic);
    },
    enqueue: (topic, batch) => publishConfirmed(pub, topic, batch),
    async dequeue(topic, sink) {
      const ch: Channel = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        await consumeAll(ch, queueOf(topic), sink, opts.prefetch);
      } finally {
        await ch.close().catch(() => undefined);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await conn.close().catch(() => undefined);
    },
  };
}

function publishConfirmed(ch: ConfirmChannel, exchange: string, batch: readonly OutgoingMessage[]): Promise<void> {
  if (batch.length === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let left = batch.length;
    let failure: unknown;
    const now = Date.now();
    const onConfirm = (e: unknown): void => {
      if (e && failure === undefined) failure = e;
      if (--left === 0) {
        if (failure === undefined) resolve();
        else reject(failure instanceof Error ? failure : new Error(String(failure)));
      }
    };
    for (const m of batch) {
      ch.publish(exchange, '', asBuffer(m.body), { persistent: true, messageId: hexId(), timestamp: Math.floor(now / 1000), headers: { 'x-omnibus-ts': now } }, onConfirm);
    }
  });
}

// ------------------------------------------------------------------------------------- kafka

async function rawKafka(url: string, opts: RawDriverOptions): Promise<BenchDriver> {
  const { Kafka, logLevel } = await import('kafkajs');
  const u = new URL(url);
  const brokers = (u.searchParams.get('hosts') ?? u.host).split(',').filter((h) => h !== '');
  // The kafka:// transport's client and consumer settings (src/transports/kafka.ts).
  const kafka = new Kafka({
    clientId: `omnibus-raw-${hexId()}`,
    brokers,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
    logLevel: logLevel.NOTHING,
    logCreator: () => () => undefined,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await admin.connect();
  await producer.connect();
  let closed = false;
  return {
    name: 'raw kafkajs (producer.send acks=-1 per batch, consumer group eachBatch + commitOffsets)',
    maxPayload: 1_000_000,
    async setup(topic) {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    },
    teardown: async () => {},
    async enqueue(topic, batch) {
      if (batch.length === 0) return;
      const ts = String(Date.now());
      await producer.send({ topic, acks: -1, messages: batch.map((m) => ({ key: null, value: asBuffer(m.body), timestamp: ts, headers: { 'x-omnibus-id': hexId() } })) });
    },
    async dequeue(topic, sink) {
      const consumer: Consumer = kafka.consumer({ groupId: `${opts.group}.${topic}`, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          sink.signal.addEventListener('abort', () => resolve(), { once: true });
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                const commit = (offset: string): Promise<void> => consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(offset) + 1n).toString() }]);
                let last: string | undefined;
                for (const m of batch.messages) {
                  last = m.offset;
                  if (sink.take(m.value ?? Buffer.alloc(0))) {
                    // A settle point means "received and acknowledged": committed.
                    await commit(m.offset).catch((e: unknown) => sink.ackFailed(e));
                    sink.settled();
                  }
                  if (sink.done) break;
                }
                if (last !== undefined) await commit(last).catch((e: unknown) => sink.ackFailed(e));
                if (sink.done) resolve();
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}
