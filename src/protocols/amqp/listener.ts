/**
 * The AMQP 0-9-1 listener for `omnibus serve` (name 'amqp', default port 5672), and
 * startAmqpServer() for embedding and tests.
 *
 * Users: `guest`/`guest`, accepted only from loopback addresses (as RabbitMQ's default
 * loopback_users), plus the users of OMNIBUS_USERS=user:pass,user2:pass2 (a user named guest there
 * replaces the default password but stays loopback-only). A password may contain ':'; a user name
 * may not.
 */
import net from 'node:net';
import type { Engine } from '../../engine/engine.js';
import type { EmbeddedTransport } from '../../transports/embedded.js';
import type { EngineContext, ListenOptions, Listener, RunningListener } from '../../server/listener.js';
import { AmqpBroker, type AmqpBrokerOptions } from './session/broker.js';
import { AmqpConnection } from './session/connection.js';
import { listenOn } from '../../server/tcp.js';

export interface AmqpServerOptions extends AmqpBrokerOptions {
  host?: string;
  port?: number;
}

export interface AmqpServer extends RunningListener {
  readonly port: number;
  readonly broker: AmqpBroker;
}

/** Parses OMNIBUS_USERS ("user:pass,user2:pass2") on top of the default guest user. */
export function usersFromEnv(value: string | undefined): Map<string, string> {
  const users = new Map([['guest', 'guest']]);
  if (!value) return users;
  for (const item of value.split(',')) {
    const s = item.trim();
    if (s === '') continue;
    const i = s.indexOf(':');
    if (i <= 0) throw new Error(`OMNIBUS_USERS: "${s}" is not user:password`);
    users.set(s.slice(0, i), s.slice(i + 1));
  }
  return users;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startAmqpServer(engine: Engine, opts: AmqpServerOptions = {}): Promise<AmqpServer> {
  const broker = new AmqpBroker(engine, opts);
  await broker.init();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    if (broker.connections.size >= broker.opts.maxConnections) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new AmqpConnection(socket, broker);
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listenOn(server, opts.port ?? 5672, host);
  let closing: Promise<void> | undefined;
  return {
    address: hostPort(host, port),
    port,
    broker,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        await Promise.all([...broker.connections].map((c) => c.shutdown()));
        for (const s of sockets) s.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

export const amqpListener: Listener = {
  name: 'amqp',
  defaultPort: 5672,
  async start(ctx: EngineContext, opts: ListenOptions): Promise<RunningListener> {
    const engine = (ctx.transport as EmbeddedTransport).engine;
    const users = usersFromEnv(process.env['OMNIBUS_USERS']);
    return startAmqpServer(engine, { host: opts.host, port: opts.port, users, log: (l) => ctx.log(l) });
  },
};
