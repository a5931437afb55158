/**
 * The transports on real brokers, and the cost of the Omnibus API layer over the bare client:
 * starts a real redis-server and a real RabbitMQ (test/conformance/brokers.ts: free loopback
 * ports, temp dirs, stopped by pid), then runs `omnibus bench` strictly one at a time:
 *
 *   --driver transport --target memory://            the embedded engine (no network)
 *   --driver transport --target file://…?fsync=interval
 *   --driver transport --target redis://…  and  --driver raw --target redis://…
 *   --driver transport --target amqp://…   and  --driver raw --target amqp://…
 *   --driver transport --target kafka://…  and  --driver raw --target kafka://…
 *
 * There is no Kafka broker on this machine: the kafka target is Omnibus's own Kafka listener,
 * `omnibus serve` (file storage, fsync interval, only the Kafka listener) on a free loopback port
 * in a process of its own, stopped by pid (test/conformance/brokers.ts startOmnibus).
 *
 * transport and raw alternate, `--rounds` times each, on the same broker, with the same count and
 * sizes; the table gives the median of each and their ratio, plus the client CPU per message
 * (which the machine's load disturbs far less than wall time) and the load average of each run.
 *
 *   npx tsc -p . && node --import tsx bench/transport-overhead.ts [--count 100000] [--amqp-count 20000]
 *       [--sizes 128,1024,10240] [--rounds 3] [--targets redis,amqp,kafka,embedded] [--warm] [--out .bench]
 *
 * --warm: every bench process runs each size twice (`--sizes 128,128,1024,1024`: the second pass
 * publishes N more records to the same topic and its consumer, in the same group, reads those),
 * and the tables are given for both passes. The first pass is what a fresh process costs: client
 * connections, group join and JIT compilation included (on the kafka:// transport ~0.2 s of CPU
 * more than bare kafkajs in the first 20,000 records: more code to compile); the second is the
 * same work in a process that has run it once. Both drivers run exactly the same passes.
 *
 * Writes <out>/transport-overhead-<stamp>.json (every bench report) and prints markdown.
 *
 * --pair (redis and kafka targets): the consume overhead measured in concurrent pairs, which is
 * what decides the percentage. Sequential runs of one driver minutes apart differ by ±20 % in
 * CPU per message on this shared 2-core machine, more than the overhead being measured; two
 * processes draining side by side see the same load. Per size, `count` records are seeded once
 * through the raw client (the records the transport publishes: redis fields b, i, ts; kafka value
 * + x-omnibus-id); then each round starts a raw-client process and a transport process
 * (`--child`, drivers from dist/, as `omnibus bench` runs them) that drain those same records
 * `--passes` times (default 3) each, every pass as a fresh consumer group, both passes started
 * together (each child waits for a line on stdin; which one is told first alternates by round).
 * Pass 1 is a fresh process (connections, group join, JIT compilation); passes 2.. are the same
 * work in a warm process. The figure is each process's user + system CPU (all threads: V8's GC
 * helpers and background compiler included) from just before dequeue() to its return, per
 * message; the overhead is the median over the rounds of the per-round ratio, with its range.
 * `--control` pairs the raw client with a second raw client instead: the noise floor of the ratio.
 * `--read batches` makes the transport process read with `for await` over `sub.batches()` (one
 * step per batch of what has arrived) instead of over the subscription (one step per delivery).
 * `--child-node-flags "<flags>"` starts both drain processes of every pair with those Node/V8
 * flags (the same for both), e.g. `--single-threaded-gc` to see how much of the overhead is the
 * CPU of V8's parallel scavenger threads.
 *
 *   npx tsc -p . && node --import tsx bench/transport-overhead.ts --pair --targets redis,kafka
 *       --sizes 128,1024 --count 200000 --rounds 5 [--passes 3] [--control] [--read batches]
 *
 * Writes <out>/consume-pairs-<stamp>.json and prints markdown.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startOmnibus, startRabbit, startRedis, type Broker } from '../test/conformance/brokers.js';
import { runBench } from './bench-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const here = fileURLToPath(import.meta.url);

// ---- --child: one drain process of a consume pair (see --pair above); prints one JSON line.
if (process.argv.includes('--child')) {
  const a = process.argv.slice(2);
  const get = (name: string): string => a[a.indexOf(`--${name}`) + 1]!;
  const buildRoot = a.includes('--build-root') ? get('build-root') : root;
  const read = get('read') === 'batches' ? 'batches' : 'each';
  process.stdout.write(JSON.stringify(await drainChild(get('child'), buildRoot, get('url'), get('topic'), Number(get('size')), Number(get('count')), get('group'), Number(get('passes')), read)) + '\n');
  process.exit(0);
}

/** User + system CPU of this process's main thread (/proc/self/task/PID/stat, 10 ms ticks), µs; NaN off Linux. */
function mainThreadCpuUs(): number {
  try {
    const st = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

interface PassResult {
  ok: boolean;
  /** The part of cpuUsPerMsg spent on the main thread; the rest is V8's GC helpers and background compiler (and libuv's pool). */
  mainUsPerMsg: number;
  /** User + system CPU of this process from just before driver.dequeue() to its return, µs per message. */
  cpuUsPerMsg: number;
  /** The same over the last 90 % of the messages (join, first fetches and their compilation left out). */
  steadyUsPerMsg: number;
  msgsPerSec: number;
}

/**
 * Drains `topic` `passes` times in this process, each time as a fresh group `<group>-<pass>`, with
 * the bench's own drivers from dist/ (what `omnibus bench` runs): the transport driver (`for await`
 * + ack(), prefetch 1000, acks awaited every 1000) on one connected transport, or the raw driver
 * (a new one per pass: its group is an option). Each pass reads the same seeded records into the
 * harness's SeedVerifier, with its settle points at every 10 %.
 */
async function drainChild(kind: string, buildRoot: string, url: string, topic: string, size: number, n: number, group: string, passes: number, read: 'each' | 'batches'): Promise<PassResult[]> {
  const dist = (m: string): string => path.join(buildRoot, 'dist', m);
  const seed = (await import(dist('bench/seed.js'))) as typeof import('../src/bench/seed.js');
  const { rawDriver } = (await import(dist('bench/drivers/raw.js'))) as typeof import('../src/bench/drivers/raw.js');
  const { transportDriver } = (await import(dist('bench/drivers/transport.js'))) as typeof import('../src/bench/drivers/transport.js');
  const { connect } = (await import(dist('index.js'))) as typeof import('../src/index.js');
  const transport = kind === 'transport' ? await connect(url) : undefined;
  const out: PassResult[] = [];
  // Each pass starts when the parent says so (a line on stdin), so both processes of a pair drain
  // at the same time rather than one draining while the other still loads its modules.
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  try {
    for (let p = 1; p <= passes; p++) {
      const opts = { group: `${group}-${p}`, prefetch: 1000, ackBatch: 1000 };
      const driver = transport ? transportDriver(transport, { ...opts, ack: 'bulk', read }) : await rawDriver(url, opts);
      const verifier = new seed.SeedVerifier(n, size);
      process.stdout.write('ready\n');
      // stdin closed: the parent is gone (or gave up on this pair).
      if ((await lines.next()).done) process.exit(1);
      let c0 = process.cpuUsage();
      const cpuUs = (): number => {
        const c = process.cpuUsage(c0);
        return c.user + c.system;
      };
      const idle = new AbortController();
      const watchdog = setTimeout(() => idle.abort(), 120_000);
      const { sink, marks, thresholds } = seed.markingSink(verifier, idle.signal, cpuUs);
      c0 = process.cpuUsage();
      const main0 = mainThreadCpuUs();
      const t0 = performance.now();
      await driver.dequeue(topic, sink);
      const cpu = cpuUs();
      const main = mainThreadCpuUs() - main0;
      const wallMs = performance.now() - t0;
      clearTimeout(watchdog);
      if (!transport) await driver.close();
      const ok = verifier.result().ok && marks.length === 10;
      out.push({ ok, cpuUsPerMsg: cpu / n, mainUsPerMsg: main / n, steadyUsPerMsg: ok ? (marks[9]! - marks[0]!) / (n - thresholds[0]!) : NaN, msgsPerSec: n / (wallMs / 1000) });
      if (!ok) break;
    }
  } finally {
    await transport?.close();
  }
  return out;
}
const argv = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const count = Number(flag('count', '100000'));
// RabbitMQ with durable queues and persistent messages runs at a few thousand msg/s here (it
// syncs to disk): a smaller count keeps the run within minutes.
const amqpCount = Number(flag('amqp-count', '20000'));
const sizes = flag('sizes', '128,1024,10240');
const rounds = Number(flag('rounds', '3'));
const targets = flag('targets', 'embedded,redis,amqp,kafka').split(',');
const warm = argv.includes('--warm');
/** Consume pairs instead of sequential bench runs (see the header). */
const pair = argv.includes('--pair');
/** With --pair: drains per process (the first is the fresh one). */
const passes = Number(flag('passes', '3'));
/** With --pair: the raw client against a second raw client, the noise floor of the ratio. */
const control = argv.includes('--control');
/** --read batches: the transport child drains with `for await` over `sub.batches()` instead of over the subscription. */
const readMode = flag('read', 'each');
/** With --pair: V8/Node flags for every drain process of a pair (e.g. "--single-threaded-gc"), space-separated. */
const childNodeFlags = flag('child-node-flags', '').split(' ').filter((f) => f !== '');
if (readMode !== 'each' && readMode !== 'batches') throw new Error(`--read must be each or batches, got ${readMode}`);
/** With --pair: a third process per round runs the transport of this checkout (its dist/, built), for A/B. */
const baseRoot = argv.includes('--base-root') ? path.resolve(flag('base-root', '')) : undefined;
/** What each bench process is given: with --warm every size twice in a row. */
const benchSizes = warm ? sizes.split(',').flatMap((x) => [x, x]).join(',') : sizes;
const out = path.resolve(root, flag('out', '.bench'));
mkdirSync(out, { recursive: true });

interface Phase {
  msgsPerSec: number;
  cpuSec: number;
  brokerCpuSec?: number;
}
interface SizeResult {
  size: number;
  count: number;
  enqueue: Phase;
  dequeue: Phase;
  loadavg?: number[];
}
interface Report {
  driver: string;
  target: string;
  ok: boolean;
  loadavgAtStart: number[];
  results: SizeResult[];
}

function bench(driver: string, target: string, brokerPid: number | undefined, n = count): Promise<Report> {
  return runBench<Report>({ driver, target, count: n, sizes: benchSizes, brokerPid });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const log = (s: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const pct = (a: number, b: number): string => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(0)} %`;
const pct1 = (a: number, b: number): string => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)} %`;

if (pair) {
  await runPairs();
  process.exit(0);
}

interface PairRow {
  target: string;
  size: number;
  round: number;
  load: number;
  /** Each child's passes; `b` is the transport (or, with --control, a second raw client). */
  a: PassResult[];
  b: PassResult[];
  /** With --base-root: the transport of that checkout, in a third process. */
  c?: PassResult[];
}

/** A drain process of a pair: `ready()` resolves when it waits to start its next pass, `go()` starts it. */
interface Child {
  ready(): Promise<void>;
  go(): void;
  readonly done: Promise<PassResult[]>;
}

function child(kind: string, url: string, topic: string, size: number, group: string, buildRoot = root): Child {
  const args = [...childNodeFlags, '--import', 'tsx', here, '--child', kind, '--build-root', buildRoot, '--url', url, '--topic', topic, '--size', String(size), '--count', String(count), '--group', group, '--passes', String(passes), '--read', readMode];
  const c = spawn(process.execPath, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let readyLines = 0;
  let waiting: { n: number; resolve: () => void } | undefined;
  let last = '';
  let se = '';
  createInterface({ input: c.stdout }).on('line', (l) => {
    if (l === 'ready') {
      readyLines++;
      if (waiting && readyLines >= waiting.n) {
        const w = waiting;
        waiting = undefined;
        w.resolve();
      }
    } else last = l;
  });
  c.stderr.on('data', (b: Buffer) => (se += b.toString()));
  let asked = 0;
  const done = new Promise<PassResult[]>((resolve, reject) => {
    c.on('close', (code) => {
      try {
        const r = JSON.parse(last) as PassResult[];
        if (code !== 0 || r.length !== passes || !r.every((x) => x.ok)) reject(new Error(`${kind} drain failed (exit ${code}): ${se.slice(-2000)}`));
        else resolve(r);
      } catch (e) {
        reject(new Error(`${kind} drain wrote no result (exit ${code}): ${se.slice(-2000)} ${String(e)}`));
      }
    });
  });
  return {
    ready: () => {
      const n = ++asked;
      if (readyLines >= n) return Promise.resolve();
      // A child that fails before it is ready ends the wait with its error.
      return Promise.race([new Promise<void>((resolve) => (waiting = { n, resolve })), done.then(() => undefined)]);
    },
    go: () => void c.stdin.write('go\n'),
    done,
  };
}

async function runPairs(): Promise<void> {
  const seed = (await import(path.join(root, 'dist/bench/seed.js'))) as typeof import('../src/bench/seed.js');
  const { rawDriver } = (await import(path.join(root, 'dist/bench/drivers/raw.js'))) as typeof import('../src/bench/drivers/raw.js');
  const rows: PairRow[] = [];
  const started: Broker[] = [];
  const bKind = control ? 'raw' : 'transport';
  try {
    for (const name of targets.filter((t) => t === 'redis' || t === 'kafka')) {
      const b = name === 'redis' ? await startRedis() : await startOmnibus(['kafka'], { fsync: 'interval' });
      if (typeof b === 'string') {
        log(`${name}: skipped (${b})`);
        continue;
      }
      started.push(b);
      const label = name === 'redis' ? 'redis-server' : 'omnibus serve (Kafka listener)';
      for (const size of sizes.split(',').map(Number)) {
        // Seeded once, through the raw client: the records the transport publishes (redis: fields
        // b, i, ts; kafka: value + x-omnibus-id), read by every drain of every round.
        const topic = `pair-${size}`;
        const d = await rawDriver(b.url, { group: 'seed', prefetch: 1000, ackBatch: 1000 });
        await d.setup(topic);
        const template = seed.payloadTemplate(size);
        for (let i = 0; i < count; i += 1000) await d.enqueue(topic, seed.buildBatch(template, i, Math.min(1000, count - i)));
        await d.close();
        for (let r = 1; r <= rounds; r++) {
          const g = `pair-${size}-${r}`;
          const ca = child('raw', b.url, topic, size, `${g}-a`);
          const cb = child(bKind, b.url, topic, size, `${g}-b`);
          const cc = baseRoot === undefined ? undefined : child('transport', b.url, topic, size, `${g}-c`, baseRoot);
          const all = cc ? [ca, cb, cc] : [ca, cb];
          // All start each pass together; which is told first rotates by round.
          const order = all.map((_, i) => all[(i + r) % all.length]!);
          for (let p = 0; p < passes; p++) {
            await Promise.all(all.map((c) => c.ready()));
            for (const c of order) c.go();
          }
          const [a, bb, c3] = await Promise.all(all.map((c) => c.done));
          const row: PairRow = { target: label, size, round: r, load: os.loadavg()[0]!, a: a!, b: bb!, ...(c3 ? { c: c3 } : {}) };
          rows.push(row);
          const q = (i: number): string =>
            `${row.b[i]!.cpuUsPerMsg.toFixed(2)} / ${row.a[i]!.cpuUsPerMsg.toFixed(2)} (${pct1(row.b[i]!.cpuUsPerMsg, row.a[i]!.cpuUsPerMsg)})` +
            (row.c ? ` base ${row.c[i]!.cpuUsPerMsg.toFixed(2)} (${pct1(row.c[i]!.cpuUsPerMsg, row.a[i]!.cpuUsPerMsg)})` : '');
          log(`${label} ${size} B round ${r}: ${bKind} / raw µs/msg: ${row.a.map((_, i) => `pass ${i + 1} ${q(i)}`).join(', ')}; load ${row.load.toFixed(1)}`);
        }
      }
      await b.stop();
      started.splice(started.indexOf(b), 1);
    }
  } finally {
    for (const b of started) await b.stop();
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(out, `consume-pairs-${stamp}.json`);
  writeFileSync(file, JSON.stringify({ count, sizes, rounds, passes, control, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model }, rows }, null, 2));
  const bName = control ? 'raw (2nd)' : readMode === 'batches' ? 'transport (batches)' : 'transport';
  const lines = [
    `Consume pairs: ${fmt(count)} records per drain, ${rounds} rounds, ${passes} passes per process; in each round the raw client and the ${bName} drain the same seeded records at the same time, each in a process of its own with fresh groups. CPU = user + system of the draining process from just before dequeue() to its return (connection of the group's reader, group join and the drain itself). Ratios are per round (the two processes ran side by side), then the median and the range over the rounds.`,
    '',
    `| broker | size B | pass | CPU µs/msg ${bName} / raw (medians) | overhead: median of the rounds' ratios | range | steady (last 90 %) overhead | main thread µs/msg ${bName} / raw | deq msg/s ${bName} / raw | load |`,
    '| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |',
  ];
  const warmOf = (xs: PassResult[], f: (p: PassResult) => number): number => median(xs.slice(1).map(f));
  for (const target of [...new Set(rows.map((r) => r.target))]) {
    for (const size of sizes.split(',').map(Number)) {
      const rs = rows.filter((r) => r.target === target && r.size === size);
      if (rs.length === 0) continue;
      const kinds: [string, (xs: PassResult[], f: (p: PassResult) => number) => number][] = [['1 (fresh process)', (xs, f) => f(xs[0]!)]];
      if (passes > 1) kinds.push([passes === 2 ? '2 (warm)' : `2–${passes} (warm; median)`, warmOf]);
      for (const [pname, pick] of kinds) for (const side of rs[0]!.c ? (['b', 'c'] as const) : (['b'] as const)) {
        const sideOf = (r: PairRow): PassResult[] => (side === 'c' ? r.c! : r.b);
        const cb = rs.map((r) => pick(sideOf(r), (p) => p.cpuUsPerMsg));
        const ca = rs.map((r) => pick(r.a, (p) => p.cpuUsPerMsg));
        const ratios = rs.map((r) => pick(sideOf(r), (p) => p.cpuUsPerMsg) / pick(r.a, (p) => p.cpuUsPerMsg));
        const steady = rs.map((r) => pick(sideOf(r), (p) => p.steadyUsPerMsg) / pick(r.a, (p) => p.steadyUsPerMsg));
        const rate = (f: (r: PairRow) => PassResult[]): string => fmt(median(rs.map((r) => pick(f(r), (p) => p.msgsPerSec))));
        const sorted = [...ratios].sort((x, y) => x - y);
        lines.push(
          `| ${target}${side === 'c' ? ` (base: ${baseRoot})` : ''} | ${size} | ${pname} | ${median(cb).toFixed(2)} / ${median(ca).toFixed(2)} | ${pct1(median(ratios), 1)} | ${pct1(sorted[0]!, 1)} … ${pct1(sorted[sorted.length - 1]!, 1)} | ${pct1(median(steady), 1)} | ${median(rs.map((r) => pick(sideOf(r), (p) => p.mainUsPerMsg))).toFixed(2)} / ${median(rs.map((r) => pick(r.a, (p) => p.mainUsPerMsg))).toFixed(2)} | ${rate(sideOf)} / ${rate((r) => r.a)} | ${rs.map((r) => r.load.toFixed(1)).join(', ')} |`,
        );
      }
    }
  }
  process.stdout.write(lines.join('\n') + `\n\n${file}\n`);
}

const runs: { label: string; driver: string; broker: string; report: Report }[] = [];
const brokers: Broker[] = [];
const scratch = mkdtempSync(path.join(os.tmpdir(), 'omnibus-overhead-'));
try {
  if (targets.includes('embedded')) {
    for (let r = 0; r < rounds; r++) {
      for (const [label, url] of [
        ['memory://', 'memory://'],
        ['file:// (fsync interval)', `file://${scratch}/r${r}?fsync=interval`],
      ] as const) {
        log(`${label} round ${r + 1}`);
        runs.push({ label, driver: 'transport', broker: label, report: await bench('transport', url, undefined) });
      }
    }
  }
  const live: [string, () => Promise<Broker | string>][] = [];
  if (targets.includes('redis')) live.push(['redis', startRedis]);
  if (targets.includes('amqp')) live.push(['amqp', startRabbit]);
  if (targets.includes('kafka')) live.push(['kafka', () => startOmnibus(['kafka'], { fsync: 'interval' })]);
  for (const [name, start] of live) {
    const b = await start();
    if (typeof b === 'string') {
      log(`${name}: skipped (${b})`);
      continue;
    }
    brokers.push(b);
    const label = name === 'redis' ? `redis-server ${b.port}` : name === 'amqp' ? `rabbitmq-server ${b.port}` : `omnibus serve kafka ${b.port}`;
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so a load spike does not always land on the same one.
      const order = r % 2 === 0 ? ['transport', 'raw'] : ['raw', 'transport'];
      for (const driver of order) {
        log(`${label} ${driver} round ${r + 1}`);
        runs.push({ label, driver, broker: name, report: await bench(driver, b.url, b.pid(), name === 'amqp' ? amqpCount : count) });
      }
    }
    await b.stop();
    brokers.splice(brokers.indexOf(b), 1);
  }
} finally {
  for (const b of brokers) await b.stop();
  rmSync(scratch, { recursive: true, force: true });
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(out, `transport-overhead-${stamp}.json`);
writeFileSync(file, JSON.stringify({ count, amqpCount, sizes, rounds, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model }, runs }, null, 2));

// ---- markdown
const lines: string[] = [];
/** `pass` 1 is the first run of a size in its process, 2 the second (--warm). */
const stat = (label: string, driver: string, size: number, phase: 'enqueue' | 'dequeue', pass = 1) => {
  const rs = runs.filter((r) => r.label === label && r.driver === driver).map((r) => r.report.results.filter((x) => x.size === size)[pass - 1]!);
  return {
    rate: median(rs.map((x) => x[phase].msgsPerSec)),
    cpuUs: median(rs.map((x) => (x[phase].cpuSec / x.count) * 1e6)),
    load: rs.map((x) => x.loadavg?.[0] ?? 0),
  };
};
/**
 * The dequeue CPU overhead round by round: a round's transport and raw runs were adjacent in time
 * (their order alternates), so their ratio is less disturbed by load changes than the ratio of
 * the medians. Returns the median of the rounds' ratios and their range.
 */
const pairedDeq = (label: string, size: number, pass: number): string => {
  const cpu = (driver: string): number[] =>
    runs
      .filter((r) => r.label === label && r.driver === driver)
      .map((r) => r.report.results.filter((x) => x.size === size)[pass - 1]!)
      .map((x) => x.dequeue.cpuSec / x.count);
  const t = cpu('transport');
  const w = cpu('raw');
  const ratios = t.slice(0, w.length).map((x, i) => x / w[i]!).sort((a, b) => a - b);
  if (ratios.length === 0) return '–';
  return `${pct(median(ratios), 1)} (${pct(ratios[0]!, 1)} … ${pct(ratios[ratios.length - 1]!, 1)})`;
};
const labels = [...new Set(runs.map((r) => r.label))];
lines.push(`count ${fmt(count)} per size (amqp:// ${fmt(amqpCount)}), ${rounds} rounds, median of each; client CPU µs/msg is the bench process's user+sys time per message.`, '');

function tables(pass: number): void {
  lines.push('| target | size B | enq msg/s | deq msg/s | client CPU µs/msg enq / deq | load (1 min) |', '| --- | ---: | ---: | ---: | ---: | --- |');
  for (const label of labels) {
    for (const size of sizes.split(',').map(Number)) {
      const e = stat(label, 'transport', size, 'enqueue', pass);
      const d = stat(label, 'transport', size, 'dequeue', pass);
      lines.push(`| ${label} (transport) | ${size} | ${fmt(e.rate)} | ${fmt(d.rate)} | ${e.cpuUs.toFixed(1)} / ${d.cpuUs.toFixed(1)} | ${d.load.map((x) => x.toFixed(1)).join(', ')} |`);
      if (runs.some((r) => r.label === label && r.driver === 'raw')) {
        const re = stat(label, 'raw', size, 'enqueue', pass);
        const rd = stat(label, 'raw', size, 'dequeue', pass);
        lines.push(`| ${label} (raw client) | ${size} | ${fmt(re.rate)} | ${fmt(rd.rate)} | ${re.cpuUs.toFixed(1)} / ${rd.cpuUs.toFixed(1)} | ${rd.load.map((x) => x.toFixed(1)).join(', ')} |`);
      }
    }
  }
  lines.push('', '| broker | size B | enq transport ÷ raw | deq transport ÷ raw | enq CPU overhead | deq CPU overhead | deq CPU overhead, median of the rounds (range) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const label of labels.filter((l) => runs.some((r) => r.label === l && r.driver === 'raw'))) {
    for (const size of sizes.split(',').map(Number)) {
      const [e, d, re, rd] = [stat(label, 'transport', size, 'enqueue', pass), stat(label, 'transport', size, 'dequeue', pass), stat(label, 'raw', size, 'enqueue', pass), stat(label, 'raw', size, 'dequeue', pass)];
      lines.push(`| ${label} | ${size} | ${(e.rate / re.rate).toFixed(2)} | ${(d.rate / rd.rate).toFixed(2)} | ${pct(e.cpuUs, re.cpuUs)} | ${pct(d.cpuUs, rd.cpuUs)} | ${pairedDeq(label, size, pass)} |`);
    }
  }
}

if (warm) {
  lines.push('**First pass** (a fresh process: connections, group join and JIT compilation included):', '');
  tables(1);
  lines.push('', '**Second pass** (each size again in the same process, N more records):', '');
  tables(2);
} else tables(1);
process.stdout.write(lines.join('\n') + `\n\n${file}\n`);
