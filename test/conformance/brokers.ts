/**
 * Real brokers for the conformance and example tests: each started once per test file on free
 * loopback ports in a temporary directory, restarted and stopped BY PID (never by name: other
 * brokers of other people run on this machine). A broker whose binary is absent yields a skip
 * reason instead.
 *
 *   const b = await startRedis();            // Broker, or a string: why it is unavailable
 *   after(() => b.stop());
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Transport } from '../../src/core/types.js';
import type { NetCapabilities } from '../../src/transports/common.js';

export interface Broker {
  readonly name: string;
  /** Host and port of the main listener. */
  readonly port: number;
  readonly url: string;
  /** Extra ports (e.g. STOMP) by name. */
  readonly ports: Readonly<Record<string, number>>;
  /** Current broker process id. */
  pid(): number | undefined;
  /** Stops the process by pid (SIGTERM, SIGKILL after 30 s) and starts it again on the same ports and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The path of `bin` on PATH, else in the sbin/bin directories Debian installs brokers to (mosquitto is in /usr/sbin, often not on PATH). */
export function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status === 0 && p) return p;
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin']) {
    if (existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}

/** A free loopback port (bind :0, read it, close). Racy in theory; fine for tests. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    if (!alive()) throw new Error(`${what} exited before listening on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

/** Sends SIGTERM (or `signal`) to `pid`, waits for `done`, SIGKILL after `graceMs`. */
async function killPid(pid: number, done: Promise<void>, graceMs = 30_000, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
  const r = await Promise.race([done.then(() => 'done' as const), timeout]);
  clearTimeout(timer);
  if (r === 'timeout') {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await done;
  }
}

/** Runs a command to its end (killed after `timeoutMs`), collecting its output. */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string }, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', (e) => (out += String(e)));
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitPidGone(pid: number): Promise<void> {
  while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

interface ProcSpec {
  name: string;
  port: number;
  ports?: Record<string, number>;
  url: string;
  dir: string;
  /** Spawns the broker process. */
  spawn: () => ChildProcess;
  /** The pid to signal, if not the spawned process (e.g. read from a pid file). */
  pidOf?: (child: ChildProcess) => Promise<number>;
  readyTimeoutMs: number;
  /** Ports that must listen before the broker counts as started. */
  waitPorts?: number[];
  /** Runs after the ports listen and the pid is known, before the broker counts as started. */
  ready?: (alive: () => boolean) => Promise<void>;
  /**
   * How `restart()` stops the process: 'SIGTERM' (default; SIGKILL after 30 s) or 'SIGKILL'
   * (a crash: proves that what the broker confirmed survives kill -9). `stop()` always SIGTERMs.
   */
  restartSignal?: 'SIGTERM' | 'SIGKILL';
  /**
   * The process exiting by itself (not stopped or restarted through the Broker) makes `stop()`
   * throw with its exit status and last output, so a broker crash fails the file with its cause
   * instead of showing only as clients that cannot connect.
   */
  reportCrash?: boolean;
}

async function startProcess(spec: ProcSpec): Promise<Broker> {
  let child: ChildProcess | undefined;
  let pid: number | undefined;
  const logs: string[] = [];
  let halting = false;
  let crash: string | undefined;
  const launch = async (): Promise<void> => {
    const c = spec.spawn();
    child = c;
    c.once('exit', (code, signal) => {
      if (!halting && crash === undefined) crash = `${spec.name} (pid ${c.pid}) exited by itself during the tests (code ${code}, signal ${signal})`;
    });
    c.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
    c.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
    c.on('error', (e) => logs.push(String(e)));
    const alive = (): boolean => c.exitCode === null && c.signalCode === null;
    try {
      for (const p of spec.waitPorts ?? [spec.port]) await waitForPort(p, spec.readyTimeoutMs, alive, spec.name);
      pid = spec.pidOf ? await spec.pidOf(c) : c.pid;
      await spec.ready?.(alive);
    } catch (e) {
      if (c.pid !== undefined && alive()) await killPid(c.pid, exited(c), 5_000);
      throw new Error(`${(e as Error).message}\n${logs.join('').slice(-3000)}`);
    }
  };
  const halt = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const c = child;
    const p = pid;
    if (!c) return;
    halting = true;
    if (p !== undefined && p !== c.pid) {
      await killPid(p, waitPidGone(p), undefined, signal);
      await exited(c);
    } else if (c.pid !== undefined) await killPid(c.pid, exited(c), undefined, signal);
    child = undefined;
    pid = undefined;
    halting = false;
  };
  await launch();
  let stopped = false;
  return {
    name: spec.name,
    port: spec.port,
    url: spec.url,
    ports: spec.ports ?? {},
    pid: () => pid,
    restart: async () => {
      await halt(spec.restartSignal);
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await halt();
      rmSync(spec.dir, { recursive: true, force: true });
      if (spec.reportCrash && crash !== undefined) throw new Error(`${crash}; its last output:\n${logs.join('').slice(-3000)}`);
    },
  };
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `omnibus-${name}-`));
}

// ------------------------------------------------------------------------------------- redis

/** redis-server with AOF (appendfsync everysec; SIGTERM flushes it) so a restart keeps the data. */
export async function startRedis(): Promise<Broker | string> {
  const bin = which('redis-server');
  if (!bin) return 'redis-server is not installed (apt-get install redis-server)';
  const port = await freePort();
  const dir = tempDir('redis');
  return startProcess({
    name: 'redis-server',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    readyTimeoutMs: 15_000,
    spawn: () =>
      spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
  });
}

/**
 * A Redis Cluster of `masters` redis-server processes (cluster-enabled, AOF on, no replicas) on
 * free loopback ports, joined with `redis-cli --cluster create`; counts as started when every
 * node reports cluster_state:ok. `restart()` restarts every node in turn, each by its pid, on
 * the same port and data (nodes.conf keeps its id and slots). `url` lists every node.
 */
export async function startRedisCluster(masters = 3): Promise<Broker | string> {
  const bin = which('redis-server');
  const cli = which('redis-cli');
  if (!bin || !cli) return 'redis-server / redis-cli are not installed (apt-get install redis-server)';
  const nodes: Broker[] = [];
  const dir = tempDir('redis-cluster');
  try {
    for (let i = 0; i < masters; i++) {
      const [port, bus] = [await freePort(), await freePort()];
      const d = join(dir, String(port));
      mkdirSync(d);
      nodes.push(
        await startProcess({
          name: `redis-server (cluster node ${port})`,
          port,
          url: `redis://127.0.0.1:${port}`,
          dir: d,
          readyTimeoutMs: 15_000,
          spawn: () =>
            spawn(
              bin,
              // The cluster bus would be port + 10000 by default, which may be taken: a free one.
              ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(d, 'nodes.conf'), '--cluster-node-timeout', '2000',
                '--cluster-port', String(bus),
                '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', d, '--daemonize', 'no', '--protected-mode', 'no'],
              { stdio: ['ignore', 'pipe', 'pipe'] },
            ),
        }),
      );
    }
    const create = await run(cli, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {}, 60_000);
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.out.slice(-2000)}`);
    const healthy = async (): Promise<void> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const states = await Promise.all(nodes.map((n) => run(cli, ['-p', String(n.port), 'cluster', 'info'], {}, 10_000)));
        if (states.every((r) => /cluster_state:ok/.test(r.out))) return;
        if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok within 60 s:\n${states.map((r) => r.out).join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await healthy();
    let stopped = false;
    return {
      name: 'redis-cluster',
      port: nodes[0]!.port,
      url: `redis://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
      ports: Object.fromEntries(nodes.map((n, i) => [`node${i}`, n.port])),
      pid: () => nodes[0]!.pid(),
      restart: async () => {
        for (const n of nodes) {
          await n.restart();
          await healthy();
        }
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await Promise.all(nodes.map((n) => n.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------- rabbitmq

export interface RabbitBroker extends Broker {
  /** Runs `rabbitmqctl -n NODE args…` against this node, as the rabbitmq user with its cookie. */
  ctl(args: readonly string[]): Promise<{ code: number | null; out: string }>;
}

/**
 * rabbitmq-server run as the `rabbitmq` user (Debian's wrapper would `su` to it when run as root,
 * which puts a shell between us and the node), data and logs in a temp dir owned by rabbitmq, a
 * node name, distribution port and epmd of its own (started and stopped by pid here). The pid
 * stopped is the Erlang VM's (pid file).
 */
export async function startRabbit(): Promise<RabbitBroker | string> {
  const bin = which('rabbitmq-server');
  if (!bin) return 'rabbitmq-server is not installed (apt-get install rabbitmq-server)';
  const pw = spawnSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' });
  const gw = spawnSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' });
  if (pw.status !== 0) return 'the rabbitmq user does not exist';
  const uid = Number(pw.stdout.trim());
  const gid = Number(gw.stdout.trim());
  const me = process.getuid?.();
  if (me !== 0 && me !== uid) return 'rabbitmq-server must run as the rabbitmq user: the tests need root (or that user) to start it';
  const epmdBin = which('epmd');
  if (!epmdBin) return 'epmd is not installed (it comes with erlang-base, a dependency of rabbitmq-server)';
  const [port, dist] = [await freePort(), await freePort()];
  const dir = tempDir('rabbit');
  mkdirSync(join(dir, 'mnesia'));
  mkdirSync(join(dir, 'log'));
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  for (const p of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'rabbitmq.conf'), join(dir, 'enabled_plugins')]) chownSync(p, uid, gid);
  // An epmd of this node's own, on its own port (ERL_EPMD_PORT, read by the VM and by rabbitmqctl):
  // two test files booting nodes at once never share one, so stopping one never strands the other.
  const epmdPort = await freePort();
  const epmd = spawn(epmdBin, ['-port', String(epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore', uid, gid });
  try {
    await waitForPort(epmdPort, 5_000, () => epmd.exitCode === null && epmd.signalCode === null, 'epmd');
  } catch (e) {
    if (epmd.pid !== undefined) await killPid(epmd.pid, exited(epmd), 5_000);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const pidFile = join(dir, 'rabbit.pid');
  const node = `omnibus-test-${port}@localhost`;
  const env = {
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
    RABBITMQ_ERLANG_COOKIE: undefined,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const ctl = existsSync('/usr/lib/rabbitmq/bin/rabbitmqctl') ? '/usr/lib/rabbitmq/bin/rabbitmqctl' : which('rabbitmqctl');
  try {
    const b = await startProcess({
      name: 'rabbitmq-server',
      port,
      url: `amqp://guest:guest@127.0.0.1:${port}`,
      dir,
      readyTimeoutMs: 120_000,
      reportCrash: true,
      spawn: () => {
        // A pid file left by the previous VM (killed, or not cleaned up) would name a dead pid.
        if (existsSync(pidFile)) unlinkSync(pidFile);
        return spawn(bin, [], { env, uid, gid, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      },
      pidOf: async (c) => {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const text = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
          const n = Number(text);
          if (text !== '' && Number.isInteger(n) && n > 0 && pidAlive(n)) return n;
          if (c.exitCode !== null || c.signalCode !== null) throw new Error('rabbitmq-server exited before writing its pid file');
          if (Date.now() > deadline) throw new Error(`rabbitmq-server wrote no live pid to ${pidFile} within 30 s`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      // The AMQP listener opens before every boot step has run (plugins, definitions); the
      // broker counts as started when `rabbitmqctl await_startup` says so. The CLI runs as the
      // rabbitmq user with the node's HOME (so it reads the node's Erlang cookie), called
      // directly rather than through Debian's wrapper, which would cd to /var/lib/rabbitmq and
      // use that cookie instead.
      ready: async (alive) => {
        if (!ctl) return;
        const deadline = Date.now() + 120_000;
        let last = '';
        while (Date.now() < deadline) {
          const r = await run(ctl, ['-n', node, '-q', 'await_startup', '--timeout', '60'], { env, uid, gid, cwd: dir }, 90_000);
          if (r.code === 0) return;
          last = r.out;
          if (!alive()) break;
          await new Promise((res) => setTimeout(res, 500));
        }
        throw new Error(`rabbitmqctl await_startup failed: ${last.slice(-1000)}`);
      },
    });
    return {
      ...b,
      ctl: async (args) => {
        if (!ctl) return { code: null, out: 'rabbitmqctl is not installed' };
        return run(ctl, ['-n', node, ...args], { env, uid, gid, cwd: dir }, 60_000);
      },
      stop: async () => {
        await b.stop();
        if (epmd.pid !== undefined) await killPid(epmd.pid, exited(epmd), 5_000);
      },
    };
  } catch (e) {
    if (epmd.pid !== undefined) await killPid(epmd.pid, exited(epmd), 5_000);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// --------------------------------------------------------------------------------- mosquitto

/** mosquitto 2 with a generated config: one loopback listener, anonymous, persistence in a temp dir. */
export async function startMosquitto(): Promise<Broker | string> {
  const bin = which('mosquitto');
  if (!bin) return 'mosquitto is not installed (apt-get install mosquitto)';
  const port = await freePort();
  const dir = tempDir('mosquitto');
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'set_tcp_nodelay true',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  if (uid.status === 0) chownSync(dir, Number(uid.stdout.trim()), Number(spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' }).stdout.trim()));
  return startProcess({
    name: 'mosquitto',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    readyTimeoutMs: 15_000,
    spawn: () => spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }),
  });
}

// ---------------------------------------------------------------------------------- activemq

/**
 * ActiveMQ 5.17 from Debian, run with java directly as root (Debian's /usr/bin/activemq forces its
 * own base dir and user): a temp instance whose config has only a STOMP connector (tcpNoDelay)
 * and an OpenWire one on free loopback ports, schedulerSupport on, persistence in the temp dir.
 */
export async function startActiveMQ(): Promise<Broker | string> {
  const home = '/usr/share/activemq';
  const jar = join(home, 'bin', 'activemq.jar');
  const java = which('java');
  if (!existsSync(jar)) return 'activemq is not installed (apt-get install activemq): no /usr/share/activemq/bin/activemq.jar';
  if (!java) return 'java is not installed (needed by activemq)';
  const [stomp, openwire] = [await freePort(), await freePort()];
  const dir = tempDir('activemq');
  mkdirSync(join(dir, 'conf'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(
    join(dir, 'conf', 'activemq.xml'),
    `<beans xmlns="http://www.springframework.org/schema/beans" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="omnibus-test" dataDirectory="${dir}/data" schedulerSupport="true" useJmx="false">
    <destinationPolicy><policyMap><policyEntries>
      <policyEntry queue=">" prioritizedMessages="true" useCache="false" expireMessagesPeriod="100"/>
      <policyEntry topic=">" expireMessagesPeriod="100"/>
    </policyEntries></policyMap></destinationPolicy>
    <persistenceAdapter><kahaDB directory="${dir}/data/kahadb"/></persistenceAdapter>
    <systemUsage><systemUsage>
      <memoryUsage><memoryUsage percentOfJvmHeap="70"/></memoryUsage>
      <storeUsage><storeUsage limit="2 gb"/></storeUsage>
      <tempUsage><tempUsage limit="1 gb"/></tempUsage>
    </systemUsage></systemUsage>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:${openwire}"/>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:${stomp}?transport.tcpNoDelay=true"/>
    </transportConnectors>
  </broker>
</beans>
`,
  );
  writeFileSync(join(dir, 'conf', 'log4j.properties'), 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=%d %-5p %m%n\n');
  const args = [
    '-Xms256M',
    '-Xmx512M',
    '-Djava.awt.headless=true',
    `-Djava.io.tmpdir=${dir}/tmp`,
    '--add-opens',
    'java.base/java.lang=ALL-UNNAMED',
    '--add-opens',
    'java.base/java.util=ALL-UNNAMED',
    '--add-opens',
    'java.base/java.net=ALL-UNNAMED',
    `-Dactivemq.classpath=${dir}/conf`,
    `-Dactivemq.home=${home}`,
    `-Dactivemq.base=${dir}`,
    `-Dactivemq.conf=${dir}/conf`,
    `-Dactivemq.data=${dir}/data`,
    '-jar',
    jar,
    'start',
    `xbean:file:${dir}/conf/activemq.xml`,
  ];
  return startProcess({
    name: 'activemq',
    port: stomp,
    ports: { stomp, openwire },
    url: `stomp://127.0.0.1:${stomp}`,
    dir,
    readyTimeoutMs: 60_000,
    waitPorts: [stomp, openwire],
    spawn: () => spawn(java, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }),
  });
}

// ----------------------------------------------------------------------------- omnibus serve

/** The protocol listeners of `omnibus serve` and the URL scheme a transport reaches each with. */
const OMNIBUS_SCHEMES = { amqp: 'omnibus', resp: 'redis', stomp: 'stomp', mqtt: 'mqtt', kafka: 'kafka' } as const;
export type OmnibusListener = keyof typeof OMNIBUS_SCHEMES;

/**
 * `omnibus serve` as a real child process (bin/omnibus.js, which runs dist/: build first with
 * `npx tsc -p .`, as `npm test` does) over file storage in a temp dir with `--fsync always` (or
 * `opts.fsync`: the benchmarks use `interval`, as the brokers they compare with sync lazily), with
 * only `listeners` started, each on a free loopback port, health endpoint off. `url` reaches the
 * first listener (`omnibus://guest:guest@…` for amqp, `redis://` for resp, …); `ports` names
 * every one. `restart()` SIGKILLs the process by pid — a crash, not a shutdown, so what the
 * server confirmed must survive it — and starts it again on the same directory and ports.
 */
export async function startOmnibus(listeners: readonly [OmnibusListener, ...OmnibusListener[]], opts: { fsync?: 'always' | 'interval' | 'never' } = {}): Promise<Broker | string> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const bin = join(root, 'bin', 'omnibus.js');
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) return 'dist/ is not built (npx tsc -p .): bin/omnibus.js runs the compiled CLI';
  const ports: Record<string, number> = {};
  for (const l of listeners) ports[l] = await freePort();
  const dir = tempDir('serve');
  const off = (Object.keys(OMNIBUS_SCHEMES) as OmnibusListener[]).filter((l) => !listeners.includes(l)).map((l) => `--no-${l}`);
  const args = [bin, 'serve', '--data', join(dir, 'data'), '--fsync', opts.fsync ?? 'always', '--host', '127.0.0.1', '--health-port', 'off', ...off, ...listeners.flatMap((l) => [`--${l}-port`, String(ports[l])])];
  const first = listeners[0];
  const port = ports[first]!;
  const auth = first === 'amqp' ? 'guest:guest@' : '';
  return startProcess({
    name: `omnibus serve (${listeners.join(', ')})`,
    port,
    ports,
    url: `${OMNIBUS_SCHEMES[first]}://${auth}127.0.0.1:${port}`,
    dir,
    readyTimeoutMs: 30_000,
    waitPorts: listeners.map((l) => ports[l]!),
    restartSignal: 'SIGKILL',
    reportCrash: true,
    spawn: () => spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }),
  });
}

/** A `skip` reason or undefined; a broker that fails to start is an error, not a skip. */
export function unavailable(b: Broker | string): string | undefined {
  return typeof b === 'string' ? b : undefined;
}

/** The capabilities a networked transport declares (one connection opened and closed to read them). */
export async function declaredCapabilities(open: () => Promise<Transport>): Promise<NetCapabilities> {
  const probe = await open();
  try {
    return probe.capabilities as NetCapabilities;
  } finally {
    await probe.close();
  }
}
