/**
 * The STOMP listener for `omnibus serve` (name 'stomp', default port 61613) and startStompServer()
 * for embedding and tests.
 *
 * One port serves both STOMP over TCP and STOMP over WebSocket: a connection whose first bytes
 * are `GET ` is an HTTP request (no STOMP command starts that way) and is handed to an HTTP
 * server that upgrades `/stomp` (and `/`) to WebSocket with subprotocols v12.stomp, v11.stomp,
 * v10.stomp (or none); anything else is STOMP. So browsers and @stomp/stompjs use
 * ws://host:61613/stomp and no second port or CLI flag is needed (ActiveMQ uses 61614 for WS;
 * RabbitMQ 15674). Sniffing costs one buffered chunk per connection.
 *
 * Users: none by default (any login accepted); with OMNIBUS_USERS=user:pass,user2:pass2 set,
 * CONNECT must carry a matching login/passcode. OMNIBUS_STOMP_MAX_REDELIVERIES sets the
 * redeliveries before ActiveMQ.DLQ (default 6).
 */
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import type { Engine } from '../../engine/engine.js';
import type { EngineContext, ListenOptions, Listener, RunningListener } from '../../server/listener.js';
import type { EmbeddedTransport } from '../../transports/embedded.js';
import { StompBroker, type StompBrokerOptions } from './session/broker.js';
import { StompConnection } from './session/connection.js';
import { socketTransport, webSocketTransport } from './session/transport.js';
import { listenOn, stopReadingWhenPaused } from '../../server/tcp.js';

export interface StompServerOptions extends StompBrokerOptions {
  host?: string;
  port?: number;
}

export interface StompServer extends RunningListener {
  readonly port: number;
  readonly broker: StompBroker;
}

/** Parses OMNIBUS_USERS ("user:pass,user2:pass2"; a password may contain ':'). */
export function stompUsersFromEnv(value: string | undefined): Map<string, string> {
  const users = new Map<string, string>();
  if (!value) return users;
  for (const item of value.split(',')) {
    const s = item.trim();
    const i = s.indexOf(':');
    if (i > 0) users.set(s.slice(0, i), s.slice(i + 1));
  }
  return users;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const GET = Buffer.from('GET ');
const WS_PROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

export async function startStompServer(engine: Engine, opts: StompServerOptions = {}): Promise<StompServer> {
  const broker = new StompBroker(engine, opts);
  await broker.init();
  const sockets = new Set<net.Socket>();
  const hwm = broker.opts.outputHighWater;

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: broker.opts.limits.maxBodyBytes + broker.opts.limits.maxHeaderBytes + 1024,
    handleProtocols: (offered) => {
      for (const p of WS_PROTOCOLS) if (offered.has(p)) return p;
      return false;
    },
  });
  const httpServer = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('STOMP over WebSocket: connect to ws://<host>:<port>/stomp\n');
  });
  httpServer.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/stomp' && path !== '/') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      let conn: StompConnection | undefined = undefined;
      const t = webSocketTransport(ws, remote, () => conn?.onDrain(), hwm);
      conn = new StompConnection(broker, t);
      const c = conn;
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        if (Array.isArray(data)) for (const d of data) c.onData(d);
        else c.onData(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
      });
      ws.on('close', () => c.onTransportClosed());
      ws.on('error', () => c.onTransportClosed());
    });
  });

  const serveStomp = (socket: net.Socket, first: Buffer): void => {
    const conn = new StompConnection(broker, socketTransport(socket));
    stopReadingWhenPaused(socket);
    socket.on('data', (d: Buffer) => conn.onData(d));
    socket.on('drain', () => conn.onDrain());
    socket.on('close', () => conn.onTransportClosed());
    conn.onData(first);
  };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    if (broker.connections.size >= broker.opts.maxConnections) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let seen: Buffer = Buffer.alloc(0);
    const sniff = (d: Buffer): void => {
      seen = seen.length === 0 ? d : Buffer.concat([seen, d]);
      const n = Math.min(seen.length, GET.length);
      const maybeHttp = seen.subarray(0, n).equals(GET.subarray(0, n));
      if (maybeHttp && seen.length < GET.length) return;
      socket.off('data', sniff);
      if (maybeHttp) {
        socket.pause();
        socket.unshift(seen);
        httpServer.emit('connection', socket);
        socket.resume();
      } else serveStomp(socket, seen);
    };
    socket.on('data', sniff);
  });

  const host = opts.host ?? '127.0.0.1';
  const port = await listenOn(server, opts.port ?? 61613, host);
  server.on('error', (e) => broker.opts.log(`stomp: ${e.message}`));
  let closing: Promise<void> | undefined;
  return {
    address: hostPort(host, port),
    port,
    broker,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        await Promise.all([...broker.connections].map((c) => c.shutdown()));
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        const force = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 2000);
        force.unref();
        await stopped;
        clearTimeout(force);
      })();
      return closing;
    },
  };
}

export const stompListener: Listener = {
  name: 'stomp',
  defaultPort: 61613,
  async start(ctx: EngineContext, opts: ListenOptions): Promise<RunningListener> {
    const engine = (ctx.transport as EmbeddedTransport).engine;
    const users = stompUsersFromEnv(process.env['OMNIBUS_USERS']);
    const mr = Number(process.env['OMNIBUS_STOMP_MAX_REDELIVERIES']);
    return startStompServer(engine, {
      host: opts.host,
      port: opts.port,
      users,
      ...(Number.isInteger(mr) && mr >= 0 && process.env['OMNIBUS_STOMP_MAX_REDELIVERIES'] ? { maxRedeliveries: mr } : {}),
      log: (l) => ctx.log(l),
    });
  },
};
