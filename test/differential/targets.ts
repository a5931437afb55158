/**
 * Targets for the differential suites: the same behavioural cases run against Omnibus (listeners
 * in-process on free loopback ports over a memory:// engine) and against the real broker from
 * Debian (redis-server 7, rabbitmq-server 3.10) started here on a free loopback port.
 *
 * Real brokers are started once per test file, in a temp dir, and stopped by pid (never by name:
 * other people's brokers run on this machine). RabbitMQ is the conformance suite's launcher
 * (`startRabbit`), which starts epmd itself when none runs and stops it by pid afterwards.
 *
 *   const t = await startRealRedis();   // Target, or a string: why the real broker is unavailable
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
import { freePort, portOpen, startRabbit, which, type RabbitBroker } from '../conformance/brokers.js';

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
 * Debian's rabbitmq-server as the conformance suite starts it (own node name, ports and temp dir,
 * stopped by the VM's pid), counted as started only when `rabbitmqctl await_startup` says so: its
 * AMQP port opens before the last boot steps have run, and a client connecting then can be
 * dropped mid-handshake. A node that dies during the tests makes `stop()` throw with its output.
 */
export async function startRealRabbit(): Promise<Target | string> {
  let b: RabbitBroker | string;
  try {
    b = await startRabbit();
  } catch (e) {
    return `rabbitmq-server failed to start: ${(e as Error).message}`;
  }
  if (typeof b === 'string') return b;
  const broker = b;
  const version = /^(\d+\.\d+\.\d+)/.exec(spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'rabbitmq-server'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '3.x';
  return {
    name: `rabbitmq-server ${version}`,
    kind: 'rabbitmq',
    port: broker.port,
    url: broker.url,
    async memoryAlarm(on: boolean): Promise<void> {
      const r = await broker.ctl(['set_vm_memory_high_watermark', on ? '0' : '0.4']);
      if (r.code !== 0) throw new Error(`rabbitmqctl set_vm_memory_high_watermark failed (${r.code}): ${r.out}`);
    },
    stop: () => broker.stop(),
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
