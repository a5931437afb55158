#!/usr/bin/env node
/**
 * A queue consumed as fast as it is filled: one ioredis client sends LPUSH then RPOP, each awaited,
 * COUNT times, so the list drains after every message. This is the live pass-through case the
 * seed experiment (fill, then drain) never exercises: every pop leaves the queue empty and the
 * broker's cleanup runs once per message. Printed per target: µs per push-and-pop round trip and
 * the broker's CPU µs per round trip (/proc/PID/stat).
 *
 *   node bench/resp-pingpong.mjs [--count 2000] [--size 128] [--warm 3000] [--targets redis,memory,interval,always]
 *
 * --warm round trips run first, unmeasured, against every target alike.
 *
 * redis: redis-server without persistence (Debian's default is RDB snapshots, which a run this
 * short never triggers); memory: `omnibus serve --memory`; interval / always: `omnibus serve` on
 * file storage with that fsync policy. Every broker gets a free loopback port and a temp dir, and
 * is stopped by pid. Needs `npx tsc -p .` first.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { serveEnv } from './serve-env.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const Redis = createRequire(import.meta.url)('ioredis');
const { freePort, waitPort } = await import(join(ROOT, 'dist/bench/net.js'));
const { procCpuSeconds, stopPid } = await import(join(ROOT, 'dist/bench/proc.js'));
const argv = process.argv.slice(2);
const flag = (n, d) => (argv.indexOf(`--${n}`) >= 0 ? argv[argv.indexOf(`--${n}`) + 1] : d);
const count = Number(flag('count', '2000'));
const size = Number(flag('size', '128'));
const targets = flag('targets', 'redis,memory,interval,always').split(',');
const warm = Number(flag('warm', '3000'));

async function start(target, port, dir) {
  if (target === 'redis') {
    return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  }
  const store = target === 'memory' ? ['--memory'] : ['--data', join(dir, 'data'), '--fsync', target];
  const args = [join(ROOT, 'bin/omnibus.js'), 'serve', ...store, '--host', '127.0.0.1', '--health-port', 'off', '--no-amqp', '--no-stomp', '--no-mqtt', '--no-kafka', '--resp-port', String(port)];
  return spawn(process.execPath, args, { stdio: 'ignore', env: serveEnv() });
}

async function run(target) {
  const dir = mkdtempSync(join(tmpdir(), 'resp-pingpong-'));
  const port = await freePort();
  const child = await start(target, port, dir);
  try {
    await waitPort(port, 30_000);
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
    const body = Buffer.alloc(size, 0x61);
    // Warm-up: the first ~2,000 round trips on a fresh Omnibus also pay for V8 compiling the
    // path (measured: ~100 µs of CPU per round trip on V8's background threads, gone after).
    for (let i = 0; i < warm; i++) { await r.lpush('pp', body); await r.rpop('pp'); }
    const cpu0 = procCpuSeconds(child.pid);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      await r.lpush('pp', body);
      const v = await r.rpopBuffer('pp');
      if (v === null || v.length !== size) throw new Error(`${target}: pop ${i} returned ${v === null ? 'nil' : `${v.length} bytes`}`);
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000 / count;
    const cpu = ((procCpuSeconds(child.pid) - cpu0) * 1e6) / count;
    r.disconnect();
    return { target, count, size, usPerRoundTrip: Math.round(us), brokerCpuUs: Math.round(cpu), load: loadavg()[0].toFixed(2) };
  } finally {
    await stopPid(child.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const t of targets) console.log(JSON.stringify(await run(t)));
