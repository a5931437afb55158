#!/usr/bin/env node
/**
 * Several runs of bench/compare.mjs read as rounds of one measurement: for every cell (protocol,
 * mode, size, phase) the ratio Omnibus ÷ real broker of each round (both measured in that round,
 * minutes apart), then their median, range, and in how many rounds the cell reached its target.
 * On the 2-vCPU bench box one run's cell swings by ±20–50 % (the real brokers' own rates do:
 * Redis naive 128 B enqueue measured 16,047–27,138 msg/s in four runs within an hour), so a
 * single run cannot tell 0.9× from 1.1×; the median over rounds can, and the count says how often.
 *
 *   node bench/compare-rounds.mjs A.json B.json [C.json ...]
 *
 * Targets (the issues' figures): RESP naive ≥ 0.8, RESP pipelined and batch ≥ 1.0, AMQP ≥ 3.0.
 * Prints markdown. Does not run anything.
 */
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/compare-rounds.mjs A.json B.json [C.json ...]');
  process.exit(2);
}
const REAL = { resp: 'redis', amqp: 'rabbitmq' };
const LABEL = { resp: 'Redis', amqp: 'RabbitMQ' };
const TARGET = { 'resp naive': 0.8, 'resp pipelined': 1.0, 'resp batch': 1.0, 'amqp naive': undefined, 'amqp pipelined': 3.0 };

/** cell key → target → per-round ratios */
const cells = new Map();
const rounds = [];
for (const f of files) {
  const doc = JSON.parse(readFileSync(f, 'utf8'));
  rounds.push({ file: f, startedAt: doc.startedAt, warmup: doc.options?.warmup, scale: doc.options?.scale });
  const got = new Map();
  for (const r of doc.runs) for (const s of r.report?.results ?? []) got.set(`${r.target}|${r.protocol}|${r.mode}|${s.size}`, s);
  for (const key of got.keys()) {
    const [target, protocol, mode, size] = key.split('|');
    if (target === REAL[protocol]) continue;
    const real = got.get(`${REAL[protocol]}|${protocol}|${mode}|${size}`);
    const ours = got.get(key);
    if (real === undefined) continue;
    for (const phase of ['enqueue', 'dequeue']) {
      const r = real[phase].msgsPerSec;
      const o = ours[phase].msgsPerSec;
      if (!(r > 0 && o > 0) || !real.verify.ok || !ours.verify.ok) continue;
      const cell = `${protocol}|${mode}|${Number(size)}|${phase}`;
      if (!cells.has(cell)) cells.set(cell, new Map());
      const byTarget = cells.get(cell);
      if (!byTarget.has(target)) byTarget.set(target, []);
      byTarget.get(target).push(o / r);
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (xs, target) => {
  if (!xs || xs.length === 0) return '–';
  const met = target === undefined ? '' : `, ≥ ${target} in ${xs.filter((x) => x >= target).length} of ${xs.length}`;
  return `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}${met})`;
};

const out = [];
out.push(`Rounds: ${rounds.map((r) => `${r.startedAt ?? r.file}${r.warmup ? ` (warm-up ${r.warmup})` : ''}`).join('; ')}.`);
out.push('');
const groups = [...new Set([...cells.keys()].map((k) => k.split('|').slice(0, 2).join('|')))];
for (const g of groups) {
  const [protocol, mode] = g.split('|');
  const target = TARGET[`${protocol} ${mode}`];
  out.push(`#### ${protocol.toUpperCase()} ${mode}: Omnibus ÷ ${LABEL[protocol]}, median of rounds (range${target === undefined ? '' : `, rounds ≥ ${target}`})`);
  out.push('');
  out.push('| size B | phase | memory:// | file:// |');
  out.push('| ---: | --- | --- | --- |');
  const sizes = [...new Set([...cells.keys()].filter((k) => k.startsWith(`${g}|`)).map((k) => Number(k.split('|')[2])))].sort((a, b) => a - b);
  for (const size of sizes) {
    for (const phase of ['enqueue', 'dequeue']) {
      const byTarget = cells.get(`${g}|${size}|${phase}`);
      if (!byTarget) continue;
      out.push(`| ${phase === 'enqueue' ? size : ''} | ${phase === 'enqueue' ? 'enq' : 'deq'} | ${fmt(byTarget.get('omnibus-memory'), target)} | ${fmt(byTarget.get('omnibus-file'), target)} |`);
    }
  }
  out.push('');
}
process.stdout.write(out.join('\n'));
