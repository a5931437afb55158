#!/usr/bin/env node
// kcat against three Kafka endpoints in the same run, to separate the broker's cost from the
// client's own ceiling on this machine:
//
//   omnibus  `omnibus serve --fsync interval` (a child process, fresh data directory per size)
//   null     bench/kafka-null-broker.mjs: acknowledges Produce without storing anything and
//            serves Fetch from one pre-built batch — a measuring instrument, not a broker; what
//            kcat reaches against it is the client's ceiling here
//   mock     librdkafka's built-in mock cluster (`-X test.mock.num.brokers=1`), inside the kcat
//            process: produce only (a second kcat process cannot read another one's mock)
//
// Per size and target: `kcat -P -l FILE -X acks=1` (librdkafka defaults otherwise: linger 5 ms,
// 1 MB batches) on a file of the seed payloads, then `kcat -C -o beginning -c N -e` with its output
// counted (records and bytes must both match, or the row says NOT VERIFIED). Reported: wall time,
// records/s, MB/s, the broker's CPU (user + system from /proc) and kcat's own CPU (from
// /usr/bin/time), each also per record. Targets alternate within a round, so each round compares
// them under the same load; `--rounds` repeats.
//
// Usage: npx tsc -p . && node bench/kafka-ceiling.mjs [--targets omnibus,null,mock]
//          [--sizes 128,1024,10240] [--count 1000000] [--count-large 100000] [--rounds 1]
//          [--warmup] [--base-root DIR (adds target "base": omnibus serve of that checkout, for A/B)]
//          [--serve-env K=V ...] [--serve-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"] [--json out.json]
// (--count-large applies to sizes ≥ 8 KiB.)
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { freePort } = await import(path.join(root, 'dist/bench/net.js'));
const { writeSeedFile } = await import(path.join(root, 'dist/bench/seed.js'));
const { procCpuSeconds } = await import(path.join(root, 'dist/bench/proc.js'));
/** Minor page faults of a process so far (/proc/PID/stat field 10): first touches of fresh memory. */
function minflt(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[7]);
  } catch {
    return undefined;
  }
}

const { values: args } = parseArgs({
  options: {
    targets: { type: 'string', default: 'omnibus,null,mock' },
    sizes: { type: 'string', default: '128,1024,10240' },
    count: { type: 'string', default: '1000000' },
    'count-large': { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '1' },
    fsync: { type: 'string', default: 'interval' },
    'serve-node-args': { type: 'string', default: '' },
    // Environment for the Omnibus child only, e.g. GLIBC_TUNABLES=glibc.malloc.trim_threshold=...
    'serve-env': { type: 'string', multiple: true, default: [] },
    'no-consume': { type: 'boolean', default: false },
    'keep-files': { type: 'boolean', default: false },
    // Produce the file once to a scratch topic before the measured run: a fresh broker otherwise
    // pays for filling its 64 MiB chunk cache with fresh memory (page faults) and for JIT warm-up.
    warmup: { type: 'boolean', default: false },
    // A/B: target "base" runs `omnibus serve` from another checkout (built), e.g. a git worktree.
    'base-root': { type: 'string' },
    json: { type: 'string' },
  },
});
const targets = args.targets.split(',');
const sizes = args.sizes.split(',').map(Number);
const countFor = (size) => Number(size >= 8192 ? args['count-large'] : args.count);


function waitExit(proc) {
  return new Promise((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.once('close', (c) => resolve(c))));
}

/** Starts a server child that prints a line matching /listening/ once ready. */
async function startChild(argv, cleanupDir, env = process.env) {
  const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], env });
  await new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (l) => /listening/.test(l) && resolve());
    proc.once('exit', (c) => reject(new Error(`${argv.join(' ')} exited ${c}`)));
  });
  return {
    pid: proc.pid,
    async stop() {
      proc.kill('SIGTERM');
      await waitExit(proc);
      if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
    },
  };
}

async function startTarget(target, size) {
  if (target === 'mock') return { bootstrap: 'mock:1', extra: ['-X', 'test.mock.num.brokers=1'], pid: undefined, stop: async () => {} };
  const port = await freePort();
  if (target === 'null') {
    const c = await startChild([path.join(root, 'bench/kafka-null-broker.mjs'), '--port', String(port), '--size', String(size)]);
    return { ...c, bootstrap: `127.0.0.1:${port}`, extra: [] };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-kafka-ceiling-'));
  const nodeArgs = args['serve-node-args'] ? args['serve-node-args'].split(' ') : [];
  const c = await startChild(
    [...nodeArgs, path.join(target === 'base' ? args['base-root'] : root, 'bin/omnibus.js'), 'serve', '--data', dir, '--fsync', args.fsync, '--no-amqp', '--no-resp', '--no-stomp', '--no-mqtt', '--kafka-port', String(port), '--health-port', 'off'],
    dir,
    { ...serveEnv(), ...Object.fromEntries(args['serve-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) },
  );
  return { ...c, bootstrap: `127.0.0.1:${port}`, extra: [] };
}

/** The seed payloads (seed.ts scheme), newline-terminated, in a file. */
function seedFile(size, n) {
  return writeSeedFile(path.join(os.tmpdir(), `omnibus-kafka-seed-${size}-${n}.txt`), size, n);
}

/** Runs kcat under /usr/bin/time; returns wall seconds, kcat CPU seconds and stdout bytes/lines. */
async function kcat(argv) {
  const t0 = performance.now();
  const p = spawn('/usr/bin/time', ['-f', 'KCAT-CPU %U %S', 'kcat', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let lines = 0;
  p.stdout.on('data', (d) => {
    bytes += d.length;
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
  });
  let err = '';
  p.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const code = await waitExit(p);
  const wall = (performance.now() - t0) / 1000;
  const m = /KCAT-CPU ([\d.]+) ([\d.]+)/.exec(err);
  if (code !== 0 || !m) throw new Error(`kcat ${argv.join(' ')} exited ${code}: ${err}`);
  return { wall, cpu: Number(m[1]) + Number(m[2]), bytes, lines };
}

const rows = [];
const f0 = (x) => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));
const f2 = (x) => (x === undefined ? '–' : x.toFixed(2));
for (let round = 1; round <= Number(args.rounds); round++) {
  for (const size of sizes) {
    const n = countFor(size);
    const file = seedFile(size, n);
    for (const target of targets) {
      const t = await startTarget(target, size);
      try {
        const topic = `ceiling-${size}-${Date.now()}`;
        if (args.warmup && target !== 'mock') await kcat(['-b', t.bootstrap, '-P', '-t', `${topic}-warmup`, '-p', '0', '-X', 'acks=1', '-l', file]);
        const b0 = t.pid ? procCpuSeconds(t.pid) : undefined;
        const m0 = t.pid ? minflt(t.pid) : undefined;
        const load0 = os.loadavg()[0];
        const prod = await kcat(['-b', t.bootstrap, ...t.extra, '-P', '-t', topic, '-p', '0', '-X', 'acks=1', '-l', file]);
        const b1 = t.pid ? procCpuSeconds(t.pid) : undefined;
        const m1 = t.pid ? minflt(t.pid) : undefined;
        const row = { round, size, count: n, target, warmup: args.warmup, load: [load0], produce: { wall: prod.wall, recPerSec: n / prod.wall, mbPerSec: (n * size) / 1e6 / prod.wall, clientCpu: prod.cpu, brokerCpu: b1 !== undefined ? b1 - b0 : undefined, brokerFaults: m1 !== undefined ? m1 - m0 : undefined } };
        if (target !== 'mock' && !args['no-consume']) {
          const cons = await kcat(['-b', t.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-c', String(n), '-e', '-q', '-X', 'fetch.message.max.bytes=4194304']);
          const b2 = procCpuSeconds(t.pid);
          const m2 = minflt(t.pid);
          row.consume = { wall: cons.wall, recPerSec: n / cons.wall, mbPerSec: (n * size) / 1e6 / cons.wall, clientCpu: cons.cpu, brokerCpu: b2 - b1, brokerFaults: m2 - m1, verified: cons.lines === n && cons.bytes === n * (size + 1) };
        }
        row.load.push(os.loadavg()[0]);
        rows.push(row);
        for (const [phase, r] of [['produce', row.produce], ['consume', row.consume]]) {
          if (!r) continue;
          process.stdout.write(
            `r${round} ${String(size).padStart(5)} B × ${f0(n).padStart(9)} ${target.padEnd(7)} ${phase.padEnd(7)} ${f0(r.recPerSec).padStart(9)} rec/s ${r.mbPerSec.toFixed(1).padStart(6)} MB/s wall ${f2(r.wall)} s  kcat CPU ${f2(r.clientCpu)} s (${((r.clientCpu / n) * 1e6).toFixed(2)} µs/rec)  broker CPU ${f2(r.brokerCpu)} s${r.brokerCpu !== undefined ? ` (${((r.brokerCpu / n) * 1e6).toFixed(2)} µs/rec, ${f0(r.brokerFaults)} page faults)` : ''}${r.verified === false ? '  NOT VERIFIED' : ''}  load ${row.load.map((l) => l.toFixed(1)).join('→')}\n`,
          );
        }
      } finally {
        await t.stop();
      }
    }
  }
}
// The 10 KiB file alone is ~1 GB per 100,000 records: never leave them behind unless asked.
if (!args['keep-files']) for (const size of sizes) rmSync(path.join(os.tmpdir(), `omnibus-kafka-seed-${size}-${countFor(size)}.txt`), { force: true });
if (args.json) writeFileSync(args.json, JSON.stringify({ when: new Date().toISOString(), cpus: os.cpus().length, fsync: args.fsync, rows }, null, 2));
