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
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOmnibus, startRabbit, startRedis, type Broker } from '../test/conformance/brokers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin', 'omnibus.js');
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
  const json = path.join(os.tmpdir(), `omnibus-overhead-${process.pid}-${Date.now()}.json`);
  const args = [bin, 'bench', '--driver', driver, '--target', target, '--count', String(n), '--sizes', benchSizes, '--json', json, '--quiet'];
  if (brokerPid !== undefined) args.push('--broker-pid', String(brokerPid));
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('close', (code) => {
      try {
        const r = JSON.parse(readFileSync(json, 'utf8')) as Report;
        rmSync(json, { force: true });
        if (code !== 0 || !r.ok) reject(new Error(`bench ${driver} ${target} failed (exit ${code}): ${err.slice(-2000)}`));
        else resolve(r);
      } catch (e) {
        reject(new Error(`bench ${driver} ${target} wrote no report (exit ${code}): ${err.slice(-2000)} ${String(e)}`));
      }
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const log = (s: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

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
const labels = [...new Set(runs.map((r) => r.label))];
lines.push(`count ${fmt(count)} per size (amqp:// ${fmt(amqpCount)}), ${rounds} rounds, median of each; client CPU µs/msg is the bench process's user+sys time per message.`, '');
const pct = (a: number, b: number): string => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(0)} %`;

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
  lines.push('', '| broker | size B | enq transport ÷ raw | deq transport ÷ raw | enq CPU overhead | deq CPU overhead |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const label of labels.filter((l) => runs.some((r) => r.label === l && r.driver === 'raw'))) {
    for (const size of sizes.split(',').map(Number)) {
      const [e, d, re, rd] = [stat(label, 'transport', size, 'enqueue', pass), stat(label, 'transport', size, 'dequeue', pass), stat(label, 'raw', size, 'enqueue', pass), stat(label, 'raw', size, 'dequeue', pass)];
      lines.push(`| ${label} | ${size} | ${(e.rate / re.rate).toFixed(2)} | ${(d.rate / rd.rate).toFixed(2)} | ${pct(e.cpuUs, re.cpuUs)} | ${pct(d.cpuUs, rd.cpuUs)} |`);
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
