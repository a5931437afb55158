/**
 * FilePartition.appendEncoded: the caller encodes a batch straight into the write chunk. The
 * frames are the same bytes append() writes (same CRC, readable after a reopen). What every
 * engine's appendEncoded does (interleaving, a throwing write, an invalid batch) is in the shared
 * suite (storage-suite.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import type { PartitionStore } from '../../src/engine/storage/types.js';

function encoded(payload: Buffer, count: number, timestamp = 1000) {
  return { count, timestamp, format: 0, size: payload.length, write: (buf: Buffer, pos: number) => void payload.copy(buf, pos) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-append-encoded-'));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function appendEncoded(p: PartitionStore, b: ReturnType<typeof encoded>): number {
  assert.ok(p.appendEncoded, 'FilePartition implements appendEncoded');
  return p.appendEncoded(b);
}

test('batches appended encoded and copied interleave in offset order and read back identical, before and after a reopen', async () => {
  await withDir(async (dir) => {
    const payloads = Array.from({ length: 30 }, (_, i) => Buffer.alloc(1 + i * 700, 0x41 + (i % 26)));
    let storage = await FileStorage.open(dir);
    let p = await storage.open('topics/t/0', { fsync: 'always' });
    for (const [i, pl] of payloads.entries()) {
      const base = i % 2 === 0 ? appendEncoded(p, encoded(pl, 2, i)) : p.append([{ count: 2, timestamp: i, format: 0, payload: pl }]);
      assert.equal(base, i * 2);
    }
    await p.durable();
    const check = async (store: PartitionStore) => {
      const got = await store.read(0, 1 << 30);
      assert.equal(got.length, payloads.length);
      for (const [i, b] of got.entries()) {
        assert.equal(b.baseOffset, i * 2);
        assert.equal(b.count, 2);
        assert.equal(b.timestamp, i);
        assert.ok(Buffer.from(b.payload).equals(payloads[i]!), `batch ${i}`);
      }
    };
    await check(p);
    await storage.close();
    // Reopened, the frames are read from the files with their CRCs verified.
    storage = await FileStorage.open(dir);
    p = await storage.open('topics/t/0', { fsync: 'always' });
    assert.equal(p.endOffset, payloads.length * 2);
    await check(p);
    await storage.close();
  });
});
