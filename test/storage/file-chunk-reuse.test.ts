/**
 * File storage recycles the memory of evicted write chunks that no reader looked into; a chunk a
 * reader has seen is never reused, so the payload views it handed out keep their bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { batch } from './storage-suite.js';

const KiB = 1024;

test('payloads read from a write chunk keep their bytes after the chunk is evicted and new data is appended', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-chunk-reuse-'));
  try {
    // A small cache: full-size (1 MiB) chunks are evicted a few rounds after they are written.
    const storage = await FileStorage.open(dir, { cacheBytes: 2 * 1024 * KiB });
    const p = await storage.open('topics/t/0', { fsync: 'never' });
    const seen: { payload: Buffer; expected: Buffer }[] = [];
    for (let round = 0; round < 40; round++) {
      // 60 KiB batches grow the partition's chunks to their full 1 MiB size within a few rounds.
      const fill = Buffer.alloc(60 * KiB, 0x41 + (round % 26));
      const base = p.append([batch(fill, 1)]);
      const [b] = await p.read(base, 64 * KiB); // served from the chunk while it is cached
      assert.ok(b !== undefined);
      seen.push({ payload: Buffer.from(b.payload.buffer, b.payload.byteOffset, b.payload.byteLength), expected: Buffer.from(fill) });
      for (let i = 0; i < 40; i++) p.append([batch(Buffer.alloc(60 * KiB, 0x30 + (i % 10)), 1)]); // nobody reads these
      await p.durable();
    }
    for (const [i, s] of seen.entries()) assert.ok(s.payload.equals(s.expected), `payload read in round ${i} was overwritten`);
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a store opened with prefault writes into its prefaulted buffers and reads every byte back after reopening', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-chunk-prefault-'));
  try {
    // 4 MiB budget: four prefaulted 1 MiB chunks, then recycling; ~9 MiB appended in all.
    let storage = await FileStorage.open(dir, { cacheBytes: 4 * 1024 * KiB, prefault: true });
    let p = await storage.open('topics/t/0', { fsync: 'never' });
    const fills: Buffer[] = [];
    for (let i = 0; i < 150; i++) {
      const fill = Buffer.alloc(60 * KiB, 0x41 + (i % 26));
      fills.push(fill);
      p.append([batch(fill, 1)]);
    }
    await p.durable();
    await storage.close();
    storage = await FileStorage.open(dir);
    p = await storage.open('topics/t/0', { fsync: 'never' });
    let offset = p.startOffset;
    for (const [i, fill] of fills.entries()) {
      const [b] = await p.read(offset, 64 * KiB);
      assert.ok(b !== undefined, `batch ${i} is there`);
      assert.ok(Buffer.from(b.payload.buffer, b.payload.byteOffset, b.payload.byteLength).equals(fill), `batch ${i} has its bytes`);
      offset = b.baseOffset + b.count;
    }
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
