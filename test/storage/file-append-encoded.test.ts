/**
 * FilePartition.appendEncoded: the caller encodes a batch straight into the write chunk. The
 * frames are the same bytes append() writes (same CRC, readable after a reopen), and a write
 * callback that throws appends nothing.
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

test('a write callback that throws appends nothing and the next append takes the same offset', async () => {
  await withDir(async (dir) => {
    const storage = await FileStorage.open(dir);
    const p = await storage.open('topics/t/0', { fsync: 'never' });
    appendEncoded(p, encoded(Buffer.from('first'), 1));
    const boom = { ...encoded(Buffer.alloc(5000, 0x5a), 1), write: (buf: Buffer, pos: number) => { buf.fill(0x5a, pos, pos + 100); throw new Error('encoder refused'); } };
    assert.throws(() => appendEncoded(p, boom), /encoder refused/);
    assert.equal(p.endOffset, 1);
    assert.equal(appendEncoded(p, encoded(Buffer.from('second'), 1)), 1);
    const got = await p.read(0, 1 << 20);
    assert.deepEqual(got.map((b) => Buffer.from(b.payload).toString()), ['first', 'second']);
    await storage.close();
  });
});

test('appendEncoded refuses a batch without records before writing anything', async () => {
  await withDir(async (dir) => {
    const storage = await FileStorage.open(dir);
    const p = await storage.open('topics/t/0', { fsync: 'never' });
    let called = false;
    const bad = { count: 0, timestamp: 1, format: 0, size: 3, write: () => void (called = true) };
    assert.throws(() => appendEncoded(p, bad), (e: unknown) => (e as { code?: string }).code === 'MQ_ERR_INVALID_ARGUMENT');
    assert.equal(called, false);
    assert.equal(p.endOffset, 0);
    await storage.close();
  });
});
