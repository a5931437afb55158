import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { isOmnibusError } from '../../src/core/errors.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { batch, readAll, storageSuite } from './storage-suite.js';
import type { StorageHarness } from './storage-suite.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-storage-'));
}

async function segmentFiles(root: string, name: string): Promise<string[]> {
  const dir = path.join(root, ...name.split('/'));
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

storageSuite('file', async () => {
  const dir = tmpDir();
  const h: StorageHarness = {
    engine: await FileStorage.open(dir),
    reopen: async () => {
      await h.engine.close();
      return FileStorage.open(dir);
    },
    segmentFiles: (name) => segmentFiles(dir, name),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  return h;
});

async function expectStorageError(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isOmnibusError(e, 'MQ_ERR_STORAGE'), String(e));
    assert.match(e.message, re);
    return true;
  });
}

describe('file storage specifics', () => {
  test('a second FileStorage on a locked directory fails with MQ_ERR_STORAGE', async () => {
    const dir = tmpDir();
    const a = await FileStorage.open(dir);
    try {
      await expectStorageError(FileStorage.open(dir), /already open in this process/);
      // A live foreign owner: this test runner's parent stands in for "another process".
      fs.writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}\n`);
      await a.close();
      fs.writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}\n`);
      await expectStorageError(FileStorage.open(dir), new RegExp(`locked by running process ${process.ppid}`));
    } finally {
      await a.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a stale lock left by a dead process is taken over', async () => {
    const dir = tmpDir();
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    fs.writeFileSync(path.join(dir, 'LOCK'), `${deadPid}\n`);
    const s = await FileStorage.open(dir);
    assert.equal(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'), `${process.pid}\n`);
    await s.close();
    assert.equal(fs.existsSync(path.join(dir, 'LOCK')), false, 'close releases the lock');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a path that is a file, or an unwritable directory, fails with a clear MQ_ERR_STORAGE', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, 'x');
    await expectStorageError(FileStorage.open(file), /not a directory/);
    await expectStorageError(FileStorage.open(path.join(file, 'sub')), /not usable/);
    if (process.getuid?.() !== 0) {
      const ro = path.join(dir, 'ro');
      fs.mkdirSync(ro, { mode: 0o500 });
      await expectStorageError(FileStorage.open(ro), /not readable and writable/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('segment files are named by 20-digit base offset and roll at segmentBytes', async () => {
    const dir = tmpDir();
    const s = await FileStorage.open(dir);
    const p = await s.open('topics/orders/0', { fsync: 'never', segmentBytes: 2048 });
    for (let i = 0; i < 40; i++) p.append([batch(Buffer.alloc(200), 3)]);
    await p.durable();
    await s.close();
    const names = fs.readdirSync(path.join(dir, 'topics/orders/0')).filter((n) => n.endsWith('.log'));
    assert.ok(names.length >= 4);
    assert.equal(names.sort()[0], '00000000000000000000.log');
    for (const n of names) assert.match(n, /^\d{20}\.log$/);
    for (const f of await segmentFiles(dir, 'topics/orders/0')) assert.ok(fs.statSync(f).size <= 2048);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('missing or torn index files are rebuilt by scanning the segment', async () => {
    const dir = tmpDir();
    let s = await FileStorage.open(dir);
    let p = await s.open('t', { fsync: 'always', segmentBytes: 1024 });
    for (let i = 0; i < 100; i++) p.append([batch(`m${i}`, 1, i)]);
    await p.durable();
    await s.close();
    const d = path.join(dir, 't');
    const idx = fs.readdirSync(d).filter((n) => n.endsWith('.index')).sort();
    assert.ok(idx.length >= 2, 'sealed segments have index files');
    fs.unlinkSync(path.join(d, idx[0]!));
    fs.writeFileSync(path.join(d, idx[1]!), fs.readFileSync(path.join(d, idx[1]!)).subarray(0, 30));
    s = await FileStorage.open(dir);
    p = await s.open('t', { fsync: 'always', segmentBytes: 1024 });
    const all = await readAll(p);
    assert.deepEqual(all.map((b) => b.payload.toString()), Array.from({ length: 100 }, (_, i) => `m${i}`));
    assert.equal(await p.offsetForTimestamp(57), 57);
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a segment whose first frame does not match its file name fails open with MQ_ERR_CORRUPT', async () => {
    const dir = tmpDir();
    let s = await FileStorage.open(dir);
    const p = await s.open('t', { fsync: 'always' });
    p.append([batch('a', 5)]);
    await s.close();
    const d = path.join(dir, 't');
    fs.renameSync(path.join(d, '00000000000000000000.log'), path.join(d, '00000000000000000003.log'));
    s = await FileStorage.open(dir);
    await assert.rejects(s.open('t', { fsync: 'always' }), (e: unknown) => isOmnibusError(e, 'MQ_ERR_CORRUPT'));
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a recovery truncation is reported to the injected logger', async () => {
    const dir = tmpDir();
    let s = await FileStorage.open(dir);
    const p = await s.open('t', { fsync: 'always' });
    p.append([batch('a')]);
    await s.close();
    fs.appendFileSync(path.join(dir, 't', '00000000000000000000.log'), Buffer.from([1, 2, 3]));
    const events: string[] = [];
    s = await FileStorage.open(dir, { logger: (level, msg) => events.push(`${level}: ${msg}`) });
    await s.open('t', { fsync: 'always' });
    assert.ok(events.some((e) => e.startsWith('warn: truncated')), events.join('\n'));
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('durable() with fsync always resolves after fsync and many callers share one fsync', async () => {
    const require = createRequire(import.meta.url);
    const fsCjs = require('node:fs') as typeof fs;
    const original = fsCjs.fdatasync;
    let started = 0;
    let completed = 0;
    fsCjs.fdatasync = ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      started++;
      original(fd, (e) => {
        completed++;
        cb(e);
      });
    }) as typeof fs.fdatasync;
    syncBuiltinESMExports();
    const dir = tmpDir();
    try {
      const s = await FileStorage.open(dir);
      const p = await s.open('t', { fsync: 'always' });
      p.append([batch('warm')]);
      await p.durable();
      const startedBefore = started;
      const completedBefore = completed;
      const resolvedAfter: number[] = [];
      const ps: Promise<void>[] = [];
      for (let i = 0; i < 200; i++) {
        p.append([batch(`m${i}`)]);
        ps.push(p.durable().then(() => void resolvedAfter.push(completed - completedBefore)));
      }
      await Promise.all(ps);
      const syncs = started - startedBefore;
      assert.ok(syncs >= 1 && syncs <= 3, `200 concurrent durable() calls used ${syncs} fsyncs`);
      assert.ok(resolvedAfter.every((n) => n >= 1), 'every durable() resolved after an fsync completed');
      const idle = started;
      await p.durable();
      assert.equal(started, idle, 'nothing new appended: no extra fsync');
      await s.close();
    } finally {
      fsCjs.fdatasync = original;
      syncBuiltinESMExports();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('interval and never policies resolve durable() once written, and close flushes', async () => {
    const dir = tmpDir();
    let s = await FileStorage.open(dir);
    const a = await s.open('a', { fsync: 'interval', fsyncIntervalMs: 20 });
    const b = await s.open('b', { fsync: 'never' });
    for (let i = 0; i < 100; i++) {
      a.append([batch(`a${i}`)]);
      b.append([batch(`b${i}`)]);
    }
    await Promise.all([a.durable(), b.durable()]);
    assert.equal(fs.statSync(path.join(dir, 'a', '00000000000000000000.log')).size, a.sizeBytes);
    b.append([batch('last')]);
    await s.close();
    s = await FileStorage.open(dir);
    assert.equal((await s.open('b', { fsync: 'never' })).endOffset, 101);
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('frames a little larger than the read size are read from the file about once, not twice', async (t) => {
    if (!fs.existsSync('/proc/self/io')) return t.skip('needs /proc/self/io');
    const dir = tmpDir();
    const s = await FileStorage.open(dir, { cacheBytes: 0 });
    const p = await s.open('t', { fsync: 'never' });
    // 540 KiB frames against 512 KiB reads: each frame straddles the end of a read.
    const frame = 540 * 1024;
    for (let i = 0; i < 20; i++) p.append([batch(Buffer.alloc(frame, i + 1), 1, i)]);
    await p.durable();
    const rchar = (): number => Number(/rchar: (\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'))![1]);
    const before = rchar();
    const all = await readAll(p, 0, 512 * 1024);
    const read = rchar() - before;
    assert.equal(all.length, 20);
    all.forEach((b, i) => {
      assert.equal(b.payload.length, frame);
      assert.equal(b.payload[0], i + 1);
      assert.equal(b.payload[frame - 1], i + 1);
    });
    assert.ok(read < 1.3 * 20 * frame, `read ${read} bytes for ${20 * frame} bytes of frames`);
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a read stops before a frame that would take it past maxBytes and the next read starts there', async () => {
    const dir = tmpDir();
    const s = await FileStorage.open(dir, { cacheBytes: 0 });
    const p = await s.open('t', { fsync: 'never' });
    for (let i = 0; i < 9; i++) p.append([batch(Buffer.alloc(200 * 1024, i + 1), 1, i)]);
    await p.durable();
    const page = await p.read(0, 512 * 1024);
    assert.deepEqual(page.map((b) => b.baseOffset), [0, 1]);
    const next = await p.read(2, 512 * 1024);
    assert.deepEqual(next.map((b) => b.payload[0]), [3, 4]);
    const one = await p.read(0, 1);
    assert.deepEqual(one.map((b) => b.baseOffset), [0], 'the first frame is returned whatever its size');
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reads are served while older data has been evicted from a tiny cache', async () => {
    const dir = tmpDir();
    const s = await FileStorage.open(dir, { cacheBytes: 0 });
    const p = await s.open('t', { fsync: 'never', segmentBytes: 64 * 1024 });
    for (let i = 0; i < 2000; i++) p.append([batch(Buffer.alloc(300, i & 0xff), 1, i)]);
    await p.durable();
    const all = await readAll(p, 0, 10_000);
    assert.equal(all.length, 2000);
    all.forEach((b, i) => assert.equal(b.payload[0], i & 0xff));
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
