/**
 * The MQTT listener for `omnibus serve` (name 'mqtt', default port 1883), and startMqttServer()
 * for embedding and tests.
 *
 * One port serves MQTT over TCP and MQTT over WebSocket (path `/mqtt`, subprotocol `mqtt`): the
 * first byte of a connection decides — an MQTT stream starts with CONNECT (0x10), an HTTP upgrade
 * with `G` (0x47). So `mqtt://host:1883` and `ws://host:1883/mqtt` both work without a second port
 * or flag (mosquitto needs a separate `listener ... protocol websockets`). The WebSocket side uses
 * the `ws` package, loaded on first need; without it, HTTP connections are refused and TCP works.
 *
 * Users: none by default (any credentials accepted). With OMNIBUS_USERS=user:pass,... a CONNECT
 * must carry a listed user and password (else CONNACK 0x05 in 3.1.1, 0x86 in 5).
 */
import net from 'node:net';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../../engine/engine.js';
import type { EmbeddedTransport } from '../../transports/embedded.js';
import type { EngineContext, ListenOptions, Listener, RunningListener } from '../../server/listener.js';
import { MqttBroker, type MqttBrokerOptions } from './session/broker.js';
import { MqttConnection } from './session/connection.js';
import { listenOn, stopReadingWhenPaused } from '../../server/tcp.js';

export interface MqttServerOptions extends MqttBrokerOptions {
  host?: string;
  port?: number;
  /** WebSocket path; default '/mqtt'. */
  wsPath?: string;
}

export interface MqttServer extends RunningListener {
  readonly port: number;
  readonly broker: MqttBroker;
}

/** Parses OMNIBUS_USERS ("user:pass,user2:pass2"); undefined when unset or empty (no auth). */
export function mqttUsersFromEnv(value: string | undefined): Map<string, string> | undefined {
  if (!value || value.trim() === '') return undefined;
  const users = new Map<string, string>();
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

type WsModule = typeof import('ws');

export async function startMqttServer(engine: Engine, opts: MqttServerOptions = {}): Promise<MqttServer> {
  const broker = new MqttBroker(engine, opts);
  await broker.init();
  const sockets = new Set<net.Socket>();
  const wsPath = opts.wsPath ?? '/mqtt';
  let wsMod: Promise<WsModule | undefined> | undefined;
  const loadWs = (): Promise<WsModule | undefined> => (wsMod ??= import('ws').catch(() => undefined));
  let wss: import('ws').WebSocketServer | undefined;

  const httpServer = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end(`MQTT over WebSocket: connect to ${wsPath}\n`);
  });
  httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    loadWs().then(
      (ws) => {
        if (!ws || (path !== wsPath && path !== '/')) {
          socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
          return;
        }
        wss ??= new ws.WebSocketServer({
          noServer: true,
          maxPayload: broker.opts.maxPacketSize,
          handleProtocols: (protocols: Set<string>) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
        });
        wss.handleUpgrade(req, socket, head, (client) => {
          const stream = ws.createWebSocketStream(client);
          new MqttConnection(stream, broker, `ws:${req.socket.remoteAddress ?? '?'}`);
        });
      },
      () => socket.destroy(),
    );
  });

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // A connection that sends nothing never becomes an MqttConnection (whose own timer covers CONNECT).
    const idle = setTimeout(() => socket.destroy(), broker.opts.connectTimeoutMs);
    idle.unref();
    socket.once('data', (first: Buffer) => {
      clearTimeout(idle);
      if (first[0] === 0x47 /* 'G': an HTTP request (WebSocket upgrade) */) {
        socket.pause();
        socket.unshift(first);
        httpServer.emit('connection', socket);
        // The HTTP parser reads the socket handle directly; the byte we already took only reaches it
        // through a 'data' event, which needs the stream flowing again.
        socket.resume();
        return;
      }
      stopReadingWhenPaused(socket);
      new MqttConnection(socket, broker, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`, first);
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listenOn(server, opts.port ?? 1883, host);
  let closing: Promise<void> | undefined;
  return {
    address: hostPort(host, port),
    port,
    broker,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        await broker.close();
        for (const s of sockets) s.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

export const mqttListener: Listener = {
  name: 'mqtt',
  defaultPort: 1883,
  async start(ctx: EngineContext, opts: ListenOptions): Promise<RunningListener> {
    const engine = (ctx.transport as EmbeddedTransport).engine;
    const users = mqttUsersFromEnv(process.env['OMNIBUS_USERS']);
    return startMqttServer(engine, { host: opts.host, port: opts.port, users, log: (l) => ctx.log(l) });
  },
};
