#!/usr/bin/env node
/**
 * Server CPU per message for the RESP list modes, Redis and Omnibus in the same run: the metric
 * to compare builds by on a machine shared with other work, where msg/s swing by 2× between runs
 * but CPU per message moves far less.
 *
 * One ioredis client (the same commands as `omnibus bench --driver redis`: batch = `LPUSH key`
 * with 1000 values / `RPOP key 1000`, pipelined = pipelines of 1000 `LPUSH` / `RPOP`, naive =
 * one awaited command per round trip; 2 calls in flight except naive) fills a fresh list, then
 * drains it, verifying every byte count. Redis's CPU is read from /proc/<pid>/stat (10 ms
 * ticks); Omnibus's RESP listener runs in a child process over a fresh memory:// or file://
 * engine and reports process.cpuUsage() (µs) around each phase, and its garbage collections in
 * the phase (`gc mc/sc ms`: mark-compacts / scavenges and their total pause, from a
 * PerformanceObserver). Each phase runs --reps times;
 * the first rep warms the JIT and the allocator, so read the last.
 *
 * Usage (after `npx tsc -p .`):
 *   node bench/resp-cpu.mjs [--mode batch|pipelined|naive] [--size 1024] [--count 100000]
 *                           [--reps 2] [--targets redis,memory,file] [--dist DIR[,DIR2]]
 *                           [--prof FILE-PREFIX] [--node-args "V8 flags for the Omnibus child"]
 * --dist: the dist/ of the build(s) to measure (default this checkout's); a second build
 * (e.g. a `git worktree` of an older commit, built with tsc) runs right after the first, so
 * an A/B is one command. file:// uses fsync interval, as bench/compare.mjs does. The child runs with
 * the environment and file:// options `omnibus serve` gets (bench/serve-env.mjs, prefault=1).
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import inspector from 'node:inspector';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
function flag(name, def) {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
}

// --- child: the Omnibus RESP listener, answering CPU readings over IPC ------------------------

if (argv[0] === '--child') {
  const dist = argv[1];
  const url = argv[2];
  const { connect } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const { createRespListener } = await import(pathToFileURL(path.join(dist, 'protocols/resp/listener.js')).href);
  const transport = await connect(url);
  const ac = new AbortController();
  const listener = await createRespListener({ password: undefined, users: new Map() }).start(
    { transport, storage: url.startsWith('file') ? 'file' : 'memory', dataDir: undefined, signal: ac.signal, log: () => {} },
    { host: '127.0.0.1', port: 0 },
  );
  // --cpu-prof of a phase: `{ cmd: 'prof-start' }` / `{ cmd: 'prof-stop', file }` (unused by default).
  const gc = { mc: 0, sc: 0, ms: 0 };
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      if ((e.detail?.kind ?? e.kind) === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gc.mc++;
      else gc.sc++;
      gc.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const session = new inspector.Session();
  session.connect();
  const post = (m, p) => new Promise((res, rej) => session.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
  process.on('message', (m) => {
    void (async () => {
      if (m.cmd === 'cpu') {
        const u = process.cpuUsage();
        process.send({ cpu: u.user + u.system, gc: { ...gc } });
      } else if (m.cmd === 'exit') {
        ac.abort();
        await listener.close();
        await transport.close();
        process.exit(0);
      } else if (m.cmd === 'prof-start') {
        await post('Profiler.enable');
        await post('Profiler.start');
        process.send({ ok: 1 });
      } else if (m.cmd === 'prof-stop') {
        const { profile } = await post('Profiler.stop');
        writeFileSync(m.file, JSON.stringify(profile));
        process.send({ ok: 1 });
      }
    })();
  });
  process.send({ port: Number(listener.address.split(':').pop()) });
} else {
  await main();
}

// --- parent: the client and the servers ------------------------------------------------------

async function main() {
  const { freePort, waitPort } = await import(pathToFileURL(path.join(root, 'dist/bench/net.js')).href);
  const { procCpuSeconds, stopPid } = await import(pathToFileURL(path.join(root, 'dist/bench/proc.js')).href);
  const require = createRequire(path.join(root, 'package.json'));
  const Redis = require('ioredis');
  const mode = flag('mode', 'batch');
  const size = Number(flag('size', '1024'));
  const count = Number(flag('count', '100000'));
  const reps = Number(flag('reps', '2'));
  const targets = flag('targets', 'redis,memory,file').split(',');
  const dists = flag('dist', path.join(root, 'dist')).split(',').map((d) => path.resolve(d));
  const prof = flag('prof', undefined);
  // --node-args "--trace-gc --max-semi-space-size=16": V8 flags for the Omnibus child only.
  const childArgs = (flag('node-args', '') ?? '').split(' ').filter((x) => x !== '');
  const B = 1000;
  const rows = [];

  async function measure(label, port, cpu, ask, gcOf) {
    const c = new Redis({ port, host: '127.0.0.1', enableAutoPipelining: false });
    await c.ping();
    const body = (i) => {
      const b = Buffer.alloc(size, 120);
      b.write(String(i).padStart(10, '0'));
      return b;
    };
    for (let r = 1; r <= reps; r++) {
      const key = `cpu-${process.pid}-${r}`;
      let got = 0;
      let bytes = 0;
      const enq = async () => {
        let next = 0;
        const worker = async () => {
          while (next < count) {
            const s = next;
            next += B;
            const vals = [];
            for (let i = s; i < s + B && i < count; i++) vals.push(body(i));
            if (mode === 'batch') await c.lpush(key, ...vals);
            else if (mode === 'pipelined') {
              const p = c.pipeline();
              for (const v of vals) p.lpush(key, v);
              await p.exec();
            } else for (const v of vals) await c.lpush(key, v);
          }
        };
        await Promise.all(mode === 'naive' ? [worker()] : [worker(), worker()]);
      };
      const deq = async () => {
        let asked = 0;
        const worker = async () => {
          while (asked < count) {
            const n = Math.min(B, count - asked);
            asked += n;
            let vals;
            if (mode === 'batch') vals = (await c.rpopBuffer(key, n)) ?? [];
            else if (mode === 'pipelined') {
              const p = c.pipeline();
              for (let i = 0; i < n; i++) p.rpopBuffer(key);
              vals = (await p.exec()).map((x) => x[1]);
            } else {
              vals = [];
              for (let i = 0; i < n; i++) vals.push(await c.rpopBuffer(key));
            }
            for (const v of vals) {
              if (v) {
                got++;
                bytes += v.length;
              }
            }
          }
        };
        await Promise.all(mode === 'naive' ? [worker()] : [worker(), worker()]);
      };
      for (const [phase, fn] of [['enqueue', enq], ['dequeue', deq]]) {
        if (prof && ask) await ask({ cmd: 'prof-start' });
        const g0 = gcOf ? await gcOf() : undefined;
        const s0 = await cpu();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await fn();
        const ms = performance.now() - t0;
        const cc = process.cpuUsage(c0);
        const s1 = await cpu();
        const g1 = gcOf ? await gcOf() : undefined;
        if (prof && ask) await ask({ cmd: 'prof-stop', file: `${prof}-${label.replace(/\W+/g, '_')}-${phase}.cpuprofile` });
        const row = { target: label, rep: r, phase, msgPerSec: Math.round((count / ms) * 1000), serverUsPerMsg: (s1 - s0) / count, clientUsPerMsg: (cc.user + cc.system) / count };
        rows.push(row);
        // The gc readings bracket the cpu ones, so the phase's collections are all counted.
        const gcText = g0 && g1 ? `  gc ${g1.mc - g0.mc}/${g1.sc - g0.sc} ${Math.round(g1.ms - g0.ms)} ms` : '';
        console.log(
          `${label.padEnd(28)} rep ${r} ${phase}  ${String(row.msgPerSec).padStart(8)} msg/s  server ${row.serverUsPerMsg.toFixed(2)} µs/msg  client ${row.clientUsPerMsg.toFixed(2)} µs/msg${gcText}`,
        );
      }
      if (got !== count || bytes !== count * size) throw new Error(`${label}: dequeued ${got} messages / ${bytes} bytes, expected ${count} / ${count * size}`);
    }
    c.disconnect();
  }

  console.log(`resp-cpu: ${mode}, ${count} × ${size} B, ${reps} reps; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const t of targets) {
    if (t === 'redis') {
      const port = await freePort();
      const rs = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      try {
        await waitPort(port);
        await measure('redis', port, async () => (procCpuSeconds(rs.pid) ?? 0) * 1e6);
      } finally {
        await stopPid(rs.pid);
      }
      continue;
    }
    for (const dist of dists) {
      const dir = t === 'file' ? mkdtempSync(path.join(os.tmpdir(), 'omnibus-resp-cpu-')) : undefined;
      // As `omnibus serve` runs it (bench/compare.mjs measures that): glibc tuned as bin/omnibus
      // does, file:// write buffers prefaulted at start.
      const url = dir ? `${pathToFileURL(dir).href}?fsync=interval&prefault=1` : 'memory://';
      const child = fork(fileURLToPath(import.meta.url), ['--child', dist, url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: childArgs, env: serveEnv() });
      const waiting = [];
      child.on('message', (m) => waiting.shift()?.(m));
      const ask = (m) =>
        new Promise((resolve) => {
          waiting.push(resolve);
          if (m) child.send(m);
        });
      try {
        const { port } = await ask();
        await measure(
          `omnibus ${t} ${dists.length > 1 ? path.basename(path.dirname(dist)) : ''}`.trim(),
          port,
          async () => (await ask({ cmd: 'cpu' })).cpu,
          ask,
          async () => (await ask({ cmd: 'cpu' })).gc,
        );
        child.send({ cmd: 'exit' });
        await new Promise((r) => child.once('exit', r));
      } finally {
        await stopPid(child.pid, 5000);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const last = rows.filter((r) => r.rep === reps);
  const redis = last.filter((r) => r.target === 'redis');
  if (redis.length > 0) {
    console.log(`last rep, × Redis (server CPU per message; msg/s):`);
    for (const r of last) {
      if (r.target === 'redis') continue;
      const base = redis.find((x) => x.phase === r.phase);
      console.log(`  ${r.target.padEnd(28)} ${r.phase}  CPU ${(r.serverUsPerMsg / base.serverUsPerMsg).toFixed(2)}×  rate ${(r.msgPerSec / base.msgPerSec).toFixed(2)}×`);
    }
  }
}
