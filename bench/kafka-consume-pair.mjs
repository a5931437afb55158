#!/usr/bin/env node
// The kafka:// transport's consume CPU against bare kafkajs, measured in pairs: both drain the
// same pre-seeded topic at the same time, each in a process of its own with a fresh consumer
// group, so both see the same machine load. On this 2-core machine shared with other work,
// sequential runs of one driver differ by ±20 % in CPU per message from one minute to the next;
// the ratio of a concurrent pair varies by ±5 % (raw against raw: 0.95–1.02).
//
//   `omnibus serve --fsync interval` (only the Kafka listener) is started once; each topic
//   `pair-<size>` is seeded once with the seed payloads (src/bench/seed.ts) through bare kafkajs
//   with an x-omnibus-id header per record, as the transport and the raw driver publish them.
//   A round: `--child raw` and `--child transport` start together; each drains --count records
//   with the bench's own drivers (src/bench/drivers/raw.ts and transport.ts: eachBatch +
//   commitOffsets, or `for await` + ack() with prefetch 1000) into the harness's SeedVerifier,
//   with a settle point every 10 %, and reports its CPU (user + system, all threads) from just
//   before driver.dequeue() to its return — both drivers over the same span, subscription and
//   group join included. The CPU at each 10 % mark splits one-off costs (join, first fetches,
//   JIT: the first 10 %) from the steady state (the other 90 %).
//   --base-root DIR adds a third process per round: the transport of another checkout's dist/
//   (a git worktree built with tsc), for A/B.
//
// Usage: npx tsc -p . && node bench/kafka-consume-pair.mjs [--sizes 128,1024] [--count 200000]
//          [--rounds 5] [--base-root /tmp/old] [--json out.json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '..');
const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    url: { type: 'string' },
    topic: { type: 'string' },
    group: { type: 'string' },
    'build-root': { type: 'string' },
    sizes: { type: 'string', default: '128,1024' },
    count: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    'base-root': { type: 'string' },
    json: { type: 'string' },
  },
});
const count = Number(args.count);

if (args.child) {
  process.stdout.write(JSON.stringify(await drainOnce(args.child, args['build-root'] ?? root, args.url, args.topic, Number(args.sizes), args.group)) + '\n');
  process.exit(0);
}

/** One drain in this process: CPU per message overall, at the first record and at every 10 %. */
async function drainOnce(driverKind, buildRoot, url, topic, size, group) {
  const seed = await import(path.join(buildRoot, 'dist/bench/seed.js'));
  const { rawDriver } = await import(path.join(buildRoot, 'dist/bench/drivers/raw.js'));
  const { transportDriver } = await import(path.join(buildRoot, 'dist/bench/drivers/transport.js'));
  const { connect } = await import(path.join(buildRoot, 'dist/index.js'));
  const transport = driverKind === 'transport' ? await connect(url) : undefined;
  const driver = transport
    ? transportDriver(transport, { group, prefetch: 1000, ack: 'bulk', ackBatch: 1000 })
    : await rawDriver(url, { group, prefetch: 1000, ackBatch: 1000 });
  const verifier = new seed.SeedVerifier(count, size);
  const thresholds = Array.from({ length: 10 }, (_, i) => Math.ceil(((i + 1) * count) / 10));
  const cpuMs = () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  const marks = [];
  let first;
  const idle = new AbortController();
  const sink = {
    signal: idle.signal,
    get remaining() {
      return count - verifier.unique;
    },
    get done() {
      return verifier.unique >= count;
    },
    take(body) {
      if (first === undefined) first = cpuMs();
      if (!verifier.add(body)) return false;
      return marks.length < 10 && verifier.unique >= thresholds[marks.length];
    },
    settled() {
      while (marks.length < 10 && verifier.unique >= thresholds[marks.length]) marks.push(cpuMs());
    },
    ackFailed: (e) => verifier.ackFailed(e),
  };
  const watchdog = setTimeout(() => idle.abort(), 120_000);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await driver.dequeue(topic, sink);
  const cpu = cpuMs();
  const wallMs = performance.now() - t0;
  clearTimeout(watchdog);
  const verify = verifier.result();
  await driver.close();
  await transport?.close();
  return { driver: driverKind, buildRoot, ok: verify.ok, cpuUsPerMsg: (cpu * 1000) / count, msgsPerSec: count / (wallMs / 1000), firstRecordCpuMs: first, marksCpuMs: marks };
}

async function startServe() {
  const { freePort } = await import(path.join(root, 'dist/bench/net.js'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-kafka-pair-'));
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [path.join(root, 'bin/omnibus.js'), 'serve', '--data', dir, '--fsync', 'interval', '--no-amqp', '--no-resp', '--no-stomp', '--no-mqtt', '--kafka-port', String(port), '--health-port', 'off'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: serveEnv() },
  );
  await new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (l) => /listening/.test(l) && resolve());
    proc.once('exit', (c) => reject(new Error(`omnibus serve exited ${c}`)));
  });
  return {
    url: `kafka://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function child(kind, buildRoot, url, topic, size, group) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [here, '--child', kind, '--build-root', buildRoot, '--url', url, '--topic', topic, '--sizes', String(size), '--group', group, '--count', String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout.on('data', (b) => (out += b));
    c.once('exit', (code) => {
      try {
        const r = JSON.parse(out.trim().split('\n').pop());
        if (code !== 0 || !r.ok) reject(new Error(`${kind} drain failed (exit ${code}, verified ${r.ok})`));
        else resolve(r);
      } catch (e) {
        reject(new Error(`${kind} drain wrote no result (exit ${code}): ${String(e)}`));
      }
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const steadyUs = (r) => ((r.marksCpuMs[9] - r.marksCpuMs[0]) * 1000) / (count * 0.9);
const firstUs = (r) => (r.marksCpuMs[0] * 1000) / (count * 0.1);
const log = (s) => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const srv = await startServe();
const all = [];
try {
  const { rawDriver } = await import(path.join(root, 'dist/bench/drivers/raw.js'));
  const seed = await import(path.join(root, 'dist/bench/seed.js'));
  for (const size of args.sizes.split(',').map(Number)) {
    const topic = `pair-${size}`;
    const d = await rawDriver(srv.url, { group: 'seed', prefetch: 1000, ackBatch: 1000 });
    await d.setup(topic);
    const template = seed.payloadTemplate(size);
    for (let i = 0; i < count; i += 1000) await d.enqueue(topic, seed.buildBatch(template, i, Math.min(1000, count - i)));
    await d.close();
    for (let r = 0; r < Number(args.rounds); r++) {
      const g = `pair-${size}-${r}`;
      const runs = [child('raw', root, srv.url, topic, size, `${g}-raw`), child('transport', root, srv.url, topic, size, `${g}-tr`)];
      if (args['base-root']) runs.push(child('transport', args['base-root'], srv.url, topic, size, `${g}-base`));
      const [raw, tr, base] = await Promise.all(runs);
      const row = { size, round: r + 1, load: os.loadavg()[0], raw, transport: tr, base };
      all.push(row);
      log(
        `${size} B round ${r + 1}: CPU µs/msg raw ${raw.cpuUsPerMsg.toFixed(2)}, transport ${tr.cpuUsPerMsg.toFixed(2)} (×${(tr.cpuUsPerMsg / raw.cpuUsPerMsg).toFixed(3)})` +
          (base ? `, base ${base.cpuUsPerMsg.toFixed(2)} (×${(base.cpuUsPerMsg / raw.cpuUsPerMsg).toFixed(3)})` : '') +
          `; load ${row.load.toFixed(1)}`,
      );
    }
  }
} finally {
  await srv.stop();
}

const lines = [
  `${count.toLocaleString('en-US')} records per drain, ${args.rounds} concurrent rounds per size, medians; CPU = user + system of the draining process (all threads), from before dequeue() to its return.`,
  '',
  '| size B | build | CPU µs/msg transport / raw | overhead | first 10 % (join, first fetches, JIT) µs/msg | last 90 % µs/msg | steady overhead | deq msg/s transport / raw | load |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
];
const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)} %`;
for (const size of [...new Set(all.map((r) => r.size))]) {
  const rows = all.filter((r) => r.size === size);
  for (const build of args['base-root'] ? ['transport', 'base'] : ['transport']) {
    const ratio = median(rows.map((r) => r[build].cpuUsPerMsg / r.raw.cpuUsPerMsg));
    const steady = median(rows.map((r) => steadyUs(r[build]) / steadyUs(r.raw)));
    lines.push(
      `| ${size} | ${build === 'base' ? `base (${args['base-root']})` : 'this checkout'} | ${median(rows.map((r) => r[build].cpuUsPerMsg)).toFixed(2)} / ${median(rows.map((r) => r.raw.cpuUsPerMsg)).toFixed(2)} | ${pct(ratio - 1)}` +
        ` | ${median(rows.map((r) => firstUs(r[build]))).toFixed(1)} / ${median(rows.map((r) => firstUs(r.raw))).toFixed(1)}` +
        ` | ${median(rows.map((r) => steadyUs(r[build]))).toFixed(2)} / ${median(rows.map((r) => steadyUs(r.raw))).toFixed(2)} | ${pct(steady - 1)}` +
        ` | ${Math.round(median(rows.map((r) => r[build].msgsPerSec))).toLocaleString('en-US')} / ${Math.round(median(rows.map((r) => r.raw.msgsPerSec))).toLocaleString('en-US')}` +
        ` | ${rows.map((r) => r.load.toFixed(1)).join(', ')} |`,
    );
  }
}
process.stdout.write(lines.join('\n') + '\n');
if (args.json) writeFileSync(args.json, JSON.stringify({ count, rounds: Number(args.rounds), runs: all }, null, 2));
