#!/usr/bin/env node
/**
 * Omnibus vs the real broker over STOMP or MQTT, as recorded in docs/benchmarks.md ("STOMP and
 * MQTT"): starts one broker on a free loopback port in a temp dir, runs `omnibus bench --driver
 * stomp|mqtt` against it with --broker-pid, stops the broker by its pid and removes the dir.
 *
 *   node bench/stomp-mqtt-compare.mjs mqtt|stomp omnibus|real COUNT SIZES [omnibus serve flags...]
 *
 * omnibus: `omnibus serve` (only the protocol's listener), data in the temp dir unless --memory.
 * real, mqtt: mosquitto 2 (persistence true, max_queued_messages 0, max_inflight_messages 1000,
 *   set_tcp_nodelay true). real, stomp: ActiveMQ 5 from /usr/share/activemq (-Xms1G -Xmx4G,
 *   KahaDB in the temp dir, STOMP connector with tcpNoDelay and socketBufferSize 4 MiB, AMQ_SOCKBUF=N
 *   overrides it: ActiveMQ's 64 KiB default deadlocks a prefetch-1000 client-individual consumer,
 *   see docs/benchmarks.md "STOMP dequeue stall"). JSONOUT=FILE passes --json FILE,
 *   IDLE=SEC --idle-timeout SEC. stomp: PREFETCH=N subscribes with activemq.prefetchSize N (the
 *   driver's `?prefetch=N`; default 1000).
 * Needs `npx tsc -p .` first (runs dist/ through bin/omnibus.js).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, chownSync, mkdirSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [proto, who, count = '50000', sizes = '128,512,1024,10240', ...extra] = process.argv.slice(2);
if (!['mqtt', 'stomp'].includes(proto) || !['omnibus', 'real'].includes(who)) {
  console.error('usage: node bench/stomp-mqtt-compare.mjs mqtt|stomp omnibus|real [COUNT] [SIZES] [omnibus serve flags...]');
  process.exit(2);
}
const { freePort, waitPort } = await import(join(ROOT, 'dist/bench/net.js'));
const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), `mqb-${who}-`));
let child;
if (who === 'omnibus') {
  const args = ['bin/omnibus.js', 'serve', ...(extra.includes('--memory') ? [] : ['--data', dir]), '--health-port', 'off', '--no-amqp', '--no-resp', '--no-kafka', ...(proto === 'mqtt' ? ['--no-stomp', '--mqtt-port', String(port)] : ['--no-mqtt', '--stomp-port', String(port)]), ...extra];
  const pre = process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROF] : [];
  child = spawn('node', [...pre, ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: serveEnv() });
} else if (proto === 'mqtt') {
  const conf = join(dir, 'm.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 0', 'max_inflight_messages 1000', 'set_tcp_nodelay true', 'log_dest none', ''].join('\n'));
  const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  if (uid.status === 0) chownSync(dir, Number(uid.stdout.trim()), Number(spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' }).stdout.trim()));
  child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
} else {
  const home = '/usr/share/activemq';
  const ow = await freePort();
  for (const d of ['conf', 'data', 'tmp']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'conf', 'activemq.xml'), `<beans xmlns="http://www.springframework.org/schema/beans" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="bench" dataDirectory="${dir}/data" useJmx="false">
    <persistenceAdapter><kahaDB directory="${dir}/data/kahadb"/></persistenceAdapter>
    <systemUsage><systemUsage><memoryUsage><memoryUsage percentOfJvmHeap="70"/></memoryUsage>
      <storeUsage><storeUsage limit="20 gb"/></storeUsage><tempUsage><tempUsage limit="5 gb"/></tempUsage></systemUsage></systemUsage>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:${ow}"/>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:${port}?transport.tcpNoDelay=true&amp;transport.socketBufferSize=${process.env.AMQ_SOCKBUF ?? 4194304}"/>
    </transportConnectors>
  </broker>
</beans>
`);
  writeFileSync(join(dir, 'conf', 'log4j.properties'), 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=%d %-5p %m%n\n');
  child = spawn('java', ['-Xms1G', '-Xmx4G', '-Djava.awt.headless=true', `-Djava.io.tmpdir=${dir}/tmp`, '--add-opens', 'java.base/java.lang=ALL-UNNAMED', '--add-opens', 'java.base/java.util=ALL-UNNAMED', '--add-opens', 'java.base/java.net=ALL-UNNAMED',
    `-Dactivemq.classpath=${dir}/conf`, `-Dactivemq.home=${home}`, `-Dactivemq.base=${dir}`, `-Dactivemq.conf=${dir}/conf`, `-Dactivemq.data=${dir}/data`, '-jar', join(home, 'bin', 'activemq.jar'), 'start', `xbean:file:${dir}/conf/activemq.xml`], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
}
try {
  await waitPort(port, 90_000);
  const la0 = loadavg().map((x) => x.toFixed(1)).join('/');
  console.log(`## ${proto} ${who} pid ${child.pid} load before ${la0}`);
  const bargs = ['bin/omnibus.js', 'bench', '--driver', proto, '--target', `${proto}://127.0.0.1:${port}${proto === 'stomp' && process.env.PREFETCH ? `?prefetch=${process.env.PREFETCH}` : ''}`, '--count', count, '--sizes', sizes, '--broker-pid', String(child.pid)];
  if (process.env.JSONOUT) bargs.push('--json', process.env.JSONOUT);
  if (process.env.IDLE) bargs.push('--idle-timeout', process.env.IDLE);
  const r = spawnSync('node', bargs, { cwd: ROOT, stdio: 'inherit' });
  console.log(`## exit ${r.status} load after ${loadavg().map((x) => x.toFixed(1)).join('/')}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => { const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} r(); }, 30000); child.once('exit', () => { clearTimeout(t); r(); }); });
  rmSync(dir, { recursive: true, force: true });
}
