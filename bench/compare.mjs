#!/usr/bin/env node
/**
 * Omnibus against the real brokers, same machine, same run: starts a real redis-server and a real
 * RabbitMQ, then `omnibus serve` in memory and on file:// (fsync interval), each on free loopback
 * ports, and runs `omnibus bench --driver redis|amqp --mode ...` against each in turn, strictly
 * one at a time (client and broker share the cores; concurrent runs distort each other). Every
 * broker is started here, measured through --broker-pid (CPU per phase, RSS before / peak per
 * size) and stopped by its pid.
 *
 * Writes .bench/compare-<stamp>.json (every bench report, broker versions, load averages) and
 * .bench/compare-<stamp>.md (tables of Omnibus / real broker ratios), and prints the markdown.
 *
 * Usage (after `npx tsc -p .`, since it runs bin/omnibus.js):
 *   node bench/compare.mjs [--targets redis,rabbitmq,omnibus-memory,omnibus-file]
 *                          [--protocols resp,amqp] [--modes naive,pipelined,batch]
 *                          [--sizes 128,512,1024,10240] [--scale F] [--quick] [--out DIR]
 *                          [--amqp-durable] [--omnibus-fsync always|interval|never]
 *                          [--warmup N|P%]   (bench --warmup, the same for every target)
 *                          [--interleave]
 *   node bench/compare.mjs --report .bench/compare-A.json [.bench/compare-B.json ...]
 *     (tables from earlier runs; a later file's figures replace an earlier one's, so noisy
 *      combinations can be rerun alone with --targets/--modes and merged)
 *
 * --interleave: start every target first and run each mode on all of them back to back (Redis,
 * Omnibus memory://, Omnibus file://), instead of every mode on one target before the next
 * starts. The runs one ratio compares are then seconds apart, not minutes: this machine's load
 * moves within a round (one six-round series had Redis measured at load 2.1 and Omnibus at 2.5–3.0
 * in the same round), and that drift lands in the ratio. The idle brokers stay up meanwhile
 * (redis-server and an idle Node server cost ~0 % CPU; an idle RabbitMQ's schedulers spin a
 * little, so AMQP rounds may prefer the default order).
 *
 * --amqp-durable: the AMQP runs use a durable queue and persistent messages (`bench --durable`),
 * so RabbitMQ writes every message to its message store and confirms it once it is synced;
 * the default is the anchors' non-durable queue with transient messages. --omnibus-fsync sets
 * the file:// server's fsync policy (default interval; `always` confirms after fdatasync, as
 * RabbitMQ does for persistent messages).
 *
 * AMQP runs pass `bench --reuse-payloads`: amqplib copies every body into its frame before
 * sendToQueue returns, so the payload memory of a confirmed batch is stamped again instead of
 * allocating 10 MB of fresh memory per 1,000 × 10 KiB batch, which cost the client ~25 % of its
 * CPU per publish at 10 KiB in an A/B (1.0 → 0.7 s per 20,000). Same for every target.
 *
 * Counts (chosen to keep a full run under ~20 minutes on the 2-vCPU bench box): pipelined and
 * batch 1,000,000 per size at 128/512/1024 B and 200,000 at 10 KiB; naive 100,000 (RESP) and
 * 50,000 (AMQP) per size. --scale F divides every count by F (for a machine shared with other
 * work, where the full counts would take far longer); --quick is --scale 100 (a smoke test).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { freePort, portOpen: canConnect } = await import(path.join(root, 'dist/bench/net.js'));
const { procAlive: alive, procCpuSeconds: procCpu, procRss, procPeakRss, stopPid: stopProc } = await import(path.join(root, 'dist/bench/proc.js'));
/** SIGTERM to one pid, then SIGKILL (logged) if it has not exited within `graceMs`. */
const stopPid = (pid, label, graceMs = 30_000) =>
  stopProc(pid, graceMs, () => log(`${label} (pid ${pid}) ignored SIGTERM for ${graceMs} ms: SIGKILL`));
function procStatus(pid) {
  const rss = procRss(pid);
  return rss === undefined ? undefined : { rss, hwm: procPeakRss(pid) ?? NaN };
}
// OMNIBUS_BIN: another build's bin/omnibus.js (e.g. a private tsc --outDir copy).
const omnibusBin = process.env.OMNIBUS_BIN ?? path.join(root, 'bin', 'omnibus.js');

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
function flag(name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}
const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);

const ALL_TARGETS = ['redis', 'rabbitmq', 'omnibus-memory', 'omnibus-file'];
const amqpDurable = argv.includes('--amqp-durable');
const omnibusFsync = flag('omnibus-fsync', 'interval');
if (!['always', 'interval', 'never'].includes(omnibusFsync)) throw new Error(`--omnibus-fsync must be always, interval or never, got ${omnibusFsync}`);
// --warmup N|P%: passed to every bench run, so each target gets the same untimed warm-up per size.
const warmup = flag('warmup', undefined);
const interleave = argv.includes('--interleave');
const MODES = { resp: ['naive', 'pipelined', 'batch'], amqp: ['naive', 'pipelined'] };

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

function log(line) {
  process.stderr.write(`compare: ${line}\n`);
}

const started = [];

/** Real Redis 7 from Debian: no RDB, no AOF, loopback, foreground (so the child pid is redis). */
async function startRedis(scratch) {
  const port = await freePort();
  const dir = path.join(scratch, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log')], {
    stdio: 'ignore',
  });
  const b = { name: 'redis', label: 'Redis', pid: child.pid, child, url: { resp: `redis://127.0.0.1:${port}` } };
  started.push(b);
  await waitFor('redis-server to accept connections', () => canConnect(port), 15_000);
  b.version = execFileSync('/usr/bin/redis-server', ['--version'], { encoding: 'utf8' }).trim();
  b.stop = () => stopPid(b.pid, 'redis-server');
  return b;
}

function epmdPids() {
  try {
    return execFileSync('pgrep', ['-x', 'epmd'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Real RabbitMQ 3.10 from Debian, on private ports and data dirs (research/deps.md B.3): as root
 * the Debian wrapper re-runs itself as the `rabbitmq` user, so its directories must belong to
 * that user. Stock config otherwise: classic queues (v1), memory high watermark 0.4. Stopped by
 * SIGTERM to the Erlang VM's pid (from RABBITMQ_PID_FILE); an epmd it had to start is stopped too.
 */
async function startRabbit(scratch) {
  const port = await freePort();
  const distPort = await freePort();
  const dir = path.join(scratch, 'rabbit');
  for (const d of ['mnesia', 'log']) mkdirSync(path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users.guest = true\n`);
  writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  const { uid, gid } = userIds('rabbitmq');
  for (const p of [scratch, dir, path.join(dir, 'mnesia'), path.join(dir, 'log'), path.join(dir, 'rabbitmq.conf'), path.join(dir, 'enabled_plugins')]) chownSync(p, uid, gid);
  const pidFile = path.join(dir, 'rabbit.pid');
  const node = `omnibus-compare-${process.pid}@localhost`;
  const epmdBefore = new Set(epmdPids());
  const env = {
    ...process.env,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_NODENAME: node,
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_PID_FILE: pidFile,
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    // Loopback only: Erlang distribution and epmd bind every interface by default.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const child = spawn('/usr/sbin/rabbitmq-server', [], { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  const b = { name: 'rabbitmq', label: 'RabbitMQ', wrapperPid: child.pid, child, url: { amqp: `amqp://guest:guest@127.0.0.1:${port}` }, dir };
  started.push(b);
  b.stop = async () => {
    await stopPid(b.pid, 'rabbitmq beam', 60_000);
    await stopPid(b.wrapperPid, 'rabbitmq-server wrapper', 10_000);
    for (const p of epmdPids()) if (!epmdBefore.has(p)) await stopPid(p, 'epmd', 5_000);
  };
  try {
    b.pid = await waitFor(
      'RabbitMQ to write its pid file',
      () => {
        if (child.exitCode !== null) throw new Error(`rabbitmq-server exited (${child.exitCode}): ${stderr.slice(-2000)}`);
        if (!existsSync(pidFile)) return undefined;
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
      },
      90_000,
    );
    await waitFor('RabbitMQ to accept AMQP connections', () => canConnect(port), 90_000);
    // The port opens a moment before the node is fully booted: a real AMQP handshake decides.
    const amqp = await import('amqplib');
    await waitFor(
      'an AMQP handshake with RabbitMQ',
      async () => {
        try {
          const c = await amqp.connect(b.url.amqp);
          b.version = `RabbitMQ ${c.connection.serverProperties.version} (${c.connection.serverProperties.platform})`;
          await c.close();
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
  } catch (e) {
    await b.stop();
    throw e;
  }
  return b;
}

function userIds(name) {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name} (is rabbitmq-server installed?)`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** `omnibus serve` (bin/omnibus.js, i.e. dist/) with only its AMQP and RESP listeners. */
async function startOmnibus(scratch, storage) {
  const healthPort = await freePort();
  const args = [omnibusBin, 'serve', '--health-port', String(healthPort), '--amqp-port', '0', '--resp-port', '0', '--no-stomp', '--no-kafka', '--no-mqtt'];
  let dataDir;
  if (storage === 'memory') args.push('--memory');
  else {
    dataDir = mkdtempSync(path.join(scratch, 'omnibus-data-'));
    args.push('--data', dataDir, '--fsync', omnibusFsync);
  }
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: serveEnv() });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (out += s));
  const name = `omnibus-${storage}`;
  const b = { name, label: storage === 'memory' ? 'Omnibus memory://' : `Omnibus file:// (fsync ${omnibusFsync})`, pid: child.pid, child, dataDir };
  started.push(b);
  b.stop = async () => {
    await stopPid(b.pid, name);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const m = await waitFor(
      'omnibus serve to print its listeners',
      () => {
        if (child.exitCode !== null) throw new Error(`omnibus serve exited (${child.exitCode}): ${out}`);
        return /listening: .*amqp 127\.0\.0\.1:(\d+).*resp 127\.0\.0\.1:(\d+)/.exec(out) ?? undefined;
      },
      30_000,
    );
    b.url = { amqp: `amqp://guest:guest@127.0.0.1:${m[1]}`, resp: `redis://127.0.0.1:${m[2]}` };
    b.version = out.split('\n')[0]?.replace(/ listening:.*/, '') ?? 'omnibus';
  } catch (e) {
    await b.stop();
    throw e;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

function countsFor(protocol, mode, sizes, div) {
  const base = mode === 'naive' ? (protocol === 'amqp' ? 50_000 : 100_000) : 1_000_000;
  const count = Math.max(100, Math.round(base / div));
  const countFor = {};
  if (mode !== 'naive' && sizes.includes(10240)) countFor[10240] = Math.max(100, Math.round(200_000 / div));
  return { count, countFor };
}

/** One `omnibus bench` in a child process (a fresh client per run, as the anchors had). */
/** The bench child running now, stopped with the brokers if the runner is interrupted. */
let currentBench;

function runBench(broker, protocol, mode, sizes, scale, jsonFile) {
  const { count, countFor } = countsFor(protocol, mode, sizes, scale);
  const driver = protocol === 'resp' ? 'redis' : 'amqp';
  const args = [omnibusBin, 'bench', '--driver', driver, '--mode', mode, '--target', broker.url[protocol], '--broker-pid', String(broker.pid), '--count', String(count), '--sizes', sizes.join(','), '--json', jsonFile, '--quiet'];
  const cf = Object.entries(countFor);
  if (cf.length) args.push('--count-for', cf.map(([k, v]) => `${k}=${v}`).join(','));
  if (protocol === 'amqp' && amqpDurable) args.push('--durable');
  if (protocol === 'amqp') args.push('--reuse-payloads');
  if (warmup !== undefined) args.push('--warmup', warmup);
  log(`${broker.name} ${protocol} ${mode}: ${count} msgs${cf.length ? ` (${cf.map(([k, v]) => `${k}=${v}`).join(',')})` : ''}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    currentBench = child;
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      process.stderr.write(s.replace(/^/gm, '    '));
    });
    child.stderr.setEncoding('utf8').on('data', (s) => (out += s));
    child.on('close', (code) => {
      currentBench = undefined;
      let report;
      try {
        report = JSON.parse(readFileSync(jsonFile, 'utf8'));
      } catch {
        report = undefined;
      }
      resolve({ target: broker.name, protocol, mode, exitCode: code, output: out, report });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const MiB = 1024 * 1024;
const int = (n) => (n === undefined || n === null || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '–');
const mib = (b) => (b === undefined || b === null ? '–' : int(b / MiB));

/** The figures of one (target, protocol, mode, size); later runs replace earlier ones. */
function index(runs) {
  const m = new Map();
  for (const r of runs) {
    for (const s of r.report?.results ?? []) m.set(`${r.target}|${r.protocol}|${r.mode}|${s.size}`, { run: r, s });
  }
  return m;
}

function markdown(doc) {
  const idx = index(doc.runs);
  const lines = [];
  const real = { resp: 'redis', amqp: 'rabbitmq' };
  const realLabel = { resp: 'Redis', amqp: 'RabbitMQ' };
  lines.push(`Brokers: ${doc.brokers.map((b) => `${b.label}: ${b.version ?? '?'}`).join('; ')}.`);
  lines.push(`Machine: ${doc.machine.cpus} × ${doc.machine.cpuModel}, ${(doc.machine.totalMemBytes / 2 ** 30).toFixed(0)} GiB, Node ${doc.machine.node}. Runs strictly sequential; load = 1-minute load average when the size finished.`);
  if (doc.options?.amqpDurable !== undefined) {
    lines.push(`AMQP queues: ${doc.options.amqpDurable ? 'durable, persistent messages (delivery-mode 2)' : 'non-durable, transient messages'}; Omnibus file:// fsync ${doc.options.omnibusFsync}.`);
  }
  lines.push('');
  for (const protocol of ['resp', 'amqp']) {
    for (const mode of MODES[protocol]) {
      const sizes = [...new Set(doc.runs.filter((r) => r.protocol === protocol && r.mode === mode).flatMap((r) => (r.report?.results ?? []).map((s) => s.size)))].sort((a, b) => a - b);
      if (sizes.length === 0) continue;
      lines.push(`#### ${protocol.toUpperCase()} ${mode}: Omnibus vs ${realLabel[protocol]}`);
      lines.push('');
      lines.push(`| size B | msgs | phase | ${realLabel[protocol]} msg/s | Omnibus mem msg/s | ratio mem | Omnibus file msg/s | ratio file | peak RSS MiB ${realLabel[protocol]} / mem / file | load ${realLabel[protocol]} / mem / file | loss |`);
      lines.push('| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
      for (const size of sizes) {
        const g = (t) => idx.get(`${t}|${protocol}|${mode}|${size}`)?.s;
        const R = g(real[protocol]);
        const M = g('omnibus-memory');
        const F = g('omnibus-file');
        const load = [R, M, F].map((x) => (x?.loadavg?.[0] ?? NaN).toFixed(1).replace('NaN', '–')).join(' / ');
        const rss = [R, M, F].map((x) => mib(x?.broker?.peakRssBytes)).join(' / ');
        const loss = [R, M, F].map((x) => (x === undefined ? '–' : x.verify.ok ? 'none' : 'LOSS')).join(' / ');
        const msgs = int((R ?? M ?? F)?.count);
        for (const phase of ['enqueue', 'dequeue']) {
          const r = R?.[phase].msgsPerSec;
          const m = M?.[phase].msgsPerSec;
          const f = F?.[phase].msgsPerSec;
          lines.push(`| ${phase === 'enqueue' ? size : ''} | ${phase === 'enqueue' ? msgs : ''} | ${phase === 'enqueue' ? 'enq' : 'deq'} | ${int(r)} | ${int(m)} | ${ratio(m, r)} | ${int(f)} | ${ratio(f, r)} | ${phase === 'enqueue' ? rss : ''} | ${phase === 'enqueue' ? load : ''} | ${phase === 'enqueue' ? loss : ''} |`);
        }
      }
      lines.push('');
    }
  }
  lines.push('ratio = Omnibus msg/s ÷ real broker msg/s in the same run (> 1: Omnibus faster). Peak RSS = the broker process\'s VmHWM during that size (reset per size), client excluded. loss = every message verified (count, bytes, sequence, duplicates).');
  const failed = doc.runs.filter((r) => r.exitCode !== 0);
  if (failed.length) {
    lines.push('');
    lines.push('Failed runs:');
    for (const r of failed) lines.push(`- ${r.target} ${r.protocol} ${r.mode}: exit ${r.exitCode}: ${r.output.trim().split('\n').slice(-3).join(' / ')}`);
  }
  if (doc.skipped?.length) {
    lines.push('');
    for (const s of doc.skipped) lines.push(`- not measured: ${s}`);
  }
  return lines.join('\n') + '\n';
}

function machine() {
  const cpus = os.cpus();
  return { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model, totalMemBytes: os.totalmem(), kernel: os.release() };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main() {
  const reportIdx = argv.indexOf('--report');
  if (reportIdx >= 0) {
    const files = argv.slice(reportIdx + 1).filter((a) => !a.startsWith('--'));
    const docs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
    const merged = { machine: docs[0].machine, brokers: [], runs: [], skipped: [] };
    for (const d of docs) {
      for (const b of d.brokers) if (!merged.brokers.some((x) => x.name === b.name)) merged.brokers.push(b);
      merged.runs.push(...d.runs);
      merged.skipped.push(...(d.skipped ?? []));
    }
    process.stdout.write(markdown(merged));
    return;
  }

  const targets = list(flag('targets', ALL_TARGETS.join(',')));
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}; known: ${ALL_TARGETS.join(', ')}`);
  const protocols = list(flag('protocols', 'resp,amqp'));
  const modesWanted = flag('modes', undefined);
  const sizes = list(flag('sizes', '128,512,1024,10240')).map(Number);
  const quick = argv.includes('--quick');
  const scale = quick ? 100 : Number(flag('scale', '1'));
  if (!(scale >= 1)) throw new Error('--scale must be a number >= 1');
  const outDir = path.resolve(root, flag('out', '.bench'));
  if (!existsSync(omnibusBin) || !existsSync(path.join(root, 'dist', 'cli', 'commands', 'bench.js'))) throw new Error('dist/ is missing: run `npx tsc -p .` first');

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d\dZ$/, 'Z');
  mkdirSync(outDir, { recursive: true });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'omnibus-compare-'));
  const jsonDir = path.join(scratch, 'json');
  mkdirSync(jsonDir);
  const doc = { tool: 'bench/compare.mjs', startedAt: new Date().toISOString(), machine: machine(), options: { targets, protocols, sizes, scale, amqpDurable, omnibusFsync, warmup, interleave }, brokers: [], runs: [], skipped: [] };
  const base = path.join(outDir, `compare-${stamp}`);
  const save = () => writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + '\n');

  // Stop whatever was started if interrupted: nothing may outlive the runner.
  let stopping = false;
  const onSignal = (sig) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping the bench and the brokers started here`);
    if (currentBench?.pid !== undefined) void stopPid(currentBench.pid, 'bench', 5_000);
    void Promise.allSettled(started.map((b) => b.stop?.())).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const PROTOCOLS_OF = { redis: ['resp'], rabbitmq: ['amqp'], 'omnibus-memory': ['resp', 'amqp'], 'omnibus-file': ['resp', 'amqp'] };
  /** Starts target `t` (undefined if it serves none of the protocols asked or could not start). */
  const start = async (t) => {
    if (!PROTOCOLS_OF[t].some((p) => protocols.includes(p))) return undefined;
    let broker;
    try {
      broker = t === 'redis' ? await startRedis(scratch) : t === 'rabbitmq' ? await startRabbit(scratch) : await startOmnibus(scratch, t === 'omnibus-memory' ? 'memory' : 'file');
    } catch (e) {
      const why = `${t}: could not be started: ${e instanceof Error ? e.message : String(e)}`;
      log(why);
      doc.skipped.push(why);
      save();
      return undefined;
    }
    log(`${broker.label} (${broker.version}) pid ${broker.pid}: ${Object.values(broker.url).join(', ')}`);
    const info = { name: broker.name, label: broker.label, version: broker.version, pid: broker.pid, cpuSecAtStart: procCpu(broker.pid) };
    doc.brokers.push(info);
    return { t, broker, info };
  };
  const stop = async ({ broker, info }) => {
    const st = procStatus(broker.pid);
    info.cpuSecAtEnd = procCpu(broker.pid);
    info.rssAtEndBytes = st?.rss;
    await broker.stop();
    started.splice(started.indexOf(broker), 1);
    save();
  };
  const measure = async ({ t, broker }, protocol, mode) => {
    const jsonFile = path.join(jsonDir, `${t}-${protocol}-${mode}.json`);
    const res = await runBench(broker, protocol, mode, sizes, scale, jsonFile);
    res.loadavgAfter = os.loadavg();
    doc.runs.push(res);
    save();
    if (!alive(broker.pid)) throw new Error(`${broker.name} (pid ${broker.pid}) died during ${protocol} ${mode}`);
  };
  const modesOf = (protocol) => MODES[protocol].filter((m) => modesWanted === undefined || list(modesWanted).includes(m));

  try {
    if (interleave) {
      // Every target up at once; each mode runs on every target back to back, so the runs a
      // ratio compares are seconds apart rather than a whole target's modes apart.
      const up = [];
      for (const t of targets) {
        const b = await start(t);
        if (b) up.push(b);
      }
      try {
        for (const protocol of protocols) {
          for (const mode of modesOf(protocol)) {
            for (const b of up) if (PROTOCOLS_OF[b.t].includes(protocol)) await measure(b, protocol, mode);
          }
        }
      } finally {
        for (const b of up) await stop(b);
      }
    } else {
      for (const t of targets) {
        const b = await start(t);
        if (!b) continue;
        try {
          for (const protocol of PROTOCOLS_OF[t].filter((p) => protocols.includes(p))) {
            for (const mode of modesOf(protocol)) await measure(b, protocol, mode);
          }
        } finally {
          await stop(b);
        }
      }
    }
  } finally {
    for (const b of started) await b.stop?.();
    doc.finishedAt = new Date().toISOString();
    save();
    rmSync(scratch, { recursive: true, force: true });
  }
  const md = markdown(doc);
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
  log(`written ${base}.json and ${base}.md`);
}

main().catch((e) => {
  log(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exitCode = 1;
});
