/**
 * bench/compare-rounds.mjs over compare documents shaped as bench/compare.mjs writes them: the
 * per-round ratio of each cell, its median, range and the rounds that reached the target.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../bench/compare-rounds.mjs', import.meta.url));

/** One compare run: Redis and Omnibus memory://, RESP batch at 128 B, the given msg/s (enqueue, dequeue). */
function round(startedAt: string, redis: [number, number], memory: [number, number], memoryOk = true): unknown {
  const result = (rates: [number, number], ok: boolean) => ({
    results: [{ size: 128, enqueue: { msgsPerSec: rates[0] }, dequeue: { msgsPerSec: rates[1] }, verify: { ok } }],
  });
  return {
    startedAt,
    options: { warmup: '25%' },
    runs: [
      { target: 'redis', protocol: 'resp', mode: 'batch', report: result(redis, true) },
      { target: 'omnibus-memory', protocol: 'resp', mode: 'batch', report: result(memory, memoryOk) },
    ],
  };
}

test('compare-rounds gives each cell the median of its per-round ratios, their range and the rounds at target', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'compare-rounds-'));
  try {
    const docs = [
      round('r1', [100, 100], [90, 200]),
      round('r2', [100, 100], [120, 50]),
      round('r3', [200, 100], [220, 300]),
      // A round whose Omnibus run lost a message counts for nothing.
      round('r4', [100, 100], [999, 999], false),
    ];
    const files: string[] = [];
    for (const [i, d] of docs.entries()) {
      const f = path.join(dir, `r${i}.json`);
      await writeFile(f, JSON.stringify(d));
      files.push(f);
    }
    const { stdout } = await promisify(execFile)(process.execPath, [script, ...files]);
    assert.match(stdout, /Rounds: r1 \(warm-up 25%\); r2/);
    assert.match(stdout, /#### RESP batch: Omnibus ÷ Redis/);
    // enqueue ratios 0.90, 1.20, 1.10 → median 1.10; dequeue 2.00, 0.50, 3.00 → median 2.00.
    assert.match(stdout, /\| 128 \| enq \| 1\.10 \(0\.90–1\.20, ≥ 1 in 2 of 3\) \| – \|/);
    assert.match(stdout, /\|  \| deq \| 2\.00 \(0\.50–3\.00, ≥ 1 in 2 of 3\) \| – \|/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
