/**
 * The AMQP 0-9-1 listener for `omnibus serve` (name 'amqp', default port 5672), and
 * startAmqpServer() for embedding and tests.
 *
 * Users: `guest`/`guest`, accepted only from loopback addresses (as RabbitMQ's default
 * loopback_users), plus the users of OMNIBUS_USERS=user:pass,user2:pass2 (a user named guest there
 * replaces the default password but stays loopback-only). A password may contain ':'; a user name
 * may not.
 *
 * Resource alarms (session/alarms.ts): publishers are blocked while the process RSS is above the
 * memory high watermark or the data directory's disk has less free space than the limit; `serve`
 * sets them with --amqp-memory-high-watermark and --amqp-disk-free-limit (RabbitMQ's defaults:
 * 0.4 of RAM, 50 MB).
 */
import net from 'node:net';
import type { Engine } from '../../engine/engine.js';
import type { EmbeddedTransport } from '../../transports/embedded.js';
import type { EngineContext, ListenOptions, Listener, RunningListener } from '../../server/listener.js';
import { AmqpBroker, type AmqpBrokerOptions } from './session/broker.js';
import { AmqpConnection } from './session/connection.js';
import { listenOn } from '../../server/tcp.js';
import { DEFAULT_DISK_FREE_LIMIT_BYTES, DEFAULT_MEMORY_HIGH_WATERMARK, parseDiskFreeLimit, parseMemoryHighWatermark, watermarkBytes } from '../../server/resource-limits.js';
import os from 'node:os';

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
  let port: number;
  try {
    port = await listenOn(server, opts.port ?? 5672, host);
  } catch (e) {
    broker.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    address: hostPort(host, port),
    port,
    broker,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        broker.close();
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
    // RabbitMQ's defaults unless `serve` was given --amqp-memory-high-watermark / --amqp-disk-free-limit.
    const mem = ctx.settings?.['amqp-memory-high-watermark'];
    const disk = ctx.settings?.['amqp-disk-free-limit'];
    const alarms = {
      memoryHighWatermarkBytes: watermarkBytes(mem === undefined ? DEFAULT_MEMORY_HIGH_WATERMARK : parseMemoryHighWatermark(mem), os.totalmem()),
      diskFreeLimitBytes: disk === undefined ? DEFAULT_DISK_FREE_LIMIT_BYTES : parseDiskFreeLimit(disk),
      dataDir: ctx.dataDir,
    };
    return startAmqpServer(engine, { host: opts.host, port: opts.port, users, alarms, log: (l) => ctx.log(l) });
  },
};
