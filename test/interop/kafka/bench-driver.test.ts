/**
 * `omnibus bench --driver kafka`: both modes (kcat = librdkafka, kafkajs) produce and consume
 * 2,000 messages per size through Omnibus's Kafka listener (in-process, OS-chosen port) and
 * verify every one (no loss, no duplicate, every byte). Correctness of the driver only; speed is
 * measured with `omnibus bench` by hand (docs/benchmarks.md, Kafka section).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../cli/helpers.js';
import { startBroker, type Broker } from './helpers.js';

const COUNT = 2000;
const SIZES = [128, 10240];

interface JsonReport {
  ok: boolean;
  driver: string;
  mode: string;
  results: { size: number; count: number; verify: { ok: boolean; unique: number; missing: number; duplicates: number } }[];
}

let b: Broker;
let dir: string;
before(async () => {
  b = await startBroker();
  dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-kafka-bench-'));
});
after(async () => {
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

for (const mode of ['kcat', 'kafkajs']) {
  test(`bench --driver kafka --mode ${mode}: every message produced comes back from the beginning of the topic`, async () => {
    const json = path.join(dir, `${mode}.json`);
    const r = await runCli(['bench', '--driver', 'kafka', '--mode', mode, '--target', `kafka://${b.bootstrap}`, '--count', String(COUNT), '--sizes', SIZES.join(','), '--idle-timeout', '10', '--quiet', '--json', json]);
    assert.equal(r.code, 0, `bench failed: ${r.stderr}${r.stdout}`);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as JsonReport;
    assert.equal(doc.ok, true);
    assert.equal(doc.driver, 'kafka');
    assert.equal(doc.mode, mode);
    assert.deepEqual(
      doc.results.map((s) => [s.size, s.count, s.verify.ok, s.verify.unique, s.verify.missing, s.verify.duplicates]),
      SIZES.map((s) => [s, COUNT, true, COUNT, 0, 0]),
    );
    // The driver's topics were deleted at teardown.
    assert.deepEqual(b.engine.topicNames().filter((t) => t.startsWith('bench')), []);
  });
}

test('bench --driver kafka without --target is a usage error (exit 2)', async () => {
  const r = await runCli(['bench', '--driver', 'kafka', '--count', '10']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--driver kafka needs --target/);
});
