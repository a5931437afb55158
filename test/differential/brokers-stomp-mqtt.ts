/**
 * Targets for the STOMP and MQTT differential suites: Omnibus (the STOMP or MQTT listener
 * in-process on a free loopback port over a memory:// engine) and the real broker from Debian
 * started here on a free loopback port: ActiveMQ 5.17 (`activemq`, STOMP only, non-persistent,
 * scheduler on) and mosquitto 2 (`mosquitto`, no persistence). Each is started once per test file
 * and stopped by its pid. A string result says why the real broker is unavailable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { startStompServer } from '../../src/protocols/stomp/listener.js';
import { startMqttServer, type MqttServerOptions } from '../../src/protocols/mqtt/listener.js';
import { freePort, portOpen, which } from './targets.js';

export interface BrokerTarget {
  /** `omnibus`, `activemq 5.17.2`, `mosquitto 2.0.11` */
  readonly name: string;
  readonly kind: 'omnibus' | 'activemq' | 'mosquitto';
  readonly port: number;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM to the child's pid, SIGKILL after `graceMs`; resolves when it exited. */
async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!alive(child) || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const t = setTimeout(() => {
    if (alive(child) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(t);
}

async function waitListening(child: ChildProcess, port: number, timeoutMs: number): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await portOpen(port)) return undefined;
    if (!alive(child)) return `exited with ${child.exitCode ?? child.signalCode} before listening`;
    await sleep(100);
  }
  return `did not listen on ${port} within ${timeoutMs} ms`;
}

function dpkgVersion(pkg: string): string {
  const out = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).stdout ?? '';
  return /^(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? '?';
}

// ------------------------------------------------------------------------------------ omnibus

export async function startOmnibusStomp(): Promise<BrokerTarget> {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const server = await startStompServer(engine, { port: 0, host: '127.0.0.1' });
  return {
    name: 'omnibus',
    kind: 'omnibus',
    port: server.port,
    async stop() {
      await server.close();
      await engine.close();
    },
  };
}

export async function startOmnibusMqtt(opts: MqttServerOptions = {}): Promise<BrokerTarget> {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const server = await startMqttServer(engine, { port: 0, host: '127.0.0.1', ...opts });
  return {
    name: 'omnibus',
    kind: 'omnibus',
    port: server.port,
    async stop() {
      await server.close();
      await engine.close();
    },
  };
}

// ----------------------------------------------------------------------------------- activemq

const ACTIVEMQ_HOME = '/usr/share/activemq';

/**
 * ActiveMQ from Debian's `activemq` package, run directly with java (the `activemq` script's
 * command line without its instance layout): a broker with only a STOMP connector on a free
 * loopback port (`transport.tcpNoDelay=true`), no persistence, the scheduler on (for
 * AMQ_SCHEDULED_DELAY), strict priority order on queues (`prioritizedMessages`, which Omnibus always has), no JMX, no advisories, everything in a temp dir. ~10-20 s to start.
 */
export async function startRealActiveMq(): Promise<BrokerTarget | string> {
  const jar = join(ACTIVEMQ_HOME, 'bin', 'activemq.jar');
  if (!existsSync(jar)) return `ActiveMQ is not installed (${jar} missing; apt-get install activemq)`;
  const java = which('java');
  if (!java) return 'java is not installed (apt-get install default-jre-headless)';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-diff-activemq-'));
  writeFileSync(
    join(dir, 'activemq.xml'),
    `<beans xmlns="http://www.springframework.org/schema/beans" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="omnibus-diff" persistent="false"
          schedulerSupport="true" advisorySupport="false" dataDirectory="${dir}/data">
    <destinationPolicy><policyMap><policyEntries>
      <policyEntry queue=">" prioritizedMessages="true"/>
    </policyEntries></policyMap></destinationPolicy>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:${port}?transport.tcpNoDelay=true"/>
    </transportConnectors>
  </broker>
</beans>
`,
  );
  const child = spawn(
    java,
    [
      '-Xms128M',
      '-Xmx512M',
      '--add-opens',
      'java.base/java.lang=ALL-UNNAMED',
      `-Dactivemq.classpath=${dir}`,
      `-Dactivemq.home=${ACTIVEMQ_HOME}`,
      `-Dactivemq.base=${dir}`,
      `-Dactivemq.conf=${dir}`,
      `-Dactivemq.data=${dir}/data`,
      '-jar',
      jar,
      'start',
      `xbean:file:${dir}/activemq.xml`,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  child.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  child.on('error', (e) => (log += String(e)));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const why = await waitListening(child, port, 90_000);
  if (why !== undefined) {
    await stop();
    return `ActiveMQ failed to start: ${why}\n${log.slice(-1500)}`;
  }
  return { name: `activemq ${dpkgVersion('activemq')}`, kind: 'activemq', port, stop };
}

// ---------------------------------------------------------------------------------- mosquitto

/**
 * Debian's mosquitto on a free loopback port, anonymous, no persistence. `passwords` (user →
 * password) makes it require a login (a password file made with mosquitto_passwd).
 */
export async function startRealMosquitto(opts: { passwords?: Record<string, string> } = {}): Promise<BrokerTarget | string> {
  const bin = which('mosquitto');
  if (!bin) return 'mosquitto is not installed (apt-get install mosquitto)';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-diff-mosquitto-'));
  const conf = [`listener ${port} 127.0.0.1`, 'persistence false', 'set_tcp_nodelay true'];
  if (opts.passwords) {
    const pw = which('mosquitto_passwd');
    if (!pw) return 'mosquitto_passwd is not installed (apt-get install mosquitto)';
    const file = join(dir, 'passwd');
    writeFileSync(file, '');
    for (const [user, pass] of Object.entries(opts.passwords)) {
      const r = spawnSync(pw, ['-b', file, user, pass], { encoding: 'utf8' });
      if (r.status !== 0) return `mosquitto_passwd failed: ${r.stderr}`;
    }
    // mosquitto drops root privileges to its own user, which must be able to read the file.
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);
    conf.push('allow_anonymous false', `password_file ${file}`);
  } else conf.push('allow_anonymous true');
  writeFileSync(join(dir, 'mosquitto.conf'), conf.join('\n') + '\n');
  const child = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  child.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  child.on('error', (e) => (log += String(e)));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const why = await waitListening(child, port, 15_000);
  if (why !== undefined) {
    await stop();
    return `mosquitto failed to start: ${why}\n${log.slice(-1500)}`;
  }
  return { name: `mosquitto ${dpkgVersion('mosquitto')}`, kind: 'mosquitto', port, stop };
}
