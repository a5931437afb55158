/**
 * The RESP listener (`omnibus serve` protocol 'resp', default port 6379): Redis clients speak
 * RESP2/RESP3 to the shared engine. One Session per TCP connection (server/session.ts); the
 * shared state per engine is the Broker (server/broker.ts).
 *
 * Authentication (read when the listener starts):
 *   OMNIBUS_RESP_PASSWORD=secret        password of the `default` user (Redis requirepass):
 *                                       `AUTH secret` / `HELLO 3 AUTH default secret`
 *   OMNIBUS_USERS=alice:pw1,bob:pw2     named users: `AUTH alice pw1` (shared with other listeners)
 * With neither set, no authentication is required (bind to loopback, the CLI's default). With only
 * OMNIBUS_USERS set the default user is disabled: clients must AUTH as a named user.
 *
 * Limits (options of createRespListener; environment in parentheses):
 *   maxBulkLength      largest bulk argument (OMNIBUS_RESP_MAX_BULK, default 512 MiB as Redis)
 *   outputHighWater    unsent reply bytes per connection before the session stops reading (1 MiB)
 *   maxPipelineBytes   unparsed input buffered while a command waits before the socket pauses (16 MiB)
 *   pubsubOutputLimit  unsent pub/sub bytes before a subscriber is disconnected (32 MiB, Redis's hard limit)
 *   maxClients         connections beyond it are refused with `-ERR max number of clients reached` (10000)
 */
import net from 'node:net';
import { adoptSharedRead } from '../../server/tcp.js';
import type { EngineContext, Listener, ListenOptions, RunningListener } from '../../server/listener.js';
import type { EmbeddedTransport } from '../../transports/embedded.js';
import { Broker } from './server/broker.js';
import { Session, type ServerConfig } from './server/session.js';

export interface RespListenerOptions {
  password?: string | undefined;
  users?: ReadonlyMap<string, string> | undefined;
  maxBulkLength?: number;
  outputHighWater?: number;
  maxPipelineBytes?: number;
  pubsubOutputLimit?: number;
  maxClients?: number;
}

/** Parses `user:pass,user2:pass2` (a password may contain ':'; entries are trimmed). */
export function parseUsers(spec: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!spec) return m;
  for (const part of spec.split(',')) {
    const e = part.trim();
    const i = e.indexOf(':');
    if (i <= 0) continue;
    m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function optionsFromEnv(env: NodeJS.ProcessEnv): RespListenerOptions {
  const users = parseUsers(env.OMNIBUS_USERS);
  let password = env.OMNIBUS_RESP_PASSWORD;
  if (password === '') password = undefined;
  const def = users.get('default');
  if (def !== undefined) {
    users.delete('default');
    password ??= def;
  }
  const maxBulk = env.OMNIBUS_RESP_MAX_BULK ? Number(env.OMNIBUS_RESP_MAX_BULK) : undefined;
  return { password, users, ...(maxBulk !== undefined && Number.isSafeInteger(maxBulk) && maxBulk > 0 ? { maxBulkLength: maxBulk } : {}) };
}

export function createRespListener(overrides?: RespListenerOptions): Listener {
  return {
    name: 'resp',
    defaultPort: 6379,
    async start(ctx: EngineContext, opts: ListenOptions): Promise<RunningListener> {
      const o: RespListenerOptions = { ...optionsFromEnv(process.env), ...overrides };
      const engine = (ctx.transport as EmbeddedTransport).engine;
      if (!engine) throw new Error('the RESP listener needs the embedded engine (memory:// or file://)');
      const broker = await Broker.for(engine, (e: unknown) => ctx.log(`resp: ${e instanceof Error ? e.message : String(e)}`));
      const cfg: ServerConfig = {
        broker,
        password: o.password,
        users: o.users ?? new Map(),
        maxBulkLength: o.maxBulkLength ?? 512 * 1024 * 1024,
        outputHighWater: o.outputHighWater ?? 1024 * 1024,
        maxPipelineBytes: o.maxPipelineBytes ?? 16 * 1024 * 1024,
        pubsubOutputLimit: o.pubsubOutputLimit ?? 32 * 1024 * 1024,
        log: (l) => ctx.log(l),
      };
      const maxClients = o.maxClients ?? 10000;
      const sessions = new Set<Session>();
      const sockets = new Set<net.Socket>();
      /** Set by close(): called when the last socket has closed. */
      let allClosed: (() => void) | undefined;
      // Paused on accept so that adoptSharedRead takes the socket over before its first read.
      const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
        let session: Session | undefined;
        const adopted = adoptSharedRead(accepted, (chunk) => session?.onData(chunk));
        const socket = adopted ?? accepted;
        sockets.add(socket);
        socket.on('close', () => {
          sockets.delete(socket);
          if (sockets.size === 0) allClosed?.();
        });
        if (sessions.size >= maxClients || ctx.signal.aborted) {
          broker.rejectedConnections++;
          socket.setNoDelay(true);
          socket.on('error', () => {});
          socket.end('-ERR max number of clients reached\r\n');
          if (!adopted) socket.resume();
          return;
        }
        const s = new Session(cfg, socket, adopted !== undefined);
        session = s;
        sessions.add(s);
        socket.on('close', () => sessions.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error): void => reject(e);
        server.once('error', onError);
        server.listen(opts.port, opts.host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      server.on('error', (e) => ctx.log(`resp: ${e.message}`));
      const addr = server.address() as net.AddressInfo;
      let closing: Promise<void> | undefined;
      return {
        address: `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
        close(): Promise<void> {
          closing ??= new Promise<void>((resolve) => {
            // Adopted sockets are off the server's count (adoptSharedRead): wait for them here.
            let listening = true;
            allClosed = () => {
              if (!listening && sockets.size === 0) resolve();
            };
            server.close(() => {
              listening = false;
              allClosed?.();
            });
            for (const s of sessions) s.close();
            // Half-closed or stuck sockets must not hold shutdown: force after 2 s.
            const force = setTimeout(() => {
              for (const sock of sockets) sock.destroy();
            }, 2000);
            force.unref();
          });
          return closing;
        },
      };
    },
  };
}

export const respListener: Listener = createRespListener();
