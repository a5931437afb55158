/**
 * File storage recovery after a truncation interrupted by a crash: truncateBefore rolls the active
 * segment and deletes the old ones; when the rolled segment is itself replaced before its frames
 * were written, a crash between creating its successor and deleting it leaves an empty first
 * segment. Reopening finishes that deletion instead of refusing the log as corrupt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { batch, readAll } from './storage-suite.js';

test('an empty first segment followed by a later one is deleted at open; the data after it is intact', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-empty-seg-'));
  try {
    const s1 = await FileStorage.open(dir);
    const p1 = await s1.open('topics/t/0', { fsync: 'always' });
    p1.append([batch('abc', 3)]);
    await p1.durable();
    await p1.truncateBefore(3); // rolls: the log restarts in segment 3
    p1.append([batch('de', 2)]);
    await p1.durable();
    await s1.close();
    const seg = path.join(dir, 'topics', 't', '0');
    const before = fs.readdirSync(seg).filter((n) => n.endsWith('.log'));
    assert.deepEqual(before, ['00000000000000000003.log']);
    // What the crash leaves: the replaced segment's file, created but never written.
    fs.writeFileSync(path.join(seg, '00000000000000000000.log'), Buffer.alloc(0));
    const s2 = await FileStorage.open(dir);
    const p2 = await s2.open('topics/t/0', { fsync: 'always' });
    assert.equal(p2.startOffset, 3);
    assert.equal(p2.endOffset, 5);
    assert.deepEqual((await readAll(p2)).map((b) => [b.baseOffset, b.payload.toString()]), [[3, 'de']]);
    assert.deepEqual(fs.readdirSync(seg).filter((n) => n.endsWith('.log')), ['00000000000000000003.log']);
    await s2.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
