/**
 * Human-readable and machine-readable output of the seed benchmark. Units follow the anchors
 * document (research/anchors-measured.md): MB/s counts payload bytes only with MB = 10^6 bytes;
 * memory is MiB.
 */
import os from 'node:os';
import type { PhaseResult, SeedOptions, SizeResult } from './seed.js';
import { describeVerification } from './seed.js';

export const FLATNESS_TARGET = 1.5;

const MiB = 1024 * 1024;

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtMiB(bytes: number): string {
  return fmtInt(bytes / MiB);
}

function fmtRatio(r: number | null): string {
  if (r === null) return 'n/a';
  return r.toFixed(2) + (r > FLATNESS_TARGET ? '!' : '');
}

/** Marks with a precision that suits their magnitude: 0.012, 0.12, 1.2, 12.3. */
export function fmtMarks(marks: readonly number[]): string {
  const max = marks[marks.length - 1] ?? 0;
  const digits = max < 0.1 ? 3 : max < 10 ? 2 : 1;
  return marks.map((m) => m.toFixed(digits)).join(' ');
}

function phaseLine(p: PhaseResult): string {
  return `${p.elapsedSec.toFixed(2)} s  ${fmtInt(p.msgsPerSec)} msg/s  ${p.mbPerSec.toFixed(1)} MB/s  flatness ${fmtRatio(p.flatness)}`;
}

/** The block printed as soon as a size finishes. */
export function formatSizeResult(r: SizeResult): string {
  const v = r.verify;
  return (
    [
      `${r.size} B x ${fmtInt(r.count)}: ` + (v.ok ? 'ok' : 'FAILED: ' + describeVerification(v)) + `  (load ${r.loadavg.map((l) => l.toFixed(2)).join(' ')})`,
      `  enqueue  ${phaseLine(r.enqueue)}  cpu ${r.enqueue.cpuSec.toFixed(1)} s  RSS ${fmtMiB(r.enqueue.rssAfterBytes)} MiB`,
      `    marks s: ${fmtMarks(r.enqueue.marksSec)}`,
      `  dequeue  ${phaseLine(r.dequeue)}  cpu ${r.dequeue.cpuSec.toFixed(1)} s  RSS ${fmtMiB(r.dequeue.rssAfterBytes)} MiB  peak ${fmtMiB(r.peakRssBytes)} MiB`,
      `    marks s: ${fmtMarks(r.dequeue.marksSec)}`,
      ...(r.broker === undefined ? [] : [`  broker pid ${r.broker.pid}: ${brokerSummary(r)}`]),
    ].join('\n') + '\n'
  );
}

function fmtOptMiB(bytes: number | undefined): string {
  return bytes === undefined ? '?' : fmtMiB(bytes);
}

function fmtOptSec(s: number | undefined): string {
  return s === undefined ? '?' : s.toFixed(1);
}

/** "RSS 40 -> 170 MiB (peak of this size), CPU 1.3 / 0.9 s": the anchors' broker columns. */
export function brokerSummary(r: SizeResult): string {
  const b = r.broker;
  if (b === undefined) return '';
  return (
    `RSS ${fmtOptMiB(b.rssBeforeBytes)} -> ${fmtOptMiB(b.peakRssBytes)} MiB (${b.peakIsPerSize ? 'peak of this size' : 'peak since start'}), ` +
    `CPU enq / deq ${fmtOptSec(r.enqueue.brokerCpuSec)} / ${fmtOptSec(r.dequeue.brokerCpuSec)} s`
  );
}

/** The closing table (markdown, so it pastes into the anchors document as-is). */
export function formatTable(results: readonly SizeResult[]): string {
  const withBroker = results.some((r) => r.broker !== undefined);
  const head =
    '| size B | msgs | enq msg/s | enq MB/s | deq msg/s | deq MB/s | enq flat | deq flat | enq curve | deq curve | RSS MiB enq / deq / peak |' +
    (withBroker ? ' broker RSS MiB before -> peak | broker CPU s enq / deq |' : '') +
    ' loss |\n' +
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |' +
    (withBroker ? ' ---: | ---: |' : '') +
    ' --- |\n';
  const rows = results.map((r) => {
    const v = r.verify;
    const loss = v.ok ? 'none' : [v.missing ? `${fmtInt(v.missing)} lost` : '', v.duplicates ? `${fmtInt(v.duplicates)} dup` : '', v.badLength || v.foreign || v.ackFailures || v.bytes !== v.expectedBytes ? 'bad' : ''].filter(Boolean).join(', ');
    return (
      `| ${r.size} | ${fmtInt(r.count)} | ${fmtInt(r.enqueue.msgsPerSec)} | ${r.enqueue.mbPerSec.toFixed(1)} | ${fmtInt(r.dequeue.msgsPerSec)} | ${r.dequeue.mbPerSec.toFixed(1)}` +
      ` | ${fmtRatio(r.enqueue.flatness)} | ${fmtRatio(r.dequeue.flatness)} | ${r.enqueue.curve?.toFixed(2) ?? 'n/a'} | ${r.dequeue.curve?.toFixed(2) ?? 'n/a'}` +
      ` | ${fmtMiB(r.enqueue.rssAfterBytes)} / ${fmtMiB(r.dequeue.rssAfterBytes)} / ${fmtMiB(r.peakRssBytes)}` +
      (withBroker
        ? ` | ${fmtOptMiB(r.broker?.rssBeforeBytes)} -> ${fmtOptMiB(r.broker?.peakRssBytes)} | ${fmtOptSec(r.enqueue.brokerCpuSec)} / ${fmtOptSec(r.dequeue.brokerCpuSec)}`
        : '') +
      ` | ${loss} |`
    );
  });
  return (
    head +
    rows.join('\n') +
    '\n' +
    `flat = seconds of the last 10 % / seconds of the first 10 % (target <= ${FLATNESS_TARGET}, "!" above it); ` +
    'curve = mean rate of deciles 8-10 / deciles 2-4 (the anchors\' definition); MB = 10^6 payload bytes.\n'
  );
}

/** A warning line when other work competes for the CPUs (figures would be noisy), else undefined. */
export function busyWarning(): string | undefined {
  const load = os.loadavg()[0] ?? 0;
  const cpus = os.cpus().length || 1;
  if (load <= cpus * 0.75) return undefined;
  return `warning: load average ${load.toFixed(1)} on ${cpus} CPUs: other processes compete with the benchmark, figures will be noisy`;
}

/** Strips credentials from a URL before it is printed or saved. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export interface BenchReportMeta {
  version: string;
  /** transport | redis | amqp, and the client style (research/anchors-measured.md's modes). */
  driver: string;
  mode: string;
  target: string;
  storage: string;
  /** os.loadavg() when the run started (the one at the end is in machine.loadavg). */
  loadavgAtStart: number[];
  fsync: string | undefined;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  error: string | undefined;
}

/** The --json document: run metadata, options, machine and every size with all its marks. */
export function buildJsonReport(meta: BenchReportMeta, opts: SeedOptions, results: readonly SizeResult[]): unknown {
  return {
    tool: 'omnibus bench',
    kind: 'seed',
    ...meta,
    options: {
      count: opts.count,
      countFor: opts.countFor ? Object.fromEntries(opts.countFor) : {},
      sizes: opts.sizes,
      batch: opts.batch,
      publishers: opts.publishers,
      prefetch: opts.prefetch,
      ack: opts.ack,
      reusePayloads: opts.reusePayloads === true,
      idleTimeoutMs: opts.idleTimeoutMs,
      group: opts.group,
      topicPrefix: opts.topicPrefix,
      brokerPid: opts.brokerPid,
    },
    machine: machineInfo(),
    units: { time: 's', rate: 'msg/s', throughput: 'MB/s (10^6 payload bytes)', memory: 'bytes' },
    results,
  };
}

function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    totalMemBytes: os.totalmem(),
    // Sampled when the report is written; the CLI warns at the start when the box is busy.
    loadavg: os.loadavg(),
  };
}
