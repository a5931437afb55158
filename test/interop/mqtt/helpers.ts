/** Shared setup for the MQTT interop tests: an in-process listener on a free port over an engine. */
import net from 'node:net';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { startMqttServer, type MqttServer, type MqttServerOptions } from '../../../src/protocols/mqtt/listener.js';
import { encodePacket, MqttDecoder, type Packet } from '../../../src/protocols/mqtt/codec/index.js';

export interface Broker {
  engine: Engine;
  server: MqttServer;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startBroker(opts: MqttServerOptions & { engine?: Engine } = {}): Promise<Broker> {
  const engine = opts.engine ?? (await Engine.open({ storage: new MemoryStorage() }));
  const server = await startMqttServer(engine, { port: 0, ...opts });
  return {
    engine,
    server,
    port: server.port,
    url: `mqtt://127.0.0.1:${server.port}`,
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

/** Connects an mqtt.js client (no automatic reconnect unless asked) and waits for CONNACK. */
export async function connect(b: Broker | string, opts: IClientOptions = {}): Promise<MqttClient> {
  return (await connectAck(b, opts)).client;
}

/** Like connect(), also returning the CONNACK. */
export async function connectAck(
  b: Broker | string,
  opts: IClientOptions = {},
): Promise<{ client: MqttClient; connack: mqtt.IConnackPacket; got: Received[] }> {
  const c = mqtt.connect(typeof b === 'string' ? b : b.url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  // Messages can arrive in the same read as the CONNACK (a resumed session): collect from the start.
  const got = collect(c);
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    c.once('connect', (p) => resolve(p));
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
  c.removeAllListeners('error');
  c.removeAllListeners('close');
  c.on('error', () => {});
  return { client: c, connack, got };
}

/** Connects and expects a refusal; resolves with the error mqtt.js reports. */
export function connectRefused(b: Broker, opts: IClientOptions = {}): Promise<Error & { code?: number }> {
  const c = mqtt.connect(b.url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  return new Promise((resolve, reject) => {
    c.once('connect', () => {
      c.end(true);
      reject(new Error('connected'));
    });
    c.once('error', (e) => {
      c.end(true);
      resolve(e as Error & { code?: number });
    });
  });
}

export interface Received {
  topic: string;
  payload: string;
  packet: mqtt.IPublishPacket;
}

/** Collects messages of a client. */
export function collect(c: MqttClient): Received[] {
  const out: Received[] = [];
  c.on('message', (topic, payload, packet) => out.push({ topic, payload: payload.toString(), packet }));
  return out;
}

export function end(c: MqttClient, force = false): Promise<void> {
  if (!c.connected) {
    // mqtt.js never calls back end() of a client whose connection is already gone.
    c.end(true);
    return Promise.resolve();
  }
  return new Promise((r) => {
    // ...nor, sometimes, of one whose socket the server closed a moment ago: do not wait forever.
    const t = setTimeout(() => {
      c.end(true);
      r();
    }, 1000);
    c.end(force, {}, () => {
      clearTimeout(t);
      r();
    });
  });
}

/**
 * A raw MQTT subscriber: connects with `connect` (a CONNECT packet's fields), subscribes to `topic`
 * at `qos` (default 1) and waits for the SUBACK; packets() decodes everything the server wrote so far.
 */
export async function rawSubscriber(port: number, version: 4 | 5, connect: Record<string, unknown>, topic: string, qos: 0 | 1 | 2 = 1) {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  const packets = (): Packet[] => new MqttDecoder({ version }).push(Buffer.concat(chunks));
  const publishes = (): (Packet & { type: 'publish' })[] => packets().filter((p): p is Packet & { type: 'publish' } => p.type === 'publish');
  const pongs = (): number => packets().filter((p) => p.type === 'pingresp').length;
  const send = (p: Packet): boolean => s.write(encodePacket(p, version));
  /** A PINGREQ round trip: everything the server wrote in reply to what was sent before it is in. */
  const roundTrip = async (): Promise<void> => {
    const n = pongs();
    send({ type: 'pingreq' });
    await waitFor(() => pongs() > n);
  };
  send({ type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepalive: 30, ...connect } as Packet);
  send({ type: 'subscribe', packetId: 1, subscriptions: [{ topic, qos }] });
  await waitFor(() => packets().some((p) => p.type === 'suback'));
  return { s, packets, publishes, send, roundTrip };
}
