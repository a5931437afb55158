/**
 * Leased reads (PartitionStore.readLeased) put file bytes into recycled slabs: a slab is reused
 * once every holder released it and never while one holds it or after it escaped; the CRC of
 * every frame read from the file is still checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isOmnibusError } from '../../src/core/errors.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import type { PartitionStore, StoredBatch } from '../../src/engine/storage/types.js';
import { batch } from './storage-suite.js';

const KiB = 1024;

/** 64 batches of 8 KiB, batch i filled with byte 0x20 + i, written and reopened so reads come from the file. */
async function fileBackedLog(opts: { segmentBytes?: number } = {}): Promise<{ dir: string; storage: FileStorage; p: PartitionStore; fills: Buffer[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-read-pool-'));
  let storage = await FileStorage.open(dir);
  let p = await storage.open('topics/t/0', { fsync: 'never', ...opts });
  const fills: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    const fill = Buffer.alloc(8 * KiB, 0x20 + i);
    fills.push(fill);
    p.append([batch(fill, 1)]);
  }
  await p.durable();
  await storage.close();
  storage = await FileStorage.open(dir); // no write chunks: every read goes to the file
  p = await storage.open('topics/t/0', { fsync: 'never', ...opts });
  return { dir, storage, p, fills };
}

function copyOf(b: StoredBatch): Buffer {
  return Buffer.from(b.payload);
}

test('a released leased read gives its slab to the next read, and each read returns the file bytes', async () => {
  const { dir, storage, p, fills } = await fileBackedLog();
  try {
    const first = await p.readLeased!(0, 64 * KiB);
    assert.ok(first.lease !== undefined, 'file bytes came through a pooled slab');
    assert.ok(first.batches.length >= 2);
    for (const b of first.batches) assert.ok(b.payload.equals(fills[b.baseOffset]!), `batch ${b.baseOffset} has its bytes`);
    const view = first.batches[0]!.payload;
    first.lease.release();
    const next = first.batches.at(-1)!.baseOffset + 1;
    const second = await p.readLeased!(next, 64 * KiB);
    assert.equal(storage.readPool.allocated, 1);
    assert.equal(storage.readPool.reused, 1);
    for (const b of second.batches) assert.ok(b.payload.equals(fills[b.baseOffset]!), `batch ${b.baseOffset} has its bytes`);
    // The first read's view now shows the second read's bytes: why holders must retain.
    assert.ok(view.equals(fills[next]!));
    second.lease!.release();
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a slab that another holder retained, or that escaped, is not reused and keeps its bytes', async () => {
  const { dir, storage, p, fills } = await fileBackedLog();
  try {
    const a = await p.readLeased!(0, 32 * KiB);
    const aCopies = a.batches.map(copyOf);
    a.lease!.retain(); // e.g. a socket write still in flight
    a.lease!.release(); // the reader is done
    const b = await p.readLeased!(a.batches.length, 32 * KiB);
    assert.equal(storage.readPool.allocated, 2, 'a held slab is not handed out again');
    a.batches.forEach((x, i) => assert.ok(x.payload.equals(aCopies[i]!), 'the held views keep their bytes'));
    b.lease!.escape();
    b.lease!.release();
    a.lease!.release(); // the write completed: a's slab goes back to the pool
    a.lease!.release(); // an extra release is ignored
    const c = await p.readLeased!(a.batches.length + b.batches.length, 32 * KiB);
    assert.equal(storage.readPool.reused, 1, "a's slab was reused, b's (escaped) was not");
    assert.equal(storage.readPool.freeCount, 0, 'a slab is handed out once, however often it is released');
    for (const x of b.batches) assert.ok(x.payload.equals(fills[x.baseOffset]!), 'escaped views keep their bytes');
    for (const x of c.batches) assert.ok(x.payload.equals(fills[x.baseOffset]!));
    c.lease!.release();
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('data still in the write chunks is read without a slab', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-read-pool-'));
  try {
    const storage = await FileStorage.open(dir);
    const p = await storage.open('topics/t/0', { fsync: 'never' });
    p.append([batch(Buffer.alloc(4 * KiB, 1), 3)]);
    const r = await p.readLeased!(0, 64 * KiB);
    assert.equal(r.lease, undefined);
    assert.equal(r.batches.length, 1);
    assert.equal(storage.readPool.freeCount, 1, 'the unused slab went back to the pool');
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt frame in a sealed segment fails a leased read with MQ_ERR_CORRUPT, and the slab returns to the pool', async () => {
  // 16 KiB segments: the frames of batch 4 sit in a sealed segment whose index file is trusted at
  // open, so only the read's CRC check can see the flipped byte.
  const { dir, storage: s1, fills } = await fileBackedLog({ segmentBytes: 16 * KiB });
  await s1.close();
  try {
    const segDir = path.join(dir, 'topics', 't', '0');
    const file = path.join(segDir, '00000000000000000004.log');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 32 + 100); // a payload byte of the segment's first frame
    fs.closeSync(fd);
    const storage = await FileStorage.open(dir);
    const p = await storage.open('topics/t/0', { fsync: 'never', segmentBytes: 16 * KiB });
    const ok = await p.readLeased!(0, 8 * KiB);
    assert.ok(ok.batches[0]!.payload.equals(fills[0]!));
    ok.lease!.release();
    await assert.rejects(p.readLeased!(4, 8 * KiB), (e: unknown) => isOmnibusError(e, 'MQ_ERR_CORRUPT') && /CRC mismatch/.test(String(e)));
    assert.equal(storage.readPool.freeCount, 1, 'the failed read released its slab');
    await assert.rejects(p.read(4, 8 * KiB), (e: unknown) => isOmnibusError(e, 'MQ_ERR_CORRUPT'));
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
