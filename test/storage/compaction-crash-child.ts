/**
 * Child process of compaction-crash.test.ts: appends keyed native records (20 keys) to one
 * partition with fsync 'always', and compacts it in a loop at the same time, until SIGKILLed.
 *
 *   usage: compaction-crash-child.ts <dir> <round>
 *   stdout: "R" once ready, then "C <offset> <key> <value>" per confirmed record
 */
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { compactPartition } from '../../src/engine/compaction.js';
import { encodeBatch } from '../../src/engine/record.js';

const [dir, roundArg] = process.argv.slice(2);
const round = Number(roundArg);
const storage = await FileStorage.open(dir!);
const store = await storage.open('compact/p0', { fsync: 'always', segmentBytes: 4096 });

function write(line: string): void {
  process.stdout.write(line + '\n');
}

let seed = round * 7919 + 3;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

async function produce(): Promise<void> {
  for (let seq = 0; ; seq++) {
    const n = 1 + rand(4);
    const recs = Array.from({ length: n }, (_, i) => ({ key: `k${rand(20)}`, body: Buffer.from(`r${round}s${seq}i${i}`.padEnd(40 + rand(200), '.')), timestamp: Date.now(), priority: 0 }));
    const base = store.append([{ count: n, timestamp: Date.now(), format: 0, payload: encodeBatch(recs) }]);
    await store.durable();
    recs.forEach((r, i) => write(`C ${base + i} ${r.key} ${r.body.toString().replace(/\.+$/, '')}`));
  }
}

async function compact(): Promise<void> {
  for (;;) {
    await compactPartition(store, { now: Date.now() });
    await new Promise((r) => setTimeout(r, rand(5)));
  }
}

write('R');
await Promise.all([produce(), compact()]);
