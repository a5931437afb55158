#!/usr/bin/env node
/**
 * SVG chart of seed-benchmark JSON (src/bench/chart.ts; run `npx tsc -p .` first, this uses dist/):
 * the cumulative time at every 10 % of the messages per size and phase, one line per target, and
 * the msg/s ratios of every series to the baseline (the real broker).
 *
 * Usage:
 *   node bench/chart.mjs IN.json [LABEL=IN2.json ...] [--out FILE.svg] [--protocol amqp] [--mode pipelined]
 *                        [--baseline LABEL] [--title TEXT]
 *
 * IN is an `omnibus bench --json` report (one series, named LABEL or after its driver, mode and
 * target) or a bench/compare.mjs document (one series per target × protocol × mode; --protocol
 * and --mode select a part). The baseline defaults to the first series without "Omnibus" in its
 * name. Without --out the SVG goes to stdout.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = path.join(root, 'dist', 'bench', 'chart.js');

const argv = process.argv.slice(2);
const opts = {};
const inputs = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '-h' || a === '--help') {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(2, 16).map((l) => l.replace(/^ \*\/?/, '')).join('\n') + '\n');
    process.exit(0);
  }
  if (a.startsWith('--')) {
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    opts[a.slice(2)] = v;
  } else inputs.push(a);
}
if (inputs.length === 0) {
  process.stderr.write('usage: node bench/chart.mjs IN.json [LABEL=IN2.json ...] [--out FILE.svg] [--protocol P] [--mode M] [--baseline LABEL] [--title T]\n');
  process.exit(2);
}
if (!existsSync(lib)) {
  process.stderr.write('dist/ is missing: run `npx tsc -p .` first\n');
  process.exit(2);
}
const { seriesFromJson, renderChart } = await import(lib);

const series = [];
for (const arg of inputs) {
  const eq = arg.indexOf('=');
  const [label, file] = eq > 0 && !existsSync(arg) ? [arg.slice(0, eq), arg.slice(eq + 1)] : [undefined, arg];
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const name = label ?? (Array.isArray(doc.runs) ? undefined : path.basename(file).replace(/\.json$/, ''));
  series.push(...seriesFromJson(doc, name, { protocol: opts.protocol, mode: opts.mode }));
}
const svg = renderChart(series, { title: opts.title, baseline: opts.baseline });
if (opts.out) {
  writeFileSync(opts.out, svg);
  process.stderr.write(`chart: ${series.length} series (${series.map((s) => s.label).join(', ')}) written to ${opts.out}\n`);
} else process.stdout.write(svg);
