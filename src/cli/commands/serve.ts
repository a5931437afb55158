/**
 * `omnibus serve`: one engine (memory:// or file://) behind an HTTP health endpoint and the
 * protocol listeners of src/server/listener.ts, with graceful shutdown on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Transport } from '../../core/types.js';
import { availableListeners, listenerNames, PROTOCOLS, type EngineContext, type RunningListener } from '../../server/listener.js';
import { parseFlags, parseFsync, parsePort, type Fsync, type Values } from '../args.js';
import { CommandError, UsageError, type CliIO } from '../io.js';
import { parseDiskFreeLimit, parseMemoryHighWatermark } from '../../server/resource-limits.js';
import { loadEngine } from '../engine.js';

const CMD = 'serve';

/**
 * Listener settings beyond ports: flag name → validator (throws an Error with the reason). The
 * value reaches the listener as EngineContext.settings[name]; env OMNIBUS_<NAME> and the config
 * file key <name> work as for every flag.
 */
const LISTENER_SETTINGS: Readonly<Record<string, (raw: string) => unknown>> = {
  'amqp-memory-high-watermark': parseMemoryHighWatermark,
  'amqp-disk-free-limit': parseDiskFreeLimit,
};

/** Unassigned by IANA and far from every broker port we emulate; "omnibus" ~ 1568. */
export const DEFAULT_HEALTH_PORT = 15680;
const DEFAULTS = { data: './data', fsync: 'always' as Fsync, host: '127.0.0.1', healthPort: DEFAULT_HEALTH_PORT };

export const serveSummary = 'run the broker: storage, health endpoint and protocol listeners';

export function serveHelp(): string {
  const protoLines = listenerNames()
    .map((name) => {
      const p = PROTOCOLS.find((x) => x.name === name);
      const l = availableListeners().find((x) => x.name.toLowerCase() === name);
      const port = l?.defaultPort ?? p?.defaultPort;
      return `  --${name}-port N`.padEnd(23) + `${p?.what ?? name} port (default ${port ?? '?'})${l ? '' : ' - not available yet'}\n` + `  --no-${name}`.padEnd(23) + `do not start the ${name} listener\n`;
    })
    .join('');
  const protoEnv = listenerNames().map((n) => `OMNIBUS_${n.toUpperCase()}_PORT`).join(', ');
  return `Usage: omnibus serve [flags]

Runs one Omnibus engine and serves it over HTTP health checks and the wire
protocols below. Prints where it listens and where its data is; SIGTERM or
SIGINT shuts down gracefully (stop accepting, close listeners, flush and
fsync the store, exit 0); a second signal forces exit 1.

Storage:
  --data DIR           data directory (default ./data; created if missing)
  --memory             in-memory engine: no data directory, nothing persists
  --fsync POLICY       always | interval | never (default always)
                         always:   a publish is confirmed after fsync (group commit)
                         interval: confirmed when written; fsync every 200 ms
                         never:    confirmed when written; the OS decides

Network:
  --host ADDR          address every listener binds (default 127.0.0.1)
  --health-port N      HTTP health port (default ${DEFAULT_HEALTH_PORT}, "off" disables):
                         GET /healthz  200 {"status":"ok", storage, dataDir, uptimeSec, ...}
                         GET /readyz   200 when serving, 503 while starting/stopping
${protoLines}                       a port may be 0 (OS-chosen) or "off"

Resource alarms (AMQP publishers get connection.blocked and are not read
while one is on, as with RabbitMQ):
  --amqp-memory-high-watermark W
                       process RSS above W: a fraction of RAM (default 0.4),
                       a size (512MiB, 2GB) or "off"
  --amqp-disk-free-limit L
                       free space of the data directory's disk below L
                       (default 50MB; sizes as above, or "off"); file storage only

Configuration:
  --config FILE        JSON file with the same keys as the flags, e.g.
                         {"data": "/var/lib/omnibus", "fsync": "interval",
                          "host": "0.0.0.0", "health-port": 15680,
                          "amqp-port": 5672, "mqtt-port": "off", "memory": false}
                       a relative "data" is resolved against the file's folder
  -h, --help           show this help

Environment (same meaning as the flags): OMNIBUS_CONFIG, OMNIBUS_DATA,
OMNIBUS_MEMORY (1/true), OMNIBUS_FSYNC, OMNIBUS_HOST, OMNIBUS_HEALTH_PORT,
${protoEnv},
OMNIBUS_AMQP_MEMORY_HIGH_WATERMARK, OMNIBUS_AMQP_DISK_FREE_LIMIT.
Precedence: flag > environment > config file > default.

Exit codes: 0 after a graceful shutdown, 1 engine/storage error (e.g. an
unusable data directory) or forced exit, 2 usage.
`;
}

function options(): Record<string, { type: 'string' | 'boolean' }> {
  const o: Record<string, { type: 'string' | 'boolean' }> = {
    data: { type: 'string' },
    memory: { type: 'boolean' },
    fsync: { type: 'string' },
    host: { type: 'string' },
    'health-port': { type: 'string' },
    config: { type: 'string' },
  };
  for (const k of Object.keys(LISTENER_SETTINGS)) o[k] = { type: 'string' };
  for (const name of listenerNames()) {
    o[`${name}-port`] = { type: 'string' };
    o[`no-${name}`] = { type: 'boolean' };
  }
  return o;
}

export interface ProtocolSetting {
  name: string;
  /** undefined = disabled. */
  port: number | undefined;
  /** Set by a flag, the environment or the config file (not just the default). */
  explicit: boolean;
}

export interface ServeConfig {
  storage: 'memory' | 'file';
  /** Absolute; undefined in memory. */
  dataDir: string | undefined;
  fsync: Fsync;
  host: string;
  healthPort: number | undefined;
  protocols: ProtocolSetting[];
  /** Validated listener settings (LISTENER_SETTINGS keys that were given). */
  settings: Record<string, string>;
}

/** One source of settings (flags, env or config file), already in flag vocabulary. */
interface Layer {
  label: (key: string) => string;
  get(key: string): string | boolean | number | undefined;
}

function readConfigFile(file: string): { layer: Layer; dir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(CMD, `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UsageError(CMD, `config file ${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(CMD, `config file ${file} must hold a JSON object`);
  const known = new Set(['data', 'memory', 'fsync', 'host', 'health-port', ...Object.keys(LISTENER_SETTINGS), ...listenerNames().map((n) => `${n}-port`)]);
  const rec = obj as Record<string, unknown>;
  for (const [k, val] of Object.entries(rec)) {
    if (!known.has(k)) throw new UsageError(CMD, `config file ${file}: unknown key "${k}"`);
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') {
      throw new UsageError(CMD, `config file ${file}: "${k}" must be a string, number or boolean`);
    }
  }
  return {
    dir: path.dirname(path.resolve(file)),
    layer: { label: (k) => `"${k}" in ${file}`, get: (k) => rec[k] as string | number | boolean | undefined },
  };
}

function truthy(label: string, v: string | boolean | number): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  throw new UsageError(CMD, `${label} must be true or false, got "${s}"`);
}

/** Resolves every setting with precedence flag > env > config file > default. Exported for tests. */
export function resolveServeConfig(argv: readonly string[], env: CliIO['env'], cwd = process.cwd()): ServeConfig {
  const v: Values = parseFlags(CMD, argv, options());
  const flags: Layer = { label: (k) => `--${k}`, get: (k) => v[k] };
  const envKey = (k: string): string => 'OMNIBUS_' + k.toUpperCase().replace(/-/g, '_');
  const envLayer: Layer = { label: (k) => envKey(k), get: (k) => (env[envKey(k)] === undefined || env[envKey(k)] === '' ? undefined : env[envKey(k)]) };
  const configPath = typeof v.config === 'string' ? v.config : env.OMNIBUS_CONFIG || undefined;
  const cfg = configPath === undefined ? undefined : readConfigFile(path.resolve(cwd, configPath));
  const layers: { layer: Layer; base: string }[] = [
    { layer: flags, base: cwd },
    { layer: envLayer, base: cwd },
    ...(cfg ? [{ layer: cfg.layer, base: cfg.dir }] : []),
  ];
  const pick = (key: string): { value: string | boolean | number; label: string; base: string } | undefined => {
    for (const { layer, base } of layers) {
      const value = layer.get(key);
      if (value !== undefined) return { value, label: layer.label(key), base };
    }
    return undefined;
  };

  // Storage: the highest layer that says anything about it decides; within one layer --memory
  // together with --data is a contradiction.
  let storage: ServeConfig['storage'] = 'file';
  let dataDir = path.resolve(cwd, DEFAULTS.data);
  for (const { layer, base } of layers) {
    const mem = layer.get('memory');
    const data = layer.get('data');
    const isMem = mem !== undefined && truthy(layer.label('memory'), mem);
    if (isMem && data !== undefined) throw new UsageError(CMD, `${layer.label('memory')} and ${layer.label('data')} contradict each other`);
    if (isMem) {
      storage = 'memory';
      break;
    }
    if (data !== undefined) {
      if (typeof data !== 'string' || data.trim() === '') throw new UsageError(CMD, `${layer.label('data')} must be a directory path`);
      dataDir = path.resolve(base, data);
      break;
    }
    if (mem !== undefined) break; // an explicit "memory: false" in this layer means the default file storage
  }

  const fs = pick('fsync');
  const fsync = fs === undefined ? DEFAULTS.fsync : parseFsync(CMD, fs.label, String(fs.value));
  const h = pick('host');
  const host = h === undefined ? DEFAULTS.host : String(h.value).trim();
  if (host === '') throw new UsageError(CMD, `${h?.label ?? '--host'} must not be empty`);
  const hp = pick('health-port');
  const healthPort = hp === undefined ? DEFAULTS.healthPort : parsePort(CMD, hp.label, hp.value as string | number);

  const protocols: ProtocolSetting[] = listenerNames().map((name) => {
    if (v[`no-${name}`] === true) {
      if (v[`${name}-port`] !== undefined) throw new UsageError(CMD, `--no-${name} and --${name}-port contradict each other`);
      return { name, port: undefined, explicit: true };
    }
    const p = pick(`${name}-port`);
    const def = availableListeners().find((l) => l.name.toLowerCase() === name)?.defaultPort ?? PROTOCOLS.find((x) => x.name === name)?.defaultPort;
    if (p === undefined) return { name, port: def, explicit: false };
    return { name, port: parsePort(CMD, p.label, p.value as string | number), explicit: true };
  });

  const settings: Record<string, string> = {};
  for (const [key, validate] of Object.entries(LISTENER_SETTINGS)) {
    const p = pick(key);
    if (p === undefined) continue;
    const value = String(p.value);
    try {
      validate(value);
    } catch (e) {
      throw new UsageError(CMD, `${p.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
    settings[key] = value;
  }

  return { storage, dataDir: storage === 'file' ? dataDir : undefined, fsync, host, healthPort, protocols, settings };
}

/** The URL the engine is opened with. pathToFileURL percent-encodes spaces, '#', '?' in the path. */
export function storageUrl(cfg: ServeConfig): string {
  if (cfg.storage === 'memory' || cfg.dataDir === undefined) return 'memory://';
  const u = pathToFileURL(cfg.dataDir);
  u.searchParams.set('fsync', cfg.fsync);
  // A server runs long: its write buffers are touched at start, not during the first 64 MiB.
  u.searchParams.set('prefault', '1');
  return u.toString();
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function describeListenError(what: string, host: string, port: number, e: unknown, hint: string): CommandError {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const why =
    code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges' : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : `failed: ${e instanceof Error ? e.message : String(e)}`;
  return new CommandError(`${what} ${hostPort(host, port)} ${why} (${hint})`, { cause: e });
}

type Phase = 'starting' | 'serving' | 'stopping';

/**
 * Awaits `p` unless shutdown is requested first: then fails with `why`, and closes the transport if
 * it opens later (a signal must not wait for a slow or stuck storage open).
 */
function untilStopped(p: Promise<Transport>, signal: AbortSignal, why: string): Promise<Transport> {
  if (signal.aborted) {
    p.then((t) => t.close(), noop).then(noop, noop);
    return Promise.reject(new CommandError(why));
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      p.then((t) => t.close(), noop).then(noop, noop);
      reject(new CommandError(why));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (t) => {
        signal.removeEventListener('abort', onAbort);
        resolve(t);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function noop(): void {}

function startHealth(
  host: string,
  port: number,
  info: () => { phase: Phase; body: Record<string, unknown> },
): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body) + '\n';
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'method not allowed' });
    const { phase, body } = info();
    if (url === '/healthz') return send(200, { status: phase === 'stopping' ? 'stopping' : 'ok', phase, ...body });
    if (url === '/readyz') return send(phase === 'serving' ? 200 : 503, { ready: phase === 'serving', phase });
    return send(404, { error: 'not found', endpoints: ['/healthz', '/readyz'] });
  });
  server.on('connection', (socket) => socket.setNoDelay(true));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({ server, address: hostPort(host, a.port) });
    });
  });
}

function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections would hold close() open until they time out.
    server.closeAllConnections();
  });
}

export async function runServe(argv: readonly string[], io: CliIO, version: string): Promise<number> {
  const cfg = resolveServeConfig(argv, io.env);
  const { connect } = await loadEngine();
  const out = (line: string): void => void io.stdout.write(line + '\n');

  const startedAt = Date.now();
  let phase: Phase = 'starting';
  const stopping = new AbortController();
  const running: { name: string; listener: RunningListener }[] = [];
  let http_: { server: http.Server; address: string } | undefined;

  // Signals are handled from the start so a signal during startup also shuts down cleanly.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      out(`received ${sig}, shutting down (send again to force)`);
      stopping.abort(sig);
    } else {
      io.stderr.write(`omnibus: forced exit on second ${sig}\n`);
      process.exit(1);
    }
  };
  const handleSignals = io.handleSignals !== false;
  if (handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  const onExternalAbort = (): void => stopping.abort(io.signal?.reason);
  io.signal?.addEventListener('abort', onExternalAbort, { once: true });
  if (io.signal?.aborted) stopping.abort(io.signal.reason);

  let transport: Transport | undefined;
  try {
    transport = await untilStopped(connect(storageUrl(cfg)), stopping.signal, 'interrupted while opening the storage');
    const ctx: EngineContext = {
      transport,
      storage: cfg.storage,
      dataDir: cfg.dataDir,
      signal: stopping.signal,
      log: out,
      settings: cfg.settings,
    };

    if (cfg.healthPort !== undefined) {
      try {
        http_ = await startHealth(cfg.host, cfg.healthPort, () => ({
          phase,
          body: {
            version,
            storage: cfg.storage,
            dataDir: cfg.dataDir ?? null,
            fsync: cfg.storage === 'file' ? cfg.fsync : null,
            uptimeSec: Math.round((Date.now() - startedAt) / 100) / 10,
            pid: process.pid,
            listeners: Object.fromEntries(running.map((r) => [r.name, r.listener.address])),
          },
        }));
      } catch (e) {
        throw describeListenError('health port', cfg.host, cfg.healthPort, e, 'use --health-port N or --health-port off');
      }
    }

    const notYet: string[] = [];
    for (const p of cfg.protocols) {
      if (p.port === undefined || stopping.signal.aborted) continue;
      const l = availableListeners().find((x) => x.name.toLowerCase() === p.name);
      if (!l) {
        notYet.push(p.name);
        continue;
      }
      try {
        running.push({ name: p.name, listener: await l.start(ctx, { host: cfg.host, port: p.port }) });
      } catch (e) {
        throw describeListenError(`${p.name} port`, cfg.host, p.port, e, `use --${p.name}-port N or --no-${p.name}`);
      }
    }

    out(`omnibus ${version} listening: ` + [http_ ? `health http://${http_.address}/healthz` : 'health off', ...running.map((r) => `${r.name} ${r.listener.address}`)].join(', '));
    out(cfg.storage === 'memory' ? 'data: in memory only (nothing persists)' : `data: ${cfg.dataDir} (fsync ${cfg.fsync})`);
    if (notYet.length > 0) out(`not available yet: ${notYet.join(', ')}`);

    if (!stopping.signal.aborted) {
      phase = 'serving';
      await new Promise<void>((resolve) => stopping.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    return 0;
  } finally {
    // Order: stop admitting work (readyz 503, listeners close), then flush the store, then the
    // health endpoint goes last so orchestrators can watch the shutdown.
    phase = 'stopping';
    if (!stopping.signal.aborted) stopping.abort();
    const errors: unknown[] = [];
    for (const r of running.reverse()) await r.listener.close().catch((e: unknown) => errors.push(e));
    await transport?.close().catch((e: unknown) => errors.push(e));
    if (http_) await closeHttp(http_.server);
    io.signal?.removeEventListener('abort', onExternalAbort);
    if (handleSignals) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    if (transport) out('stopped');
    // A failed close means data may not be on disk: surface it rather than exit 0.
    // eslint-disable-next-line no-unsafe-finally
    if (errors.length > 0 && transport) throw errors[0];
  }
}
