/**
 * `omnibus bench`: the seed benchmark (src/bench/seed.ts) against the embedded engine or any
 * connect() URL, or over a wire protocol (RESP with ioredis, AMQP with amqplib) against a real
 * broker or Omnibus's own listeners, with progress on stderr, results on stdout and optionally a
 * JSON file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Transport } from '../../core/types.js';
import { DRIVER_MODES, modeDefaults, type BenchDriver, type DriverKind, type DriverMode } from '../../bench/driver.js';
import { transportDriver } from '../../bench/drivers/transport.js';
import { runSeed, SEED_DEFAULTS, SeedVerificationError, type SeedOptions, type SeedProgress, type SizeResult } from '../../bench/seed.js';
import { buildJsonReport, busyWarning, fmtInt, formatSizeResult, formatTable, redactUrl } from '../../bench/report.js';
import { parseCount, parseFlags, parseFsync, type Fsync } from '../args.js';
import { CommandError, UsageError, type CliIO, type OutStream } from '../io.js';
import { loadEngine } from '../engine.js';

const CMD = 'bench';

const PROTOCOL_NAME: Readonly<Record<DriverKind, string>> = { transport: 'Omnibus', raw: 'raw client', redis: 'RESP', amqp: 'AMQP', stomp: 'STOMP', mqtt: 'MQTT', kafka: 'Kafka' };

/** Bench writes go to the OS and are fsynced every 200 ms: see the help text for why. */
const DEFAULT_BENCH_FSYNC: Fsync = 'interval';

export const benchSummary = 'run the seed benchmark (enqueue then dequeue N messages per size, verified)';

export const benchHelp = `Usage: omnibus bench [flags]

The source article's experiment: for each payload size, enqueue N messages on a
fresh topic (time recorded at every 10 %), then subscribe with group "bench" and
dequeue + ack all N (same marks). Payload = 10 ASCII digits of the sequence
number + filler to the exact size. Every dequeued message is verified (length,
sequence, no duplicate, none missing, byte total, ack succeeded); any loss or
duplicate fails the run with exit code 1.

Flags:
  --driver KIND        what the harness drives (default transport):
                         transport  the Omnibus Transport API of --target (or the
                                    embedded engine); publish batches, subscribe
                                    with group "bench", ack every delivery
                         raw        the baseline of the API overhead: the same
                                    wire commands as the transport of --target,
                                    hand-written with the bare client (ioredis
                                    XADD in MULTI + XREADGROUP/XACK for redis://;
                                    amqplib persistent confirmed publishes to a
                                    fanout exchange + consume/ack for amqp://;
                                    kafkajs producer.send acks=-1 + group
                                    eachBatch/commitOffsets for kafka://);
                                    --prefetch applies (default 1000)
                         redis      a Redis list over RESP with ioredis: LPUSH,
                                    RPOP (FIFO); --target redis://HOST:PORT, a
                                    real redis-server or omnibus serve's RESP port
                         amqp       an AMQP 0-9-1 queue with amqplib: publisher
                                    confirms, manual acks, non-durable queue,
                                    transient messages; --target amqp://HOST:PORT,
                                    a real RabbitMQ or omnibus serve's AMQP port
                         stomp      a STOMP queue with stompit: SEND persistent:true,
                                    a receipt per 1000 (2 windows in flight);
                                    SUBSCRIBE client-individual, prefetch 1000, ACK
                                    each; --target stomp://HOST:PORT[?prefetch=N],
                                    a real ActiveMQ or omnibus serve's STOMP port
                         mqtt       MQTT 3.1.1 QoS 1 with mqtt.js into a persistent
                                    session (subscribed, then offline), 1000
                                    un-PUBACKed in flight; the subscriber then
                                    reconnects and takes the backlog; --target
                                    mqtt://HOST:PORT, mosquitto or omnibus serve
                         kafka      a 1-partition Kafka topic per size: produce
                                    acks=1, then consume from the beginning;
                                    --target kafka://HOST:PORT, a real Kafka or
                                    omnibus serve's Kafka port
                       The client libraries are loaded only for their driver.
                       TCP_NODELAY is on for all (amqplib's and mqtt.js's default
                       is off).
  --mode MODE          client style (research/anchors-measured.md's modes):
                         redis naive      LPUSH / RPOP awaited one by one
                         redis pipelined  pipelines of 1000 LPUSH / RPOP, 2 in flight
                         redis batch      LPUSH of 1000 values / RPOP key 1000, 2 in
                                          flight (default for redis)
                         amqp naive       publish + await its confirm, then
                                          basic.get + ack, one message at a time
                         amqp pipelined   1000 unconfirmed publishes in flight;
                                          consume with prefetch 1000, ack each
                                          (default for amqp)
                         stomp pipelined, mqtt pipelined  their only mode
                         kafka kcat       librdkafka's kcat -P / -C -e (so the
                                          client is not the bottleneck); 100
                                          batches of 1000 in flight (default)
                         kafka kafkajs    kafkajs producer.send per batch (4 in
                                          flight), consumer group eachBatch
                         transport batch  the only transport mode
  --broker-pid PID     also record that process's CPU per phase and RSS before /
                       peak per size (Linux /proc; the peak is reset per size by
                       writing 5 to /proc/PID/clear_refs where permitted)
  --count N            messages per size (default 1,000,000; 1e6, 1M, 500k accepted)
  --count-for S=N,...  per-size override, e.g. 10240=200000
  --sizes LIST         payload sizes in bytes, >= 10 (default 128,512,1024,10240)
  --storage KIND       memory | file (default memory)
  --data DIR           data directory for --storage file (default: a fresh temp
                       directory, removed afterwards unless --keep)
  --keep               keep the temp data directory
  --fsync POLICY       always | interval | never, for --storage file (default
                       interval: written to the OS at once, fsynced every 200 ms,
                       like the non-durable brokers of the anchors; use always to
                       compare with RabbitMQ durable + confirms)
  --target URL         any connect() URL (e.g. memory://, file:///tmp/q?fsync=always);
                       replaces --storage/--data/--fsync. Required for --driver
                       redis|amqp|stomp|mqtt|kafka (their server's URL)
  --publishers N       concurrent publish loops (default 1; 2 for redis pipelined /
                       batch and amqp pipelined: the modes' "2 in flight")
  --batch N            messages per publish call (default 1000); also how many
                       un-awaited acks are settled at once (transport driver)
  --prefetch N         subscriber prefetch (default 1000; transport driver)
  --durable            amqp driver: a durable queue and persistent messages
                       (delivery-mode 2) instead of a non-durable queue with
                       transient ones; RabbitMQ then writes every message to
                       its message store before confirming it
  --ack MODE           transport driver: bulk: ack() every delivery without
                       awaiting, settle every --batch and before each mark
                       (default); each: await every ack
  --read MODE          transport driver: each: for await over the subscription,
                       one delivery per step (default); batches: over
                       subscription.batches(), everything arrived per step
  --reuse-payloads     recycle each batch's memory after its publish resolved
                       (only the digits are re-stamped): removes the harness's
                       cost of filling fresh memory (~0.8 GB/s), valid for
                       transports that copy bodies before confirming (memory://,
                       file://); a violation shows up as loss/duplicates
  --warmup N|P%        before each size, enqueue and dequeue N messages of it (or
                       P % of its count), verified and untimed, on a topic of
                       their own, so the timed run measures compiled code in
                       broker and client (default 0: none, as the source article);
                       give every compared broker the same warm-up
  --idle-timeout SEC   dequeue gives up after SEC seconds without a message and
                       reports the rest as lost (default 30)
  --json FILE          write every result (all marks, rates, RSS, verification)
  --svg FILE           write an SVG chart of the cumulative time per 10 % of each
                       phase and size (bench/chart.mjs charts several runs, with
                       ratios to the real broker)
  --quiet              no progress output
  -h, --help           show this help

Output: per size, the 10 cumulative marks of each phase, msg/s and MB/s
(MB = 10^6 payload bytes), flatness = time of the last 10 % / time of the
first 10 % (target <= 1.5), the process RSS after each phase and its peak
(the peak cannot be reset per size in-process); then a table.

Exit codes: 0 all sizes verified, 1 loss/duplicate or engine error, 2 usage.
`;

const OPTIONS = {
  count: { type: 'string' },
  'count-for': { type: 'string' },
  sizes: { type: 'string' },
  storage: { type: 'string' },
  data: { type: 'string' },
  keep: { type: 'boolean' },
  fsync: { type: 'string' },
  target: { type: 'string' },
  driver: { type: 'string' },
  mode: { type: 'string' },
  'broker-pid': { type: 'string' },
  publishers: { type: 'string' },
  batch: { type: 'string' },
  prefetch: { type: 'string' },
  ack: { type: 'string' },
  read: { type: 'string' },
  'idle-timeout': { type: 'string' },
  warmup: { type: 'string' },
  'reuse-payloads': { type: 'boolean' },
  durable: { type: 'boolean' },
  json: { type: 'string' },
  svg: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

interface BenchConfig {
  seed: SeedOptions;
  driver: DriverKind;
  mode: DriverMode;
  /** Where to connect; undefined = a temp directory to create. */
  target: string | undefined;
  storage: 'memory' | 'file' | 'target';
  dataDir: string | undefined;
  fsync: Fsync | undefined;
  keep: boolean;
  /** amqp driver: durable queue, persistent messages. */
  durable: boolean;
  json: string | undefined;
  svg: string | undefined;
  quiet: boolean;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function parseSizes(raw: string): number[] {
  const sizes = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => parseCount(CMD, '--sizes', s, 10));
  if (sizes.length === 0) throw new UsageError(CMD, '--sizes needs at least one size');
  return sizes;
}

function parseWarmup(raw: string | undefined): SeedOptions['warmup'] {
  if (raw === undefined) return 0;
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(raw);
  if (pct === null) return parseCount(CMD, '--warmup', raw, 0);
  const fraction = Number(pct[1]) / 100;
  if (!(fraction <= 1)) throw new UsageError(CMD, `--warmup percentage must be at most 100%, got "${raw}"`);
  return { fraction };
}

function parseCountFor(raw: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const part of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const [size, count, more] = part.split('=');
    if (size === undefined || count === undefined || more !== undefined) throw new UsageError(CMD, `--count-for expects SIZE=COUNT, got "${part}"`);
    m.set(parseCount(CMD, '--count-for', size, 10), parseCount(CMD, '--count-for', count, 10));
  }
  return m;
}

export function resolveBenchConfig(argv: readonly string[]): BenchConfig {
  const v = parseFlags(CMD, argv, OPTIONS);
  const target = str(v.target);
  const storageRaw = str(v.storage);
  if (target !== undefined) {
    for (const f of ['storage', 'data', 'fsync', 'keep'] as const) {
      if (v[f] !== undefined) throw new UsageError(CMD, `--${f} cannot be combined with --target (put options in the URL)`);
    }
  }
  let storage: BenchConfig['storage'] = 'memory';
  if (target !== undefined) storage = 'target';
  else if (storageRaw !== undefined) {
    if (storageRaw !== 'memory' && storageRaw !== 'file') throw new UsageError(CMD, `--storage must be memory or file, got "${storageRaw}"`);
    storage = storageRaw;
  } else if (v.data !== undefined) storage = 'file';
  if (storage === 'memory') {
    for (const f of ['data', 'fsync', 'keep'] as const) {
      if (v[f] !== undefined) throw new UsageError(CMD, `--${f} needs --storage file`);
    }
  }
  const driverRaw = str(v.driver) ?? 'transport';
  if (!(driverRaw in DRIVER_MODES)) throw new UsageError(CMD, `--driver must be transport, raw, redis, amqp, stomp, mqtt or kafka, got "${driverRaw}"`);
  const driver = driverRaw as DriverKind;
  const modes = DRIVER_MODES[driver];
  const modeRaw = str(v.mode) ?? (driver === 'kafka' ? 'kcat' : driver === 'redis' || driver === 'transport' || driver === 'raw' ? 'batch' : 'pipelined');
  if (!(modes as readonly string[]).includes(modeRaw)) throw new UsageError(CMD, `--mode for --driver ${driver} must be ${modes.join(' or ')}, got "${modeRaw}"`);
  const mode = modeRaw as DriverMode;
  if (driver !== 'transport') {
    if (target === undefined) throw new UsageError(CMD, `--driver ${driver} needs --target URL (the ${PROTOCOL_NAME[driver]} server to measure)`);
    for (const f of ['storage', 'data', 'fsync', 'keep', 'prefetch', 'ack', 'read'] as const) {
      if (driver === 'raw' && f === 'prefetch') continue;
      if (v[f] !== undefined) throw new UsageError(CMD, `--${f} applies to --driver transport only`);
    }
  }
  if (v.durable !== undefined && driver !== 'amqp') throw new UsageError(CMD, '--durable applies to --driver amqp only');
  const defaults = modeDefaults(driver, mode);
  const fsyncRaw = str(v.fsync);
  const ack = str(v.ack) ?? SEED_DEFAULTS.ack;
  if (ack !== 'bulk' && ack !== 'each') throw new UsageError(CMD, `--ack must be bulk or each, got "${ack}"`);
  const read = str(v.read) ?? 'each';
  if (read !== 'each' && read !== 'batches') throw new UsageError(CMD, `--read must be each or batches, got "${read}"`);
  const countRaw = str(v.count);
  const seed: SeedOptions = {
    count: countRaw === undefined ? SEED_DEFAULTS.count : parseCount(CMD, '--count', countRaw, 10),
    countFor: v['count-for'] === undefined ? undefined : parseCountFor(str(v['count-for']) ?? ''),
    sizes: v.sizes === undefined ? SEED_DEFAULTS.sizes : parseSizes(str(v.sizes) ?? ''),
    batch: v.batch === undefined ? defaults.batch : parseCount(CMD, '--batch', str(v.batch) ?? '', 1),
    publishers: v.publishers === undefined ? defaults.publishers : parseCount(CMD, '--publishers', str(v.publishers) ?? '', 1),
    prefetch: v.prefetch === undefined ? SEED_DEFAULTS.prefetch : parseCount(CMD, '--prefetch', str(v.prefetch) ?? '', 1),
    ack,
    read,
    reusePayloads: v['reuse-payloads'] === true,
    warmup: parseWarmup(str(v.warmup)),
    idleTimeoutMs: v['idle-timeout'] === undefined ? SEED_DEFAULTS.idleTimeoutMs : parseSeconds(str(v['idle-timeout']) ?? ''),
    // Unique per run so a persistent target never mixes in an earlier run's messages.
    topicPrefix: `omnibus-bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
    group: SEED_DEFAULTS.group,
    ...(v['broker-pid'] === undefined ? {} : { brokerPid: parseCount(CMD, '--broker-pid', str(v['broker-pid']) ?? '', 1) }),
  };
  return {
    seed,
    driver,
    mode,
    target,
    storage,
    dataDir: storage === 'file' && v.data !== undefined ? path.resolve(str(v.data) ?? '') : undefined,
    fsync: storage === 'file' ? (fsyncRaw === undefined ? DEFAULT_BENCH_FSYNC : parseFsync(CMD, '--fsync', fsyncRaw)) : undefined,
    keep: v.keep === true,
    durable: v.durable === true,
    json: str(v.json),
    svg: str(v.svg),
    quiet: v.quiet === true,
  };
}

function parseSeconds(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(CMD, `--idle-timeout must be a positive number of seconds, got "${raw}"`);
  return n * 1000;
}

/** Progress on stderr: a redrawn bar on a terminal, else one line at most every 2 s. */
class ProgressView {
  readonly #out: OutStream;
  readonly #tty: boolean;
  readonly #enabled: boolean;
  #lastAt = 0;
  #drawn = false;
  constructor(out: OutStream, quiet: boolean) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#enabled = !quiet;
  }
  update(p: SeedProgress): void {
    if (!this.#enabled) return;
    const now = Date.now();
    const final = p.done >= p.total;
    if (now - this.#lastAt < (this.#tty ? 100 : 2000) && !(this.#tty && final)) return;
    this.#lastAt = now;
    const pct = p.total > 0 ? p.done / p.total : 1;
    const rate = p.elapsedSec > 0 ? p.done / p.elapsedSec : 0;
    const where = `[${p.sizeIndex + 1}/${p.sizeCount}] ${p.size} B ${p.phase}`;
    const nums = `${fmtInt(p.done)}/${fmtInt(p.total)} ${(pct * 100).toFixed(0).padStart(3)}% ${fmtInt(rate)} msg/s ${p.elapsedSec.toFixed(1)} s`;
    if (this.#tty) {
      const width = 24;
      const filled = Math.min(width, Math.floor(pct * width));
      this.#out.write(`\r\x1b[K${where} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${nums}`);
      this.#drawn = true;
    } else {
      this.#out.write(`bench: ${where} ${nums}\n`);
    }
  }
  /** Erases the bar before other output shares the terminal. */
  clear(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K');
    this.#drawn = false;
  }
}

export async function runBench(argv: readonly string[], io: CliIO, version: string): Promise<number> {
  const cfg = resolveBenchConfig(argv);

  let tempDir: string | undefined;
  let url: string;
  if (cfg.storage === 'target') url = cfg.target ?? 'memory://';
  else if (cfg.storage === 'memory') url = 'memory://';
  else {
    const dir = cfg.dataDir ?? (tempDir = await mkdtemp(path.join(os.tmpdir(), 'omnibus-bench-')));
    const u = pathToFileURL(dir);
    u.searchParams.set('fsync', cfg.fsync ?? DEFAULT_BENCH_FSYNC);
    url = u.toString();
  }

  const progress = new ProgressView(io.stderr, cfg.quiet);
  const results: SizeResult[] = [];
  const startedAt = new Date().toISOString();
  const s = cfg.seed;
  let transport: Transport | undefined;
  let driver: BenchDriver | undefined;
  let failure: string | undefined;
  // A driver's name can change during the run (the stomp driver counts re-subscriptions after a
  // stalled subscription): printed again at the end when it did.
  let nameAtStart: string | undefined;
  const loadavgAtStart = os.loadavg();
  try {
    if (cfg.driver === 'transport') {
      const { connect } = await loadEngine();
      transport = await connect(url);
      driver = transportDriver(transport, { group: s.group, prefetch: s.prefetch, ack: s.ack, ackBatch: s.batch, read: s.read ?? 'each' });
    } else if (cfg.driver === 'raw') {
      const { rawDriver } = await import('../../bench/drivers/raw.js');
      driver = await rawDriver(url, { group: s.group, prefetch: s.prefetch, ackBatch: s.batch });
    } else {
      const { openProtocolDriver } = await import('../../bench/drivers/index.js');
      driver = await openProtocolDriver(cfg.driver, url, cfg.mode, { durable: cfg.durable });
    }
    nameAtStart = driver.name;
    const maxPayload = driver.maxPayload;
    const tooBig = s.sizes.find((size) => size > maxPayload);
    if (tooBig !== undefined) throw new UsageError(CMD, `size ${tooBig} exceeds the target's maximum payload of ${maxPayload} bytes`);
    io.stdout.write(
      `omnibus ${version} bench: ${driver.name}; target ${redactUrl(url)}${tempDir ? ' (temp dir)' : ''}${s.brokerPid === undefined ? '' : `; broker pid ${s.brokerPid}`}; sizes ${s.sizes.join(',')}; ${fmtInt(s.count)} msgs` +
        `${s.countFor?.size ? ` (${[...s.countFor].map(([k, n]) => `${k}=${fmtInt(n)}`).join(', ')})` : ''}; batch ${s.batch}; publishers ${s.publishers}${cfg.driver === 'transport' ? `; prefetch ${s.prefetch}; ack ${s.ack}; read ${s.read ?? 'each'}` : ''}${s.reusePayloads ? '; reused payload buffers' : ''}${s.warmup ? `; warm-up ${typeof s.warmup === 'number' ? fmtInt(s.warmup) : `${+(s.warmup.fraction * 100).toFixed(2)} %`} per size` : ''}\n`,
    );
    const busy = busyWarning();
    if (busy !== undefined && !cfg.quiet) io.stderr.write(busy + '\n');
    await runSeed(driver, {
      ...s,
      onProgress: (p) => progress.update(p),
      onSize: (r) => {
        results.push(r);
        progress.clear();
        io.stdout.write(formatSizeResult(r));
      },
    });
  } catch (e) {
    progress.clear();
    if (e instanceof SeedVerificationError) {
      failure = e.message;
      throw new CommandError(`bench FAILED, ${e.message}`);
    }
    failure = e instanceof Error ? e.message : String(e);
    throw e;
  } finally {
    // Results first (a failed run's table shows what was measured), then cleanup.
    if (results.length > 0) io.stdout.write('\n' + formatTable(results));
    if (driver !== undefined && nameAtStart !== undefined && driver.name !== nameAtStart) io.stdout.write(`driver at the end: ${driver.name}\n`);
    if (cfg.json !== undefined) {
      const doc = buildJsonReport(
        {
          version,
          driver: cfg.driver,
          mode: cfg.mode,
          target: redactUrl(url),
          loadavgAtStart,
          storage: cfg.storage,
          fsync: cfg.fsync,
          startedAt,
          finishedAt: new Date().toISOString(),
          ok: failure === undefined && results.length === s.sizes.length,
          error: failure,
        },
        s,
        results,
      );
      try {
        await writeFile(cfg.json, JSON.stringify(doc, null, 2) + '\n');
        io.stdout.write(`results written to ${cfg.json}\n`);
      } catch (e) {
        io.stderr.write(`omnibus: cannot write ${cfg.json}: ${e instanceof Error ? e.message : String(e)}\n`);
        failure ??= 'json';
      }
    }
    if (cfg.svg !== undefined && results.length > 0) {
      try {
        const { renderChart } = await import('../../bench/chart.js');
        const label = `${cfg.driver === 'transport' ? 'Omnibus' : PROTOCOL_NAME[cfg.driver]} ${cfg.mode} ${redactUrl(url)}`;
        await writeFile(cfg.svg, renderChart([{ label, results }], { title: `omnibus bench: ${label}` }));
        io.stdout.write(`chart written to ${cfg.svg}\n`);
      } catch (e) {
        io.stderr.write(`omnibus: cannot write ${cfg.svg}: ${e instanceof Error ? e.message : String(e)}\n`);
        failure ??= 'svg';
      }
    }
    await driver?.close();
    await transport?.close();
    if (tempDir !== undefined) {
      if (cfg.keep) io.stdout.write(`data kept in ${tempDir}\n`);
      else await rm(tempDir, { recursive: true, force: true });
    }
  }
  return failure === undefined ? 0 : 1;
}
