/**
 * kill -9 crash test for FileStorage (fsync 'always'): a child appends and confirms, the parent
 * SIGKILLs it at a random moment, reopens the directory and checks that every confirmed record
 * is present exactly once, in order, at its confirmed offset, that the whole log reads without a
 * corrupt frame, and that appends continue. The directory accumulates across rounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { readAll } from './storage-suite.js';
import { runUntilKilled } from '../crash/kill-child.js';

const ROUNDS = 20;
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');
const PARTITIONS = ['crash/p0', 'crash/p1'];

interface Confirm {
  partition: string;
  base: number;
  producer: string;
  seq: number;
  count: number;
}

async function runChild(dir: string, round: number, killAfterMs: number): Promise<{ confirms: Confirm[]; stderr: string }> {
  const { lines, stderr } = await runUntilKilled(['--import', 'tsx', CHILD, dir, String(round)], killAfterMs, 20_000);
  const confirms: Confirm[] = [];
  for (const l of lines) {
    if (!l.startsWith('C ')) continue;
    const [, partition, base, producer, seq, count] = l.split(' ');
    confirms.push({ partition: partition!, base: Number(base), producer: producer!, seq: Number(seq), count: Number(count) });
  }
  return { confirms, stderr };
}

test('every confirmed record survives kill -9 exactly once, in order, and appends continue', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-crash-'));
  const confirmed: Confirm[] = [];
  let totalConfirms = 0;
  const recoveryEvents: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 20 + Math.floor(Math.random() * 280);
      const { confirms } = await runChild(dir, round, killAfter);
      confirmed.push(...confirms);
      totalConfirms += confirms.length;

      const storage = await FileStorage.open(dir, { logger: (level, msg, f) => recoveryEvents.push(`${level} ${msg} ${JSON.stringify(f)}`) });
      try {
        for (const name of PARTITIONS) {
          const p = await storage.open(name, { fsync: 'always', segmentBytes: 64 * 1024 });
          const batches = await readAll(p, 0, 256 * 1024); // throws MQ_ERR_CORRUPT on any bad frame
          let next = p.startOffset;
          const at = new Map<number, string>();
          const seen = new Set<string>();
          const lastSeq = new Map<string, number>();
          for (const b of batches) {
            assert.equal(b.baseOffset, next, `${name}: offsets are contiguous`);
            next = b.baseOffset + b.count;
            const head = b.payload.subarray(0, 64).toString('latin1');
            if (head.startsWith('MARK')) continue;
            const [producer, seqS, countS] = head.slice(0, head.indexOf('|')).split(' ');
            const seq = Number(seqS);
            assert.equal(Number(countS), b.count, `${name}: payload and frame agree on the count`);
            const key = `${producer} ${seq}`;
            assert.ok(!seen.has(key), `${name}: ${key} is stored once`);
            seen.add(key);
            const prev = lastSeq.get(producer!);
            assert.ok(prev === undefined || seq > prev, `${name}: ${producer} is in order`);
            lastSeq.set(producer!, seq);
            at.set(b.baseOffset, key);
          }
          assert.equal(next, p.endOffset);
          for (const c of confirmed.filter((x) => x.partition === name)) {
            assert.equal(at.get(c.base), `${c.producer} ${c.seq}`, `${name}: confirmed ${c.producer} ${c.seq} is at offset ${c.base}`);
          }
          // Appends continue after the crash.
          const base = p.append([{ count: 1, timestamp: Date.now(), format: 0, payload: Buffer.from(`MARK ${round}`) }]);
          assert.equal(base, next);
          await p.durable();
        }
      } finally {
        await storage.close();
      }
    }
    assert.ok(totalConfirms > ROUNDS, `the children confirmed ${totalConfirms} batches`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
