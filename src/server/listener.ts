/**
 * Protocol listener plugins for `omnibus serve`: each wire protocol (AMQP, RESP, Kafka, STOMP,
 * MQTT) is a Listener that serves one shared engine on its own TCP port.
 *
 * The CLI reserves `--<name>-port N`, `--no-<name>` and `OMNIBUS_<NAME>_PORT` for every name in
 * PROTOCOLS whether or not its listener exists yet, so scripts written today keep working when the
 * listener lands; a reserved protocol without a listener is reported as "not available yet".
 *
 * A listener module is named in `builtinListeners` below (a static list, so the server's set of
 * protocols is visible in one place and nothing depends on import side effects); each is loaded
 * only when `serve` starts it, so `omnibus --help` or `omnibus bench` never load protocol code
 * and one protocol's module cannot break the others. Embedders and tests can add more with
 * registerListener().
 */
import type { Transport } from '../core/types.js';

/** What a listener gets to serve: the engine (through the public Transport API) and server facts. */
export interface EngineContext {
  readonly transport: Transport;
  /** 'memory' or 'file' (the storage the server was started with). */
  readonly storage: string;
  /** Absolute data directory for file storage; undefined in memory. */
  readonly dataDir: string | undefined;
  /** Aborted when the server begins shutting down: listeners stop accepting new work. */
  readonly signal: AbortSignal;
  /** One line to the server's output (no trailing newline). */
  log(line: string): void;
  /**
   * Listener-specific settings by flag name without the dashes (e.g. 'amqp-memory-high-watermark'),
   * already validated by `serve`; absent keys mean the listener's default.
   */
  readonly settings?: Readonly<Record<string, string | undefined>>;
}

export interface ListenOptions {
  host: string;
  /** 0 = let the OS choose (the chosen port appears in `address`). */
  port: number;
}

export interface RunningListener {
  /** Where it listens, e.g. "127.0.0.1:5672" (printed by `omnibus serve`). */
  readonly address: string;
  /**
   * Stops accepting, ends client connections (returning their unsettled deliveries) and resolves
   * when every socket is closed. Idempotent.
   */
  close(): Promise<void>;
}

export interface Listener {
  /** Lowercase protocol name; the CLI derives `--<name>-port`, `--no-<name>`, `OMNIBUS_<NAME>_PORT`. */
  readonly name: string;
  readonly defaultPort: number;
  /**
   * Binds and starts serving. Must set TCP_NODELAY on every accepted socket (Nagle + delayed ACK
   * turns one-message round trips into ~40 ms stalls; see the seedbench findings). Rejects (e.g.
   * EADDRINUSE) without leaving anything bound.
   */
  start(ctx: EngineContext, opts: ListenOptions): Promise<RunningListener>;
}

/** Reserved protocol names and the ports their clients use by default. */
export const PROTOCOLS: readonly { readonly name: string; readonly defaultPort: number; readonly what: string }[] = [
  { name: 'amqp', defaultPort: 5672, what: 'AMQP 0-9-1 (RabbitMQ clients)' },
  { name: 'resp', defaultPort: 6379, what: 'RESP (Redis clients)' },
  { name: 'kafka', defaultPort: 9092, what: 'Kafka wire protocol' },
  { name: 'stomp', defaultPort: 61613, what: 'STOMP 1.2 (ActiveMQ clients)' },
  { name: 'mqtt', defaultPort: 1883, what: 'MQTT 3.1.1/5' },
];

/** A built-in listener whose module is imported on first start. */
function lazy(name: string, defaultPort: number, load: () => Promise<Listener>): Listener {
  return {
    name,
    defaultPort,
    async start(ctx, opts) {
      return (await load()).start(ctx, opts);
    },
  };
}

/** Listeners compiled into the server (default ports are checked against the modules in test/cli). */
const builtinListeners: Listener[] = [
  lazy('amqp', 5672, async () => (await import('../protocols/amqp/listener.js')).amqpListener),
  lazy('resp', 6379, async () => (await import('../protocols/resp/listener.js')).respListener),
  lazy('stomp', 61613, async () => (await import('../protocols/stomp/listener.js')).stompListener),
  lazy('kafka', 9092, async () => (await import('../protocols/kafka/listener.js')).kafkaListener),
  lazy('mqtt', 1883, async () => (await import('../protocols/mqtt/listener.js')).mqttListener),
];

const extra = new Map<string, Listener>();

/** Adds (or replaces) a listener by name, e.g. from an embedding application or a test. */
export function registerListener(listener: Listener): void {
  extra.set(listener.name.toLowerCase(), listener);
}

/** Every available listener, registered ones overriding built-ins of the same name. */
export function availableListeners(): Listener[] {
  const byName = new Map<string, Listener>();
  for (const l of builtinListeners) byName.set(l.name.toLowerCase(), l);
  for (const [name, l] of extra) byName.set(name, l);
  return [...byName.values()];
}

/** Names the CLI offers flags for: the reserved protocols plus any registered extra listener. */
export function listenerNames(): string[] {
  const names = PROTOCOLS.map((p) => p.name);
  for (const l of availableListeners()) if (!names.includes(l.name.toLowerCase())) names.push(l.name.toLowerCase());
  return names;
}
