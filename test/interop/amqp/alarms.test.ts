/**
 * Resource alarms with amqplib: a memory high watermark and a disk free limit block publishing
 * connections (connection.blocked with RabbitMQ's reason, socket no longer read) and unblock them
 * when the alarm clears. The sampler and clock are injected where the test must move the
 * resource both ways; the process sampler (real RSS, real statfs) is checked on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { ManualClock } from '../../../src/core/clock.js';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { amqpListener } from '../../../src/protocols/amqp/listener.js';
import { processSampler, type ResourceSampler } from '../../../src/protocols/amqp/session/alarms.js';
import { EmbeddedTransport } from '../../../src/transports/embedded.js';
import { resolveServeConfig } from '../../../src/cli/commands/serve.js';
import { parseDiskFreeLimit, parseMemoryHighWatermark, watermarkBytes } from '../../../src/server/resource-limits.js';
import { startBroker, waitFor, sleep } from './helpers.js';

/** A sampler the test sets: what the process "uses" and what the disk "has free". */
function fakeSampler(): ResourceSampler & { mem: number; free: number } {
  const s = {
    mem: 100 * 2 ** 20,
    free: 10 * 2 ** 30,
    memoryBytes: () => s.mem,
    diskFreeBytes: async () => s.free,
  };
  return s;
}

function events(c: amqp.ChannelModel): string[] {
  const seen: string[] = [];
  c.on('blocked', (reason: string) => seen.push(`blocked: ${reason}`));
  c.on('unblocked', () => seen.push('unblocked'));
  return seen;
}

test('over the memory high watermark a connection that publishes gets connection.blocked and is no longer read; below it, unblocked and its publishes land', async () => {
  const clock = new ManualClock();
  const sampler = fakeSampler();
  const b = await startBroker({ alarms: { memoryHighWatermarkBytes: 512 * 2 ** 20, sampler, clock } });
  const pub = await amqp.connect(b.url);
  const sub = await amqp.connect(b.url);
  try {
    const pubEvents = events(pub);
    const subEvents = events(sub);
    const pch = await pub.createConfirmChannel();
    const sch = await sub.createChannel();
    await pch.assertQueue('alarm-q');
    pch.sendToQueue('alarm-q', Buffer.from('before'));
    await pch.waitForConfirms();

    sampler.mem = 600 * 2 ** 20;
    clock.advance(1000);
    assert.equal(b.server.broker.blockedReason, 'low on memory');
    // As RabbitMQ 3.10: nothing is sent until the connection publishes during the alarm.
    await sch.checkQueue('alarm-q');
    assert.deepEqual(pubEvents, []);
    pch.sendToQueue('alarm-q', Buffer.from('during'));
    await waitFor(() => pubEvents.length === 1);
    assert.deepEqual(pubEvents, ['blocked: low on memory']);

    // Neither that publish's content nor what follows is read; the consumer-only connection is still served.
    pch.sendToQueue('alarm-q', Buffer.from('after'));
    const confirmed = pch.waitForConfirms();
    await sleep(150);
    assert.equal((await sch.checkQueue('alarm-q')).messageCount, 1);
    const first = await sch.get('alarm-q', { noAck: true });
    assert.equal(first && first.content.toString(), 'before');
    assert.deepEqual(subEvents, [], 'a connection that never published is not blocked');

    sampler.mem = 400 * 2 ** 20;
    clock.advance(1000);
    assert.equal(b.server.broker.blockedReason, undefined);
    await confirmed;
    assert.deepEqual(pubEvents, ['blocked: low on memory', 'unblocked']);
    const rest = [await waitFor(() => sch.get('alarm-q', { noAck: true })), await waitFor(() => sch.get('alarm-q', { noAck: true }))];
    assert.deepEqual(rest.map((m) => m.content.toString()), ['during', 'after']);
  } finally {
    await pub.close();
    await sub.close();
    await b.close();
  }
});

test('a connection that first publishes during an alarm is blocked at that publish', async () => {
  const clock = new ManualClock();
  const sampler = fakeSampler();
  sampler.mem = 2 * 2 ** 30;
  const b = await startBroker({ alarms: { memoryHighWatermarkBytes: 2 ** 30, sampler, clock } });
  const c = await amqp.connect(b.url);
  try {
    const seen = events(c);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('late-q');
    assert.deepEqual(seen, [], 'declaring is not publishing');
    ch.sendToQueue('late-q', Buffer.from('x'));
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, ['blocked: low on memory']);
    // As RabbitMQ: the publish that meets the alarm is not taken until it clears.
    await sleep(100);
    assert.equal(b.server.broker.queues.get('late-q')?.messageCount, 0);
    sampler.mem = 0;
    clock.advance(1000);
    await waitFor(() => seen.length === 2);
    assert.deepEqual(seen, ['blocked: low on memory', 'unblocked']);
    await ch.waitForConfirms();
    assert.equal(b.server.broker.queues.get('late-q')?.messageCount, 1);
  } finally {
    await c.close();
    await b.close();
  }
});

test('the disk free limit on the data directory raises "low on disk"; with memory too the reason is "low on memory & disk"', async () => {
  const clock = new ManualClock();
  const sampler = fakeSampler();
  const b = await startBroker({ alarms: { memoryHighWatermarkBytes: 2 ** 30, diskFreeLimitBytes: 50_000_000, dataDir: os.tmpdir(), sampler, clock } });
  const c = await amqp.connect(b.url);
  try {
    const seen = events(c);
    const ch = await c.createConfirmChannel();
    sampler.free = 10_000_000;
    clock.advance(5000);
    await waitFor(() => b.server.broker.blockedReason === 'low on disk');
    ch.sendToQueue('amq.gen-none', Buffer.from('x')); // unroutable, still a publish
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, ['blocked: low on disk']);
    sampler.mem = 2 ** 31;
    clock.advance(1000);
    assert.equal(b.server.broker.blockedReason, 'low on memory & disk');
    sampler.free = 60_000_000;
    clock.advance(5000);
    await waitFor(() => b.server.broker.blockedReason === 'low on memory');
    assert.deepEqual(seen, ['blocked: low on disk'], 'blocked is sent once per blocked period');
    sampler.mem = 0;
    clock.advance(1000);
    await waitFor(() => seen.length === 2);
    assert.deepEqual(seen, ['blocked: low on disk', 'unblocked']);
  } finally {
    await c.close();
    await b.close();
  }
});

test('the process sampler reads the real RSS and the real free space of a directory', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnibus-alarm-'));
  try {
    const rss = processSampler.memoryBytes();
    assert.ok(rss > 10 * 2 ** 20 && rss < os.totalmem(), `rss ${rss}`);
    const free = await processSampler.diskFreeBytes(dir);
    assert.ok(free > 0 && free < 2 ** 60, `free ${free}`);
    // A watermark below the real RSS and a limit above the real free space: both alarms on.
    const b = await startBroker({ alarms: { memoryHighWatermarkBytes: 2 ** 20, diskFreeLimitBytes: 2 ** 60, dataDir: dir } });
    try {
      assert.equal(b.server.broker.blockedReason, 'low on memory & disk');
    } finally {
      await b.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve settings: --amqp-memory-high-watermark and --amqp-disk-free-limit reach the AMQP listener (flag > env > default)', async () => {
  const cfg = resolveServeConfig(['--memory', '--amqp-memory-high-watermark', '1MiB'], { OMNIBUS_AMQP_DISK_FREE_LIMIT: '2GB' });
  assert.deepEqual(cfg.settings, { 'amqp-memory-high-watermark': '1MiB', 'amqp-disk-free-limit': '2GB' });
  assert.deepEqual(resolveServeConfig([], {}).settings, {});
  assert.throws(() => resolveServeConfig(['--amqp-memory-high-watermark', 'lots'], {}), /--amqp-memory-high-watermark: memory high watermark must be/);
  assert.throws(() => resolveServeConfig([], { OMNIBUS_AMQP_DISK_FREE_LIMIT: '-1' }), /OMNIBUS_AMQP_DISK_FREE_LIMIT: disk free limit must be/);
  assert.deepEqual(parseMemoryHighWatermark('0.4'), { kind: 'relative', fraction: 0.4 });
  assert.equal(watermarkBytes(parseMemoryHighWatermark('0.5'), 8e9), 4e9);
  assert.equal(watermarkBytes(parseMemoryHighWatermark('2GB'), 8e9), 2e9);
  assert.equal(watermarkBytes(parseMemoryHighWatermark('off'), 8e9), undefined);
  assert.equal(parseDiskFreeLimit('50MB'), 50_000_000);
  assert.equal(parseDiskFreeLimit('1GiB'), 2 ** 30);

  // The listener as `serve` starts it: a 1 MiB watermark is below any real RSS, so the first publish blocks.
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const transport = new EmbeddedTransport('memory', engine);
  const ac = new AbortController();
  const lines: string[] = [];
  const l = (await amqpListener.start({ transport, storage: 'memory', dataDir: undefined, signal: ac.signal, log: (x) => lines.push(x), settings: cfg.settings }, { host: '127.0.0.1', port: 0 })) as Awaited<ReturnType<typeof amqpListener.start>> & { port: number };
  const c = await amqp.connect(`amqp://guest:guest@${l.address}`);
  try {
    const seen = events(c);
    const ch = await c.createChannel();
    ch.sendToQueue('q', Buffer.from('x'));
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, ['blocked: low on memory']);
    assert.ok(lines.some((x) => /memory resource limit alarm set/.test(x)), lines.join('\n'));
  } finally {
    await c.close().catch(() => {});
    await l.close();
    await engine.close();
  }
});
