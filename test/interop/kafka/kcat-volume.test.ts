/**
 * kcat (librdkafka) volume run through the in-process Kafka listener: N records produced with
 * `kcat -P -l FILE`, consumed back with `kcat -C -e` (one partition: the output must equal the
 * input byte for byte — count and SHA-256), `-L` metadata of the topic, and `-G` balanced-group
 * mode over a 3-partition topic (every record exactly once, checked per sequence number).
 *
 * N is 1,000,000 in the default run: the file took 33 s of wall time on the 2-core box (load
 * average ~10 from other work), under the one-minute budget for a default-run file. Set
 * OMNIBUS_KCAT_RECORDS (e.g. 100000, ~10 s) for a quicker run. Each record is the seed
 * benchmark's payload scheme: 10 ASCII digits of its sequence number, filler to 127 bytes, and
 * the newline kcat splits on. Skipped when kcat is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasKcat, kcat as run, kcatReadPartition, startBroker, type Broker } from './helpers.js';

const N = Number(process.env['OMNIBUS_KCAT_RECORDS'] ?? 1_000_000);
const LINE = 128;
const FILLER = Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(5)).subarray(0, LINE - 11);

const skip = hasKcat() ? false : 'kcat is not installed';

let b: Broker;
let dir: string;
let input: string;
let inputSha: string;
before(async () => {
  if (skip) return;
  b = await startBroker();
  dir = mkdtempSync(join(tmpdir(), 'omnibus-kcat-'));
  const buf = Buffer.allocUnsafe(N * LINE);
  for (let i = 0; i < N; i++) {
    const off = i * LINE;
    buf.write(String(i).padStart(10, '0'), off, 'latin1');
    FILLER.copy(buf, off + 10);
    buf[off + LINE - 1] = 10;
  }
  input = join(dir, 'in.txt');
  writeFileSync(input, buf);
  inputSha = createHash('sha256').update(buf).digest('hex');
});
after(async () => {
  if (skip) return;
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Splits a stream of newline-terminated records, calling `line` with each (without the newline). */
function lines(line: (l: Buffer) => void): (chunk: Buffer) => void {
  let rest = Buffer.alloc(0);
  return (chunk) => {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
      line(buf.subarray(start, i));
      start = i + 1;
    }
    rest = Buffer.from(buf.subarray(start));
  };
}

test(`kcat: ${N.toLocaleString('en')} records produced (-P -l) and consumed (-C -e), count and SHA-256 equal; -L`, { skip, timeout: 600_000 }, async () => {
  await b.engine.topic('kv', { partitions: 1 });
  const prod = await run(['-b', b.bootstrap, '-P', '-t', 'kv', '-p', '0', '-l', input]);
  assert.equal(prod.code, 0, prod.stderr);
  assert.equal(b.engine.logBounds('kv', 0).end, N, 'every record appended');

  const md: Buffer[] = [];
  const l = await run(['-b', b.bootstrap, '-L', '-t', 'kv'], (d) => md.push(d));
  assert.equal(l.code, 0, l.stderr);
  assert.match(Buffer.concat(md).toString(), /topic "kv" with 1 partitions:\s+partition 0, leader 1, replicas: 1, isrs: 1/);

  const cons = await kcatReadPartition(b.bootstrap, 'kv', 0);
  assert.equal(cons.code, 0, cons.stderr);
  assert.equal(cons.bytes / LINE, N, 'record count');
  assert.equal(cons.sha, inputSha, 'payload checksum');
});

test(`kcat -G: ${N.toLocaleString('en')} records over 3 partitions, each consumed exactly once by the group`, { skip, timeout: 600_000 }, async () => {
  await b.engine.topic('kvg', { partitions: 3 });
  const prod = await run(['-b', b.bootstrap, '-P', '-t', 'kvg', '-l', input]);
  assert.equal(prod.code, 0, prod.stderr);
  const seen = new Uint8Array(N);
  let count = 0;
  let bad = 0;
  let dup = 0;
  const cons = await run(
    ['-b', b.bootstrap, '-G', 'kvg-group', '-X', 'auto.offset.reset=earliest', '-e', '-q', '-D', '\n', 'kvg'],
    lines((l) => {
      count++;
      const seq = Number(l.toString('latin1', 0, 10));
      if (l.length !== LINE - 1 || !Number.isInteger(seq) || seq >= N || !l.subarray(10).equals(FILLER)) bad++;
      else if (seen[seq]) dup++;
      else seen[seq] = 1;
    }),
  );
  assert.equal(cons.code, 0, cons.stderr);
  assert.equal(bad, 0, 'malformed records');
  assert.equal(dup, 0, 'duplicates');
  assert.equal(count, N, 'records consumed');
  let committed = 0;
  for (let p = 0; p < 3; p++) committed += b.engine.committedOffset('kvg-group', 'kvg', p)?.offset ?? 0;
  assert.equal(committed, N, 'the group committed every partition to its end');
});
