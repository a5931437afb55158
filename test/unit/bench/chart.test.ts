/**
 * The benchmark chart generator (src/bench/chart.ts, `omnibus bench --svg`, bench/chart.mjs)
 * over JSON written by real runs: fixtures/bench-{memory,file}-2000.json are
 * `omnibus bench --count 2000 --sizes 128,1024 [--storage file] --json ...`; the compare
 * document is assembled the way bench/compare.mjs stores its runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { niceTicks, renderChart, seriesFromJson, type ChartSeries } from '../../../src/bench/chart.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const memory = fixture('bench-memory-2000.json');
const file = fixture('bench-file-2000.json');

/** Fails unless every tag is closed in order and attributes are quoted (a small XML well-formedness check). */
function assertWellFormed(svg: string): void {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|>/g;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(body)) !== null) {
    if (m[2] === undefined) {
      // A bare '<' is never legal in text; a bare '>' is legal XML but we escape it anyway.
      assert.fail(`stray "${m[0]}" at ${m.index}: ${body.slice(Math.max(0, m.index - 40), m.index + 40)}`);
    }
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `closing </${m[2]}> at ${m.index}`);
    else if (m[4] !== '/') stack.push(m[2]);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.match(body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.doesNotMatch(body, /&(?!amp;|lt;|gt;|quot;)/, 'unescaped ampersand');
}

function attrs(svg: string, element: string): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<${element}\\s([^>]*)>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

test('a bench report becomes one series with every size and its ten marks per phase', () => {
  const [s, more] = seriesFromJson(memory, 'mem');
  assert.equal(more, undefined);
  assert.equal(s!.label, 'mem');
  assert.deepEqual(s!.results.map((r) => r.size), [128, 1024]);
  for (const r of s!.results) {
    assert.equal(r.count, 2000);
    assert.equal(r.enqueue.marksSec.length, 10);
    assert.equal(r.dequeue.marksSec.length, 10);
  }
});

test('the curves chart has one line per series in every size × phase panel, starting at 0 and ending at the last mark', () => {
  const series: ChartSeries[] = [...seriesFromJson(memory, 'Omnibus memory://'), ...seriesFromJson(file, 'Omnibus file://')];
  const svg = renderChart(series, { title: 'a <tiny> & real run' });
  assertWellFormed(svg);
  assert.match(svg, /a &lt;tiny&gt; &amp; real run/);
  const panels = attrs(svg, 'g class="panel"');
  assert.equal(panels.length, 4);
  const lines = attrs(svg, 'polyline');
  assert.equal(lines.length, 2 * 2 * 2);
  assert.deepEqual([...new Set(lines.map((l) => l['data-series']))], ['Omnibus memory://', 'Omnibus file://']);
  // Points: the origin, then (count × k/10, mark k); x grows, y (seconds up = smaller y) never goes down.
  for (const l of lines) {
    const pts = l['points']!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    assert.equal(pts.length, 11);
    for (let k = 1; k < pts.length; k++) {
      assert.ok(pts[k]![0] > pts[k - 1]![0], 'x increases');
      assert.ok(pts[k]![1] <= pts[k - 1]![1], 'cumulative time never decreases');
    }
  }
  // Labelled axes and a legend entry per series.
  assert.equal(svg.match(/>messages</g)?.length, 4);
  assert.equal(svg.match(/>cumulative seconds</g)?.length, 4);
  assert.match(svg, /class="legend"[^]*Omnibus memory:\/\/[^]*Omnibus file:\/\//);
  // No baseline (every label says Omnibus): no ratio bars.
  assert.equal(attrs(svg, 'rect class="bar"').length, 0);
});

test('the ratio bars divide each series msg/s by the baseline of the same size and phase', () => {
  const base = seriesFromJson(file, 'disk')[0]!;
  const mem = seriesFromJson(memory, 'Omnibus memory://')[0]!;
  const svg = renderChart([mem, base], { baseline: 'disk' });
  assertWellFormed(svg);
  const bars = attrs(svg, 'rect class="bar"');
  assert.equal(bars.length, 2 * 2);
  for (const b of bars) {
    const size = Number(b['data-size']);
    const phase = b['data-phase'] as 'enqueue' | 'dequeue';
    const want = mem.results.find((r) => r.size === size)![phase].msgsPerSec / base.results.find((r) => r.size === size)![phase].msgsPerSec;
    assert.equal(b['data-series'], 'Omnibus memory://');
    assert.equal(Number(b['data-ratio']), Number(want.toFixed(3)));
  }
  assert.equal(attrs(svg, 'line class="parity"').length, 1);
  assert.throws(() => renderChart([mem, base], { baseline: 'nope' }), /no series matches baseline "nope"/);
});

test('a compare document gives one series per target, protocol and mode; a later run of the same combination wins', () => {
  const doc = {
    tool: 'bench/compare.mjs',
    runs: [
      { target: 'rabbitmq', protocol: 'amqp', mode: 'pipelined', report: file },
      { target: 'omnibus-memory', protocol: 'amqp', mode: 'pipelined', report: file },
      { target: 'omnibus-memory', protocol: 'amqp', mode: 'pipelined', report: memory },
      { target: 'omnibus-memory', protocol: 'amqp', mode: 'naive', report: memory },
      { target: 'omnibus-file', protocol: 'amqp', mode: 'pipelined', report: { results: [] } },
    ],
  };
  const all = seriesFromJson(doc);
  assert.deepEqual(all.map((s) => s.label), ['RabbitMQ amqp pipelined', 'Omnibus memory:// amqp pipelined', 'Omnibus memory:// amqp naive']);
  const pipelined = seriesFromJson(doc, undefined, { protocol: 'amqp', mode: 'pipelined' });
  assert.deepEqual(pipelined.map((s) => s.label), ['RabbitMQ', 'Omnibus memory://']);
  assert.deepEqual(pipelined[1]!.results, (memory as { results: unknown }).results);
  // The default baseline is the real broker: the bars are Omnibus ÷ RabbitMQ.
  const svg = renderChart(pipelined);
  assert.match(svg, /msg\/s ratio: series ÷ RabbitMQ/);
  assert.deepEqual([...new Set(attrs(svg, 'rect class="bar"').map((b) => b['data-series']))], ['Omnibus memory://']);
});

test('input that is not a bench document is refused with a reason', () => {
  assert.throws(() => seriesFromJson([]), /not a JSON object/);
  assert.throws(() => seriesFromJson({ results: [{ size: 1 }] }), /no results with marks/);
  assert.throws(() => renderChart([]), /no series/);
});

test('axis ticks are round numbers covering the maximum', () => {
  assert.deepEqual(niceTicks(2000, 4), [0, 500, 1000, 1500, 2000]);
  assert.deepEqual(niceTicks(0.37, 4), [0, 0.1, 0.2, 0.3, 0.4]);
  assert.deepEqual(niceTicks(0, 4), [0, 1]);
});

test('bench/chart.mjs writes the chart of several JSON files (LABEL=FILE) to --out', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnibus-chart-'));
  try {
    const out = path.join(dir, 'c.svg');
    const fx = (n: string): string => new URL(`./fixtures/${n}`, import.meta.url).pathname;
    const root = new URL('../../../', import.meta.url).pathname;
    await promisify(execFile)(process.execPath, [path.join(root, 'bench', 'chart.mjs'), `disk=${fx('bench-file-2000.json')}`, `Omnibus mem=${fx('bench-memory-2000.json')}`, '--out', out, '--baseline', 'disk'], { cwd: root });
    const svg = await readFile(out, 'utf8');
    assertWellFormed(svg);
    assert.deepEqual([...new Set(attrs(svg, 'polyline').map((l) => l['data-series']))], ['disk', 'Omnibus mem']);
    assert.equal(attrs(svg, 'rect class="bar"').length, 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
