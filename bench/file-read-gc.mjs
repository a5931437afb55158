#!/usr/bin/env node
/**
 * The file:// read path under a socket consumer, in one process: COUNT × SIZE messages are
 * published to a file:// topic, the engine is reopened (so the backlog is read back from the
 * segment files, not the write chunks), and one consumer writes every body by reference to a
 * real loopback socket whose peer (a child process) reads as fast as it can and checks every
 * byte, acking each delivery once its write completed (as a client's ack follows its receipt;
 * prefetch 800 = ~8 MiB in flight, the MQTT session's byte window): the MQTT/AMQP sessions'
 * path for a 10 KiB message. Printed per run, as JSON:
 *
 *   usPerMsg        process CPU (all threads) per delivered message over the drain
 *   markCompacts    V8 mark-compacts during the drain, and gcMs: all GC pause time
 *   pool            read slabs allocated / reused (storage ReadPool; 0 / 0 = plain reads)
 *
 * --pin runs the consumer with `pinsBodies` (bodies in recycled read slabs, each pinned by
 * holdBody() until its socket write's callback); without it, as before: a fresh buffer per file
 * read, freed by the GC. `bad` counts messages that arrived with other bytes than published.
 *
 *   node bench/file-read-gc.mjs [--size 10240] [--count 40000] [--reps 2] [--pin] [--dist DIR]
 *
 * --dist: the dist/ of the build to measure (default this checkout's; `--pin` needs a build with
 * readLeased). Runs with glibc tuned as `omnibus serve` is (bench/serve-env.mjs) by re-executing
 * itself when GLIBC_TUNABLES is unset.
 */
import { fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
};
const body = (i, size) => {
  const b = Buffer.alloc(size, 0x21 + (i % 90));
  b.writeUInt32BE(i, 0);
  return b;
};

if (argv[0] === '--reader') {
  // The peer: reads, compares each message with what was published, reports when done.
  const size = Number(argv[1]);
  const count = Number(argv[2]);
  let received = 0;
  let bad = 0;
  let pending = Buffer.alloc(0);
  const server = net.createServer((s) =>
    s.on('data', (c) => {
      pending = pending.length === 0 ? c : Buffer.concat([pending, c]);
      while (pending.length >= size) {
        if (!pending.subarray(0, size).equals(body(received, size))) bad++;
        received++;
        pending = pending.subarray(size);
      }
      if (received === count) {
        process.send({ received, bad });
        server.close();
        s.destroy();
      }
    }),
  );
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
} else if (process.env.GLIBC_TUNABLES === undefined) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit', env: serveEnv() });
  process.exit(r.status ?? 1);
} else await main();

async function main() {

const size = Number(flag('size', '10240'));
const count = Number(flag('count', '40000'));
const reps = Number(flag('reps', '2'));
const pin = argv.includes('--pin');
const dist = path.resolve(flag('dist', path.join(root, 'dist')));
const { Engine } = await import(pathToFileURL(path.join(dist, 'engine/engine.js')).href);
const { FileStorage } = await import(pathToFileURL(path.join(dist, 'engine/storage/file/index.js')).href);

for (let rep = 1; rep <= reps; rep++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-file-read-gc-'));
  let storage = new FileStorage(dir);
  let engine = await Engine.open({ storage, fsync: 'never' });
  await engine.topic('q', { partitions: 1 });
  const per = Math.max(1, Math.floor((1024 * 1024) / size));
  for (let i = 0; i < count; i += per) {
    const recs = [];
    for (let j = i; j < Math.min(count, i + per); j++) recs.push({ body: body(j, size), timestamp: 1, priority: 0 });
    await engine.publish('q', recs);
  }
  await engine.close();
  storage = new FileStorage(dir);
  engine = await Engine.open({ storage, fsync: 'never' });

  const reader = fork(fileURLToPath(import.meta.url), ['--reader', String(size), String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((r) => reader.once('message', r));
  const result = new Promise((r) => reader.once('message', r));
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));

  const gc = { mc: 0, ms: 0 };
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      if ((e.detail?.kind ?? e.kind) === constants.NODE_PERFORMANCE_GC_MAJOR) gc.mc++;
      gc.ms += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const g = await engine.group('q', 'g');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let pushed = 0;
  const sink = {
    prefetch: 800,
    pinsBodies: pin,
    push(d) {
      pushed++;
      if (pin) {
        const release = d.holdBody();
        sock.write(d.body, () => {
          void d.ack();
          release();
        });
      } else sock.write(d.body, () => void d.ack());
    },
  };
  const consumer = g.addConsumer(sink);
  const { received, bad } = await result;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  obs.disconnect();
  g.removeConsumer(consumer);
  sock.destroy();
  await new Promise((r) => (reader.exitCode !== null ? r() : reader.once('exit', r)));
  const pool = storage.readPool ? `${storage.readPool.allocated} / ${storage.readPool.reused}` : 'n/a';
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      build: path.basename(path.dirname(dist)),
      pin,
      rep,
      size,
      count,
      received,
      pushed,
      bad,
      msgPerSec: Math.round((count / ms) * 1000),
      usPerMsg: +((cpu.user + cpu.system) / count).toFixed(2),
      markCompacts: gc.mc,
      gcMs: Math.round(gc.ms),
      pool,
      load: +os.loadavg()[0].toFixed(1),
    }),
  );
  if (bad > 0) process.exitCode = 1;
}
}
