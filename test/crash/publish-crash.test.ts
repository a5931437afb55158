/**
 * The durability promise, end to end through the public API: a child process publishes with
 * confirms on file:// (fsync 'always') while a consumer acks, and is killed with SIGKILL at a
 * random moment, twenty times over one data directory. After every kill the store is reopened
 * and checked:
 *   - every confirmed message is present exactly once, in publish order per producer (one
 *     producer uses one key, so one partition);
 *   - no corrupt record is served (the whole log reads end to end);
 *   - the acking group resumes: every message that was never acked is still delivered to it
 *     (acks are at-least-once, so an acked message may come again, but nothing unacked is lost).
 * Needs the compiled library: `npm test` builds first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, EmbeddedTransport } from '../../src/index.js';
import { decodeBatch } from '../../src/engine/record.js';
import { runUntilKilled } from './kill-child.js';

const ROUNDS = 20;
const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'publish-child.mjs');
const built = fs.existsSync(path.join(here, '../../dist/index.js'));

interface ChildResult {
  confirms: { producer: string; seq: number; count: number }[];
  acks: Set<string>;
}

async function runChild(dir: string, round: number, killAfterMs: number): Promise<ChildResult> {
  const { lines } = await runUntilKilled([CHILD, dir, String(round)], killAfterMs);
  const confirms: ChildResult['confirms'] = [];
  const acks = new Set<string>();
  for (const l of lines) {
    const parts = l.split(' ');
    if (parts[0] === 'C') confirms.push({ producer: parts[1]!, seq: Number(parts[2]), count: Number(parts[3]) });
    else if (parts[0] === 'A') acks.add(parts[1]!);
  }
  return { confirms, acks };
}

test('confirmed messages survive kill -9 exactly once and in order, twenty times over', { skip: built ? false : 'dist/ is not built (npm test builds it)', timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-crash-'));
  try {
    const confirmed = new Set<string>();
    const everAcked = new Set<string>();
    let totalConfirms = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await runChild(dir, round, 50 + Math.floor(Math.random() * 250));
      for (const c of r.confirms) for (let i = 0; i < c.count; i++) confirmed.add(`${c.producer}:${c.seq + i}`);
      for (const a of r.acks) everAcked.add(a);
      totalConfirms += r.confirms.length;

      // Reopen and read the whole log view: every record once, per-producer order.
      const t = (await connect(`file://${dir}?fsync=always`)) as EmbeddedTransport;
      const seen = new Map<string, number>();
      const lastSeq = new Map<string, number>();
      for (const p of [0, 1]) {
        const { start, end } = t.engine.logBounds('crash', p);
        for (let off = start; off < end; ) {
          const batches = await t.engine.readLog('crash', p, off, 1 << 20);
          assert.ok(batches.length > 0, `log ${p} stops at ${off} before its end ${end}`);
          for (const b of batches) {
            decodeBatch(b.payload, b.baseOffset, b.count, off, (rec) => {
              const s = rec.body.toString();
              seen.set(s, (seen.get(s) ?? 0) + 1);
              const [rd, id, seq] = s.split(':');
              const prod = `${rd}:${id}`;
              assert.ok((lastSeq.get(prod) ?? -1) < Number(seq), `producer ${prod} out of order at ${seq}`);
              lastSeq.set(prod, Number(seq));
            });
            off = b.baseOffset + b.count;
          }
        }
      }
      for (const m of confirmed) assert.equal(seen.get(m), 1, `confirmed message ${m} present ${seen.get(m) ?? 0} times after round ${round}`);
      for (const [m, n] of seen) assert.equal(n, 1, `message ${m} stored ${n} times`);

      // The acking group: everything confirmed and never acked must still come to it.
      const pending = new Set([...confirmed].filter((m) => !everAcked.has(m)));
      if (round === ROUNDS - 1 && pending.size > 0) {
        const sub = t.subscribe('crash', { group: 'acker', prefetch: 1000, signal: AbortSignal.timeout(30_000) });
        for await (const d of sub) {
          pending.delete(d.body.toString());
          await d.ack();
          if (pending.size === 0) break;
        }
        assert.equal(pending.size, 0, `unacked messages lost from the group: ${[...pending].slice(0, 5).join(', ')}`);
      }
      await t.close();
    }
    assert.ok(totalConfirms > ROUNDS, `too few confirms to mean anything: ${totalConfirms}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
