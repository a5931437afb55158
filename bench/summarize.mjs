#!/usr/bin/env node
/**
 * One markdown table from `omnibus bench --json` files (any driver): a row per size per file,
 * with the figures docs/benchmarks.md reports: rates, flatness (last 10 % / first 10 % of the
 * time, target <= 1.5), peak RSS (of the bench process for the transport driver, of the broker
 * for --broker-pid runs), loss and the load average when the size finished.
 *
 * Usage: node bench/summarize.mjs FILE.json ... [--label-from target|file]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const int = (n) => Math.round(n).toLocaleString('en-US');
const flat = (f) => (f === null || f === undefined ? 'n/a' : f.toFixed(2) + (f > 1.5 ? ' ✗' : ''));
const MiB = 1024 * 1024;

const rows = [];
for (const f of files) {
  const d = JSON.parse(readFileSync(f, 'utf8'));
  const o = d.options;
  const what = `${d.driver ?? 'transport'}${d.mode && d.driver !== 'transport' ? ' ' + d.mode : ''} ${d.target.replace(/file:\/\/\/[^?]*/, 'file://')}`;
  const knobs = `batch ${o.batch}, publishers ${o.publishers}`;
  for (const r of d.results) {
    const peak = r.broker?.peakRssBytes ?? r.peakRssBytes;
    const v = r.verify;
    rows.push(
      `| ${what} (${knobs}) | ${r.size} | ${int(r.count)} | ${int(r.enqueue.msgsPerSec)} | ${r.enqueue.mbPerSec.toFixed(1)} | ${int(r.dequeue.msgsPerSec)} | ${r.dequeue.mbPerSec.toFixed(1)} | ${flat(r.enqueue.flatness)} / ${flat(r.dequeue.flatness)} | ${int(peak / MiB)} | ${v.ok ? 'none' : `${v.missing} lost, ${v.duplicates} dup`} | ${(r.loadavg?.[0] ?? NaN).toFixed(1)} | ${path.basename(f)} |`,
    );
  }
}
process.stdout.write(
  '| run | size B | msgs | enq msg/s | enq MB/s | deq msg/s | deq MB/s | flatness enq / deq | peak RSS MiB | loss | load 1m | file |\n' +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |\n' +
    rows.join('\n') +
    '\n',
);
