/**
 * The seed benchmark: the source article's experiment, run against any Transport.
 *
 * For each payload size: enqueue N messages on a fresh topic (timing every N/10), then subscribe
 * with group "bench" and dequeue + ack all N (timing every N/10). Because a new group starts at the
 * earliest retained message, the whole backlog built before subscribing is delivered; the dequeue
 * phase therefore measures draining a deep queue, as in the article (LPUSH then RPOP / publish then
 * consume).
 *
 * Payload: 10 ASCII digits of the sequence number, then filler to the exact size. Every dequeued
 * message is verified (length, sequence in range, no duplicate, none missing, byte total, acks
 * succeeded); any discrepancy fails the run with SeedVerificationError.
 *
 * Kept apart from the engine and the CLI: what it drives is a BenchDriver (driver.ts): the
 * Transport API (drivers/transport.ts, also used when runSeed is given a Transport) or a real
 * broker's wire protocol (drivers/redis.ts, drivers/amqp.ts), timed and verified by this same code.
 */
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { OutgoingMessage, Transport } from '../core/types.js';
import type { BenchDriver, DequeueSink } from './driver.js';
import { transportDriver } from './drivers/transport.js';
import { procCpuSeconds, procPeakRss, procRss, resetPeakRss } from './proc.js';

export type AckMode = 'bulk' | 'each';

export interface SeedOptions {
  /** Messages per size. */
  count: number;
  /** Per-size overrides of `count` (the article's 10 KiB runs are sometimes shortened). */
  countFor?: ReadonlyMap<number, number>;
  sizes: readonly number[];
  /** Messages per `publish` call. */
  batch: number;
  /** Concurrent publish loops sharing one sequence counter. */
  publishers: number;
  /** Subscriber prefetch (unsettled deliveries in flight). */
  prefetch: number;
  /**
   * 'bulk': call ack() on every delivery without awaiting it, await the outstanding acks every
   * `batch` deliveries and before each mark (so a mark means "received and acked").
   * 'each': `await d.ack()` per delivery (one round trip per message on networked transports).
   */
  ack: AckMode;
  /** 'each': `for await` over the subscription (default); 'batches': over `sub.batches()`. */
  read?: 'each' | 'batches';
  /**
   * Recycle each batch's memory once its publish has resolved (only the digits are re-stamped).
   * Valid only for transports that copy bodies before confirming (memory:// and file:// do); a
   * transport that keeps the caller's bytes would see them change, which the verifier reports as
   * loss/duplicates. Removes the harness's dominant cost at large sizes: filling fresh memory ran at
   * ~0.8 GB/s on the bench box (page faults), a recycled buffer costs nothing but the stamps.
   * One batch buffer per publisher is built and filled before the enqueue clock starts, so the
   * timed phase never touches fresh payload memory (at 10 KiB × 1,000 × 2 publishers: 20 MB,
   * ~0.1 s of first-touch faults that fell into the first decile before).
   */
  reusePayloads?: boolean;
  /**
   * Messages enqueued and dequeued (verified, untimed) on a topic of their own before each size's
   * timed run; 0 (default) runs none, as the source article did. A broker on a JIT runtime (Node,
   * the JVM, the BEAM) and the client library both run their first ~100,000 operations partly
   * interpreted and compiling: a 200,000-message run of a fresh Omnibus measured 81,530 →
   * 93,745 → 123,085 msg/s in three back-to-back repeats. Comparisons between brokers pass the
   * same warm-up to every target. `{ fraction }`: that share of each size's count.
   */
  warmup?: number | { fraction: number };
  /** Dequeue gives up (and reports the rest as missing) after this long without a new message. */
  idleTimeoutMs: number;
  /** Topic name prefix; the size is appended. Must be fresh for the run (the verifier expects only its own messages). */
  topicPrefix: string;
  group: string;
  onProgress?: (p: SeedProgress) => void;
  /** Called when a size has finished (verified or not), before the next starts. */
  onSize?: (r: SizeResult) => void;
  /**
   * A broker process to measure alongside (Linux /proc): its CPU per phase, RSS before each size
   * and peak RSS per size (VmHWM, reset before every size where permitted).
   */
  brokerPid?: number;
}

export const SEED_DEFAULTS = {
  count: 1_000_000,
  sizes: [128, 512, 1024, 10240] as readonly number[],
  batch: 1000,
  publishers: 1,
  prefetch: 1000,
  ack: 'bulk' as AckMode,
  idleTimeoutMs: 30_000,
  group: 'bench',
};

export interface SeedProgress {
  size: number;
  sizeIndex: number;
  sizeCount: number;
  phase: 'enqueue' | 'dequeue';
  done: number;
  total: number;
  elapsedSec: number;
}

export interface PhaseResult {
  /** Cumulative seconds at 10 %, 20 %, ..., 100 % of the messages. */
  marksSec: number[];
  elapsedSec: number;
  msgsPerSec: number;
  /** Payload bytes only, MB = 10^6 bytes. */
  mbPerSec: number;
  /** Seconds of the last 10 % over seconds of the first 10 % (target <= 1.5); null if not measurable. */
  flatness: number | null;
  /**
   * The anchors' curve: mean rate of deciles 8-10 over mean rate of deciles 2-4 (the first decile
   * includes warm-up). "flat" is 0.8-1.25, "slows" < 0.8.
   */
  curve: number | null;
  /** Messages per second within each decile. */
  decileRates: number[];
  /** User + system CPU seconds of this process during the phase. */
  cpuSec: number;
  /** Resident set size right after the phase. */
  rssAfterBytes: number;
  /** User + system CPU seconds of SeedOptions.brokerPid during the phase. */
  brokerCpuSec?: number;
}

export interface Verification {
  expected: number;
  /** Deliveries seen, duplicates and foreign messages included. */
  received: number;
  unique: number;
  missing: number;
  /** Up to 10 missing sequence numbers, lowest first. */
  missingSample: number[];
  duplicates: number;
  duplicateSample: number[];
  /** Deliveries whose length differs from the size. */
  badLength: number;
  /** Deliveries whose first 10 bytes are not a sequence number of this run. */
  foreign: number;
  bytes: number;
  expectedBytes: number;
  /** Deliveries with a lower sequence number than one delivered before (informational: order is not required across partitions or publishers). */
  outOfOrder: number;
  ackFailures: number;
  firstAckError: string | undefined;
  /** Dequeue stopped because nothing arrived for idleTimeoutMs. */
  timedOut: boolean;
  ok: boolean;
}

export interface SizeResult {
  size: number;
  count: number;
  topic: string;
  enqueue: PhaseResult;
  dequeue: PhaseResult;
  verify: Verification;
  rssBeforeBytes: number;
  /** The process's peak RSS so far (it cannot be reset per size in-process). */
  peakRssBytes: number;
  /** SeedOptions.brokerPid's RSS before the size, and its peak during it (whole life if the reset was not permitted). */
  broker?: { pid: number; rssBeforeBytes: number | undefined; peakRssBytes: number | undefined; peakIsPerSize: boolean };
  /** os.loadavg() when the size finished: the machine may be shared, and figures taken under load are noisy. */
  loadavg: number[];
}

export interface SeedResult {
  sizes: SizeResult[];
  ok: boolean;
}

/** Raised when a size's dequeued messages do not match what was enqueued. Carries every result so far. */
export class SeedVerificationError extends Error {
  readonly result: SizeResult;
  readonly completed: SizeResult[];
  constructor(result: SizeResult, completed: SizeResult[]) {
    super(`size ${result.size}: ${describeVerification(result.verify)}`);
    this.name = 'SeedVerificationError';
    this.result = result;
    this.completed = completed;
  }
}

export const SEQ_DIGITS = 10;
const FILLER = 'abcdefghijklmnopqrstuvwxyz';

/** One message-sized template: 10 '0' digits then filler; stamped per message. */
export function payloadTemplate(size: number): Buffer {
  if (!Number.isInteger(size) || size < SEQ_DIGITS) throw new RangeError(`payload size must be an integer >= ${SEQ_DIGITS}, got ${size}`);
  const b = Buffer.alloc(size);
  b.fill('0', 0, SEQ_DIGITS);
  b.fill(FILLER, SEQ_DIGITS);
  return b;
}

/** Writes `seq` as 10 zero-padded ASCII digits at `off`. */
export function stampSeq(buf: Uint8Array, off: number, seq: number): void {
  let v = seq;
  for (let j = off + SEQ_DIGITS - 1; j >= off; j--) {
    const d = v % 10;
    buf[j] = 48 + d;
    v = (v - d) / 10;
  }
}

/**
 * Writes the seed payloads of `size` bytes for sequence numbers 0..n-1, each followed by a newline
 * (the input of `kcat -P -l`), to `file`, and returns it. A file of exactly that length already
 * there is reused: the content is a function of (size, n). Written in blocks of about 64 MiB, one
 * block re-stamped per write, so memory stays bounded however large n is.
 */
export function writeSeedFile(file: string, size: number, n: number): string {
  if (existsSync(file) && statSync(file).size === n * (size + 1)) return file;
  const line = Buffer.concat([payloadTemplate(size), Buffer.from('\n')]);
  const per = Math.max(1, Math.floor((64 << 20) / line.length));
  const buf = Buffer.alloc(per * line.length);
  for (let i = 0; i < per; i++) line.copy(buf, i * line.length);
  const fd = openSync(file, 'w');
  try {
    for (let first = 0; first < n; first += per) {
      const k = Math.min(per, n - first);
      for (let i = 0; i < k; i++) stampSeq(buf, i * line.length, first + i);
      writeSync(fd, buf, 0, k * line.length);
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/** The sequence number in the first 10 bytes, or -1 if they are not 10 ASCII digits. */
export function readSeq(body: Uint8Array): number {
  if (body.length < SEQ_DIGITS) return -1;
  let v = 0;
  for (let j = 0; j < SEQ_DIGITS; j++) {
    const c = body[j]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * Builds one publish batch: a single allocation filled with the template (Buffer#fill repeats it
 * natively), the sequence digits stamped per slot, and one Uint8Array view per message. Fresh
 * memory per batch, because a transport may keep the bodies it was given (a network transport may
 * still be writing them after publish() resolves... or a future engine may keep views). Measured:
 * plain Uint8Array views and carrying the digits forward (instead of Buffer#subarray and ten
 * divisions per message) double the rate, to ~5-9 M msg/s at 128 B and ~3 M msg/s at 1 KiB on the
 * 2-vCPU bench box, so the harness stays well clear of the 2 M msg/s target.
 *
 * `filled`: a buffer already holding the template in every slot (from an earlier batch whose
 * publish has resolved) to stamp instead of allocating; see SeedOptions.reusePayloads.
 */
export function buildBatch(template: Buffer, firstSeq: number, n: number, filled?: Buffer): OutgoingMessage[] {
  const size = template.length;
  let buf: Buffer;
  if (filled !== undefined && filled.length >= n * size) buf = filled;
  else {
    buf = Buffer.allocUnsafe(n * size);
    buf.fill(template);
  }
  const ab = buf.buffer;
  const base = buf.byteOffset;
  const digits = new Uint8Array(SEQ_DIGITS);
  stampSeq(digits, 0, firstSeq);
  const msgs = new Array<OutgoingMessage>(n);
  for (let i = 0; i < n; i++) {
    const off = i * size;
    for (let j = 0; j < SEQ_DIGITS; j++) buf[off + j] = digits[j]!;
    msgs[i] = { body: new Uint8Array(ab, base + off, size) };
    // Increment the decimal digits in place (amortised ~1.1 digit writes per message).
    for (let j = SEQ_DIGITS - 1; j >= 0; j--) {
      if (digits[j] === 57) digits[j] = 48;
      else {
        digits[j]!++;
        break;
      }
    }
  }
  return msgs;
}

/** Message counts at which the 10 marks are taken: ceil(N * k / 10). */
export function markThresholds(n: number): number[] {
  return Array.from({ length: 10 }, (_, k) => Math.ceil((n * (k + 1)) / 10));
}

/**
 * The DequeueSink of a drain into `verifier`: a settle point at each tenth of the expected count
 * (markThresholds), where `settled()` records `now()` in `marks`. `progress(unique)` is called
 * every 1024 unique messages. Shared by the harness and the consume-pair benchmark.
 */
export function markingSink(verifier: SeedVerifier, signal: AbortSignal, now: () => number, progress?: (unique: number) => void): { sink: DequeueSink; marks: number[]; thresholds: number[] } {
  const n = verifier.expected;
  const thresholds = markThresholds(n);
  const marks: number[] = [];
  const sink: DequeueSink = {
    signal,
    get remaining() {
      return n - verifier.unique;
    },
    get done() {
      return verifier.unique >= n;
    },
    take(body: Uint8Array): boolean {
      if (!verifier.add(body)) return false;
      const u = verifier.unique;
      if ((u & 1023) === 0 && progress) progress(u);
      // u >= n always crosses the last threshold, so the final message is a settle point too.
      return marks.length < 10 && u >= thresholds[marks.length]!;
    },
    settled(): void {
      const u = verifier.unique;
      while (marks.length < 10 && u >= thresholds[marks.length]!) marks.push(now());
    },
    ackFailed: (e: unknown) => verifier.ackFailed(e),
  };
  return { sink, marks, thresholds };
}

/** Checks dequeued bodies against the enqueued set: sequence 0..N-1, each exactly once, exact length. */
export class SeedVerifier {
  readonly expected: number;
  readonly size: number;
  readonly #seen: Uint8Array;
  received = 0;
  unique = 0;
  duplicates = 0;
  badLength = 0;
  foreign = 0;
  bytes = 0;
  outOfOrder = 0;
  ackFailures = 0;
  firstAckError: string | undefined;
  timedOut = false;
  readonly #dupSample: number[] = [];
  #last = -1;

  constructor(expected: number, size: number) {
    this.expected = expected;
    this.size = size;
    this.#seen = new Uint8Array(expected);
  }

  /** Records one delivery; returns true if it was a new, valid message of this run. */
  add(body: Uint8Array): boolean {
    this.received++;
    this.bytes += body.length;
    if (body.length !== this.size) this.badLength++;
    const seq = readSeq(body);
    if (seq < 0 || seq >= this.expected) {
      this.foreign++;
      return false;
    }
    if (this.#seen[seq] !== 0) {
      this.duplicates++;
      if (this.#dupSample.length < 10) this.#dupSample.push(seq);
      return false;
    }
    this.#seen[seq] = 1;
    this.unique++;
    if (seq < this.#last) this.outOfOrder++;
    this.#last = seq;
    return true;
  }

  ackFailed(e: unknown): void {
    this.ackFailures++;
    this.firstAckError ??= e instanceof Error ? e.message : String(e);
  }

  result(): Verification {
    const missingSample: number[] = [];
    if (this.unique < this.expected) {
      for (let i = 0; i < this.expected && missingSample.length < 10; i++) if (this.#seen[i] === 0) missingSample.push(i);
    }
    const missing = this.expected - this.unique;
    const expectedBytes = this.expected * this.size;
    const ok =
      missing === 0 &&
      this.duplicates === 0 &&
      this.badLength === 0 &&
      this.foreign === 0 &&
      this.bytes === expectedBytes &&
      this.ackFailures === 0;
    return {
      expected: this.expected,
      received: this.received,
      unique: this.unique,
      missing,
      missingSample,
      duplicates: this.duplicates,
      duplicateSample: [...this.#dupSample],
      badLength: this.badLength,
      foreign: this.foreign,
      bytes: this.bytes,
      expectedBytes,
      outOfOrder: this.outOfOrder,
      ackFailures: this.ackFailures,
      firstAckError: this.firstAckError,
      timedOut: this.timedOut,
      ok,
    };
  }
}

export function describeVerification(v: Verification): string {
  if (v.ok) return `verified ${v.unique} of ${v.expected} messages, none lost or duplicated`;
  const parts: string[] = [];
  if (v.missing > 0) parts.push(`${v.missing} of ${v.expected} messages LOST (e.g. seq ${v.missingSample.join(', ')})${v.timedOut ? ' - nothing arrived for the idle timeout' : ''}`);
  if (v.duplicates > 0) parts.push(`${v.duplicates} DUPLICATE deliveries (e.g. seq ${v.duplicateSample.join(', ')})`);
  if (v.badLength > 0) parts.push(`${v.badLength} messages with the wrong length`);
  if (v.foreign > 0) parts.push(`${v.foreign} messages that this run did not publish`);
  if (v.bytes !== v.expectedBytes) parts.push(`${v.bytes} payload bytes received, ${v.expectedBytes} expected`);
  if (v.ackFailures > 0) parts.push(`${v.ackFailures} acks failed (${v.firstAckError ?? 'unknown error'})`);
  return parts.join('; ');
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

function phaseResult(marksMs: number[], thresholds: number[], n: number, size: number, cpuSec: number): PhaseResult {
  const marksSec = marksMs.map((m) => m / 1000);
  const elapsedSec = marksSec[marksSec.length - 1] ?? 0;
  const decileRates = marksSec.map((m, i) => {
    const prevT = i === 0 ? 0 : marksSec[i - 1]!;
    const prevN = i === 0 ? 0 : thresholds[i - 1]!;
    const dt = m - prevT;
    return dt > 0 ? (thresholds[i]! - prevN) / dt : Number.POSITIVE_INFINITY;
  });
  const first = marksSec[0];
  const lastSpan = marksSec.length === 10 ? marksSec[9]! - marksSec[8]! : NaN;
  const flatness = first !== undefined && first > 0 && Number.isFinite(lastSpan) ? lastSpan / first : null;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(decileRates.slice(1, 4));
  const late = mean(decileRates.slice(7, 10));
  const curve = decileRates.length === 10 && Number.isFinite(early) && Number.isFinite(late) && early > 0 ? late / early : null;
  return {
    marksSec,
    elapsedSec,
    msgsPerSec: elapsedSec > 0 ? n / elapsedSec : 0,
    mbPerSec: elapsedSec > 0 ? (n * size) / 1e6 / elapsedSec : 0,
    flatness,
    curve,
    decileRates: decileRates.map((r) => (Number.isFinite(r) ? r : 0)),
    cpuSec,
    rssAfterBytes: process.memoryUsage.rss(),
  };
}

export function peakRssBytes(): number {
  // maxRSS is in KiB on every platform Node supports.
  return process.resourceUsage().maxRSS * 1024;
}

async function enqueue(
  driver: BenchDriver,
  topic: string,
  size: number,
  n: number,
  opts: SeedOptions,
  progress: (done: number, t0: number) => void,
): Promise<PhaseResult> {
  const template = payloadTemplate(size);
  const thresholds = markThresholds(n);
  const marks: number[] = [];
  let next = 0;
  let confirmed = 0;
  let failed = false;
  const pool: Buffer[] = [];
  if (opts.reusePayloads) {
    const k = Math.min(opts.batch, n);
    for (let i = 0; i < opts.publishers; i++) {
      const b = Buffer.allocUnsafeSlow(k * size);
      b.fill(template);
      pool.push(b);
    }
  }
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpu(opts);
  const t0 = performance.now();

  const publisher = async (): Promise<void> => {
    while (next < n && !failed) {
      const first = next;
      const k = Math.min(opts.batch, n - first);
      next += k;
      const recycled = opts.reusePayloads ? pool.pop() : undefined;
      const msgs = buildBatch(template, first, k, recycled);
      try {
        await driver.enqueue(topic, msgs);
      } catch (e) {
        // Stop the other publishers too: the run is void once a publish fails.
        failed = true;
        throw e;
      }
      if (opts.reusePayloads && k === opts.batch) {
        const body = msgs[0]!.body as Uint8Array;
        pool.push(Buffer.from(body.buffer, body.byteOffset, k * size));
      }
      confirmed += k;
      while (marks.length < 10 && confirmed >= thresholds[marks.length]!) marks.push(performance.now() - t0);
      progress(confirmed, t0);
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: opts.publishers }, publisher));
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return withBrokerCpu(phaseResult(marks, thresholds, n, size, cpuSeconds(cpu0)), opts, broker0);
}

function brokerCpu(opts: SeedOptions): number | undefined {
  return opts.brokerPid === undefined ? undefined : procCpuSeconds(opts.brokerPid);
}

function withBrokerCpu(p: PhaseResult, opts: SeedOptions, before: number | undefined): PhaseResult {
  const after = brokerCpu(opts);
  if (before !== undefined && after !== undefined) p.brokerCpuSec = after - before;
  return p;
}

async function dequeue(
  driver: BenchDriver,
  topic: string,
  verifier: SeedVerifier,
  opts: SeedOptions,
  progress: (done: number, t0: number) => void,
): Promise<PhaseResult> {
  const n = verifier.expected;
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpu(opts);
  const t0 = performance.now();
  const idle = new AbortController();
  const { sink, marks, thresholds } = markingSink(verifier, idle.signal, () => performance.now() - t0, (u) => progress(u, t0));

  // The watchdog compares delivery counts instead of stamping a time per delivery (a clock read
  // per message showed up at ~8 % of the harness's dequeue time in a profile).
  let seenAtLastCheck = -1;
  let lastChange = t0;
  const watchdog = setInterval(
    () => {
      const now = performance.now();
      if (verifier.received !== seenAtLastCheck) {
        seenAtLastCheck = verifier.received;
        lastChange = now;
      } else if (now - lastChange > opts.idleTimeoutMs) {
        verifier.timedOut = true;
        idle.abort();
      }
    },
    Math.max(10, Math.min(1000, opts.idleTimeoutMs / 4)),
  );
  try {
    if (n > 0) await driver.dequeue(topic, sink);
  } finally {
    clearInterval(watchdog);
  }
  progress(verifier.unique, t0);
  return withBrokerCpu(phaseResult(marks, thresholds, n, verifier.size, cpuSeconds(cpu0)), opts, broker0);
}

function noop(): void {}

function isTransport(t: Transport | BenchDriver): t is Transport {
  return 'subscribe' in t && 'publish' in t;
}

function warmupCount(w: SeedOptions['warmup'], n: number): number {
  if (w === undefined) return 0;
  return typeof w === 'number' ? w : Math.round(n * w.fraction);
}

/** The untimed run of SeedOptions.warmup: the same enqueue and dequeue, verified, on its own topic. */
async function warmUp(driver: BenchDriver, topic: string, size: number, n: number, opts: SeedOptions): Promise<void> {
  const quiet = (): void => undefined;
  await driver.setup(topic);
  await enqueue(driver, topic, size, n, opts, quiet);
  const verifier = new SeedVerifier(n, size);
  await dequeue(driver, topic, verifier, opts, quiet);
  await driver.teardown(topic);
  const v = verifier.result();
  if (!v.ok) throw new Error(`warm-up of ${n} × ${size} B did not verify: ${v.missing} missing, ${v.duplicates} duplicated`);
}

/**
 * Runs the whole experiment. Resolves with every size's result when all verify; rejects with
 * SeedVerificationError at the first size that does not (after reporting it through onSize).
 * Errors from the driver propagate unchanged. A Transport is driven through drivers/transport.ts
 * with opts.group, opts.prefetch and opts.ack (acks settled every opts.batch).
 */
export async function runSeed(target: Transport | BenchDriver, opts: SeedOptions): Promise<SeedResult> {
  const driver = isTransport(target) ? transportDriver(target, { group: opts.group, prefetch: opts.prefetch, ack: opts.ack, ackBatch: opts.batch, read: opts.read ?? 'each' }) : target;
  const results: SizeResult[] = [];
  for (const [sizeIndex, size] of opts.sizes.entries()) {
    const n = opts.countFor?.get(size) ?? opts.count;
    const topic = `${opts.topicPrefix}-${size}`;
    const report =
      (phase: 'enqueue' | 'dequeue') =>
      (done: number, t0: number): void =>
        opts.onProgress?.({ size, sizeIndex, sizeCount: opts.sizes.length, phase, done, total: n, elapsedSec: (performance.now() - t0) / 1000 });
    const rssBeforeBytes = process.memoryUsage.rss();
    const pid = opts.brokerPid;
    const peakIsPerSize = pid !== undefined && resetPeakRss(pid);
    const brokerRssBefore = pid === undefined ? undefined : procRss(pid);
    const w = warmupCount(opts.warmup, n);
    if (w > 0) await warmUp(driver, `${topic}-warmup`, size, w, opts);
    await driver.setup(topic);
    const enq = await enqueue(driver, topic, size, n, opts, report('enqueue'));
    const verifier = new SeedVerifier(n, size);
    const deq = await dequeue(driver, topic, verifier, opts, report('dequeue'));
    const broker = pid === undefined ? undefined : { pid, rssBeforeBytes: brokerRssBefore, peakRssBytes: procPeakRss(pid), peakIsPerSize };
    await driver.teardown(topic);
    const r: SizeResult = {
      size,
      count: n,
      topic,
      enqueue: enq,
      dequeue: deq,
      verify: verifier.result(),
      rssBeforeBytes,
      peakRssBytes: peakRssBytes(),
      ...(broker === undefined ? {} : { broker }),
      loadavg: os.loadavg(),
    };
    results.push(r);
    opts.onSize?.(r);
    if (!r.verify.ok) throw new SeedVerificationError(r, results);
  }
  return { sizes: results, ok: true };
}
