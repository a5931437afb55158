#!/usr/bin/env node
// Markdown table of bench/kafka-seed.mjs JSON reports: node bench/kafka-table.mjs a.json [b.json ...]
import { readFileSync } from 'node:fs';

const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const lines = [
  '| client | size | records | produce rec/s | produce MB/s | produce last/first 10 % | consume rec/s | consume MB/s | consume last/first 10 % | verified | broker peak RSS | broker CPU s (produce / consume) | load average (1/5/15 min) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const f of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(f, 'utf8'));
  for (const row of r.rows) {
    const cpu = Array.isArray(row.brokerCpuSec) ? row.brokerCpuSec.map((c) => fmt(c, 1)).join(' / ') : row.enqueue.brokerCpuSec !== undefined ? `${fmt(row.enqueue.brokerCpuSec, 1)} / ${fmt(row.dequeue.brokerCpuSec, 1)}` : row.brokerCpuSec !== undefined ? `${fmt(row.brokerCpuSec, 1)} (both)` : '–';
    lines.push(
      `| ${row.client} | ${row.size} B | ${fmt(row.count)} | ${fmt(row.enqueue.msgsPerSec)} | ${fmt(row.enqueue.mbPerSec, 1)} | ${fmt(row.enqueue.flatness, 2)} | ${fmt(row.dequeue.msgsPerSec)} | ${fmt(row.dequeue.mbPerSec, 1)} | ${fmt(row.dequeue.flatness, 2)} | ${row.ok ? 'yes' : 'NO'} | ${row.brokerPeakRssMB === undefined ? '– (in the client)' : `${row.brokerPeakRssMB} MB`} | ${cpu} | ${row.loadavg.map((l) => l.toFixed(1)).join(' / ')} |`,
    );
  }
}
process.stdout.write(lines.join('\n') + '\n');
