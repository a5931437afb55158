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
 *   IDLE=SEC --idle-timeout SEC, WARMUP=N|P% --warmup (the same for both brokers). stomp: PREFETCH=N subscribes with activemq.prefetchSize N (the
 *   driver's `?prefetch=N`; default 1000).
 * Needs `npx tsc -p .` first (runs dist/ through bin/omnibus.js).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, chownSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';
import { startActiveMq } from './activemq.mjs';
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
  child = startActiveMq(dir, port, await freePort(), { socketBufferSize: process.env.AMQ_SOCKBUF ?? 4194304 });
}
try {
  await waitPort(port, 90_000);
  const la0 = loadavg().map((x) => x.toFixed(1)).join('/');
  console.log(`## ${proto} ${who} pid ${child.pid} load before ${la0}`);
  const bargs = ['bin/omnibus.js', 'bench', '--driver', proto, '--target', `${proto}://127.0.0.1:${port}${proto === 'stomp' && process.env.PREFETCH ? `?prefetch=${process.env.PREFETCH}` : ''}`, '--count', count, '--sizes', sizes, '--broker-pid', String(child.pid)];
  if (process.env.JSONOUT) bargs.push('--json', process.env.JSONOUT);
  if (process.env.IDLE) bargs.push('--idle-timeout', process.env.IDLE);
  if (process.env.WARMUP) bargs.push('--warmup', process.env.WARMUP);
  const r = spawnSync('node', bargs, { cwd: ROOT, stdio: 'inherit' });
  console.log(`## exit ${r.status} load after ${loadavg().map((x) => x.toFixed(1)).join('/')}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => { const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} r(); }, 30000); child.once('exit', () => { clearTimeout(t); r(); }); });
  rmSync(dir, { recursive: true, force: true });
}
