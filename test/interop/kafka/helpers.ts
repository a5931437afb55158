/** Shared setup for the Kafka interop tests: an in-process listener on a free port over an engine. */
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { startKafkaServer, type KafkaServer, type KafkaServerOptions } from '../../../src/protocols/kafka/listener.js';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';

export interface Broker {
  engine: Engine;
  server: KafkaServer;
  /** "127.0.0.1:port" */
  bootstrap: string;
  kafka(cfg?: Partial<KafkaConfig>): Kafka;
  close(): Promise<void>;
}

export async function startBroker(opts: KafkaServerOptions & { engine?: Engine } = {}): Promise<Broker> {
  const engine = opts.engine ?? (await Engine.open({ storage: new MemoryStorage() }));
  const server = await startKafkaServer(engine, { port: 0, ...opts });
  const bootstrap = `127.0.0.1:${server.port}`;
  return {
    engine,
    server,
    bootstrap,
    kafka: (cfg = {}) => new Kafka({ clientId: 'test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 }, ...cfg }),
    async close() {
      await server.close();
      if (!opts.engine) await engine.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `fn` returns a truthy value (polling), or rejects after `ms`. */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
