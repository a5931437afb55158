#!/usr/bin/env node
/**
 * Redis's own C load generator, `redis-benchmark`, against a real redis-server and Omnibus's RESP
 * listener in the same run: the client is C (cheap per request), so the figures measure the
 * servers. Starts redis-server (no RDB, no AOF) and `omnibus serve` (memory://, and file:// with
 * fsync interval) on free loopback ports, runs each test against each server strictly one at a
 * time, records requests/s, the server's CPU seconds during the test (/proc) and the load
 * average, stops every server by its pid, and prints a markdown table of Omnibus ÷ Redis.
 *
 * Usage (after `npx tsc -p .`, since it runs bin/omnibus.js):
 *   node bench/redis-benchmark.mjs [--tests lpush,lpop/rpush,rpop] [-n 200000] [-P 16] [-c 50]
 *                                  [--targets redis,omnibus-memory,omnibus-file] [--rounds 1]
 *                                  [--json FILE]
 * A test is a `-t` list run as one redis-benchmark invocation (lpush,lpop pushes n then pops n
 * from the same key, so the pops drain what the pushes left). Tests are separated by '/'.
 * With --rounds R every test runs R times per server, alternating servers; the best round is
 * reported (on a shared machine the best is the least disturbed).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { freePort, portOpen: canConnect } = await import(path.join(root, 'dist/bench/net.js'));
const { procAlive: alive, procCpuSeconds: cpuSec, stopPid } = await import(path.join(root, 'dist/bench/proc.js'));
const omnibusBin = process.env.OMNIBUS_BIN ?? path.join(root, 'bin', 'omnibus.js');
const argv = process.argv.slice(2);
function flag(name, def) {
  const i = argv.indexOf(name);
  if (i < 0) return def;
  const v = argv[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}
const tests = flag('--tests', 'lpush,lpop/rpush,rpop').split('/').filter(Boolean);
const requests = Number(flag('-n', '200000'));
const pipeline = Number(flag('-P', '16'));
const clients = Number(flag('-c', '50'));
const rounds = Number(flag('--rounds', '1'));
const targets = flag('--targets', 'redis,omnibus-memory,omnibus-file').split(',');
const jsonOut = flag('--json', undefined);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (l) => process.stderr.write(`redis-benchmark: ${l}\n`);

const started = [];

async function startServer(kind, scratch) {
  const port = await freePort();
  let child;
  let label;
  if (kind === 'redis') {
    const dir = mkdtempSync(path.join(scratch, 'redis-'));
    child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    label = execFileSync('/usr/bin/redis-server', ['--version'], { encoding: 'utf8' }).trim().split(' ').slice(0, 3).join(' ');
  } else {
    const args = [omnibusBin, 'serve', '--health-port', 'off', '--resp-port', String(port), '--no-amqp', '--no-stomp', '--no-kafka', '--no-mqtt'];
    if (kind === 'omnibus-memory') args.push('--memory');
    else args.push('--data', mkdtempSync(path.join(scratch, 'omnibus-')), '--fsync', 'interval');
    child = spawn(process.execPath, args, { stdio: 'ignore', env: serveEnv() });
    label = kind === 'omnibus-memory' ? 'Omnibus memory://' : 'Omnibus file:// (fsync interval)';
  }
  const s = { kind, label, port, pid: child.pid, child };
  started.push(s);
  for (let i = 0; i < 150 && !(await canConnect(port)); i++) {
    if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}`);
    await sleep(200);
  }
  return s;
}

/** One redis-benchmark invocation; returns requests/s per test name. */
function runRedisBenchmark(port, test) {
  return new Promise((resolve, reject) => {
    const args = ['-h', '127.0.0.1', '-p', String(port), '-t', test, '-n', String(requests), '-P', String(pipeline), '-c', String(clients), '--csv'];
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (errText += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`redis-benchmark exited ${code}: ${errText.slice(-500)}`));
      const rps = {};
      for (const line of out.split('\n')) {
        const m = /^"([^"]+)","([\d.]+)"/.exec(line);
        if (m) rps[m[1].split(' ')[0]] = Number(m[2]);
      }
      resolve(rps);
    });
  });
}

async function main() {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'omnibus-redis-benchmark-'));
  const results = [];
  const servers = [];
  try {
    for (const t of targets) servers.push(await startServer(t, scratch));
    for (let round = 0; round < rounds; round++) {
      for (const test of tests) {
        for (const s of servers) {
          const cpu0 = cpuSec(s.pid);
          const load = os.loadavg()[0];
          const rps = await runRedisBenchmark(s.port, test);
          const cpu = cpuSec(s.pid) - cpu0;
          log(`round ${round + 1} ${s.kind} ${test}: ${JSON.stringify(rps)} cpu ${cpu.toFixed(2)} s load ${load.toFixed(1)}`);
          results.push({ round, target: s.kind, test, rps, serverCpuSec: cpu, loadavg: load });
          if (!alive(s.pid)) throw new Error(`${s.kind} died`);
        }
      }
    }
  } finally {
    for (const s of started) await stopPid(s.pid);
    rmSync(scratch, { recursive: true, force: true });
  }
  // Best round per (target, command).
  const best = new Map();
  for (const r of results) {
    for (const [cmd, v] of Object.entries(r.rps)) {
      const k = `${r.target}|${cmd}`;
      const prev = best.get(k);
      if (!prev || v > prev.rps) best.set(k, { rps: v, load: r.loadavg, cpu: r.serverCpuSec, test: r.test });
    }
  }
  const cmds = [...new Set(results.flatMap((r) => Object.keys(r.rps)))];
  const int = (n) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
  const lines = [];
  lines.push(`redis-benchmark -P ${pipeline} -c ${clients} -n ${requests.toLocaleString('en-US')} (${servers.map((s) => s.label).join('; ')}); best of ${rounds} round(s); load = 1-minute load average at the start of the test.`);
  lines.push('');
  const others = servers.filter((s) => s.kind !== 'redis');
  lines.push(`| command | Redis req/s | ${others.map((s) => `${s.label} req/s | ratio`).join(' | ')} | load ${servers.map((s) => s.kind.replace('omnibus-', '')).join(' / ')} |`);
  lines.push(`| --- | ---: | ${others.map(() => '---: | ---:').join(' | ')} | ---: |`);
  for (const c of cmds) {
    const R = best.get(`redis|${c}`);
    const cells = others.map((s) => {
      const o = best.get(`${s.kind}|${c}`);
      return `${int(o?.rps)} | ${o && R ? (o.rps / R.rps).toFixed(2) : '–'}`;
    });
    lines.push(`| ${c} | ${int(R?.rps)} | ${cells.join(' | ')} | ${servers.map((s) => best.get(`${s.kind}|${c}`)?.load.toFixed(1) ?? '–').join(' / ')} |`);
  }
  lines.push('');
  lines.push('Server CPU seconds per test invocation (whole `-t` list), last round: ' + servers.map((s) => `${s.kind} ${tests.map((t) => results.filter((r) => r.target === s.kind && r.test === t).at(-1)?.serverCpuSec.toFixed(2)).join(' + ')}`).join('; ') + '.');
  const md = lines.join('\n') + '\n';
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ tool: 'bench/redis-benchmark.mjs', at: new Date().toISOString(), requests, pipeline, clients, rounds, results }, null, 2) + '\n');
  process.stdout.write(md);
}

process.on('SIGINT', () => void Promise.allSettled(started.map((s) => stopPid(s.pid))).then(() => process.exit(130)));
main().catch(async (e) => {
  log(e instanceof Error ? e.stack ?? e.message : String(e));
  for (const s of started) await stopPid(s.pid);
  process.exitCode = 1;
});
