/** Shared setup for the AMQP interop tests: an in-process listener on a free port over an engine. */
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { startAmqpServer, type AmqpServer } from '../../../src/protocols/amqp/listener.js';
import type { AmqpServerOptions } from '../../../src/protocols/amqp/listener.js';

export interface Broker {
  engine: Engine;
  server: AmqpServer;
  url: string;
  close(): Promise<void>;
}

export async function startBroker(opts: AmqpServerOptions & { engine?: Engine } = {}): Promise<Broker> {
  const engine = opts.engine ?? (await Engine.open({ storage: new MemoryStorage() }));
  const server = await startAmqpServer(engine, { port: 0, ...opts });
  return {
    engine,
    server,
    url: `amqp://guest:guest@127.0.0.1:${server.port}`,
    async close() {
      await server.close();
      await engine.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `fn` returns a truthy value (polling), or rejects after `ms`. */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}
