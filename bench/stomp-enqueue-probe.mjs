#!/usr/bin/env node
/**
 * STOMP enqueue as the client sees it: one broker (Omnibus `serve --fsync always` on file storage,
 * or ActiveMQ 5 configured as bench/stomp-mqtt-compare.mjs does), and a stompit publisher in a
 * separate process that SENDs COUNT × SIZE `persistent:true` messages to a fresh /queue/, a
 * receipt on the last of every 1000 and two such windows in flight (the bench driver's pattern).
 * A warm-up pass of the same size runs first on the same broker (JIT on both sides), then REPS
 * measured passes. Printed per pass, as JSON:
 *
 *   ms, rate            first SEND → last RECEIPT
 *   elu                 the client's event-loop utilisation (1 = never waited for the broker)
 *   clientUs, clientSysUs   client CPU µs per message (process.cpuUsage) and its kernel share
 *   brokerUs            broker CPU µs per message (all threads, /proc/PID/stat utime + stime)
 *   cVcs, cNvcs         client context switches per message, voluntary / involuntary
 *   bSyscr, bSyscw      broker read / write system calls per message (/proc/PID/io)
 *   segs                client socket segments out per message (`ss -i` data_segs_out)
 *
 *   node bench/stomp-enqueue-probe.mjs omnibus|real|null COUNT SIZE [REPS] [OMNIBUS_ROOT]
 *
 * `null` is the client's ceiling: a server that parses the frames, answers receipts at once and
 * stores nothing.
 *
 * OMNIBUS_ROOT (default: this checkout) runs another build's bin/omnibus.js: an A/B against a
 * `git worktree` of an older revision. PERF_RECORD=FILE records each measured client pass with
 * `perf record -g`; SS_SNAP=MS prints `ss -tieo` of both ends of the client's connection every MS
 * ms (congestion window, pacing, ACK counts); BROKER_PROF=DIR runs Omnibus with `--cpu-prof` into DIR. Needs `npx tsc -p .` first. The broker runs on a free loopback port in a temp
 * dir and is stopped by pid.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';
import { startActiveMq } from './activemq.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { freePort, portOpen } = await import(join(ROOT, 'dist/bench/net.js'));
const { procCpuSeconds } = await import(join(ROOT, 'dist/bench/proc.js'));
const mode = process.argv[2];

if (mode === '--send') await send(...process.argv.slice(3));
else if (mode === '--null-server') await nullServer(Number(process.argv[3]));
else await main(...process.argv.slice(2));

/**
 * The client's ceiling: a STOMP server that stores nothing. It parses every frame (Omnibus's
 * parser), answers CONNECT and every `receipt` at once, and drops the rest.
 */
async function nullServer(port) {
  const net = await import('node:net');
  const { StompParser } = await import(join(ROOT, 'dist/protocols/stomp/codec/parser.js'));
  const { encodeFrame } = await import(join(ROOT, 'dist/protocols/stomp/codec/encoder.js'));
  const { header } = await import(join(ROOT, 'dist/protocols/stomp/codec/frame.js'));
  net.createServer((s) => {
    s.setNoDelay(true);
    const parser = new StompParser();
    s.on('error', () => {});
    s.on('data', (d) =>
      parser.push(d, (f) => {
        if (f.command === 'CONNECT' || f.command === 'STOMP') s.write(encodeFrame('CONNECTED', [['version', '1.2'], ['heart-beat', '0,0']], undefined, '1.0'));
        else if (f.command === 'DISCONNECT') s.end(encodeFrame('RECEIPT', [['receipt-id', header(f, 'receipt') ?? '']], undefined, '1.2'));
        else {
          const r = header(f, 'receipt');
          if (r !== undefined) s.write(encodeFrame('RECEIPT', [['receipt-id', r]], undefined, '1.2'));
        }
      }),
    );
  }).listen(port, '127.0.0.1');
}

function ctxSwitches() {
  const s = readFileSync('/proc/self/status', 'utf8');
  return [/^voluntary_ctxt_switches:\s+(\d+)/m, /^nonvoluntary_ctxt_switches:\s+(\d+)/m].map((re) => Number(re.exec(s)?.[1] ?? NaN));
}

/** One pass: COUNT × SIZE to /queue/QUEUE; prints the figures described above. */
async function send(port, count, size, queue, bpid) {
  const mod = await import('stompit');
  const stompit = mod.default ?? mod;
  const c = await new Promise((res, rej) =>
    stompit.connect({ host: '127.0.0.1', port: Number(port), connectHeaders: { host: '/', 'heart-beat': '0,0', 'accept-version': '1.2' } }, (e, cl) => (e ? rej(e) : res(cl))),
  );
  const sock = c.getTransportSocket();
  sock.setNoDelay(true);
  const n = Number(count);
  const body = Buffer.alloc(Number(size), 0x61);
  const io = () => Object.fromEntries(readFileSync(`/proc/${bpid}/io`, 'utf8').trim().split('\n').map((l) => [l.split(': ')[0], Number(l.split(': ')[1])]));
  const ss = () => Number(/\bdata_segs_out:(\d+)/.exec(spawnSync('ss', ['-tinH', 'src', `127.0.0.1:${sock.localPort}`], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? NaN);
  const seg0 = ss();
  const io0 = io();
  const b0 = procCpuSeconds(Number(bpid));
  const [v0, nv0] = ctxSwitches();
  const c0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const headers = { destination: `/queue/${queue}`, persistent: 'true', 'content-length': String(body.length) };
  let next = 0;
  let failed;
  c.on('error', (e) => (failed = e));
  const windowOf = (from, to) =>
    new Promise((resolve) => {
      for (let i = from; i < to; i++) c.send({ ...headers }, i === to - 1 ? { onReceipt: resolve } : undefined).end(body);
    });
  const lane = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + 1000);
      await windowOf(from, next);
    }
  };
  const snap = process.env.SS_SNAP ? setInterval(() => process.stderr.write(spawnSync('ss', ['-tinoeH', 'src', `127.0.0.1:${sock.localPort}`], { encoding: 'utf8' }).stdout + spawnSync('ss', ['-tinoeH', 'dst', `127.0.0.1:${sock.localPort}`], { encoding: 'utf8' }).stdout), Number(process.env.SS_SNAP)) : undefined;
  await Promise.all([lane(), lane()]);
  clearInterval(snap);
  if (failed) throw failed;
  const t1 = performance.now();
  const cu = process.cpuUsage(c0);
  const elu = performance.eventLoopUtilization(elu0);
  const [v1, nv1] = ctxSwitches();
  const b1 = procCpuSeconds(Number(bpid));
  const io1 = io();
  const seg1 = ss();
  await new Promise((r) => c.disconnect(r));
  const ms = t1 - t0;
  console.log(
    JSON.stringify({
      ms: Math.round(ms),
      rate: Math.round((n / ms) * 1000),
      elu: +elu.utilization.toFixed(2),
      clientUs: +((cu.user + cu.system) / n).toFixed(2),
      clientSysUs: +(cu.system / n).toFixed(2),
      brokerUs: +(((b1 - b0) * 1e6) / n).toFixed(2),
      cVcs: +((v1 - v0) / n).toFixed(2),
      cNvcs: +((nv1 - nv0) / n).toFixed(2),
      bSyscr: +((io1.syscr - io0.syscr) / n).toFixed(2),
      bSyscw: +((io1.syscw - io0.syscw) / n).toFixed(2),
      segs: +((seg1 - seg0) / n).toFixed(2),
    }),
  );
}


async function main(who, count = '50000', size = '512', reps = '3', root = ROOT) {
  if (!['omnibus', 'real', 'null'].includes(who)) {
    console.error('usage: node bench/stomp-enqueue-probe.mjs omnibus|real|null COUNT SIZE [REPS] [OMNIBUS_ROOT]');
    process.exit(2);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `stprobe-${who}-`));
  const child =
    who === 'null'
      ? spawn('node', [SELF, '--null-server', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
      : who === 'omnibus'
      ? spawn('node', [...(process.env.BROKER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BROKER_PROF] : []), 'bin/omnibus.js', 'serve', '--data', dir, '--health-port', 'off', '--no-amqp', '--no-resp', '--no-kafka', '--no-mqtt', '--stomp-port', String(port), '--fsync', 'always'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: serveEnv() })
      : startActiveMq(dir, port, await freePort(), { stdout: 'ignore' });
  try {
    for (let i = 0; i < 450 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 200));
    for (let i = -1; i < Number(reps); i++) {
      const load = loadavg()[0].toFixed(1);
      const args = [SELF, '--send', String(port), count, size, `probe-${size}-${i + 1}`, String(child.pid)];
      const [cmd, argv] = process.env.PERF_RECORD && i >= 0
        ? ['perf', ['record', '-q', '-F', '4000', '-g', '-o', `${process.env.PERF_RECORD}.${i}`, 'node', '--perf-basic-prof', ...args]]
        : ['node', args];
      const r = spawnSync(cmd, argv, { encoding: 'utf8' });
      process.stdout.write(`${who} ${size} B × ${count} ${i < 0 ? 'warm-up' : `pass ${i + 1}`} load ${load} ${r.stdout.trim()}${r.stderr ? ' ' + r.stderr.trim() : ''}\n`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
