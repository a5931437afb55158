#!/usr/bin/env node
/**
 * MQTT dequeue as the client sees it: one broker (Omnibus `serve --fsync interval` on file storage,
 * or mosquitto 2 configured as bench/stomp-mqtt-compare.mjs does), a persistent session filled with
 * COUNT × SIZE QoS 1 messages, then an mqtt.js subscriber in a separate process reconnects and
 * takes the backlog (PUBACK per message, as the bench driver does). Printed per run, as JSON:
 *
 *   ms, rate            connect → last message
 *   connackMs, firstMs  connect → CONNACK, → first PUBLISH
 *   elu                 the client's event-loop utilisation over the drain (1 = never waited)
 *   clientUs, brokerUs  CPU µs per message: the client (process.cpuUsage) and the broker (all of
 *                       its threads, /proc/PID/stat utime + stime)
 *   clientSysUs         the client's kernel share of clientUs (socket reads and PUBACK writes)
 *   reads, medChunk     socket reads in the client and their median / p90 / max size
 *   bSyscw, bSyscr      the broker's write / read system calls over the drain (/proc/PID/io):
 *                       socket writes, state-log writes, PUBACK reads
 *   dups                PUBLISHes with DUP set (0 on a clean run)
 *   waits, waitMs       times the client had handled everything it had read and waited ≥ 0.2 ms
 *                       for the next socket read, and those waits' total
 *   tcp                 the client socket's segments out / in and those with data (`ss -i`)
 *
 *   node bench/mqtt-drain-probe.mjs omnibus|real COUNT SIZE [REPS] [OMNIBUS_ROOT]
 *
 * OMNIBUS_ROOT (default: this checkout) runs another build's bin/omnibus.js — an A/B against a
 * `git worktree` of an older revision. RAW=FILE keeps the bytes the client read (first run).
 * Needs `npx tsc -p .` first. Starts the broker on a free loopback port in a temp dir and stops
 * it by pid.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chownSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { freePort, portOpen } = await import(join(ROOT, 'dist/bench/net.js'));
const { procCpuSeconds } = await import(join(ROOT, 'dist/bench/proc.js'));
const mode = process.argv[2];

async function mqttConnect() {
  const mod = await import('mqtt');
  return mod.connect ?? mod.default.connect;
}

if (mode === '--fill') await fill(...process.argv.slice(3));
else if (mode === '--drain') await drain(...process.argv.slice(3));
else await main(...process.argv.slice(2));

/** Leaves COUNT × SIZE QoS 1 messages on topic `q` in CLIENTID's persistent session. */
async function fill(port, count, size, cid) {
  const connect = await mqttConnect();
  const url = `mqtt://127.0.0.1:${port}`;
  const open = (o) =>
    new Promise((res, rej) => {
      const c = connect(url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 60, ...o });
      c.once('connect', () => {
        c.stream.setNoDelay?.(true);
        res(c);
      });
      c.once('error', rej);
    });
  const end = (c) => new Promise((r) => c.end(false, {}, r));
  await end(await open({ clean: true, clientId: cid }));
  const s = await open({ clean: false, clientId: cid });
  await s.subscribeAsync('q', { qos: 1 });
  await end(s);
  const p = await open({ clean: true, clientId: `${cid}-pub` });
  const n = Number(count);
  const body = Buffer.alloc(Number(size), 0x61);
  let sent = 0;
  let acked = 0;
  let inflight = 0;
  await new Promise((done) => {
    const pump = () => {
      while (inflight < 1000 && sent < n) {
        inflight++;
        sent++;
        p.publish('q', body, { qos: 1 }, () => {
          inflight--;
          if (++acked === n) done();
          else pump();
        });
      }
    };
    pump();
  });
  await end(p);
}

/** Takes COUNT messages of CLIENTID's backlog; prints the figures described above. */
async function drain(port, count, cid, bpid) {
  const connect = await mqttConnect();
  const n = Number(count);
  const cpuSeconds = () => procCpuSeconds(Number(bpid));
  const io = () => Object.fromEntries(readFileSync(`/proc/${bpid}/io`, 'utf8').trim().split('\n').map((l) => [l.split(': ')[0], Number(l.split(': ')[1])]));
  const io0 = io();
  const b0 = cpuSeconds();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const c = connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 60, clean: false, clientId: cid });
  const chunks = [];
  const raw = [];
  let tConnack = 0;
  let elu0;
  let idleSince = 0;
  let armed = false;
  let waits = 0;
  let waitMs = 0;
  const markIdle = () => {
    armed = false;
    idleSince = performance.now();
  };
  c.stream.on('data', (d) => {
    const now = performance.now();
    if (idleSince > 0 && now - idleSince >= 0.2) {
      waits++;
      waitMs += now - idleSince;
    }
    idleSince = 0;
    if (!armed) {
      armed = true;
      setImmediate(markIdle);
    }
    chunks.push(d.length);
    if (process.env.RAW) raw.push(Buffer.from(d));
  });
  c.once('packetreceive', () => {
    tConnack = performance.now();
    elu0 = performance.eventLoopUtilization();
  });
  c.once('connect', () => c.stream.setNoDelay?.(true));
  let got = 0;
  let tFirst = 0;
  let dups = 0;
  await new Promise((done) =>
    c.on('message', (_t, _p, pk) => {
      if (got === 0) tFirst = performance.now();
      if (pk.dup) dups++;
      if (++got === n) done();
    }),
  );
  const t1 = performance.now();
  // The client socket's TCP counters (ss -i): segments out and in, and how many carried data.
  const ssOut = spawnSync('ss', ['-tinH', 'src', `127.0.0.1:${c.stream.localPort}`], { encoding: 'utf8' }).stdout ?? '';
  const tcp = Object.fromEntries(['segs_out', 'segs_in', 'data_segs_out', 'data_segs_in'].map((k) => [k, Number(new RegExp(`\\b${k}:(\\d+)`).exec(ssOut)?.[1] ?? NaN)]));
  const elu = performance.eventLoopUtilization(elu0);
  const cu = process.cpuUsage(c0);
  const b1 = cpuSeconds();
  const io1 = io();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => c.end(false, {}, r));
  if (process.env.RAW) writeFileSync(process.env.RAW, Buffer.concat(raw));
  chunks.sort((a, b) => a - b);
  const ms = t1 - t0;
  const cpu = (cu.user + cu.system) / 1000;
  console.log(
    JSON.stringify({
      ms: Math.round(ms),
      rate: Math.round((n / ms) * 1000),
      connackMs: Math.round(tConnack - t0),
      firstMs: Math.round(tFirst - t0),
      elu: +elu.utilization.toFixed(2),
      clientUs: +((cpu * 1000) / n).toFixed(2),
      clientSysUs: +(cu.system / n).toFixed(2),
      brokerUs: +(((b1 - b0) * 1e6) / n).toFixed(2),
      reads: chunks.length,
      medChunk: chunks[chunks.length >> 1],
      p90Chunk: chunks[Math.floor(chunks.length * 0.9)],
      maxChunk: chunks.at(-1),
      bSyscw: io1.syscw - io0.syscw,
      bSyscr: io1.syscr - io0.syscr,
      dups,
      waits,
      waitMs: Math.round(waitMs),
      tcp,
    }),
  );
}

async function main(who, count = '200000', size = '128', reps = '1', root = ROOT) {
  if (!['omnibus', 'real'].includes(who)) {
    console.error('usage: node bench/mqtt-drain-probe.mjs omnibus|real COUNT SIZE [REPS] [OMNIBUS_ROOT]');
    process.exit(2);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `mqprobe-${who}-`));
  let child;
  if (who === 'omnibus') {
    const args = ['bin/omnibus.js', 'serve', '--data', dir, '--health-port', 'off', '--no-amqp', '--no-resp', '--no-kafka', '--no-stomp', '--mqtt-port', String(port), '--fsync', 'interval'];
    child = spawn('node', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: serveEnv() });
  } else {
    const conf = join(dir, 'm.conf');
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 0', 'max_inflight_messages 1000', 'set_tcp_nodelay true', 'log_dest none', ''].join('\n'));
    const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
    if (uid.status === 0) chownSync(dir, Number(uid.stdout.trim()), Number(spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' }).stdout.trim()));
    child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  try {
    for (let i = 0; i < 150 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < Number(reps); i++) {
      const cid = `probe-${i}`;
      const f = spawnSync('node', [SELF, '--fill', String(port), count, size, cid], { stdio: 'inherit' });
      if (f.status !== 0) throw new Error('fill failed');
      const load = loadavg()[0].toFixed(1);
      const drainArgs = [SELF, '--drain', String(port), count, cid, String(child.pid)];
      // PERF=events wraps the drain in `perf stat -e events` (its counts go to stderr, printed after the figures).
      // PERF_RECORD=FILE records the drain's CPU profile with `perf record -g` (kernel and user stacks).
      const [cmd, argv] = process.env.PERF
        ? ['perf', ['stat', '-x', ',', '-e', process.env.PERF, 'node', ...drainArgs]]
        : process.env.PERF_RECORD
          ? ['perf', ['record', '-q', '-F', '4000', '-g', '-o', `${process.env.PERF_RECORD}.${i}`, 'node', '--perf-basic-prof', ...drainArgs]]
          : ['node', drainArgs];
      const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, RAW: i === 0 ? (process.env.RAW ?? '') : '' } });
      process.stdout.write(`${who} ${size} B × ${count} load ${load} ${r.stdout.trim()}${r.stderr ? ' ' + r.stderr.trim() : ''}\n`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
