/**
 * The storage SPI contract as behaviour sentences, run against every StorageEngine
 * (memory.test.ts, file.test.ts). Persistence-only cases skip on non-persistent engines with a
 * reason. File-format specifics (lock, index files, name/offset mismatch) live in file.test.ts.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { isOmnibusError } from '../../src/core/errors.js';
import type { BatchInput, EncodedBatchInput, PartitionOptions, PartitionStore, StorageEngine, StoredBatch } from '../../src/engine/storage/types.js';
import { compactPartition, FORMAT_GAP } from '../../src/engine/compaction.js';
import { decodeBatch, encodeBatch } from '../../src/engine/record.js';

export interface StorageHarness {
  engine: StorageEngine;
  /** Closes `engine` and opens a new one over the same data (persistent engines only). */
  reopen?: () => Promise<StorageEngine>;
  /** Segment file paths of a partition log, oldest first (file engines only). */
  segmentFiles?: (name: string) => Promise<string[]>;
  cleanup(): Promise<void>;
}

export type HarnessFactory = () => Promise<StorageHarness>;

const NOT_PERSISTENT = 'memory storage is not persistent';
const NO_FILES = 'the engine has no segment files to damage';

export function batch(text: string | Uint8Array, count = 1, timestamp = 0, format = 0): BatchInput {
  return { count, timestamp, format, payload: typeof text === 'string' ? Buffer.from(text) : text };
}

/** A batch for appendEncoded that copies `payload` into place. */
function encoded(payload: Buffer, count: number, timestamp = 1000): EncodedBatchInput {
  return { count, timestamp, format: 0, size: payload.length, write: (buf: Buffer, pos: number) => void payload.copy(buf, pos) };
}

/** Reads the whole log from `from` in pages of `maxBytes`. */
export async function readAll(p: PartitionStore, from = 0, maxBytes = 64 * 1024): Promise<StoredBatch[]> {
  const out: StoredBatch[] = [];
  let off = from;
  for (;;) {
    const page = await p.read(off, maxBytes);
    if (page.length === 0) return out;
    for (const b of page) {
      if (b.baseOffset + b.count > off) out.push({ ...b, payload: Buffer.from(b.payload) });
    }
    const last = page[page.length - 1]!;
    off = last.baseOffset + last.count;
  }
}

function assertContiguous(batches: StoredBatch[], start: number): void {
  let next = start;
  for (const b of batches) {
    assert.equal(b.baseOffset, next, `batch at ${b.baseOffset} should start at ${next}`);
    next = b.baseOffset + b.count;
  }
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isOmnibusError(e), `expected an OmnibusError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return;
  }
  assert.fail(`expected ${code}`);
}

export function storageSuite(label: string, factory: HarnessFactory): void {
  const opts: PartitionOptions = { fsync: 'always' };
  const small: PartitionOptions = { fsync: 'always', segmentBytes: 1024 };

  async function withStore(o: PartitionOptions, fn: (p: PartitionStore, h: StorageHarness) => Promise<void>, name = 'topics/t/0'): Promise<void> {
    const h = await factory();
    try {
      const p = await h.engine.open(name, o);
      await fn(p, h);
    } finally {
      await h.engine.close();
      await h.cleanup();
    }
  }

  describe(`${label} storage`, () => {
    // -----------------------------------------------------------------------------------------
    // Offsets and appends
    // -----------------------------------------------------------------------------------------

    test('a new log is empty at offset 0 and read at the end returns []', () =>
      withStore(opts, async (p) => {
        assert.equal(p.startOffset, 0);
        assert.equal(p.endOffset, 0);
        assert.equal(p.sizeBytes, 0);
        assert.deepEqual(await p.read(0, 1000), []);
      }));

    test('append assigns count consecutive offsets per batch and returns the first base offset', () =>
      withStore(opts, async (p) => {
        assert.equal(p.append([batch('a', 3), batch('b', 1)]), 0);
        assert.equal(p.append([batch('c', 5)]), 4);
        assert.equal(p.endOffset, 9);
        await p.durable();
        const all = await readAll(p);
        assert.deepEqual(
          all.map((b) => [b.baseOffset, b.count, b.payload.toString()]),
          [
            [0, 3, 'a'],
            [3, 1, 'b'],
            [4, 5, 'c'],
          ],
        );
      }));

    test('appended data is readable at once, before durable()', () =>
      withStore(opts, async (p) => {
        p.append([batch('now')]);
        const r = await p.read(0, 100);
        assert.equal(r[0]!.payload.toString(), 'now');
        await p.durable();
      }));

    test('an invalid batch is refused with MQ_ERR_INVALID_ARGUMENT and nothing of the append is stored', () =>
      withStore(opts, async (p) => {
        await rejectsWith(() => p.append([batch('ok'), { ...batch('bad'), count: 0 }]), 'MQ_ERR_INVALID_ARGUMENT');
        await rejectsWith(() => p.append([{ ...batch('bad'), format: 256 }]), 'MQ_ERR_INVALID_ARGUMENT');
        assert.equal(p.endOffset, 0);
        assert.equal(p.append([batch('ok')]), 0);
        await p.durable();
      }));

    test('appendEncoded and append interleave in offset order, across segment rolls, and read back the same bytes', () =>
      withStore(small, async (p) => {
        assert.ok(p.appendEncoded, 'every engine encodes straight into its log');
        // Sizes on both sides of the in-heap store's by-reference threshold (1 KiB) and of the segment size.
        const payloads = Array.from({ length: 24 }, (_, i) => Buffer.alloc(1 + ((i * 379) % 3000), 0x41 + (i % 26)));
        for (const [i, pl] of payloads.entries()) {
          const base = i % 2 === 0 ? p.appendEncoded!(encoded(pl, 2, i)) : p.append([{ count: 2, timestamp: i, format: 0, payload: pl }]);
          assert.equal(base, i * 2);
        }
        await p.durable();
        const got = await readAll(p);
        assert.deepEqual(
          got.map((b) => [b.baseOffset, b.count, b.timestamp]),
          payloads.map((_, i) => [i * 2, 2, i]),
        );
        for (const [i, b] of got.entries()) assert.ok(b.payload.equals(payloads[i]!), `batch ${i} reads back its bytes`);
      }));

    test('an appendEncoded whose write throws appends nothing, and the next append takes its offset', () =>
      withStore(opts, async (p) => {
        p.appendEncoded!(encoded(Buffer.from('first'), 1));
        for (const size of [100, 5000]) {
          const boom = { ...encoded(Buffer.alloc(size, 0x5a), 1), write: (buf: Buffer, pos: number) => { buf.fill(0x5a, pos, pos + 50); throw new Error('encoder refused'); } };
          assert.throws(() => p.appendEncoded!(boom), /encoder refused/);
        }
        await rejectsWith(() => p.appendEncoded!({ count: 0, timestamp: 1, format: 0, size: 3, write: () => assert.fail('write must not run for an invalid batch') }), 'MQ_ERR_INVALID_ARGUMENT');
        assert.equal(p.endOffset, 1);
        assert.equal(p.appendEncoded!(encoded(Buffer.from('second'), 1)), 1);
        await p.durable();
        assert.deepEqual((await readAll(p)).map((b) => b.payload.toString()), ['first', 'second']);
      }));

    test('reading 1-record batches returns them in order', () =>
      withStore(opts, async (p) => {
        for (let i = 0; i < 2000; i++) p.append([batch(`m${i}`, 1, i)]);
        await p.durable();
        const all = await readAll(p, 0, 1000);
        assert.equal(all.length, 2000);
        all.forEach((b, i) => {
          assert.equal(b.baseOffset, i);
          assert.equal(b.payload.toString(), `m${i}`);
        });
      }));

    test('offsets are contiguous across segment rolls', () =>
      withStore(small, async (p) => {
        let expect = 0;
        for (let i = 0; i < 300; i++) {
          const count = 1 + (i % 4);
          assert.equal(p.append([batch(Buffer.alloc(50 + (i % 70), i), count, i)]), expect);
          expect += count;
        }
        await p.durable();
        assert.ok(p.sizeBytes > 10 * 1024, 'several segments were written');
        const all = await readAll(p, 0, 500);
        assert.equal(all.length, 300);
        assertContiguous(all, 0);
        assert.equal(p.endOffset, expect);
      }));

    test('binary payloads, format and timestamp come back byte-for-byte', () =>
      withStore(opts, async (p) => {
        const bytes = Buffer.alloc(4096);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
        p.append([{ count: 7, timestamp: 1_700_000_000_123.5, format: 1, payload: bytes }]);
        p.append([{ count: 1, timestamp: -5, format: 255, payload: new Uint8Array([0, 255, 0, 255]) }]);
        await p.durable();
        const [a, b] = await p.read(0, 1 << 20);
        assert.ok(a && b);
        assert.deepEqual(Buffer.from(a.payload), bytes);
        assert.equal(a.format, 1);
        assert.equal(a.timestamp, 1_700_000_000_123.5);
        assert.equal(a.count, 7);
        assert.deepEqual([...b.payload], [0, 255, 0, 255]);
        assert.equal(b.format, 255);
        assert.equal(b.timestamp, -5);
      }));

    test('an empty payload is stored and read back empty', () =>
      withStore(opts, async (p) => {
        p.append([batch(''), batch('x')]);
        await p.durable();
        const r = await p.read(0, 100);
        assert.equal(r.length, 2);
        assert.equal(r[0]!.payload.length, 0);
        assert.equal(r[1]!.payload.toString(), 'x');
      }));

    test('a payload larger than the segment size gets a segment of its own and reads back whole', () =>
      withStore(small, async (p) => {
        const big = Buffer.alloc(100_000);
        for (let i = 0; i < big.length; i++) big[i] = i % 251;
        p.append([batch('before')]);
        p.append([batch(big, 2)]);
        p.append([batch('after')]);
        await p.durable();
        const all = await readAll(p, 0, 10);
        assert.deepEqual(all.map((b) => b.baseOffset), [0, 1, 3]);
        assert.deepEqual(all[1]!.payload, big);
        assert.equal(all[2]!.payload.toString(), 'after');
      }));

    // -----------------------------------------------------------------------------------------
    // Reads
    // -----------------------------------------------------------------------------------------

    test('read from an offset inside a batch returns that whole batch first', () =>
      withStore(opts, async (p) => {
        p.append([batch('a', 10), batch('b', 10)]);
        await p.durable();
        const r = await p.read(15, 1000);
        assert.equal(r.length, 1);
        assert.equal(r[0]!.baseOffset, 10);
      }));

    test('read returns at least one batch however large, and otherwise stays within maxBytes', () =>
      withStore(opts, async (p) => {
        p.append([batch(Buffer.alloc(500)), batch(Buffer.alloc(100)), batch(Buffer.alloc(100)), batch(Buffer.alloc(100))]);
        await p.durable();
        assert.equal((await p.read(0, 10)).length, 1);
        const r = await p.read(1, 250);
        assert.equal(r.length, 2);
        assert.equal((await p.read(1, 300)).length, 3);
      }));

    test('read below startOffset reads from startOffset and read at endOffset returns []', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 100; i++) p.append([batch(Buffer.alloc(100, i))]);
        await p.durable();
        await p.truncateBefore(50);
        assert.ok(p.startOffset > 0);
        const r = await p.read(0, 1);
        assert.equal(r[0]!.baseOffset, p.startOffset);
        assert.deepEqual(await p.read(p.endOffset, 1000), []);
        assert.deepEqual(await p.read(p.endOffset + 10, 1000), []);
      }));

    test('offsetForTimestamp finds the first batch at or after a timestamp', () =>
      withStore(small, async (p) => {
        // Timestamps rise by 10 per batch, with one out-of-order batch at offset 40.
        for (let i = 0; i < 100; i++) p.append([batch(Buffer.alloc(60), 1, i === 40 ? 5000 : 1000 + i * 10)]);
        await p.durable();
        assert.equal(await p.offsetForTimestamp(0), 0);
        assert.equal(await p.offsetForTimestamp(1000), 0);
        assert.equal(await p.offsetForTimestamp(1001), 1);
        assert.equal(await p.offsetForTimestamp(1300), 30);
        assert.equal(await p.offsetForTimestamp(1395), 40, 'the out-of-order batch is the first with ts >= 1395');
        assert.equal(await p.offsetForTimestamp(1400), 40);
        assert.equal(await p.offsetForTimestamp(1990), 40, 'first in log order, not closest in time');
        assert.equal(await p.offsetForTimestamp(4000), 40);
        assert.equal(await p.offsetForTimestamp(6000), p.endOffset);
      }));

    // -----------------------------------------------------------------------------------------
    // Truncation, retention, reset
    // -----------------------------------------------------------------------------------------

    test('truncateBefore deletes only whole segments below the offset', async (t) => {
      await withStore(small, async (p, h) => {
        for (let i = 0; i < 200; i++) p.append([batch(Buffer.alloc(100, i), 1, i)]);
        await p.durable();
        const before = p.sizeBytes;
        const filesBefore = h.segmentFiles ? (await h.segmentFiles('topics/t/0')).length : 0;
        await p.truncateBefore(100);
        assert.ok(p.startOffset <= 100, 'the segment holding offset 100 is kept');
        assert.ok(p.startOffset > 50, 'segments wholly below 100 are gone');
        assert.ok(p.sizeBytes < before);
        const all = await readAll(p, 0);
        assert.equal(all[0]!.baseOffset, p.startOffset);
        assertContiguous(all, p.startOffset);
        assert.equal(all[all.length - 1]!.baseOffset, 199);
        if (h.segmentFiles) {
          const after = await h.segmentFiles('topics/t/0');
          assert.ok(after.length < filesBefore, 'segment files are unlinked');
          for (const f of after) assert.ok(fs.existsSync(f));
        } else t.diagnostic(NO_FILES);
      });
    });

    test('truncateBefore past the end empties the log and keeps endOffset', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 50; i++) p.append([batch(Buffer.alloc(100))]);
        await p.durable();
        await p.truncateBefore(50);
        assert.equal(p.startOffset, 50);
        assert.equal(p.endOffset, 50);
        assert.equal(p.sizeBytes, 0);
        assert.deepEqual(await p.read(0, 1000), []);
        assert.equal(p.append([batch('next')]), 50);
        await p.durable();
        assert.equal((await p.read(0, 1000))[0]!.payload.toString(), 'next');
      }));

    test('retention by size deletes oldest segments and keeps the active one', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 200; i++) p.append([batch(Buffer.alloc(100, i), 1, i)]);
        await p.durable();
        await p.enforceRetention({ maxBytes: 3000, now: 0 });
        assert.ok(p.sizeBytes <= 3000 + 1024, `size ${p.sizeBytes} is within one segment of the limit`);
        assert.ok(p.startOffset > 100);
        assert.equal(p.endOffset, 200);
        await p.enforceRetention({ maxBytes: 0, now: 0 });
        assert.ok(p.sizeBytes > 0 && p.sizeBytes <= 1024, 'the active segment stays');
        assertContiguous(await readAll(p, 0), p.startOffset);
      }));

    test('retention by age deletes segments whose newest timestamp is too old', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 100; i++) p.append([batch(Buffer.alloc(100), 1, 1000 + i)]);
        await p.durable();
        await p.enforceRetention({ maxAgeMs: 10, now: 1050 });
        // Cutoff 1040: segments whose newest batch is older go; the one holding offset 40 stays.
        assert.ok(p.startOffset > 0, 'old segments were deleted');
        assert.ok(p.startOffset <= 40, `start ${p.startOffset} keeps the segment holding ts 1040`);
        assertContiguous(await readAll(p, 0), p.startOffset);
        await p.enforceRetention({ maxAgeMs: 10, now: 1_000_000 });
        assert.equal(p.endOffset, 100);
        assert.ok(p.sizeBytes > 0, 'the active segment stays');
      }));

    test('reset deletes everything and restarts at the given offset', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 50; i++) p.append([batch(Buffer.alloc(100))]);
        await p.durable();
        await p.reset(1_000_000);
        assert.equal(p.startOffset, 1_000_000);
        assert.equal(p.endOffset, 1_000_000);
        assert.equal(p.sizeBytes, 0);
        assert.equal(p.append([batch('x', 2)]), 1_000_000);
        await p.durable();
        await p.reset(0);
        assert.equal(p.append([batch('y')]), 0);
        await p.durable();
        const all = await readAll(p, 0);
        assert.deepEqual(all.map((b) => b.payload.toString()), ['y']);
      }));

    // -----------------------------------------------------------------------------------------
    // Engine
    // -----------------------------------------------------------------------------------------

    test('opening an open name returns the same store; list filters by prefix; remove deletes', async () => {
      const h = await factory();
      try {
        const a = await h.engine.open('topics/orders/0', opts);
        assert.equal(await h.engine.open('topics/orders/0', opts), a);
        await h.engine.open('topics/orders/1', opts);
        await h.engine.open('state/orders/acks', opts);
        a.append([batch('x')]);
        await a.durable();
        assert.deepEqual(await h.engine.list('topics/'), ['topics/orders/0', 'topics/orders/1']);
        assert.deepEqual(await h.engine.list(''), ['state/orders/acks', 'topics/orders/0', 'topics/orders/1']);
        await h.engine.remove('topics/orders/0');
        assert.deepEqual(await h.engine.list('topics/'), ['topics/orders/1']);
        const again = await h.engine.open('topics/orders/0', opts);
        assert.equal(again.endOffset, 0);
      } finally {
        await h.engine.close();
        await h.cleanup();
      }
    });

    test('an invalid name is refused', async () => {
      const h = await factory();
      try {
        await rejectsWith(h.engine.open('../escape', opts), 'MQ_ERR_INVALID_ARGUMENT');
        await rejectsWith(h.engine.open('a//b', opts), 'MQ_ERR_INVALID_ARGUMENT');
      } finally {
        await h.engine.close();
        await h.cleanup();
      }
    });

    test('after close, append throws MQ_ERR_CLOSED and close is idempotent', () =>
      withStore(opts, async (p) => {
        p.append([batch('x')]);
        await p.close();
        await p.close();
        await rejectsWith(() => p.append([batch('y')]), 'MQ_ERR_CLOSED');
      }));

    test('many concurrent durable() callers all resolve', () =>
      withStore(opts, async (p) => {
        const ps: Promise<void>[] = [];
        for (let i = 0; i < 500; i++) {
          p.append([batch(`r${i}`)]);
          ps.push(p.durable());
        }
        await Promise.all(ps);
        assert.equal((await readAll(p)).length, 500);
      }));

    // -----------------------------------------------------------------------------------------
    // Compaction support (rewriteSegment) and a compaction pass over native records
    // -----------------------------------------------------------------------------------------

    test('sealedSegments lists every segment but the active one, as contiguous offset ranges', () =>
      withStore(small, async (p) => {
        assert.deepEqual(p.sealedSegments(), []);
        for (let i = 0; i < 40; i++) p.append([batch(Buffer.alloc(100, i), 1, i)]);
        await p.durable();
        const sealed = p.sealedSegments();
        assert.ok(sealed.length >= 2, `${sealed.length} sealed segments`);
        assert.equal(sealed[0]!.base, 0);
        for (let i = 1; i < sealed.length; i++) assert.equal(sealed[i]!.base, sealed[i - 1]!.end);
        assert.ok(sealed[sealed.length - 1]!.end < p.endOffset, 'the active segment holds the last batch');
      }));

    test('rewriteSegment replaces a sealed segment: same offsets, new batches, size updated; other segments untouched', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 40; i++) p.append([batch(Buffer.alloc(100, i), 1, i)]);
        await p.durable();
        const [first, second] = p.sealedSegments();
        const before = p.sizeBytes;
        const n = first!.end - first!.base;
        assert.ok(n >= 2);
        const ok = await p.rewriteSegment(first!.base, first!.end, [batch('gap', n - 1, 5, 2), batch('last', 1, 7)]);
        assert.equal(ok, true);
        assert.equal(p.sizeBytes, before - (n * (32 + 100)) + (32 + 3) + (32 + 4));
        const all = await readAll(p);
        assertContiguous(all, 0);
        assert.deepEqual(
          all.slice(0, 2).map((b) => [b.baseOffset, b.count, b.format, b.timestamp, b.payload.toString()]),
          [
            [0, n - 1, 2, 5, 'gap'],
            [n - 1, 1, 0, 7, 'last'],
          ],
        );
        assert.equal(all[2]!.baseOffset, second!.base);
        assert.deepEqual(all[2]!.payload, Buffer.alloc(100, second!.base));
        assert.equal(all.length, 2 + 40 - n);
        assert.deepEqual((await p.read(n - 1, 1)).map((b) => b.payload.toString()), ['last']);
        assert.equal(await p.offsetForTimestamp(6), n - 1);
        assert.equal(p.append([batch('next')]), 40);
      }));

    test('rewriteSegment refuses a rewrite that does not cover the range, and ignores a range that is not a sealed segment', () =>
      withStore(small, async (p) => {
        for (let i = 0; i < 40; i++) p.append([batch(Buffer.alloc(100, i), 1, i)]);
        await p.durable();
        const [first] = p.sealedSegments();
        await rejectsWith(p.rewriteSegment(first!.base, first!.end, [batch('x', 1)]), 'MQ_ERR_INVALID_ARGUMENT');
        assert.equal(await p.rewriteSegment(first!.base + 1, first!.end, [batch('x', first!.end - first!.base - 1)]), false);
        const active = p.endOffset - 1;
        assert.equal(await p.rewriteSegment(active, p.endOffset, [batch('x', 1)]), false, 'the active segment is never rewritten');
        assert.equal((await readAll(p)).length, 40);
      }));

    test('a compaction pass keeps the latest native record per key, keeps keyless records and offsets, never touches the active segment', () =>
      withStore(small, async (p) => {
        // 30 batches of 3 records over keys k0..k4, plus one keyless record per batch.
        let off = 0;
        const expectLatest = new Map<string, number>();
        for (let i = 0; i < 30; i++) {
          const recs = [0, 1, 2].map((j) => ({ key: j === 2 ? undefined : `k${(i * 2 + j) % 5}`, body: Buffer.from(`v${off + j}`.padEnd(90, '.')), timestamp: i, priority: 0 }));
          p.append([{ count: 3, timestamp: i, format: 0, payload: encodeBatch(recs) }]);
          off += 3;
        }
        await p.durable();
        const sealedEnd = p.sealedSegments().at(-1)!.end;
        const all0 = await readAll(p);
        for (const b of all0) {
          if (b.baseOffset >= sealedEnd) continue;
          decodeBatch(b.payload, b.baseOffset, b.count, 0, (r) => {
            if (r.key !== undefined) expectLatest.set(r.key, r.offset);
          });
        }
        const stats = await compactPartition(p, { now: 100 });
        assert.ok(stats.segmentsRewritten >= 1);
        assert.ok(stats.recordsRemoved > 0);
        assert.equal(p.endOffset, 90, 'offsets do not move');
        const all = await readAll(p);
        assertContiguous(all, 0);
        const seen: { offset: number; key: string | undefined; body: string }[] = [];
        for (const b of all) {
          if (b.format === FORMAT_GAP) continue;
          assert.equal(b.format, 0);
          decodeBatch(b.payload, b.baseOffset, b.count, 0, (r) => seen.push({ offset: r.offset, key: r.key, body: r.body.toString().replace(/\.+$/, '') }));
        }
        for (const r of seen) {
          assert.equal(r.body, `v${r.offset}`, 'every record keeps its offset');
          if (r.offset >= sealedEnd || r.key === undefined) continue;
          assert.equal(expectLatest.get(r.key), r.offset, `only the latest ${r.key} of the sealed segments remains`);
        }
        assert.equal(seen.filter((r) => r.key === undefined).length, 30, 'keyless records are kept');
        assert.ok(seen.filter((r) => r.offset >= sealedEnd).length === 90 - sealedEnd, 'the active segment is untouched');
        const again = await compactPartition(p, { now: 100 });
        assert.equal(again.segmentsRewritten, 0, 'a second pass finds nothing to do');
      }));

    // -----------------------------------------------------------------------------------------
    // Persistence
    // -----------------------------------------------------------------------------------------

    describe('persistence', () => {
      let persistent = true;
      test('engine reports whether it is persistent', async () => {
        const h = await factory();
        persistent = h.engine.persistent;
        await h.engine.close();
        await h.cleanup();
      });

      async function withReopen(fn: (h: StorageHarness) => Promise<void>): Promise<void> {
        const h = await factory();
        try {
          await fn(h);
        } finally {
          await h.engine.close();
          await h.cleanup();
        }
      }

      test('appended data survives a reopen, and appends continue at endOffset', async (t) => {
        const h0 = await factory();
        const skip = !h0.engine.persistent;
        await h0.engine.close();
        await h0.cleanup();
        if (skip) return t.skip(NOT_PERSISTENT);
        await withReopen(async (h) => {
          const p = await h.engine.open('topics/t/0', small);
          for (let i = 0; i < 100; i++) p.append([batch(`m${i}`, 2, i)]);
          await p.durable();
          h.engine = await h.reopen!();
          const q = await h.engine.open('topics/t/0', small);
          assert.equal(q.endOffset, 200);
          const all = await readAll(q);
          assert.equal(all.length, 100);
          assertContiguous(all, 0);
          assert.equal(all[99]!.payload.toString(), 'm99');
          assert.equal(q.append([batch('more')]), 200);
          assert.equal(await q.offsetForTimestamp(50), 100);
          await q.durable();
        });
      });

      test('truncation and reset are persistent', async (t) => {
        if (!persistent) return t.skip(NOT_PERSISTENT);
        await withReopen(async (h) => {
          let p = await h.engine.open('a', small);
          let q = await h.engine.open('b', small);
          for (let i = 0; i < 50; i++) p.append([batch(Buffer.alloc(100))]);
          for (let i = 0; i < 50; i++) q.append([batch(Buffer.alloc(100))]);
          await p.truncateBefore(50);
          await q.reset(777);
          h.engine = await h.reopen!();
          p = await h.engine.open('a', small);
          q = await h.engine.open('b', small);
          assert.deepEqual([p.startOffset, p.endOffset], [50, 50]);
          assert.deepEqual([q.startOffset, q.endOffset], [777, 777]);
        });
      });

      test('a torn tail is truncated on reopen and never served', async (t) => {
        if (!persistent) return t.skip(NOT_PERSISTENT);
        await withReopen(async (h) => {
          if (!h.segmentFiles) return t.skip(NO_FILES);
          const p = await h.engine.open('topics/t/0', small);
          for (let i = 0; i < 30; i++) p.append([batch(`m${i}`)]);
          await p.durable();
          await h.engine.close();
          const files = await h.segmentFiles('topics/t/0');
          const last = files[files.length - 1]!;
          const sizeBefore = fs.statSync(last).size;
          // Half a frame: a valid-looking length, then nothing.
          const torn = Buffer.alloc(20);
          torn.writeUInt32LE(100, 0);
          fs.appendFileSync(last, torn);
          h.engine = await h.reopen!();
          const q = await h.engine.open('topics/t/0', small);
          assert.equal(q.endOffset, 30);
          assert.equal(fs.statSync(last).size, sizeBefore, 'the torn bytes were cut off');
          const all = await readAll(q);
          assert.equal(all.length, 30);
          assert.equal(q.append([batch('next')]), 30);
          await q.durable();
          assert.equal((await q.read(30, 100))[0]!.payload.toString(), 'next');
        });
      });

      test('a frame with a bad CRC at the tail is truncated with the frames after it', async (t) => {
        if (!persistent) return t.skip(NOT_PERSISTENT);
        await withReopen(async (h) => {
          if (!h.segmentFiles) return t.skip(NO_FILES);
          const p = await h.engine.open('topics/t/0', opts);
          for (let i = 0; i < 10; i++) p.append([batch(`m${i}`)]);
          await p.durable();
          await h.engine.close();
          const [file] = await h.segmentFiles('topics/t/0');
          const buf = fs.readFileSync(file!);
          const frame = buf.length / 10;
          buf[frame * 7 + 33] ^= 0x40; // payload byte of batch 7
          fs.writeFileSync(file!, buf);
          h.engine = await h.reopen!();
          const q = await h.engine.open('topics/t/0', opts);
          assert.equal(q.endOffset, 7);
          assert.deepEqual((await readAll(q)).map((b) => b.payload.toString()), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
        });
      });

      test('a rewritten segment survives a reopen; a leftover unfinished rewrite file is deleted and the original served', async (t) => {
        if (!persistent) return t.skip(NOT_PERSISTENT);
        await withReopen(async (h) => {
          if (!h.segmentFiles) return t.skip(NO_FILES);
          const p = await h.engine.open('topics/t/0', small);
          for (let i = 0; i < 40; i++) p.append([batch(Buffer.alloc(100, i), 1, i)]);
          await p.durable();
          const [first, second] = p.sealedSegments();
          const n = first!.end - first!.base;
          assert.equal(await p.rewriteSegment(0, n, [batch('', n - 1, 0, 2), batch('kept', 1, 3)]), true);
          await h.engine.close();
          const files = await h.segmentFiles('topics/t/0');
          // A crash in the middle of rewriting the second segment: its temp file is complete or torn.
          fs.writeFileSync(`${files[1]!}.compact`, Buffer.alloc(50, 7));
          h.engine = await h.reopen!();
          const q = await h.engine.open('topics/t/0', small);
          assert.equal(fs.existsSync(`${files[1]!}.compact`), false, 'the temp file is gone');
          const all = await readAll(q);
          assertContiguous(all, 0);
          assert.equal(q.endOffset, 40);
          assert.deepEqual(all.slice(0, 2).map((b) => [b.count, b.format, b.payload.toString()]), [
            [n - 1, 2, ''],
            [1, 0, 'kept'],
          ]);
          assert.deepEqual(all[2]!.payload, Buffer.alloc(100, second!.base), 'the next segment is the original');
        });
      });

      test('a flipped byte in a middle segment makes read throw MQ_ERR_CORRUPT', async (t) => {
        if (!persistent) return t.skip(NOT_PERSISTENT);
        await withReopen(async (h) => {
          if (!h.segmentFiles) return t.skip(NO_FILES);
          const p = await h.engine.open('topics/t/0', small);
          for (let i = 0; i < 100; i++) p.append([batch(Buffer.alloc(100, 1), 1, i)]);
          await p.durable();
          await h.engine.close();
          const files = await h.segmentFiles('topics/t/0');
          assert.ok(files.length >= 3);
          const mid = files[1]!;
          const buf = fs.readFileSync(mid);
          buf[buf.length - 10] ^= 0xff;
          fs.writeFileSync(mid, buf);
          h.engine = await h.reopen!();
          const q = await h.engine.open('topics/t/0', small);
          await rejectsWith(readAll(q), 'MQ_ERR_CORRUPT');
          // Data before the damaged frame is still served.
          assert.equal((await q.read(0, 1)).length, 1);
        });
      });
    });
  });
}
