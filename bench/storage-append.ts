/**
 * Storage append micro-benchmark (not a test): appends/s and MB/s for MemoryStorage and
 * FileStorage under each fsync policy.
 *
 *   node --import tsx bench/storage-append.ts [seconds-per-case=3]
 *
 * Cases:
 *  - memory, one BatchInput of 1000 × 128-byte records (~150 KB payload) per append
 *  - memory, 1-record 150-byte batches, one per append
 *  - file never/interval/always: 64 concurrent appenders, each appending a 1-record 150-byte
 *    batch and awaiting durable() before the next (the engine's publish-with-confirm pattern)
 *  - file never: 1000 × 128-byte record batches from one appender (throughput ceiling)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryStorage } from '../src/engine/storage/memory.js';
import { FileStorage } from '../src/engine/storage/file/index.js';
import type { BatchInput, FsyncPolicy, PartitionStore } from '../src/engine/storage/types.js';

const SECONDS = Number(process.argv[2] ?? 3);

let cpu0 = process.cpuUsage();
function startCase(): void {
  cpu0 = process.cpuUsage();
}
/** Prints wall-clock rates and the CPU time used per record (robust on a shared, loaded host). */
function report(name: string, records: number, batches: number, bytes: number, ms: number): void {
  const s = ms / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `${name.padEnd(62)} ${(records / s).toFixed(0).padStart(9)} rec/s ${(batches / s).toFixed(0).padStart(8)} appends/s ${(bytes / s / 1e6).toFixed(1).padStart(6)} MB/s | ${(records / cpuS).toFixed(0).padStart(9)} rec per CPU-s`,
  );
}

async function syncLoop(p: PartitionStore, b: BatchInput, name: string): Promise<void> {
  const arr = [b];
  let n = 0;
  startCase();
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < SECONDS * 1000) {
    for (let i = 0; i < 1000; i++) p.append(arr);
    n += 1000;
    if (p.sizeBytes > 256 * 1024 * 1024) {
      await p.truncateBefore(p.endOffset); // keep the heap bounded like retention would; cost included
      await new Promise((r) => setImmediate(r));
    }
    now = performance.now();
  }
  report(name, n * b.count, n, n * b.payload.length, now - t0);
}

async function concurrent(p: PartitionStore, b: BatchInput, appenders: number, name: string): Promise<void> {
  const arr = [b];
  let n = 0;
  startCase();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() < end) {
        p.append(arr);
        await p.durable();
        n++;
      }
    }),
  );
  report(name, n * b.count, n, n * b.payload.length, performance.now() - t0);
}

const small: BatchInput = { count: 1, timestamp: Date.now(), format: 0, payload: Buffer.alloc(150, 0x61) };
const big: BatchInput = { count: 1000, timestamp: Date.now(), format: 0, payload: Buffer.alloc(1000 * 150, 0x62) };

console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${SECONDS}s per case`);

{
  const m = new MemoryStorage();
  const p = await m.open('bench/0', { fsync: 'never' });
  await syncLoop(p, big, 'memory  1000×150B-record batches (150 KB/append)');
  await syncLoop(p, small, 'memory  1-record 150 B batches');
  await m.close();
}

for (const fsync of ['never', 'interval', 'always'] as FsyncPolicy[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-bench-'));
  const s = await FileStorage.open(dir);
  const p = await s.open('bench/0', { fsync });
  await concurrent(p, small, 64, `file    ${fsync.padEnd(8)} 64 appenders × 1-record 150 B + durable()`);
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-bench-'));
  const s = await FileStorage.open(dir);
  const p = await s.open('bench/0', { fsync: 'never' });
  await concurrent(p, big, 4, 'file    never    4 appenders × 1000×150B batches + durable()');
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-bench-'));
  const s = await FileStorage.open(dir);
  const p = await s.open('bench/0', { fsync: 'always' });
  await concurrent(p, big, 4, 'file    always   4 appenders × 1000×150B batches + durable()');
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
