/**
 * Child process of truncate-crash.test.ts: builds a log whose oldest segment still has frames in
 * memory (appended, not yet written) when a truncation deletes that segment, and dies by SIGKILL
 * at the moment the truncation unlinks the segment's file — the window a real crash can hit.
 *
 *   usage: truncate-crash-child.ts <dir> roll|sealed
 *   stdout: "K <file>" just before the kill (the file whose unlink it interrupts)
 *
 * roll:   5 records in segment 0, the last 2 not yet written; truncateBefore(5) rolls the active
 *         segment (a new one at 5) and deletes segment 0.
 * sealed: 7 records in segment 0 (the last one not yet written), 2 more roll into segment 7 in
 *         the same turn; truncateBefore(7) deletes segment 0 while segment 7 is written.
 */
import * as fs from 'node:fs';
import { FileStorage } from '../../src/engine/storage/file/index.js';

const [dir, scenario] = process.argv.slice(2);

// Fault injection at one syscall: the first unlink of a segment file kills the process, so what
// the test reopens is exactly what the disk held at that instant.
const unlink = fs.promises.unlink;
fs.promises.unlink = (async (p: fs.PathLike) => {
  if (String(p).endsWith('.log')) {
    process.stdout.write(`K ${String(p)}\n`); // a pipe write is synchronous on Linux
    process.kill(process.pid, 'SIGKILL');
  }
  return unlink(p);
}) as typeof fs.promises.unlink;

const storage = await FileStorage.open(dir!);
const p = await storage.open('t/0', { fsync: 'always', segmentBytes: 1024 });
const rec = (i: number) => ({ count: 1, timestamp: 0, format: 0, payload: Buffer.alloc(100, 0x61 + i) }); // 132 B framed

if (scenario === 'roll') {
  p.append([rec(0), rec(1), rec(2)]);
  await p.durable();
  p.append([rec(3), rec(4)]); // in the tail chunk only: the flusher runs on a later turn
  await p.truncateBefore(5);
} else {
  p.append([0, 1, 2, 3, 4, 5].map(rec));
  await p.durable();
  p.append([rec(6)]); // fills segment 0 (924 B)…
  p.append([rec(7), rec(8)]); // …so these roll into segment 7
  await p.truncateBefore(7);
}
process.stdout.write('no unlink happened\n');
