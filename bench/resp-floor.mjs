#!/usr/bin/env node
/**
 * The floor of a Node RESP server on this machine: the least work any Node server has to do per
 * command, measured against a real redis-server in the same run.
 *
 * `serve` runs a minimal RESP server with the same socket setup as Omnibus's listener
 * (net.createServer, TCP_NODELAY, one 'data' handler, one socket.write per turn): it frames
 * multibulk commands and keeps lists as plain JS arrays (LPUSH/RPUSH/LPOP/RPOP with count, DEL,
 * LLEN), answers INFO/HELLO/CLIENT/SELECT/QUIT enough for ioredis, and everything else `+OK`.
 * No engine, no storage, no locks, no promises: what is left is Node's socket path (libuv read,
 * the stream 'data' event, a Buffer per read, Writable.write and its write request) plus a few
 * hundred nanoseconds of framing. Whatever Omnibus spends above it is its own; what this floor
 * spends above Redis is Node's. `serve --fixed` answers every command `:1` without looking at
 * it (for redis-benchmark, which does not check replies): framing and the socket path only.
 *
 * Usage (after `npx tsc -p .`, since `run` drives bin/omnibus.js bench):
 *   node bench/resp-floor.mjs serve [--port 6390] [--fixed]
 *   node bench/resp-floor.mjs run [--mode naive|pipelined|batch] [--count 20000]
 *                                 [--sizes 128,512,1024,10240] [--targets redis,floor,omnibus]
 *                                 [--old /tmp/old/bin/omnibus.js] [--rounds 1] [--redis-benchmark]
 *                                 [--warmup N|P%]   (bench --warmup, the same for every target)
 * `run` starts redis-server (no persistence), the floor and `omnibus serve --memory` on free
 * loopback ports, runs the ioredis bench (`omnibus bench --driver redis`) against each, one at a
 * time, with --broker-pid so each server's CPU per phase is recorded, optionally
 * `redis-benchmark -t lpush,lpop -P 1 -c 1` (one command per round trip) as well, stops every
 * server by its pid and prints msg/s, server CPU µs per message and the ratios to Redis.
 * More targets: `omnibus-file` (`serve --data <fresh dir> --fsync interval`, as bench/compare.mjs
 * runs file://), and `omnibus-old` / `omnibus-file-old`: the same served by the build --old names
 * (an A/B against an older commit: `git worktree add /tmp/old <rev>`, link node_modules, tsc).
 * Servers get the environment `omnibus serve` gets from its launcher (bench/serve-env.mjs).
 * --rounds repeats the whole sequence and prints one table per round (the machine's load moves
 * between rounds; compare the targets within one).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const argv = process.argv.slice(2);
function flag(name, def) {
  const i = argv.indexOf(name);
  return i < 0 ? def : argv[i + 1];
}

// --- the floor server -------------------------------------------------------------------------

/** Frames `*<n>\r\n($<len>\r\n<bytes>\r\n)*` commands; returns [args, next offset] or undefined. */
function frame(buf, pos) {
  const end = buf.length;
  if (pos >= end) return undefined;
  if (buf[pos] !== 42) throw new Error('inline commands are not supported by the floor server');
  let nl = buf.indexOf(10, pos);
  if (nl < 0) return undefined;
  const argc = Number(buf.latin1Slice(pos + 1, nl - 1));
  let p = nl + 1;
  const args = new Array(argc);
  for (let i = 0; i < argc; i++) {
    if (p >= end) return undefined;
    nl = buf.indexOf(10, p);
    if (nl < 0) return undefined;
    const len = Number(buf.latin1Slice(p + 1, nl - 1));
    const start = nl + 1;
    if (start + len + 2 > end) return undefined;
    args[i] = buf.subarray(start, start + len);
    p = start + len + 2;
  }
  return [args, p];
}

/** A FIFO of Buffers: an array and a head index (Array#shift is O(n) on long arrays). */
class Deque {
  items = [];
  head = 0;
  get length() {
    return this.items.length - this.head;
  }
  push(v) {
    this.items.push(v);
  }
  take(n) {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

function serve(port, fixed) {
  const lists = new Map();
  const one = Buffer.from(':1\r\n');
  const info = Buffer.from('# Server\r\nredis_version:7.0.0\r\nloading:0\r\n');
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending = null;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      let pos = 0;
      const out = [];
      for (;;) {
        const f = frame(buf, pos);
        if (f === undefined) break;
        const [a, next] = f;
        pos = next;
        if (fixed) {
          out.push(one);
          continue;
        }
        const name = a[0].latin1Slice(0, a[0].length).toLowerCase();
        const key = a.length > 1 ? a[1].latin1Slice(0, a[1].length) : '';
        if (name === 'lpush' || name === 'rpush') {
          let l = lists.get(key);
          if (l === undefined) lists.set(key, (l = new Deque()));
          // Values are copied: a view would pin the whole read buffer.
          for (let i = 2; i < a.length; i++) l.push(Buffer.from(a[i]));
          out.push(`:${l.length}\r\n`);
        } else if (name === 'lpop' || name === 'rpop') {
          const l = lists.get(key);
          // Both pops take the oldest element: the floor only needs LPUSH+RPOP FIFO and
          // redis-benchmark's push-then-pop, whose replies it does not check.
          if (a.length === 3) {
            const n = Number(a[2].latin1Slice(0, a[2].length));
            if (l === undefined || l.length === 0) out.push('*-1\r\n');
            else {
              const vals = l.take(n);
              out.push(`*${vals.length}\r\n`);
              for (const v of vals) out.push(`$${v.length}\r\n`, v, '\r\n');
            }
          } else if (l === undefined || l.length === 0) out.push('$-1\r\n');
          else {
            const v = l.take(1)[0];
            out.push(`$${v.length}\r\n`, v, '\r\n');
          }
        } else if (name === 'del') out.push(`:${lists.delete(key) ? 1 : 0}\r\n`);
        else if (name === 'llen') out.push(`:${lists.get(key)?.length ?? 0}\r\n`);
        else if (name === 'info') out.push(`$${info.length}\r\n`, info, '\r\n');
        else if (name === 'ping') out.push('+PONG\r\n');
        else if (name === 'hello') out.push('-ERR unknown command \'HELLO\'\r\n');
        else if (name === 'quit') {
          out.push('+OK\r\n');
          socket.end(Buffer.concat(out.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : x))));
          return;
        } else out.push('+OK\r\n');
      }
      pending = pos === buf.length ? null : buf.subarray(pos);
      if (out.length > 0) socket.write(Buffer.concat(out.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : x))));
    });
  });
  server.listen(port, '127.0.0.1', () => process.stdout.write(`resp-floor listening on 127.0.0.1:${server.address().port}\n`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// --- the comparison run -----------------------------------------------------------------------

const root = fileURLToPath(new URL('..', import.meta.url));
const { freePort, waitPort } = await import(path.join(root, 'dist/bench/net.js'));
const { procCpuSeconds: cpuSeconds } = await import(path.join(root, 'dist/bench/proc.js'));
const omnibusBin = path.join(root, 'bin', 'omnibus.js');

const OMNIBUS_TARGETS = ['omnibus', 'omnibus-old', 'omnibus-file', 'omnibus-file-old'];

async function start(target, port, tmp) {
  let child;
  if (target === 'redis') child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  else if (target === 'floor') child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', '--port', String(port)], { stdio: 'ignore' });
  else if (OMNIBUS_TARGETS.includes(target)) {
    const old = target.endsWith('-old');
    const bin = old ? flag('--old', undefined) : omnibusBin;
    if (bin === undefined) throw new Error(`${target} needs --old PATH/bin/omnibus.js`);
    const storage = target.startsWith('omnibus-file') ? ['--data', mkdtempSync(path.join(tmp, `${target}-`)), '--fsync', 'interval'] : ['--memory'];
    const args = [bin, 'serve', ...storage, '--resp-port', String(port), '--no-amqp', '--no-kafka', '--no-stomp', '--no-mqtt', '--health-port', 'off'];
    child = spawn(process.execPath, args, { stdio: 'ignore', env: serveEnv() });
  } else throw new Error(`unknown target ${target}`);
  await waitPort(port);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function run() {
  const mode = flag('--mode', 'naive');
  const count = flag('--count', '20000');
  const sizes = flag('--sizes', '128,512,1024,10240');
  const targets = flag('--targets', 'redis,floor,omnibus').split(',');
  const withRb = argv.includes('--redis-benchmark');
  const rounds = Number(flag('--rounds', '1'));
  const warmup = flag('--warmup', undefined);
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) process.stdout.write(`\nround ${round} of ${rounds}\n`);
    await runRound(mode, count, sizes, targets, withRb, warmup);
  }
}

async function runRound(mode, count, sizes, targets, withRb, warmup) {
  const results = {};
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'resp-floor-'));
  try {
    for (const target of targets) {
      const port = await freePort();
      const child = await start(target, port, tmp);
      try {
        const json = path.join(tmp, `${target}.json`);
        const load = os.loadavg()[0].toFixed(1);
        execFileSync(process.execPath, [omnibusBin, 'bench', '--driver', 'redis', '--mode', mode, '--target', `redis://127.0.0.1:${port}`, '--count', count, '--sizes', sizes, '--broker-pid', String(child.pid), '--json', json, '--quiet', ...(warmup === undefined ? [] : ['--warmup', warmup])], { stdio: ['ignore', 'ignore', 'inherit'] });
        results[target] = { load, bench: JSON.parse(readFileSync(json, 'utf8')) };
        if (withRb) {
          const c0 = cpuSeconds(child.pid);
          const out = execFileSync('redis-benchmark', ['-p', String(port), '-t', 'lpush,lpop', '-P', '1', '-c', '1', '-n', count, '-q', '--csv']).toString();
          const cpu = cpuSeconds(child.pid) - c0;
          const rps = Object.fromEntries(out.trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 2).map((x) => x.replace(/"/g, ''))));
          results[target].rb = { rps, cpuUsPerReq: (cpu * 1e6) / (2 * Number(count)) };
        }
      } finally {
        await stop(child);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  report(mode, count, targets, results);
}

/** Rows of one bench JSON: [size, phase, msg/s, broker CPU s]. */
function rows(bench) {
  const out = [];
  const sizes = bench.results ?? bench.sizes ?? bench;
  for (const r of Array.isArray(sizes) ? sizes : []) {
    for (const phase of ['enqueue', 'dequeue']) {
      const p = r[phase];
      if (!p) continue;
      out.push({ size: r.size, phase, rate: p.msgsPerSec ?? p.rate, cpu: p.brokerCpuSec ?? p.brokerCpu?.total ?? p.brokerCpu, count: r.count });
    }
  }
  return out;
}

function report(mode, count, targets, results) {
  const base = results.redis ? rows(results.redis.bench) : [];
  process.stdout.write(`\nioredis ${mode}, ${count} messages per size; load at start: ${targets.map((t) => `${t} ${results[t].load}`).join(', ')}\n\n`);
  process.stdout.write(`| size B | phase | ${targets.map((t) => `${t} msg/s | ${t} CPU µs/msg`).join(' | ')} | ${targets.filter((t) => t !== 'redis').map((t) => `${t} ÷ redis`).join(' | ')} |\n`);
  process.stdout.write(`| ---: | --- | ${targets.map(() => '---: | ---:').join(' | ')} | ${targets.filter((t) => t !== 'redis').map(() => '---:').join(' | ')} |\n`);
  const byTarget = Object.fromEntries(targets.map((t) => [t, rows(results[t].bench)]));
  const first = byTarget[targets[0]];
  for (let i = 0; i < first.length; i++) {
    const cells = targets.map((t) => {
      const r = byTarget[t][i];
      const us = r.cpu !== undefined ? ((r.cpu * 1e6) / r.count).toFixed(1) : '?';
      return `${Math.round(r.rate).toLocaleString('en-US')} | ${us}`;
    });
    const ratios = targets.filter((t) => t !== 'redis').map((t) => (base[i] ? (byTarget[t][i].rate / base[i].rate).toFixed(2) : '?'));
    process.stdout.write(`| ${first[i].size} | ${first[i].phase} | ${cells.join(' | ')} | ${ratios.join(' | ')} |\n`);
  }
  if (targets.every((t) => results[t].rb)) {
    process.stdout.write(`\nredis-benchmark -t lpush,lpop -P 1 -c 1 -n ${count}:\n\n| target | LPUSH req/s | LPOP req/s | server CPU µs/request |\n| --- | ---: | ---: | ---: |\n`);
    for (const t of targets) {
      const r = results[t].rb;
      process.stdout.write(`| ${t} | ${Math.round(r.rps.LPUSH).toLocaleString('en-US')} | ${Math.round(r.rps.LPOP).toLocaleString('en-US')} | ${r.cpuUsPerReq.toFixed(1)} |\n`);
    }
  }
}

if (argv[0] === 'serve') serve(Number(flag('--port', '6390')), argv.includes('--fixed'));
else if (argv[0] === 'run') await run();
else {
  process.stderr.write('usage: node bench/resp-floor.mjs serve [--port N] | run [--mode naive] [--count N] [--sizes LIST] [--targets redis,floor,omnibus] [--redis-benchmark]\n');
  process.exit(2);
}
