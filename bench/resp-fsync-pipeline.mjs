#!/usr/bin/env node
/**
 * Pipelined writes on ONE connection under fsync-always: `omnibus serve --fsync always` against
 * `redis-server --appendonly yes --appendfsync always`, same run, same client (ioredis).
 *
 * Each workload sends pipelines of --count commands and awaits every reply (a reply means the
 * write is on disk on both servers), --reps times; the figure is the best rep's commands/s.
 * Workloads:
 *   lpush1  LPUSH q v ×count (one key: pushes of one read are fused, later reads join a batch)
 *   lpush8  LPUSH q<i%8> v ×count (8 keys: 8 logs, each with its own fsync)
 *   xadd    XADD s * f v ×count (auto ids, one stream)
 *   mixed   per 4 commands: LPUSH a, XADD s, RPUSH b, LPUSH a
 *   multi   one MULTI of --count XADDs on one stream, then EXEC (how the redis:// transport publishes)
 * Before pipelined execution a connection ran one write, awaited its fsync, then ran the next:
 * a pipeline of N writes to k keys cost about N/k..N fsyncs depending on how reads were cut.
 *
 * Usage (after `npx tsc -p .`):
 *   node bench/resp-fsync-pipeline.mjs [--count 10000] [--size 100] [--reps 3]
 *        [--workloads lpush1,lpush8,xadd,mixed,multi] [--roots DIR[,DIR2]] [--no-redis]
 *        [--node-args "flags for the omnibus serve processes"]
 * --roots: checkouts whose bin/omnibus.js to run (default this one); a second root (a git worktree
 * of an older commit, built) runs in the same invocation, so before/after is one command.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { serveEnv } from './serve-env.mjs';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const Redis = require('ioredis');
const argv = process.argv.slice(2);
const flag = (n, d) => {
  const i = argv.indexOf(`--${n}`);
  return i < 0 ? d : argv[i + 1];
};
const COUNT = Number(flag('count', '10000'));
const SIZE = Number(flag('size', '100'));
const REPS = Number(flag('reps', '3'));
const WORKLOADS = flag('workloads', 'lpush1,lpush8,xadd,mixed,multi').split(',');
const ROOTS = flag('roots', here).split(',');
const value = Buffer.alloc(SIZE, 0x61);
// --node-args "--cpu-prof --cpu-prof-dir=/tmp/p": V8/Node flags for the omnibus serve processes.
const NODE_ARGS = flag('node-args', '').split(' ').filter((x) => x !== '');

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

function waitLine(child, re) {
  return new Promise((res, rej) => {
    let buf = '';
    const on = (d) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        child.stdout.off('data', on);
        res(m);
      }
    };
    child.stdout.on('data', on);
    child.once('exit', (c) => rej(new Error(`exited ${c}: ${buf}`)));
  });
}

async function startOmnibus(root) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omni-fsp-'));
  const child = spawn(process.execPath, [...NODE_ARGS, path.join(root, 'bin/omnibus.js'), 'serve', '--data', dir, '--fsync', 'always', '--resp-port', '0', '--no-amqp', '--no-kafka', '--no-stomp', '--no-mqtt', '--health-port', 'off'], { env: serveEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const m = await waitLine(child, /resp 127\.0\.0\.1:(\d+)/);
  return { port: Number(m[1]), stop: () => stop(child, dir) };
}

async function startRedis() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-fsp-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitLine(child, /Ready to accept connections/);
  return { port, stop: () => stop(child, dir) };
}

function stop(child, dir) {
  return new Promise((res) => {
    child.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      res();
    });
    child.kill('SIGTERM');
  });
}

function fill(p, w, i) {
  if (w === 'lpush1') p.lpush('q', value);
  else if (w === 'lpush8') p.lpush(`q${i % 8}`, value);
  else if (w === 'xadd' || w === 'multi') p.xadd('s', '*', 'f', value);
  else {
    const k = i % 4;
    if (k === 0 || k === 3) p.lpush('a', value);
    else if (k === 1) p.xadd('s', '*', 'f', value);
    else p.rpush('b', value);
  }
}

async function run(port, w) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableAutoPipelining: false });
  await c.connect();
  let best = 0;
  for (let r = 0; r < REPS; r++) {
    await c.flushall();
    const p = w === 'multi' ? c.multi() : c.pipeline();
    for (let i = 0; i < COUNT; i++) fill(p, w, i);
    const t0 = process.hrtime.bigint();
    const res = await p.exec();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    for (const [e] of res) if (e) throw e;
    best = Math.max(best, COUNT / (ms / 1000));
  }
  c.disconnect();
  return best;
}

const rows = [];
for (const w of WORKLOADS) {
  const row = { workload: w };
  if (!argv.includes('--no-redis')) {
    const r = await startRedis();
    try {
      row.redis = await run(r.port, w);
    } finally {
      await r.stop();
    }
  }
  for (const root of ROOTS) {
    const o = await startOmnibus(root);
    try {
      row[root] = await run(o.port, w);
    } finally {
      await o.stop();
    }
  }
  rows.push(row);
}
console.log(`pipelines of ${COUNT} commands, ${SIZE} B values, fsync always, best of ${REPS}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const row of rows) {
  const parts = [`${row.workload.padEnd(7)}`];
  if (row.redis !== undefined) parts.push(`redis ${Math.round(row.redis)}/s`);
  for (const root of ROOTS) {
    const v = row[root];
    parts.push(`${ROOTS.length > 1 ? path.basename(root) + ' ' : 'omnibus '}${Math.round(v)}/s${row.redis ? ` (${(v / row.redis).toFixed(2)}× redis)` : ''}`);
  }
  console.log(parts.join('  '));
}
