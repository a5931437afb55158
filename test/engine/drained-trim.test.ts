/**
 * Housekeeping on a queue that drains: settled records are deleted a segment at a time, and a
 * drained queue's active segment is rolled away only once it holds 1 MiB (engine.ts
 * DRAINED_TRIM). Rolling on every drain cost a file created and one deleted per message on a
 * queue consumed as fast as it is filled (~8 ms per RESP push-and-pop on file://).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, type Transport } from '../../src/index.js';
import { settle } from './helpers.js';

function segmentFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.log')) out.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  walk(path.join(dir, 'topics'));
  return out.sort();
}

async function drainOneByOne(t: Transport, it: AsyncIterator<unknown>, n: number, size: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await t.publish('q', [{ body: Buffer.alloc(size, 0x61) }]);
    const r = await it.next();
    assert.equal(r.done, false);
    await (r.value as { ack(): Promise<void> }).ack();
    await settle();
  }
}

async function withQueue(fn: (t: Transport, dir: string, it: AsyncIterator<unknown>) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-drained-'));
  const t = await connect(`file://${dir}?fsync=never`);
  const sub = t.subscribe('q', { group: 'g' });
  const it = sub[Symbol.asyncIterator]();
  try {
    await fn(t, dir, it);
  } finally {
    await sub.close();
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a queue that drains after every message keeps writing one segment file instead of making one per message', async () => {
  await withQueue(async (t, dir, it) => {
    await drainOneByOne(t, it, 40, 100);
    const files = segmentFiles(dir);
    assert.equal(files.length, 1, files.join(', '));
    assert.match(files[0]!, /00000000000000000000\.log$/);
  });
});

test('once a drained queue has written 1 MiB its segment is rolled away and the settled records are deleted', async () => {
  await withQueue(async (t, dir, it) => {
    await drainOneByOne(t, it, 70, 16 * 1024); // ~1.1 MiB
    const files = segmentFiles(dir);
    assert.equal(files.length, 1, files.join(', '));
    assert.doesNotMatch(files[0]!, /00000000000000000000\.log$/, 'the first segment was deleted');
  });
});
