/**
 * Child process of crash.test.ts: appends numbered batches to two partitions with fsync
 * 'always' from several concurrent producers and prints one line per confirmed batch
 * (after durable() resolved), until it is SIGKILLed.
 *
 *   usage: crash-child.ts <dir> <round>
 *   stdout: "R" once ready, then "C <partition> <baseOffset> <producer> <seq> <count>" per confirm
 *
 * A batch's payload starts with "<producer> <seq> <count>|" followed by filler, so the parent can
 * check every record independently of this process's memory.
 */
import { FileStorage } from '../../src/engine/storage/file/index.js';

const [dir, roundArg] = process.argv.slice(2);
const round = Number(roundArg);
const PARTITIONS = ['crash/p0', 'crash/p1'];
const PRODUCERS_PER_PARTITION = 4;

const storage = await FileStorage.open(dir!);
const stores = await Promise.all(PARTITIONS.map((n) => storage.open(n, { fsync: 'always', segmentBytes: 64 * 1024 })));

function write(line: string): void {
  // Pipes are synchronous on Linux: once this returns the line survives our SIGKILL.
  process.stdout.write(line + '\n');
}

let seed = round * 7919 + 1;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

async function producer(pi: number, id: string): Promise<void> {
  const store = stores[pi]!;
  let seq = 0;
  for (;;) {
    const count = 1 + rand(5);
    const filler = rand(10) === 0 ? 6000 + rand(20000) : rand(300);
    const payload = Buffer.concat([Buffer.from(`${id} ${seq} ${count}|`), Buffer.alloc(filler, 0x61 + (seq % 26))]);
    const base = store.append([{ count, timestamp: Date.now(), format: 0, payload }]);
    await store.durable();
    write(`C ${PARTITIONS[pi]} ${base} ${id} ${seq} ${count}`);
    seq += count;
  }
}

write('R');
const all: Promise<void>[] = [];
for (let pi = 0; pi < PARTITIONS.length; pi++) {
  for (let k = 0; k < PRODUCERS_PER_PARTITION; k++) all.push(producer(pi, `r${round}p${pi}k${k}`));
}
await Promise.all(all);
