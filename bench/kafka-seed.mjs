#!/usr/bin/env node
// The seed experiment (src/bench/seed.ts: N records per size, cumulative time at every N/10,
// every record verified) through Omnibus's Kafka listener: `omnibus serve --fsync interval` runs as
// a child process on a fresh data directory per client (its CPU and RSS are measured from /proc),
// and one of these clients produces and then consumes a single-partition topic per size:
//
//   kcat       librdkafka via Debian's kcat, through the seed harness (src/bench/drivers/kafka.ts)
//   kcat-file  kcat -P -l on a generated input file (the seed payloads, one per line) and kcat -C:
//              the client does nothing but librdkafka's work; marks come from the partition's high
//              watermark polled every 2 ms (produce) and from counting kcat's output (consume),
//              verified with the harness's SeedVerifier
//   kafkajs    kafkajs 2.2.4, through the same harness and driver
//   confluent  librdkafka via confluent-kafka (/usr/bin/python3), the same payloads, marks and
//              per-record verification re-implemented in Python (produce() per record, a flush()
//              at every mark so a mark means "acknowledged"; consume() in batches of 10,000)
//   mock       the confluent client against librdkafka's built-in MOCK cluster
//              (test.mock.num.brokers=1): a reference point for the client's own ceiling — the
//              mock keeps records in memory in the client process; it is not a Kafka broker
//
// Why standalone as well as `omnibus bench --driver kafka` (which runs the kcat and kafkajs modes
// of the same driver): this script adds the file-fed kcat, the Python client and the mock cluster,
// and starts a fresh `omnibus serve` per client so the broker's CPU and RSS are its own.
//
// Usage: npx tsc -p . && node bench/kafka-seed.mjs [--clients kcat,kafkajs,confluent,mock]
//          [--sizes 128,512,1024,10240] [--count 1000000] [--json out.json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { freePort } = await import(path.join(root, 'dist/bench/net.js'));
const { runSeed, SEED_DEFAULTS, writeSeedFile, markThresholds, SeedVerifier } = await import(path.join(root, 'dist/bench/seed.js'));
const { Kafka, logLevel } = await import('kafkajs');
const { kafkaDriver } = await import(path.join(root, 'dist/bench/drivers/kafka.js'));
const { procCpuSeconds, procPeakRss, procRss, resetPeakRss } = await import(path.join(root, 'dist/bench/proc.js'));

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: 'kcat,kafkajs,confluent,mock' },
    sizes: { type: 'string', default: '128,512,1024,10240' },
    count: { type: 'string', default: '1000000' },
    json: { type: 'string' },
    fsync: { type: 'string', default: 'interval' },
  },
});
const sizes = args.sizes.split(',').map(Number);
const count = Number(args.count);
const clients = args.clients.split(',');


async function startServe() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-kafka-bench-'));
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [path.join(root, 'bin/omnibus.js'), 'serve', '--data', dir, '--fsync', args.fsync, '--no-amqp', '--no-resp', '--no-stomp', '--no-mqtt', '--kafka-port', String(port), '--health-port', 'off'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: serveEnv() },
  );
  await new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (l) => /listening/.test(l) && resolve());
    proc.once('exit', (c) => reject(new Error(`omnibus serve exited ${c}`)));
  });
  return {
    bootstrap: `127.0.0.1:${port}`,
    pid: proc.pid,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const PY = String.raw`
import sys, json, time, os, logging
from confluent_kafka import Producer, Consumer, TopicPartition
bs, size, n, mock = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == '1'
topic = 'seed-py-%d-%d' % (size, int(time.time() * 1000))
filler = (b'abcdefghijklmnopqrstuvwxyz' * (size // 26 + 1))[:size - 10]
class Grab(logging.Handler):
    addr = None
    def emit(self, r):
        m = r.getMessage()
        if 'replaced with' in m: Grab.addr = m.rsplit(' ', 1)[-1]
log = logging.getLogger('rd'); log.addHandler(Grab()); log.setLevel(logging.DEBUG)
conf = {'bootstrap.servers': bs, 'acks': 1, 'linger.ms': 5, 'batch.size': 1000000, 'queue.buffering.max.messages': 1000000, 'queue.buffering.max.kbytes': 2097151, 'message.max.bytes': 1000000}
if mock: conf['test.mock.num.brokers'] = 1
p = Producer(conf, logger=log)
if mock:
    for _ in range(100):
        p.poll(0.05)
        if Grab.addr: break
    bs = Grab.addr
step = [ -(-n * (k + 1) // 10) for k in range(10)]
def phase_marks(): return []
pm = []; k = 0
t0 = time.perf_counter()
for i in range(n):
    v = b'%010d' % i + filler
    while True:
        try:
            p.produce(topic, v, partition=0); break
        except BufferError:
            p.poll(0.001)
    if i + 1 == step[k]:
        assert p.flush(120) == 0
        pm.append(time.perf_counter() - t0); k += 1
c = Consumer({'bootstrap.servers': bs, 'group.id': 'seed-py', 'enable.auto.commit': False, 'fetch.message.max.bytes': 4194304, 'queued.max.messages.kbytes': 262144})
c.assign([TopicPartition(topic, 0, 0)])
seen = bytearray(n); got = 0; dup = 0; bad = 0; nbytes = 0; cm = []; k = 0
t1 = time.perf_counter(); idle = t1
while got < n:
    ms = c.consume(10000, 1.0)
    if not ms:
        if time.perf_counter() - idle > 30: break
        continue
    idle = time.perf_counter()
    for m in ms:
        if m.error(): raise Exception(m.error())
        v = m.value(); nbytes += len(v)
        s = int(v[:10])
        if len(v) != size or s >= n: bad += 1
        elif seen[s]: dup += 1
        else:
            seen[s] = 1; got += 1
            if got == step[k]:
                cm.append(time.perf_counter() - t1); k += 1
c.close(); p.flush(10)
print(json.dumps({'produce': pm, 'consume': cm, 'got': got, 'dup': dup, 'bad': bad, 'bytes': nbytes, 'ok': got == n and dup == 0 and bad == 0 and nbytes == n * size, 'loadavg': list(os.getloadavg())}))
`;

function runPy(bootstrap, size, n, mock, brokerPid) {
  return new Promise((resolve, reject) => {
    const cpu0 = brokerPid ? procCpuSeconds(brokerPid) : undefined;
    const p = spawn('/usr/bin/python3', ['-c', PY, bootstrap, String(size), String(n), mock ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err = (err + d).slice(-3000)));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`python exited ${code}: ${err}`));
      const r = JSON.parse(out.trim().split('\n').pop());
      if (brokerPid) r.brokerCpuSec = procCpuSeconds(brokerPid) - cpu0;
      resolve(r);
    });
  });
}

/** The seed payloads, newline-terminated, written to a file (payload scheme of seed.ts). */
function seedFile(size, n) {
  return writeSeedFile(path.join(os.tmpdir(), `omnibus-kafka-seed-${size}-${n}.txt`), size, n);
}

function waitExit(proc) {
  return new Promise((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.once('close', (c) => resolve(c))));
}

/** kcat -P -l FILE, then kcat -C; marks and verification as in the seed harness. */
async function kcatFile(srv, size, n) {
  const file = seedFile(size, n);
  const topic = `seed-kcatfile-${size}-${Date.now()}`;
  const kafka = new Kafka({ clientId: 'bench-poll', brokers: [srv.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const thresholds = markThresholds(n);
  const cpu0 = procCpuSeconds(srv.pid);
  const pm = [];
  const t0 = performance.now();
  const prod = spawn('kcat', ['-b', srv.bootstrap, '-P', '-t', topic, '-p', '0', '-X', 'acks=1', '-l', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const prodExit = waitExit(prod);
  let exited = false;
  void prodExit.then(() => (exited = true));
  for (;;) {
    const hw = Number((await admin.fetchTopicOffsets(topic))[0].high);
    while (pm.length < 10 && hw >= thresholds[pm.length]) pm.push((performance.now() - t0) / 1000);
    if (pm.length === 10) break;
    if (exited && hw < n) {
      // kcat has exited: one last look, then give up.
      await new Promise((r) => setTimeout(r, 500));
      if (Number((await admin.fetchTopicOffsets(topic))[0].high) < n) throw new Error(`kcat -P exited with ${hw} of ${n} records appended`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await prodExit;
  const cpu1 = procCpuSeconds(srv.pid);
  const verifier = new SeedVerifier(n, size);
  const cm = [];
  const t1 = performance.now();
  const cons = spawn('kcat', ['-b', srv.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-q', '-c', String(n), '-X', 'fetch.message.max.bytes=4194304'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let rest;
  cons.stdout.on('data', (chunk) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
      verifier.add(buf.subarray(start, i));
      start = i + 1;
    }
    rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
    while (cm.length < 10 && verifier.unique >= thresholds[cm.length]) cm.push((performance.now() - t1) / 1000);
  });
  await waitExit(cons);
  const cpu2 = procCpuSeconds(srv.pid);
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
  // The 10 KiB file is 10 GB: never leave it behind.
  rmSync(file, { force: true });
  const v = verifier.result();
  return { produce: pm, consume: cm, ok: v.ok, verify: v, brokerCpuProduce: cpu1 - cpu0, brokerCpuConsume: cpu2 - cpu1, loadavg: os.loadavg() };
}

function summary(marks, n, size) {
  const total = marks.at(-1) ?? 0;
  const first = marks[0] ?? 0;
  const last = marks.length === 10 ? marks[9] - marks[8] : NaN;
  return { marksSec: marks, elapsedSec: total, msgsPerSec: total ? n / total : 0, mbPerSec: total ? (n * size) / 1e6 / total : 0, flatness: first ? last / first : null };
}

const rows = [];
const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
function print(r) {
  const line = `${r.client.padEnd(16)} ${String(r.size).padStart(6)} B  produce ${fmt(r.enqueue.msgsPerSec).padStart(10)}/s ${fmt(r.enqueue.mbPerSec, 1).padStart(7)} MB/s flat ${fmt(r.enqueue.flatness, 2)}  consume ${fmt(r.dequeue.msgsPerSec).padStart(10)}/s ${fmt(r.dequeue.mbPerSec, 1).padStart(7)} MB/s flat ${fmt(r.dequeue.flatness, 2)}  ${r.ok ? 'verified' : 'NOT VERIFIED'}  broker peak RSS ${r.brokerPeakRssMB ?? '–'} MB  load ${r.loadavg.map((l) => l.toFixed(2)).join(' ')}`;
  process.stdout.write(line + '\n');
}

for (const client of clients) {
  for (const size of sizes) {
    if (client === 'mock') {
      const r = await runPy('unused:1', size, count, true);
      const row = { client: 'mock (confluent)', size, count, enqueue: summary(r.produce, count, size), dequeue: summary(r.consume, count, size), ok: r.ok, loadavg: r.loadavg };
      rows.push(row);
      print(row);
      continue;
    }
    // A fresh server per size: RSS and CPU belong to that size alone.
    const srv = await startServe();
    try {
      resetPeakRss(srv.pid);
      if (client === 'kcat-file') {
        const r = await kcatFile(srv, size, count);
        const row = { client, size, count, enqueue: summary(r.produce, count, size), dequeue: summary(r.consume, count, size), ok: r.ok, loadavg: r.loadavg, brokerCpuSec: [r.brokerCpuProduce, r.brokerCpuConsume], brokerPeakRssMB: Math.round((procPeakRss(srv.pid) ?? 0) / 2 ** 20), brokerRssAfterMB: Math.round((procRss(srv.pid) ?? 0) / 2 ** 20) };
        if (!r.ok) row.verify = r.verify;
        rows.push(row);
        print(row);
        continue;
      }
      if (client === 'confluent') {
        const r = await runPy(srv.bootstrap, size, count, false, srv.pid);
        const row = { client: 'confluent', size, count, enqueue: summary(r.produce, count, size), dequeue: summary(r.consume, count, size), ok: r.ok, loadavg: r.loadavg, brokerCpuSec: r.brokerCpuSec, brokerPeakRssMB: Math.round((procPeakRss(srv.pid) ?? 0) / 2 ** 20) };
        rows.push(row);
        print(row);
        continue;
      }
      const driver = await kafkaDriver(srv.bootstrap, client);
      try {
        const res = await runSeed(driver, {
          ...SEED_DEFAULTS,
          count,
          sizes: [size],
          // kcat: ~100 batches awaiting the high-watermark poll keep librdkafka's queue full.
          batch: 1000,
          publishers: client === 'kcat' ? 100 : 4,
          topicPrefix: `seed-${client}-${Date.now()}`,
          brokerPid: srv.pid,
          idleTimeoutMs: 30_000,
        });
        for (const s of res.sizes) {
          const row = { client, size, count, enqueue: s.enqueue, dequeue: s.dequeue, ok: s.verify.ok, loadavg: s.loadavg, brokerPeakRssMB: Math.round((s.broker?.peakRssBytes ?? 0) / 2 ** 20), brokerRssAfterMB: Math.round((procRss(srv.pid) ?? 0) / 2 ** 20) };
          rows.push(row);
          print(row);
        }
      } finally {
        await driver.close();
      }
    } finally {
      await srv.stop();
    }
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ when: new Date().toISOString(), cpus: os.cpus().length, fsync: args.fsync, rows }, null, 2));
