/**
 * Log compaction (cleanup.policy=compact) seen by real clients: kafkajs 2.2.4 produces and
 * consumes, kcat (librdkafka) consumes the compacted log, and a queue group (the view AMQP /
 * Redis list / STOMP consumers share) reads the same partition. Segments are 1 KiB so the
 * records land in sealed segments; compaction is triggered with engine.compact().
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompressionTypes } from 'kafkajs';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import type { ConsumerSink, DeliveryImpl } from '../../../src/engine/group.js';
import { startBroker, waitFor, type Broker } from './helpers.js';

const pad = (v: string) => v.padEnd(150, '.');
const unpad = (v: Buffer | null) => (v === null ? null : v.toString().replace(/\.+$/, ''));

interface Seen {
  offset: number;
  key: string;
  value: string | null;
}

/** Produces the scenario: returns the offset of every record by its label. */
async function produceScenario(b: Broker, topic: string): Promise<Map<string, number>> {
  const p = b.kafka().producer({ idempotent: true });
  await p.connect();
  const at = new Map<string, number>();
  const one = async (key: string, value: string | null, label: string) => {
    const [r] = await p.send({ topic, acks: -1, messages: [{ key, value: value === null ? null : pad(value) }] });
    at.set(label, Number(r!.baseOffset));
  };
  await one('k1', 'a', 'k1=a');
  await one('k2', 'b', 'k2=b');
  await one('k1', 'c', 'k1=c');
  await one('k2', null, 'k2=null');
  await one('k3', 'd', 'k3=d');
  // One batch of three records, two of them for k4: the batch is compacted partly.
  const [r3] = await p.send({ topic, acks: -1, messages: [{ key: 'k4', value: pad('x') }, { key: 'k5', value: pad('y') }, { key: 'k4', value: pad('z') }] });
  at.set('k4=x', Number(r3!.baseOffset));
  at.set('k5=y', Number(r3!.baseOffset) + 1);
  at.set('k4=z', Number(r3!.baseOffset) + 2);
  // A gzip batch whose first record is shadowed: rewritten uncompressed.
  const [r4] = await p.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ key: 'k6', value: pad('1') }, { key: 'k6', value: pad('2') }] });
  at.set('k6=1', Number(r4!.baseOffset));
  at.set('k6=2', Number(r4!.baseOffset) + 1);
  await one('k1', 'e', 'k1=e');
  // Unique keys that push everything above into sealed segments (the active one is never compacted).
  for (let i = 0; i < 12; i++) await one(`z${i}`, `z${i}`, `z${i}`);
  await p.disconnect();
  return at;
}

async function consumeAll(b: Broker, topic: string, groupId: string, end: number): Promise<Seen[]> {
  const c = b.kafka().consumer({ groupId, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const seen: Seen[] = [];
  await c.run({ eachMessage: async ({ message }) => void seen.push({ offset: Number(message.offset), key: message.key!.toString(), value: unpad(message.value) }) });
  await waitFor(() => seen.length > 0 && seen[seen.length - 1]!.offset === end - 1, 15_000, `consumer ${groupId} reaching offset ${end - 1}`);
  await c.disconnect();
  return seen;
}

class Sink implements ConsumerSink {
  got: DeliveryImpl[] = [];
  readonly prefetch = 1000;
  push(d: DeliveryImpl): void {
    this.got.push(d);
  }
}

let b: Broker;
before(async () => {
  b = await startBroker({ engine: await Engine.open({ storage: new MemoryStorage(), segmentBytes: 1024 }) });
});
after(async () => {
  await b.close();
  await b.engine.close();
});

test('cleanup.policy=compact keeps the latest record per key at its offset; tombstones stay until delete.retention.ms; committed offsets stay valid', async () => {
  const topic = 'compacted';
  const admin = b.kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  assert.equal(b.engine.getTopic(topic)!.config.cleanupPolicy, 'compact');
  const at = await produceScenario(b, topic);
  const end = b.engine.logBounds(topic, 0).end;

  // A consumer group reads everything and commits before compaction.
  const before = await consumeAll(b, topic, 'g-before', end);
  assert.equal(before.length, end);
  // A queue group (AMQP/Redis/STOMP view) that has not read yet.
  const queue = await b.engine.group(topic, 'queue-view');

  const stats = await b.engine.compact(topic);
  assert.ok(stats.segmentsRewritten > 0, 'sealed segments were rewritten');
  assert.equal(stats.recordsRemoved, 5, 'k1=a, k1=c, k2=b, k4=x, k6=1');
  assert.equal(stats.tombstonesRemoved, 0, 'a fresh tombstone stays (delete.retention.ms defaults to 24 h)');
  assert.equal(b.engine.logBounds(topic, 0).end, end, 'the log end does not move');

  const after = await consumeAll(b, topic, 'g-after', end);
  const byLabel = (label: string) => after.find((s) => s.offset === at.get(label));
  for (const gone of ['k1=a', 'k2=b', 'k1=c', 'k4=x', 'k6=1']) assert.equal(byLabel(gone), undefined, `${gone} is compacted away`);
  assert.deepEqual(byLabel('k1=e'), { offset: at.get('k1=e'), key: 'k1', value: 'e' });
  assert.deepEqual(byLabel('k2=null'), { offset: at.get('k2=null'), key: 'k2', value: null }, 'the tombstone is served');
  assert.deepEqual(byLabel('k3=d'), { offset: at.get('k3=d'), key: 'k3', value: 'd' });
  assert.deepEqual(byLabel('k4=z'), { offset: at.get('k4=z'), key: 'k4', value: 'z' });
  assert.deepEqual(byLabel('k5=y'), { offset: at.get('k5=y'), key: 'k5', value: 'y' });
  assert.deepEqual(byLabel('k6=2'), { offset: at.get('k6=2'), key: 'k6', value: '2' });
  assert.equal(after.length, end - 5);
  const keys = after.map((s) => s.key);
  assert.equal(new Set(keys).size, keys.length, 'one record per key');

  // The group that committed before compaction resumes at its committed offset.
  const offs = await admin.fetchOffsets({ groupId: 'g-before', topics: [topic] });
  assert.equal(Number(offs[0]!.partitions[0]!.offset), end);

  // The queue group's cursor skips the removed records.
  const sink = new Sink();
  queue.addConsumer(sink);
  await waitFor(() => sink.got.length >= end - 5, 10_000, 'queue deliveries');
  assert.equal(sink.got.length, end - 5);
  assert.deepEqual(
    sink.got.map((d) => d.offset),
    after.map((s) => s.offset),
  );
  for (const d of sink.got) await d.ack();

  // kcat (librdkafka) reads the compacted log across the gaps too.
  const kc = await promisify(execFile)('kcat', ['-C', '-b', b.bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o %k\\n'], { encoding: 'utf8', timeout: 20_000 });
  assert.deepEqual(
    kc.stdout.trim().split('\n'),
    after.map((s) => `${s.offset} ${s.key}`),
  );

  // As in Kafka, a compacted topic refuses a record without a key.
  const keyless = b.kafka({ retry: { retries: 0 } }).producer();
  await keyless.connect();
  await assert.rejects(keyless.send({ topic, acks: -1, messages: [{ key: 'ok', value: 'v' }, { value: 'no key' }] }), (e: Error & { type?: string }) => e.type === 'INVALID_RECORD');
  await keyless.disconnect();
  assert.equal(b.engine.logBounds(topic, 0).end, end, 'nothing of the refused batch was appended');

  // delete.retention.ms=0: the tombstone (and with it key k2) goes at the next pass.
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'delete.retention.ms', value: '0' }] }] });
  const again = await b.engine.compact(topic);
  assert.equal(again.tombstonesRemoved, 1);
  const last = await consumeAll(b, topic, 'g-last', end);
  assert.equal(last.find((s) => s.key === 'k2'), undefined, 'no record of k2 remains');
  assert.equal(last.length, end - 6);
  await admin.disconnect();
});

test('compaction on file storage survives a restart, and a leftover unfinished rewrite is discarded', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-compact-'));
  try {
    let engine = await Engine.open({ storage: await FileStorage.open(dir), segmentBytes: 1024, fsync: 'always' });
    let fb = await startBroker({ engine });
    const admin = fb.kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'fc', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
    await admin.disconnect();
    await produceScenario(fb, 'fc');
    const end = engine.logBounds('fc', 0).end;
    const stats = await engine.compact('fc');
    assert.equal(stats.recordsRemoved, 5);
    const expected = await consumeAll(fb, 'fc', 'g1', end);
    await fb.close();
    await engine.close();
    // A crash in the middle of a later rewrite leaves a temp file next to a segment.
    const segDir = fs
      .readdirSync(path.join(dir, 'topics'), { recursive: true, withFileTypes: true })
      .find((d) => d.isFile() && d.name.endsWith('.log'))!.parentPath;
    fs.writeFileSync(path.join(segDir, '00000000000000000000.log.compact'), Buffer.alloc(77, 1));
    engine = await Engine.open({ storage: await FileStorage.open(dir), segmentBytes: 1024, fsync: 'always' });
    fb = await startBroker({ engine });
    assert.equal(fs.existsSync(path.join(segDir, '00000000000000000000.log.compact')), false);
    assert.equal(engine.getTopic('fc')!.config.cleanupPolicy, 'compact', 'the policy is persistent');
    const got = await consumeAll(fb, 'fc', 'g2', end);
    assert.deepEqual(got, expected);
    assert.equal((await engine.compact('fc')).recordsRemoved, 0, 'nothing left to remove');
    await fb.close();
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
