/**
 * A truncation interrupted by kill -9 leaves a log that reopens. truncateBefore() deletes whole
 * segments; the oldest may still have frames in memory that were never written. If those were
 * skipped, a crash after the later segment reached the disk and before the old file was unlinked
 * left a hole between the two files, and the next open refused the log as corrupt. The deleted
 * segment is now written to its end first, so what a crash leaves is the old log, contiguous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { batch, readAll } from './storage-suite.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'truncate-crash-child.ts');

function crashAtUnlink(dir: string, scenario: 'roll' | 'sealed'): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errs = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (errs += d.toString()));
    c.on('error', reject);
    c.on('close', (code, signal) => {
      if (signal === 'SIGKILL' && out.startsWith('K ')) resolve(out.trim());
      else reject(new Error(`child ended with code ${code}, signal ${signal}: ${out} ${errs}`));
    });
  });
}

async function reopenAfterCrash(scenario: 'roll' | 'sealed', end: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-trunc-crash-'));
  try {
    const killed = await crashAtUnlink(dir, scenario);
    assert.match(killed, /00000000000000000000\.log$/);
    const s = await FileStorage.open(dir);
    try {
      const p = await s.open('t/0', { fsync: 'always', segmentBytes: 1024 });
      assert.equal(p.endOffset, end);
      const offsets = (await readAll(p, p.startOffset)).map((b) => b.baseOffset);
      const expected = Array.from({ length: end - p.startOffset }, (_, i) => p.startOffset + i);
      assert.deepEqual(offsets, expected, 'the log reads without a hole');
      assert.equal(p.append([batch('next')]), end);
      await p.durable();
    } finally {
      await s.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a crash while a drained log rolls and deletes its old segment leaves a log that reopens', async () => {
  await reopenAfterCrash('roll', 5);
});

test('a crash while a settled sealed segment is deleted, its successor already written, leaves a log that reopens', async () => {
  await reopenAfterCrash('sealed', 9);
});
