import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../../src/index.js';
import type { Delivery, Subscription, Transport } from '../../src/core/types.js';
import {
  buildBatch,
  payloadTemplate,
  readSeq,
  runSeed,
  SEED_DEFAULTS,
  SeedVerificationError,
  SeedVerifier,
  stampSeq,
  type SeedOptions,
} from '../../src/bench/seed.js';
import { runCli } from './helpers.js';

interface JsonPhase {
  marksSec: number[];
  msgsPerSec: number;
  mbPerSec: number;
  flatness: number | null;
}
interface JsonReport {
  ok: boolean;
  results: { size: number; count: number; enqueue: JsonPhase; dequeue: JsonPhase; verify: { ok: boolean; missing: number; duplicates: number; unique: number; bytes: number; expectedBytes: number } }[];
}

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'omnibus-bench-test-'));
}

test('payload: 10 digits of the sequence number, filler to the exact size', () => {
  const t = payloadTemplate(32);
  assert.equal(t.length, 32);
  const batch = buildBatch(t, 9_999_999_990, 5);
  assert.equal(batch.length, 5);
  for (const [i, m] of batch.entries()) {
    const body = Buffer.from((m.body as Uint8Array).buffer, (m.body as Uint8Array).byteOffset, (m.body as Uint8Array).byteLength);
    assert.equal(body.length, 32);
    assert.equal(readSeq(body), 9_999_999_990 + i);
    assert.equal(body.toString('latin1', 0, 10), String(9_999_999_990 + i));
    assert.equal(body.toString('latin1', 10), 'abcdefghijklmnopqrstuv');
  }
  const b = Buffer.alloc(10);
  stampSeq(b, 0, 42);
  assert.equal(b.toString(), '0000000042');
  assert.equal(readSeq(Buffer.from('00000x0042')), -1);
  assert.throws(() => payloadTemplate(9));
});

test('verifier: exact set passes; loss, duplicates, wrong length and foreign messages fail', () => {
  const t = payloadTemplate(16);
  const bodies = buildBatch(t, 0, 5).map((m) => Buffer.from(m.body as Uint8Array));
  const good = new SeedVerifier(5, 16);
  for (const b of bodies) good.add(b);
  assert.equal(good.result().ok, true);

  const lossy = new SeedVerifier(5, 16);
  for (const b of bodies.slice(0, 4)) lossy.add(b);
  assert.equal(lossy.result().ok, false);
  assert.equal(lossy.result().missing, 1);
  assert.deepEqual(lossy.result().missingSample, [4]);

  const dup = new SeedVerifier(5, 16);
  for (const b of [...bodies, bodies[2]!]) dup.add(b);
  assert.equal(dup.result().ok, false);
  assert.equal(dup.result().duplicates, 1);

  const short = new SeedVerifier(5, 16);
  for (const b of [...bodies.slice(0, 4), bodies[4]!.subarray(0, 15)]) short.add(b);
  assert.equal(short.result().badLength, 1);
  assert.equal(short.result().ok, false);

  const foreign = new SeedVerifier(5, 16);
  for (const b of [...bodies, Buffer.from('hello world, not ours')]) foreign.add(b);
  assert.equal(foreign.result().foreign, 1);
  assert.equal(foreign.result().ok, false);
});

/** Wraps a transport so that subscribers lose one message (acked and skipped) or see one twice. */
function faulty(inner: Transport, mode: 'drop' | 'dup', victim: number): Transport {
  return {
    scheme: inner.scheme,
    capabilities: inner.capabilities,
    publish: (topic, messages, opts) => inner.publish(topic, messages, opts),
    subscribe(topic, opts): Subscription {
      const sub = inner.subscribe(topic, opts);
      async function* deliveries(): AsyncGenerator<Delivery> {
        for await (const d of sub) {
          const seq = readSeq(d.body);
          if (mode === 'drop' && seq === victim) {
            await d.ack();
            continue;
          }
          yield d;
          if (mode === 'dup' && seq === victim) yield d;
        }
      }
      async function* batches(): AsyncGenerator<readonly Delivery[]> {
        for await (const batch of sub.batches()) {
          const out: Delivery[] = [];
          for (const d of batch) {
            const seq = readSeq(d.body);
            if (mode === 'drop' && seq === victim) {
              await d.ack();
              continue;
            }
            out.push(d);
            if (mode === 'dup' && seq === victim) out.push(d);
          }
          if (out.length > 0) yield out;
        }
      }
      return {
        topic: sub.topic,
        group: sub.group,
        close: () => sub.close(),
        batches,
        [Symbol.asyncDispose]: () => sub.close(),
        [Symbol.asyncIterator]: deliveries,
      };
    },
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}

function seedOpts(extra: Partial<SeedOptions> = {}): SeedOptions {
  return { ...SEED_DEFAULTS, count: 500, sizes: [64], batch: 100, idleTimeoutMs: 300, topicPrefix: `t${Math.random().toString(36).slice(2)}`, ...extra };
}

test('runSeed verifies a correct transport', async () => {
  const t = await connect('memory://');
  try {
    const r = await runSeed(t, seedOpts({ sizes: [16, 64], publishers: 3, batch: 7 }));
    assert.equal(r.ok, true);
    for (const s of r.sizes) {
      assert.equal(s.verify.ok, true);
      assert.equal(s.enqueue.marksSec.length, 10);
      assert.equal(s.dequeue.marksSec.length, 10);
      assert.ok(s.enqueue.marksSec.every((m, i, a) => i === 0 || m >= a[i - 1]!), 'marks are cumulative');
    }
  } finally {
    await t.close();
  }
});

test('runSeed reading with batches() verifies a correct transport, and fails loudly on one that loses a message', async () => {
  const t = await connect('memory://');
  try {
    const r = await runSeed(t, seedOpts({ sizes: [16, 64], read: 'batches' }));
    assert.equal(r.ok, true);
    for (const s of r.sizes) assert.equal(s.verify.unique, 500);
  } finally {
    await t.close();
  }
  const lossy = faulty(await connect('memory://'), 'drop', 321);
  try {
    await assert.rejects(runSeed(lossy, seedOpts({ read: 'batches' })), (e: unknown) => e instanceof SeedVerificationError && e.result.verify.missing === 1);
  } finally {
    await lossy.close();
  }
});

test('runSeed fails loudly on a transport that loses one message', async () => {
  const t = faulty(await connect('memory://'), 'drop', 123);
  try {
    await assert.rejects(runSeed(t, seedOpts()), (e: unknown) => {
      assert.ok(e instanceof SeedVerificationError);
      assert.equal(e.result.verify.missing, 1);
      assert.deepEqual(e.result.verify.missingSample, [123]);
      assert.match(e.message, /1 of 500 messages LOST \(e\.g\. seq 123\)/);
      return true;
    });
  } finally {
    await t.close();
  }
});

test('runSeed fails loudly on a transport that duplicates one message', async () => {
  const t = faulty(await connect('memory://'), 'dup', 77);
  try {
    await assert.rejects(runSeed(t, seedOpts({ ack: 'each' })), (e: unknown) => {
      assert.ok(e instanceof SeedVerificationError);
      assert.equal(e.result.verify.duplicates, 1);
      assert.equal(e.result.verify.missing, 0);
      assert.match(e.message, /1 DUPLICATE deliveries \(e\.g\. seq 77\)/);
      return true;
    });
  } finally {
    await t.close();
  }
});

test('omnibus bench --count 2000 --sizes 128,1024 --json: exit 0, every mark, zero loss', async () => {
  const dir = tmp();
  const out = path.join(dir, 'out.json');
  try {
    const r = await runCli(['bench', '--count', '2000', '--sizes', '128,1024', '--json', out, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', '--quiet prints nothing on stderr');
    assert.match(r.stdout, /\| 128 \| 2,000 \|/);
    assert.match(r.stdout, /\| 1024 \| 2,000 \|/);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.results.map((s) => s.size), [128, 1024]);
    for (const s of doc.results) {
      assert.equal(s.count, 2000);
      for (const p of [s.enqueue, s.dequeue]) {
        assert.equal(p.marksSec.length, 10);
        assert.ok(p.msgsPerSec > 0 && p.mbPerSec > 0);
      }
      assert.equal(s.verify.ok, true);
      assert.equal(s.verify.missing, 0);
      assert.equal(s.verify.duplicates, 0);
      assert.equal(s.verify.unique, 2000);
      assert.equal(s.verify.bytes, 2000 * s.size);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('omnibus bench on file storage removes its temp dir, or keeps --data', async () => {
  const before = new Set(readdirSync(os.tmpdir()).filter((n) => n.startsWith('omnibus-bench-') && !n.startsWith('omnibus-bench-test-')));
  const r = await runCli(['bench', '--storage', 'file', '--count', '1000', '--sizes', '128', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const after = readdirSync(os.tmpdir()).filter((n) => n.startsWith('omnibus-bench-') && !n.startsWith('omnibus-bench-test-') && !before.has(n));
  assert.deepEqual(after, [], 'temp data dir removed');

  const dir = tmp();
  try {
    const data = path.join(dir, 'data');
    const r2 = await runCli(['bench', '--data', data, '--fsync', 'always', '--count', '1000', '--sizes', '128', '--quiet']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /target file:\/\/.*\?fsync=always/);
    assert.ok(existsSync(data), 'a given --data dir is kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('non-TTY progress prints at most one line per 2 s; none with --quiet', async () => {
  const r = await runCli(['bench', '--count', '1000', '--sizes', '128']);
  assert.equal(r.code, 0);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('warning: load average'));
  assert.ok(lines.every((l) => l.startsWith('bench: ')), r.stderr);
  assert.ok(lines.length <= 2, r.stderr);
});

test('omnibus bench on a lossy target exits 1 with one line and writes ok:false JSON', async () => {
  const { registerTransport } = await import('../../src/core/registry.js');
  registerTransport('lossy-test', async () => faulty(await connect('memory://'), 'drop', 5));
  const dir = tmp();
  const out = path.join(dir, 'out.json');
  try {
    const r = await runCli(['bench', '--target', 'lossy-test://', '--count', '100', '--sizes', '128', '--idle-timeout', '0.3', '--quiet', '--json', out]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^omnibus: bench FAILED, size 128: 1 of 100 messages LOST \(e\.g\. seq 5\)/);
    assert.match(r.stdout, /FAILED/);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as JsonReport & { error: string };
    assert.equal(doc.ok, false);
    assert.match(doc.error, /LOST/);
    assert.equal(doc.results[0]?.verify.missing, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on a terminal the progress is a redrawn bar, erased before results are printed', async () => {
  let stderr = '';
  const r = await runCli(['bench', '--count', '5000', '--sizes', '128'], { stderr: { isTTY: true, write: (s: string) => (stderr += s) } });
  assert.equal(r.code, 0);
  stderr = stderr.replace(/warning: load average[^\n]*\n/, '');
  assert.match(stderr, /\r\x1b\[K\[1\/1\] 128 B (enqueue|dequeue) \[[#-]{24}\]/);
  assert.ok(stderr.endsWith('\r\x1b[K'), 'the bar is erased at the end');
  assert.doesNotMatch(stderr, /\n(?!$)/, 'no newlines from the bar');
});

test('--reuse-payloads recycles batch memory and still verifies on memory://', async () => {
  const t = await connect('memory://');
  try {
    const r = await runSeed(t, seedOpts({ count: 5000, sizes: [16, 300], batch: 64, reusePayloads: true }));
    assert.equal(r.ok, true);
  } finally {
    await t.close();
  }
  const cli = await runCli(['bench', '--count', '3000', '--sizes', '128', '--reuse-payloads', '--quiet']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /reused payload buffers/);
});

test('--warmup runs an untimed, verified enqueue and dequeue on a topic of its own before each size', async () => {
  const t = await connect('memory://');
  const topics: string[] = [];
  const watched: Transport = {
    scheme: t.scheme,
    capabilities: t.capabilities,
    publish: (topic, messages, opts) => (topics.push(topic), t.publish(topic, messages, opts)),
    subscribe: (topic, opts) => t.subscribe(topic, opts),
    close: () => t.close(),
    [Symbol.asyncDispose]: () => t.close(),
  };
  try {
    const r = await runSeed(watched, seedOpts({ sizes: [16, 64], warmup: { fraction: 0.4 } }));
    assert.equal(r.ok, true);
    const seen = [...new Set(topics)];
    assert.deepEqual(
      seen.map((x) => x.replace(/^t\w+-/, '')),
      ['16-warmup', '16', '64-warmup', '64'],
    );
    // The timed run's own counts are unchanged: 500 each.
    for (const s of r.sizes) assert.equal(s.verify.unique, 500);
  } finally {
    await t.close();
  }
  // A warm-up that loses a message fails the run before anything is timed.
  const lossy = faulty(await connect('memory://'), 'drop', 50);
  try {
    await assert.rejects(runSeed(lossy, seedOpts({ warmup: 100 })), /warm-up of 100 × 64 B did not verify: 1 missing/);
  } finally {
    await lossy.close();
  }
  const cli = await runCli(['bench', '--count', '2000', '--sizes', '128', '--warmup', '25%', '--quiet']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /warm-up 25 % per size/);
});

test('after a run every message is acked: the bench group has nothing left to redeliver', async () => {
  const t = await connect('memory://');
  try {
    for (const ack of ['bulk', 'each'] as const) {
      const opts = seedOpts({ count: 2000, sizes: [64], ack });
      await runSeed(t, opts);
      let leftover = 0;
      // A ref'd timer (AbortSignal.timeout's is unref'd and would let the loop run dry first).
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 400);
      const sub = t.subscribe(`${opts.topicPrefix}-64`, { group: 'bench', leaseMs: 50, signal: ac.signal });
      try {
        for await (const d of sub) {
          leftover++;
          await d.ack();
        }
      } catch (e) {
        if (!(e instanceof Error && /abort|timeout|closed/i.test(`${e.name} ${e.message} ${(e as { code?: string }).code ?? ''}`))) throw e;
      } finally {
        clearTimeout(timer);
        await sub.close();
      }
      assert.equal(leftover, 0, `${ack}: unacked messages were redelivered`);
    }
  } finally {
    await t.close();
  }
});
