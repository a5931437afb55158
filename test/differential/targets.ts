/**
 * Targets for the differential suites: the same behavioural cases run against Omnibus (listeners
 * in-process on free loopback ports over a memory:// engine) and against the real broker from
 * Debian (redis-server 7, rabbitmq-server 3.10) started here on a free loopback port.
 *
 * Real brokers are started once per test file, in a temp dir, and stopped by pid (never by name:
 * other people's brokers run on this machine). RabbitMQ needs epmd: one that already runs is
 * used; otherwise the VM starts its own (`epmd -daemon`), which outlives the node — accepted, as
 * epmd is shared by every Erlang node on the machine and holds no state of ours.
 *
 *   const t = await startRealRedis();   // Target, or a string: why the real broker is unavailable
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import type { EmbeddedTransport } from '../../src/transports/embedded.js';
import type { Engine } from '../../src/engine/engine.js';
import { startAmqpServer } from '../../src/protocols/amqp/listener.js';
import { createRespListener } from '../../src/protocols/resp/listener.js';

export type TargetKind = 'omnibus' | 'redis' | 'rabbitmq';

export interface Target {
  /** Shown in test names: `omnibus`, `redis-server 7.0.15`, `rabbitmq-server 3.10.8`. */
  readonly name: string;
  readonly kind: TargetKind;
  readonly port: number;
  /** amqp://guest:guest@127.0.0.1:P or redis://127.0.0.1:P */
  readonly url: string;
  /** The engine behind an Omnibus target (both listeners share it), undefined for real brokers. */
  readonly engine?: Engine;
  /**
   * AMQP targets: raises (true) or clears (false) the broker's memory alarm. RabbitMQ: rabbitmqctl
   * set_vm_memory_high_watermark 0 / 0.4; Omnibus: the listener's resource alarms, whose sampler
   * reports 2 GiB / 0 against a 1 GiB watermark.
   */
  memoryAlarm?(on: boolean): Promise<void>;
  stop(): Promise<void>;
}

export { freePort, portOpen, which } from '../conformance/brokers.js';
import { freePort, portOpen, which } from '../conformance/brokers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to `pid`, SIGKILL after `graceMs`; resolves when the pid is gone. */
async function killPid(pid: number, graceMs = 20_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < end) await sleep(50);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (pidAlive(pid)) await sleep(50);
  }
}

function reap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Waits for `port` to accept connections while `alive()`; throws with the log tail otherwise. */
async function waitListening(port: number, timeoutMs: number, alive: () => boolean, what: string, log: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await portOpen(port)) return;
    if (!alive()) throw new Error(`${what} exited before listening on ${port}\n${log().slice(-2000)}`);
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms\n${log().slice(-2000)}`);
}

// ------------------------------------------------------------------------------------ omnibus

/** The AMQP and RESP listeners of Omnibus on free loopback ports, sharing one memory:// engine. */
export interface OmnibusPair {
  amqp: Target;
  resp: Target;
  engine: Engine;
  stop(): Promise<void>;
}

export async function startOmnibus(): Promise<OmnibusPair> {
  const transport = (await connect('memory://')) as EmbeddedTransport;
  const engine = transport.engine;
  const sampler = { mem: 0, memoryBytes: () => sampler.mem, diskFreeBytes: async () => Number.MAX_SAFE_INTEGER };
  const amqp = await startAmqpServer(engine, { port: 0, host: '127.0.0.1', alarms: { memoryHighWatermarkBytes: 2 ** 30, sampler } });
  const memoryAlarm = async (on: boolean): Promise<void> => {
    sampler.mem = on ? 2 ** 31 : 0;
    amqp.broker.alarms?.checkMemory();
  };
  const ac = new AbortController();
  const resp = await createRespListener({ password: undefined, users: new Map() }).start(
    { transport, storage: 'memory', dataDir: undefined, signal: ac.signal, log: () => {} },
    { host: '127.0.0.1', port: 0 },
  );
  const respPort = Number(resp.address.split(':').pop());
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      ac.abort();
      await resp.close();
      await amqp.close();
      await transport.close();
    })());
  return {
    engine,
    stop,
    amqp: { name: 'omnibus', kind: 'omnibus', port: amqp.port, url: `amqp://guest:guest@127.0.0.1:${amqp.port}`, engine, memoryAlarm, stop },
    resp: { name: 'omnibus', kind: 'omnibus', port: respPort, url: `redis://127.0.0.1:${respPort}`, engine, stop },
  };
}

// -------------------------------------------------------------------------------------- redis

/** Debian's redis-server on a free loopback port, no persistence. A string says why it is unavailable. */
export async function startRealRedis(): Promise<Target | string> {
  const bin = which('redis-server');
  if (!bin) return 'redis-server is not installed (apt-get install redis-server)';
  const version = /v=(\d+\.\d+\.\d+)/.exec(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-diff-redis-'));
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  let spawnFailed = false;
  child.on('error', (e) => {
    spawnFailed = true;
    log += String(e);
  });
  const alive = (): boolean => !spawnFailed && child.exitCode === null && child.signalCode === null;
  try {
    await waitListening(port, 15_000, alive, 'redis-server', () => log);
  } catch (e) {
    if (child.pid !== undefined && alive()) await killPid(child.pid);
    rmSync(dir, { recursive: true, force: true });
    return `redis-server failed to start: ${(e as Error).message}`;
  }
  let stopped: Promise<void> | undefined;
  return {
    name: `redis-server ${version}`,
    kind: 'redis',
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      (stopped ??= (async () => {
        if (child.pid !== undefined) await killPid(child.pid);
        if (!spawnFailed) await reap(child);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

// ----------------------------------------------------------------------------------- rabbitmq

/**
 * Debian's rabbitmq-server, run directly as the `rabbitmq` user (the wrapper would `su` to it when
 * run as root), with a unique node name, its own distribution port, mnesia/log/pid file in a temp
 * dir owned by `rabbitmq`, the AMQP listener on 127.0.0.1 only and the guest user allowed from
 * loopback (its default). Ready when the AMQP port accepts connections (RabbitMQ opens it last).
 * Stopped by the Erlang VM's pid (from the pid file).
 */
export async function startRealRabbit(): Promise<Target | string> {
  const bin = which('rabbitmq-server');
  if (!bin) return 'rabbitmq-server is not installed (apt-get install rabbitmq-server)';
  const u = spawnSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return 'rabbitmq-server is installed but the rabbitmq user does not exist';
  const uid = Number(u.stdout.trim());
  const gid = Number(g.stdout.trim());
  const me = process.getuid?.();
  if (me !== 0 && me !== uid) return 'rabbitmq-server must run as the rabbitmq user: the tests need root (or that user) to start it';
  const [port, dist] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-diff-rabbit-'));
  for (const d of ['mnesia', 'log']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  for (const p of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'rabbitmq.conf'), join(dir, 'enabled_plugins')]) chownSync(p, uid, gid);
  const pidFile = join(dir, 'rabbit.pid');
  const node = `omnibus-diff-${port}@localhost`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_NODENAME: node,
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: pidFile,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  delete env['RABBITMQ_ERLANG_COOKIE'];
  const child = spawn(bin, [], { env, uid, gid, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  let spawnFailed = false;
  child.on('error', (e) => {
    spawnFailed = true;
    log += String(e);
  });
  const alive = (): boolean => !spawnFailed && child.exitCode === null && child.signalCode === null;
  const vmPid = (): number | undefined => {
    try {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const halt = async (): Promise<void> => {
    const p = vmPid();
    if (p !== undefined) await killPid(p);
    if (child.pid !== undefined && alive()) await killPid(child.pid);
    if (!spawnFailed) await reap(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitListening(port, 90_000, alive, 'rabbitmq-server', () => log);
  } catch (e) {
    await halt();
    return `rabbitmq-server failed to start: ${(e as Error).message}`;
  }
  const version = /^(\d+\.\d+\.\d+)/.exec(spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'rabbitmq-server'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '3.x';
  let stopped: Promise<void> | undefined;
  return {
    name: `rabbitmq-server ${version}`,
    kind: 'rabbitmq',
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    async memoryAlarm(on: boolean): Promise<void> {
      // The Debian wrapper resets HOME to /var/lib/rabbitmq: the node's cookie (in its HOME, `dir`) is passed explicitly.
      const cookie = readFileSync(join(dir, '.erlang.cookie'), 'utf8').trim();
      const ctl = spawnSync(which('rabbitmqctl') ?? 'rabbitmqctl', ['-n', node, '--erlang-cookie', cookie, 'set_vm_memory_high_watermark', on ? '0' : '0.4'], { env, uid, gid, cwd: dir, encoding: 'utf8', timeout: 60_000 });
      if (ctl.status !== 0) throw new Error(`rabbitmqctl set_vm_memory_high_watermark failed (${ctl.status}): ${ctl.stderr || ctl.stdout}`);
    },
    stop: () => (stopped ??= halt()),
  };
}

/** Runs `/usr/bin/python3 -c script args…`; resolves with stdout, rejects with stderr on failure. */
export function python(script: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`python3 exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

/** Why python3 cannot import `modules`, or undefined when it can. */
export function pythonMissing(modules: string[]): string | undefined {
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 is not installed';
  const r = spawnSync('/usr/bin/python3', ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `/usr/bin/python3 cannot import ${modules.join(', ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
}
