/**
 * Engine-level log compaction: the retention timer compacts topics whose cleanup policy includes
 * 'compact' (manual clock, no sleeps), a compact-only topic is never trimmed by retention, and
 * queue groups skip the offsets compaction removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { decodeBatch } from '../../src/engine/record.js';
import type { ConsumerSink, DeliveryImpl } from '../../src/engine/group.js';

async function liveKeys(engine: Engine, topic: string): Promise<{ offset: number; key: string | undefined; body: string }[]> {
  const out: { offset: number; key: string | undefined; body: string }[] = [];
  let off = 0;
  for (;;) {
    const batches = await engine.readLog(topic, 0, off, 1 << 20);
    if (batches.length === 0) return out;
    for (const b of batches) {
      if (b.format === 0) decodeBatch(b.payload, b.baseOffset, b.count, off, (r) => out.push({ offset: r.offset, key: r.key, body: r.body.toString().trim() }));
      off = b.baseOffset + b.count;
    }
  }
}

async function setup() {
  const clock = new ManualClock();
  const engine = await Engine.open({ storage: new MemoryStorage(), clock, segmentBytes: 1024 });
  await engine.topic('c', { partitions: 1, cleanupPolicy: 'compact', retentionMs: 1 });
  // 60 records over keys a..e, one per publish, 200 bytes each: several 1 KiB segments.
  for (let i = 0; i < 60; i++) await engine.publish('c', [{ key: 'abcde'[i % 5], body: Buffer.from(String(i).padEnd(200)), timestamp: 0, priority: 0 }]);
  return { clock, engine };
}

test('the retention timer compacts a compact topic: one record per key in the sealed segments, at its offset', async () => {
  const { clock, engine } = await setup();
  const before = await liveKeys(engine, 'c');
  assert.equal(before.length, 60);
  clock.advance(30_000);
  let after = before;
  for (let i = 0; i < 100 && after.length === 60; i++) {
    await new Promise((r) => setImmediate(r));
    after = await liveKeys(engine, 'c');
  }
  assert.ok(after.length < 60, 'records were removed');
  for (const r of after) assert.equal(r.body, String(r.offset), 'offsets are unchanged');
  assert.equal(engine.logBounds('c', 0).end, 60);
  assert.equal(engine.logBounds('c', 0).start, 0, 'retention.ms does not trim a compact-only topic');
  // In the compacted part, each key appears once.
  const sealedPart = after.filter((r) => r.offset < after[after.length - 1]!.offset - 10);
  assert.equal(new Set(sealedPart.map((r) => r.key)).size, sealedPart.length);
  await engine.close();
});

test('a queue group reading a compacted topic gets only the remaining records and settles the removed offsets', async () => {
  const { engine } = await setup();
  const stats = await engine.compact('c');
  assert.ok(stats.recordsRemoved > 0);
  const remaining = await liveKeys(engine, 'c');
  const g = await engine.group('c', 'q');
  const got: DeliveryImpl[] = [];
  const sink: ConsumerSink = { prefetch: 1000, push: (d) => void got.push(d) };
  g.addConsumer(sink);
  for (let i = 0; i < 100 && got.length < remaining.length; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    got.map((d) => d.offset),
    remaining.map((r) => r.offset),
  );
  for (const d of got) await d.ack();
  assert.equal(g.lowWater('0'), 60, 'every offset, removed ones included, is settled');
  await engine.close();
});

test('the timer skips a lane with nothing new sealed since its last pass, and compacts it again once a segment is sealed', async () => {
  const { engine } = await setup();
  const first = await engine.compact('c', { onlyIfDirty: true });
  assert.ok(first.sealedEnd > 0, 'the first pass runs');
  const idle = await engine.compact('c', { onlyIfDirty: true });
  assert.equal(idle.sealedEnd, -1, 'nothing new: skipped');
  for (let i = 60; i < 80; i++) await engine.publish('c', [{ key: 'abcde'[i % 5], body: Buffer.from(String(i).padEnd(200)), timestamp: 0, priority: 0 }]);
  const again = await engine.compact('c', { onlyIfDirty: true });
  assert.ok(again.sealedEnd > first.sealedEnd, 'new sealed data: the pass runs');
  assert.ok(again.recordsRemoved > 0);
  assert.ok((await engine.compact('c')).sealedEnd > 0, 'an explicit pass always runs');
  await engine.close();
});
