/**
 * The Kafka listener for `omnibus serve` (name 'kafka', default port 9092), and startKafkaServer()
 * for embedding and tests. One node, id 1, leader of every partition.
 *
 * Environment (read by the `serve` listener only; startKafkaServer takes options):
 *   OMNIBUS_USERS=user:pass,...          enables SASL/PLAIN; every request before authentication
 *                                        (other than ApiVersions/SaslHandshake) closes the connection.
 *                                        Unset: no authentication (Kafka's PLAINTEXT listener).
 *   OMNIBUS_KAFKA_ADVERTISED_HOST=h[:p]  host (and port) put in Metadata/FindCoordinator; default
 *                                        the local address each client connected to.
 *   OMNIBUS_KAFKA_AUTO_CREATE=false      disables topic auto-creation (default on, like Kafka).
 *   OMNIBUS_KAFKA_PARTITIONS=N           partitions of auto-created topics (default 1).
 */
import net from 'node:net';
import type { Engine } from '../../engine/engine.js';
import type { EmbeddedTransport } from '../../transports/embedded.js';
import type { EngineContext, ListenOptions, Listener, RunningListener } from '../../server/listener.js';
import { KafkaBroker, type KafkaBrokerOptions } from './server/broker.js';
import { KafkaSession } from './server/session.js';
import './format.js';
import { listenOn } from '../../server/tcp.js';

export interface KafkaServerOptions extends KafkaBrokerOptions {
  host?: string;
  port?: number;
  /** Connections beyond this are refused (default 10,000). */
  maxConnections?: number;
}

export interface KafkaServer extends RunningListener {
  readonly port: number;
  readonly broker: KafkaBroker;
}

/** Parses OMNIBUS_USERS ("user:pass,user2:pass2"); undefined when unset or empty. */
export function kafkaUsersFromEnv(value: string | undefined): Map<string, string> | undefined {
  if (!value || value.trim() === '') return undefined;
  const users = new Map<string, string>();
  for (const item of value.split(',')) {
    const s = item.trim();
    if (s === '') continue;
    const i = s.indexOf(':');
    if (i <= 0) throw new Error(`OMNIBUS_USERS: "${s}" is not user:password`);
    users.set(s.slice(0, i), s.slice(i + 1));
  }
  return users.size > 0 ? users : undefined;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startKafkaServer(engine: Engine, opts: KafkaServerOptions = {}): Promise<KafkaServer> {
  const broker = new KafkaBroker(engine, opts);
  await broker.init();
  const sessions = new Set<KafkaSession>();
  const max = opts.maxConnections ?? 10_000;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    if (sessions.size >= max) {
      socket.destroy();
      return;
    }
    const s = new KafkaSession(socket, broker);
    sessions.add(s);
    void s.closed.then(() => sessions.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listenOn(server, opts.port ?? 9092, host);
  let closing: Promise<void> | undefined;
  return {
    address: hostPort(host, port),
    port,
    broker,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        broker.close();
        await Promise.all([...sessions].map((s) => s.closed));
        await stopped;
      })();
      return closing;
    },
  };
}

export const kafkaListener: Listener = {
  name: 'kafka',
  defaultPort: 9092,
  async start(ctx: EngineContext, opts: ListenOptions): Promise<RunningListener> {
    const engine = (ctx.transport as EmbeddedTransport).engine;
    const env = process.env;
    let advertisedHost: string | undefined;
    let advertisedPort: number | undefined;
    const adv = env['OMNIBUS_KAFKA_ADVERTISED_HOST'];
    if (adv) {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(adv);
      if (!m) throw new Error(`OMNIBUS_KAFKA_ADVERTISED_HOST: "${adv}" is not host[:port]`);
      advertisedHost = m[1]!.replace(/^\[|\]$/g, '');
      advertisedPort = m[2] === undefined ? undefined : Number(m[2]);
    }
    const partitions = env['OMNIBUS_KAFKA_PARTITIONS'];
    return startKafkaServer(engine, {
      host: opts.host,
      port: opts.port,
      users: kafkaUsersFromEnv(env['OMNIBUS_USERS']),
      advertisedHost,
      advertisedPort,
      autoCreateTopics: env['OMNIBUS_KAFKA_AUTO_CREATE'] !== 'false',
      defaultPartitions: partitions ? Number(partitions) : undefined,
      log: (l) => ctx.log(l),
    });
  },
};
