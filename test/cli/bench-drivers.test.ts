/**
 * `omnibus bench --driver redis|amqp`: every mode runs against Omnibus's own RESP and AMQP
 * listeners (in-process, OS-chosen ports) and verifies every message (and `--driver raw` and
 * `--driver transport` against its Kafka listener); the redis driver also runs
 * against a real redis-server when one is installed. Small counts: this checks correctness of the
 * drivers, never speed (speed is measured by bench/compare.mjs, docs/benchmarks.md).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitPort } from '../../src/bench/net.js';
import { connect } from '../../src/index.js';
import type { Transport } from '../../src/core/types.js';
import { availableListeners, type RunningListener } from '../../src/server/listener.js';
import { runCli } from './helpers.js';

const COUNT = '2000';
const SIZES = '128,1024';
const REDIS_SERVER = '/usr/bin/redis-server';

interface JsonReport {
  ok: boolean;
  driver: string;
  mode: string;
  results: { size: number; count: number; verify: { ok: boolean; unique: number }; broker?: { pid: number; peakRssBytes?: number } }[];
}

let transport: Transport;
const running: RunningListener[] = [];
const urls: Record<'amqp' | 'resp' | 'stomp' | 'kafka', string> = { amqp: '', resp: '', stomp: '', kafka: '' };
const ac = new AbortController();
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-bench-drivers-'));
  transport = await connect('memory://');
  for (const name of ['amqp', 'resp', 'stomp', 'kafka'] as const) {
    const l = availableListeners().find((x) => x.name === name);
    assert.ok(l, `the ${name} listener is built in`);
    const r = await l.start({ transport, storage: 'memory', dataDir: undefined, signal: ac.signal, log: () => {} }, { host: '127.0.0.1', port: 0 });
    running.push(r);
    urls[name] = name === 'amqp' ? `amqp://guest:guest@${r.address}` : name === 'stomp' ? `stomp://${r.address}` : name === 'kafka' ? `kafka://${r.address}` : `redis://${r.address}`;
  }
});

after(async () => {
  ac.abort();
  for (const r of running) await r.close();
  await transport.close();
  rmSync(dir, { recursive: true, force: true });
});

async function bench(driver: string, mode: string, target: string, extra: string[] = []): Promise<JsonReport> {
  const json = path.join(dir, `${driver}-${mode}-${Math.random().toString(36).slice(2)}.json`);
  const r = await runCli(['bench', '--driver', driver, '--mode', mode, '--target', target, '--count', COUNT, '--sizes', SIZES, '--idle-timeout', '5', '--quiet', '--json', json, ...extra]);
  assert.equal(r.code, 0, `bench ${driver} ${mode} failed: ${r.stderr}${r.stdout}`);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as JsonReport;
  assert.equal(doc.ok, true);
  assert.equal(doc.driver, driver);
  assert.equal(doc.mode, mode);
  assert.deepEqual(
    doc.results.map((s) => [s.size, s.count, s.verify.ok, s.verify.unique]),
    SIZES.split(',').map((s) => [Number(s), Number(COUNT), true, Number(COUNT)]),
  );
  return doc;
}

for (const mode of ['naive', 'pipelined', 'batch']) {
  test(`redis driver, ${mode}: every message comes back through Omnibus's RESP listener`, async () => {
    await bench('redis', mode, urls.resp);
  });
}

for (const mode of ['naive', 'pipelined']) {
  test(`amqp driver, ${mode}: every message comes back through Omnibus's AMQP listener`, async () => {
    await bench('amqp', mode, urls.amqp);
  });
}

test("stomp driver: every persistent message comes back through Omnibus's STOMP listener, with the default prefetch and with the target's ?prefetch=N", async () => {
  await bench('stomp', 'pipelined', urls.stomp);
  await bench('stomp', 'pipelined', `${urls.stomp}?prefetch=10`);
  const bad = await runCli(['bench', '--driver', 'stomp', '--target', `${urls.stomp}?prefetch=0`, '--count', '10', '--sizes', '128', '--quiet']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr + bad.stdout, /prefetch must be a positive integer/);
});

test('amqp driver, pipelined --durable: every persistent message to a durable queue comes back; --durable is for amqp only', async () => {
  await bench('amqp', 'pipelined', urls.amqp, ['--durable']);
  const wrong = await runCli(['bench', '--driver', 'redis', '--durable', '--target', 'redis://127.0.0.1:1']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--durable applies to --driver amqp only/);
});

test("raw and transport drivers, kafka://: every message comes back through Omnibus's Kafka listener, with bare kafkajs and through the Transport API", async () => {
  await bench('raw', 'batch', urls.kafka);
  await bench('transport', 'batch', urls.kafka);
});

test('--broker-pid records the broker process RSS per size', async () => {
  const doc = await bench('redis', 'batch', urls.resp, ['--broker-pid', String(process.pid)]);
  for (const s of doc.results) {
    assert.equal(s.broker?.pid, process.pid);
    if (process.platform === 'linux') assert.ok((s.broker?.peakRssBytes ?? 0) > 0);
  }
});

test('usage: a protocol driver needs --target, and only its own modes', async () => {
  const noTarget = await runCli(['bench', '--driver', 'redis']);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /--driver redis needs --target/);
  const badMode = await runCli(['bench', '--driver', 'amqp', '--mode', 'batch', '--target', 'amqp://127.0.0.1:1']);
  assert.equal(badMode.code, 2);
  assert.match(badMode.stderr, /naive or pipelined/);
  const badDriver = await runCli(['bench', '--driver', 'kafka']);
  assert.equal(badDriver.code, 2);
  const help = await runCli(['bench', '--help']);
  assert.match(help.stdout, /--driver KIND/);
  assert.match(help.stdout, /--mode MODE/);
});

test('redis driver against a real redis-server: every mode verifies', { skip: existsSync(REDIS_SERVER) ? false : `${REDIS_SERVER} is not installed (apt-get install redis-server)` }, async () => {
  const port = await freePort();
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitPort(port, 10_000);
    for (const mode of ['naive', 'pipelined', 'batch']) await bench('redis', mode, `redis://127.0.0.1:${port}`, ['--broker-pid', String(child.pid)]);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});
