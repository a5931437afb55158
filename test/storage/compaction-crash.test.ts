/**
 * kill -9 while compacting (FileStorage, fsync 'always'): a child appends keyed records and runs
 * compaction passes concurrently; the parent SIGKILLs it at a random moment, reopens the
 * directory and checks that the log reads without a corrupt frame, offsets are contiguous, every
 * record is at the offset it was confirmed at, the latest confirmed record of every key is
 * present, and a confirmed record is missing only when a later record of its key exists. The
 * directory accumulates across rounds, so later rounds compact data rewritten before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { compactPartition, FORMAT_GAP } from '../../src/engine/compaction.js';
import { decodeBatch } from '../../src/engine/record.js';
import { readAll } from './storage-suite.js';
import { runUntilKilled } from '../crash/kill-child.js';

const ROUNDS = 5;
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'compaction-crash-child.ts');

interface Confirm {
  offset: number;
  key: string;
  value: string;
}

async function runChild(dir: string, round: number, killAfterMs: number): Promise<Confirm[]> {
  const { lines } = await runUntilKilled(['--import', 'tsx', CHILD, dir, String(round)], killAfterMs, 20_000);
  const confirms: Confirm[] = [];
  for (const l of lines) {
    if (!l.startsWith('C ')) continue;
    const [, offset, key, value] = l.split(' ');
    confirms.push({ offset: Number(offset), key: key!, value: value! });
  }
  return confirms;
}

test('kill -9 during compaction never loses the latest record of a key, never serves a torn segment', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-compact-crash-'));
  const confirmed: Confirm[] = [];
  let gapsAfterCrash = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      confirmed.push(...(await runChild(dir, round, 150 + Math.floor(Math.random() * 400))));
      const storage = await FileStorage.open(dir);
      try {
        const p = await storage.open('compact/p0', { fsync: 'always', segmentBytes: 4096 });
        const check = async (): Promise<number> => {
          let gaps = 0;
          const batches = await readAll(p, 0, 256 * 1024); // throws MQ_ERR_CORRUPT on any bad frame
          const present = new Map<number, { key: string; value: string }>();
          let next = 0;
          for (const b of batches) {
            assert.equal(b.baseOffset, next, 'offsets are contiguous');
            next = b.baseOffset + b.count;
            if (b.format === FORMAT_GAP) {
              gaps++;
              continue;
            }
            decodeBatch(b.payload, b.baseOffset, b.count, 0, (r) => present.set(r.offset, { key: r.key!, value: r.body.toString().replace(/\.+$/, '') }));
          }
          assert.equal(next, p.endOffset);
          const latest = new Map<string, number>();
          for (const [off, r] of present) latest.set(r.key, Math.max(latest.get(r.key) ?? -1, off));
          for (const c of confirmed) {
            const got = present.get(c.offset);
            if (got) assert.deepEqual(got, { key: c.key, value: c.value }, `offset ${c.offset} holds what was confirmed there`);
            else assert.ok((latest.get(c.key) ?? -1) > c.offset, `offset ${c.offset} (${c.key}) is gone only because a later ${c.key} exists`);
          }
          return gaps;
        };
        gapsAfterCrash += await check();
        await compactPartition(p, { now: Date.now() });
        await check();
        assert.equal(fs.readdirSync(path.join(dir, 'compact', 'p0')).filter((n) => n.endsWith('.compact')).length, 0, 'no temp file is left');
      } finally {
        await storage.close();
      }
    }
    assert.ok(confirmed.length > ROUNDS * 10, `the children confirmed ${confirmed.length} records`);
    assert.ok(gapsAfterCrash > 0, 'the children compacted before they were killed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
