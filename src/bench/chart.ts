/**
 * SVG charts of seed-benchmark results, as plain SVG text (no dependencies, no scripts, no
 * external fonts), so they can be committed next to docs/benchmarks.md and rendered by any
 * Markdown viewer:
 *
 * 1. Cumulative time curves: one panel per (size, phase), x = messages done, y = seconds since
 *    the phase began, one line per series (target), points at every 10 % mark (the article's
 *    "time at every 100,000" for 1,000,000 messages). A straight line is a queue that does not
 *    slow down as it grows or drains; a line bending upwards is one that does.
 * 2. Ratios: Omnibus msg/s ÷ the baseline's msg/s (the real broker of the same run) per size
 *    and phase, one bar per non-baseline series, with the parity line at 1.
 *
 * Inputs are the documents `omnibus bench --json` writes (src/bench/report.ts) and the ones
 * bench/compare.mjs writes (one bench report per target × protocol × mode under `runs`):
 * seriesFromJson() turns either into named series.
 */

/** The fields of one size's result the charts use (a subset of SizeResult, so JSON fits). */
export interface ChartSize {
  size: number;
  count: number;
  enqueue: { marksSec: readonly number[]; msgsPerSec: number };
  dequeue: { marksSec: readonly number[]; msgsPerSec: number };
}

export interface ChartSeries {
  label: string;
  results: readonly ChartSize[];
}

export interface ChartOptions {
  title?: string;
  /** Label of the series the ratios divide by; default: the first whose label does not contain "omnibus". */
  baseline?: string;
}

type Phase = 'enqueue' | 'dequeue';
const PHASES: readonly Phase[] = ['enqueue', 'dequeue'];

/** Distinct, colour-blind-friendly (Okabe-Ito); the baseline always gets the black line. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442'];
const BASELINE_COLOUR = '#000000';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isChartSize(v: unknown): v is ChartSize {
  if (!isObj(v) || typeof v['size'] !== 'number' || typeof v['count'] !== 'number') return false;
  return PHASES.every((p) => {
    const ph = v[p];
    return isObj(ph) && Array.isArray(ph['marksSec']) && typeof ph['msgsPerSec'] === 'number';
  });
}

function sizesOf(report: unknown): ChartSize[] {
  if (!isObj(report) || !Array.isArray(report['results'])) return [];
  return report['results'].filter(isChartSize);
}

/** "Omnibus memory://" for compare.mjs's target names; anything else unchanged. */
const TARGET_LABELS: Readonly<Record<string, string>> = {
  rabbitmq: 'RabbitMQ',
  redis: 'Redis',
  'omnibus-memory': 'Omnibus memory://',
  'omnibus-file': 'Omnibus file://',
};

/**
 * Series of one JSON document: a bench report gives one series named `name` (default: its
 * driver, mode and target); a compare document gives one per run, named "<target> <protocol>
 * <mode>" (filtered by `protocol` / `mode` when given; then those words are left out of the name).
 */
export function seriesFromJson(doc: unknown, name?: string, filter: { protocol?: string; mode?: string } = {}): ChartSeries[] {
  if (!isObj(doc)) throw new Error('not a JSON object');
  if (Array.isArray(doc['runs'])) {
    const out: ChartSeries[] = [];
    for (const r of doc['runs']) {
      if (!isObj(r)) continue;
      const protocol = String(r['protocol'] ?? '');
      const mode = String(r['mode'] ?? '');
      if (filter.protocol !== undefined && protocol !== filter.protocol) continue;
      if (filter.mode !== undefined && mode !== filter.mode) continue;
      const results = sizesOf(r['report']);
      if (results.length === 0) continue;
      const target = String(r['target'] ?? '?');
      const words = [TARGET_LABELS[target] ?? target];
      if (filter.protocol === undefined) words.push(protocol);
      if (filter.mode === undefined) words.push(mode);
      const label = (name ? `${name} ` : '') + words.join(' ');
      const prev = out.findIndex((s) => s.label === label);
      if (prev >= 0) out.splice(prev, 1); // a later run of the same combination replaces it
      out.push({ label, results });
    }
    return out;
  }
  const results = sizesOf(doc);
  if (results.length === 0) throw new Error('no results with marks (expected an `omnibus bench --json` or bench/compare.mjs document)');
  return [{ label: name ?? [doc['driver'], doc['mode'], doc['target']].filter((x) => typeof x === 'string').join(' '), results }];
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? ' ' + attrs : ''}>${esc(s)}</text>`;
}

/** 1, 2, 2.5, 5 × 10^k steps giving about `target` intervals up to `max`. */
export function niceTicks(max: number, target = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks[ticks.length - 1] ?? 0) < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

function fmtCount(v: number): string {
  if (v >= 1e6 && v % 1e5 === 0) return `${v / 1e6}M`;
  if (v >= 1000 && v % 100 === 0) return `${v / 1000}k`;
  return String(Math.round(v));
}

function fmtSize(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function fmtTick(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

const FONT = 'font-family="sans-serif" font-size="11"';

function legend(series: readonly ChartSeries[], colours: readonly string[], x: number, y: number, width: number): { svg: string; height: number } {
  const parts: string[] = [];
  let cx = x;
  let cy = y;
  for (let i = 0; i < series.length; i++) {
    const label = series[i]!.label;
    const w = 34 + label.length * 6.5;
    if (cx + w > x + width && cx > x) {
      cx = x;
      cy += 16;
    }
    parts.push(`<line x1="${n(cx)}" y1="${n(cy - 4)}" x2="${n(cx + 24)}" y2="${n(cy - 4)}" stroke="${colours[i]}" stroke-width="2.5"/>`);
    parts.push(text(cx + 29, cy, label));
    cx += w;
  }
  return { svg: `<g class="legend" ${FONT}>${parts.join('')}</g>`, height: cy - y + 16 };
}

// ---------------------------------------------------------------------------------------------
// The chart

const PANEL_W = 330;
const PANEL_H = 190;
const M = { left: 58, right: 14, top: 24, bottom: 38 };
const CELL_W = PANEL_W + M.left + M.right;
const CELL_H = PANEL_H + M.top + M.bottom;

function curvePanel(series: readonly ChartSeries[], colours: readonly string[], size: number, phase: Phase, ox: number, oy: number): string {
  const pts = series.map((s) => s.results.find((r) => r.size === size));
  const maxCount = Math.max(...pts.map((r) => r?.count ?? 0));
  const maxSec = Math.max(...pts.map((r) => Math.max(0, ...(r?.[phase].marksSec ?? [0]))));
  const xt = niceTicks(maxCount, 4);
  const yt = niceTicks(maxSec, 4);
  const xMax = xt[xt.length - 1]!;
  const yMax = yt[yt.length - 1]!;
  const x0 = ox + M.left;
  const y0 = oy + M.top + PANEL_H;
  const sx = (v: number): number => x0 + (v / xMax) * PANEL_W;
  const sy = (v: number): number => y0 - (v / yMax) * PANEL_H;
  const out: string[] = [`<g class="panel" data-size="${size}" data-phase="${phase}" ${FONT}>`];
  out.push(text(x0 + PANEL_W / 2, oy + M.top - 8, `${fmtSize(size)} ${phase}`, 'text-anchor="middle" font-weight="bold"'));
  for (const t of yt) {
    out.push(`<line x1="${n(x0)}" y1="${n(sy(t))}" x2="${n(x0 + PANEL_W)}" y2="${n(sy(t))}" stroke="#e5e5e5"/>`);
    out.push(text(x0 - 5, sy(t) + 4, fmtTick(t), 'text-anchor="end"'));
  }
  for (const t of xt) {
    out.push(`<line x1="${n(sx(t))}" y1="${n(y0)}" x2="${n(sx(t))}" y2="${n(y0 + 4)}" stroke="#333"/>`);
    out.push(text(sx(t), y0 + 15, fmtCount(t), 'text-anchor="middle"'));
  }
  out.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x0 + PANEL_W)}" y2="${n(y0)}" stroke="#333"/>`);
  out.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x0)}" y2="${n(y0 - PANEL_H)}" stroke="#333"/>`);
  out.push(text(x0 + PANEL_W / 2, y0 + 31, 'messages', 'text-anchor="middle"'));
  out.push(text(ox + 14, y0 - PANEL_H / 2, 'cumulative seconds', `text-anchor="middle" transform="rotate(-90 ${n(ox + 14)} ${n(y0 - PANEL_H / 2)})"`));
  pts.forEach((r, i) => {
    if (!r) return;
    const marks = r[phase].marksSec;
    const coords = [`${n(sx(0))},${n(sy(0))}`, ...marks.map((m, k) => `${n(sx((r.count * (k + 1)) / marks.length))},${n(sy(m))}`)];
    const label = esc(series[i]!.label);
    out.push(`<polyline class="series" data-series="${label}" fill="none" stroke="${colours[i]}" stroke-width="2" points="${coords.join(' ')}"><title>${label}: ${esc(fmtSize(size))} ${phase}, ${Math.round(r[phase].msgsPerSec).toLocaleString('en-US')} msg/s</title></polyline>`);
  });
  out.push('</g>');
  return out.join('');
}

function ratioChart(series: readonly ChartSeries[], colours: readonly string[], baseIdx: number, sizes: readonly number[], oy: number, width: number): { svg: string; height: number } {
  const base = series[baseIdx]!;
  const others = series.map((s, i) => ({ s, i })).filter((x) => x.i !== baseIdx);
  const groups: { size: number; phase: Phase; bars: { i: number; ratio: number }[] }[] = [];
  for (const size of sizes) {
    for (const phase of PHASES) {
      const b = base.results.find((r) => r.size === size)?.[phase].msgsPerSec;
      const bars = others.flatMap(({ s, i }) => {
        const v = s.results.find((r) => r.size === size)?.[phase].msgsPerSec;
        return v !== undefined && b !== undefined && b > 0 ? [{ i, ratio: v / b }] : [];
      });
      if (bars.length > 0) groups.push({ size, phase, bars });
    }
  }
  const h = 260;
  const top = oy + 30;
  const x0 = M.left + 10;
  const plotW = width - x0 - M.right - 10;
  const y0 = top + h;
  const maxR = Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => b.ratio)));
  const yt = niceTicks(maxR * 1.08, 5);
  const yMax = yt[yt.length - 1]!;
  const sy = (v: number): number => y0 - (v / yMax) * h;
  const out: string[] = [`<g class="ratios" ${FONT}>`];
  out.push(text(width / 2, oy + 14, `msg/s ratio: series ÷ ${base.label} (same run; > 1 = faster than ${base.label})`, 'text-anchor="middle" font-weight="bold" font-size="13"'));
  for (const t of yt) {
    out.push(`<line x1="${n(x0)}" y1="${n(sy(t))}" x2="${n(x0 + plotW)}" y2="${n(sy(t))}" stroke="#e5e5e5"/>`);
    out.push(text(x0 - 5, sy(t) + 4, fmtTick(t), 'text-anchor="end"'));
  }
  out.push(text(M.left - 30, y0 - h / 2, 'ratio', `text-anchor="middle" transform="rotate(-90 ${n(M.left - 30)} ${n(y0 - h / 2)})"`));
  const gw = groups.length > 0 ? plotW / groups.length : plotW;
  const bw = Math.min(36, (gw * 0.8) / Math.max(1, others.length));
  groups.forEach((g, gi) => {
    const gx = x0 + gi * gw + (gw - bw * g.bars.length) / 2;
    g.bars.forEach((b, k) => {
      const x = gx + k * bw;
      const y = sy(b.ratio);
      const label = esc(series[b.i]!.label);
      out.push(`<rect class="bar" data-series="${label}" data-size="${g.size}" data-phase="${g.phase}" data-ratio="${b.ratio.toFixed(3)}" x="${n(x + 1)}" y="${n(y)}" width="${n(bw - 2)}" height="${n(y0 - y)}" fill="${colours[b.i]}"><title>${label} ÷ ${esc(base.label)}, ${esc(fmtSize(g.size))} ${g.phase}: ${b.ratio.toFixed(2)}</title></rect>`);
      out.push(text(x + bw / 2, y - 3, b.ratio.toFixed(2), 'text-anchor="middle" font-size="9"'));
    });
    out.push(text(x0 + gi * gw + gw / 2, y0 + 15, fmtSize(g.size), 'text-anchor="middle"'));
    out.push(text(x0 + gi * gw + gw / 2, y0 + 28, g.phase === 'enqueue' ? 'enq' : 'deq', 'text-anchor="middle"'));
  });
  out.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x0 + plotW)}" y2="${n(y0)}" stroke="#333"/>`);
  out.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x0)}" y2="${n(top)}" stroke="#333"/>`);
  out.push(`<line class="parity" x1="${n(x0)}" y1="${n(sy(1))}" x2="${n(x0 + plotW)}" y2="${n(sy(1))}" stroke="${BASELINE_COLOUR}" stroke-dasharray="5 4"/>`);
  // Left of the first group's bars would overlap them: the parity label goes in the y-axis margin.
  out.push(text(x0 - 5, sy(1) + 14, `= ${base.label}`, 'text-anchor="end" font-size="9"'));
  out.push('</g>');
  return { svg: out.join(''), height: h + 80 };
}

/** The whole SVG document: title, legend, the curve grid, then the ratio bars (when a baseline exists). */
export function renderChart(series: readonly ChartSeries[], opts: ChartOptions = {}): string {
  if (series.length === 0) throw new Error('nothing to chart: no series');
  const sizes = [...new Set(series.flatMap((s) => s.results.map((r) => r.size)))].sort((a, b) => a - b);
  const want = opts.baseline?.toLowerCase();
  const baseIdx = want !== undefined ? series.findIndex((s) => s.label.toLowerCase().includes(want)) : series.findIndex((s) => !/omnibus/i.test(s.label));
  if (want !== undefined && baseIdx < 0) throw new Error(`no series matches baseline "${opts.baseline}" (series: ${series.map((s) => s.label).join(', ')})`);
  let p = 0;
  const colours = series.map((_, i) => (i === baseIdx ? BASELINE_COLOUR : PALETTE[p++ % PALETTE.length]!));
  const width = CELL_W * 2;
  const parts: string[] = [];
  let y = 22;
  const title = opts.title ?? 'Seed benchmark: cumulative time per 10 % of the messages';
  parts.push(text(width / 2, y, title, `text-anchor="middle" font-family="sans-serif" font-size="15" font-weight="bold"`));
  y += 22;
  const lg = legend(series, colours, M.left, y, width - M.left - M.right);
  parts.push(lg.svg);
  y += lg.height;
  sizes.forEach((size, row) => {
    PHASES.forEach((phase, col) => parts.push(curvePanel(series, colours, size, phase, col * CELL_W, y + row * CELL_H)));
  });
  y += sizes.length * CELL_H + 10;
  if (baseIdx >= 0 && series.length > 1) {
    const rc = ratioChart(series, colours, baseIdx, sizes, y, width);
    parts.push(rc.svg);
    y += rc.height;
  }
  const height = Math.ceil(y + 10);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">\n` +
    `<title>${esc(title)}</title>\n` +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n` +
    parts.join('\n') +
    '\n</svg>\n'
  );
}
