/**
 * Real client bytes: kafkajs and librdkafka (kcat) against FakeBroker (built on this codec), which
 * records every request frame. Checks the exact bytes of the first request against the spec, that
 * every recorded frame decodes, and that the produced record batches validate and decode —
 * including librdkafka's snappy and lz4 output and zstd (validated, not decompressed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, CompressionTypes, logLevel } from 'kafkajs';
import { ApiKey, decodeRecordBatch, isRequest, messageSetToRecordBatch, parseMessageSet, recordsMagic, validateRecordBatches } from '../../../src/protocols/kafka/index.js';
import { FakeBroker } from './fake-broker.js';

const run = promisify(execFile);

function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function producedValues(b: FakeBroker): { versions: number[]; values: string[]; codecs: number[]; counts: number[] } {
  const versions: number[] = [];
  const values: string[] = [];
  const codecs: number[] = [];
  /** Records per batch, in the order of `codecs` (-1 for zstd, which is not decoded here). */
  const counts: number[] = [];
  for (const r of b.of(ApiKey.Produce)) {
    const d = r.decoded!;
    assert.ok(isRequest(d, ApiKey.Produce));
    versions.push(d.header.apiVersion);
    for (const t of d.body.topicData)
      for (const p of t.partitionData) {
        for (const bv of validateRecordBatches(p.records!)) {
          codecs.push(bv.compression);
          if (bv.compression === 4) {
            counts.push(-1);
            continue;
          }
          const recs = decodeRecordBatch(bv.bytes).records;
          counts.push(recs.length);
          for (const rec of recs) values.push(rec.value!.toString());
        }
      }
  }
  return { versions, values, codecs, counts };
}

test('kafkajs: first request is ApiVersions v2 with an empty body, byte for byte', async () => {
  const b = new FakeBroker();
  b.silent = true;
  const port = await b.start();
  const kafka = new Kafka({ clientId: 'rec', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, requestTimeout: 300, connectionTimeout: 300 });
  const admin = kafka.admin();
  await admin.connect().catch(() => {});
  await admin.disconnect().catch(() => {});
  await b.stop();
  const first = b.frames[0]!.frame;
  // apiKey 18, version 2, correlation id (kafkajs starts at 0 or 1), client id "rec" (INT16 length), no body.
  assert.equal(first.length, 2 + 2 + 4 + 2 + 3);
  assert.deepEqual([...first.subarray(0, 4)], [0, 18, 0, 2]);
  assert.deepEqual([...first.subarray(8)], [0, 3, 0x72, 0x65, 0x63]);
});

test('kafkajs producer (acks -1, none and gzip): Metadata and Produce v7 decode; batches validate', async () => {
  const b = new FakeBroker();
  const port = await b.start();
  const kafka = new Kafka({ clientId: 'rec', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic: 'rec-topic', acks: -1, messages: [{ key: 'k1', value: 'v1', headers: { h: 'x' } }, { value: 'v2' }] });
  await producer.send({ topic: 'rec-topic', compression: CompressionTypes.GZIP, messages: [{ value: 'g1' }, { value: 'g2' }] });
  await producer.disconnect();
  await b.stop();
  assert.deepEqual(b.frames.filter((f) => f.error).map((f) => String(f.error)), []);
  assert.ok(b.of(ApiKey.Metadata).length >= 1);
  const p = producedValues(b);
  assert.deepEqual(p.versions, [7, 7]);
  assert.deepEqual(p.values, ['v1', 'v2', 'g1', 'g2']);
  assert.deepEqual(p.codecs, [0, 1]);
  const first = b.of(ApiKey.Produce)[0]!.decoded!;
  assert.ok(isRequest(first, ApiKey.Produce));
  const batch = decodeRecordBatch(first.body.topicData[0]!.partitionData[0]!.records!);
  assert.equal(batch.records[0]!.key!.toString(), 'k1');
  assert.deepEqual(batch.records[0]!.headers.map((h) => [h.key, h.value!.toString()]), [['h', 'x']]);
});

test('kafkajs idempotent producer: InitProducerId and a batch with producer id and sequence', async () => {
  const b = new FakeBroker();
  const port = await b.start();
  const kafka = new Kafka({ clientId: 'rec', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic: 'rec-topic', messages: [{ value: 'i1' }] });
  await producer.disconnect();
  await b.stop();
  assert.ok(b.of(ApiKey.InitProducerId).length >= 1);
  const d = b.of(ApiKey.Produce)[0]!.decoded!;
  assert.ok(isRequest(d, ApiKey.Produce));
  const [bv] = validateRecordBatches(d.body.topicData[0]!.partitionData[0]!.records!);
  assert.equal(bv!.producerId, 1000);
  assert.equal(bv!.baseSequence, 0);
});

test('kcat -L (librdkafka): ApiVersions v3 (flexible, client software name/version) and Metadata', { timeout: 30_000 }, async (t) => {
  if (!hasKcat()) return t.skip('kcat not installed');
  const b = new FakeBroker();
  const port = await b.start();
  const { stdout } = await run('kcat', ['-b', `127.0.0.1:${port}`, '-L', '-m', '10'], { timeout: 20_000 });
  await b.stop();
  assert.deepEqual(b.frames.filter((f) => f.error).map((f) => String(f.error)), []);
  const av = b.of(ApiKey.ApiVersions)[0]!;
  assert.equal(av.frame.readInt16BE(2), 3, 'librdkafka asks for ApiVersions v3 first');
  const d = av.decoded!;
  assert.ok(isRequest(d, ApiKey.ApiVersions));
  assert.equal(d.header.headerVersion, 2);
  assert.equal(d.body.clientSoftwareName, 'librdkafka');
  assert.match(d.body.clientSoftwareVersion ?? '', /^\d+\.\d+/);
  const md = b.of(ApiKey.Metadata).map((f) => f.decoded!.header.apiVersion);
  // librdkafka 2.0.2 (Debian) uses Metadata v4 at most; newer librdkafka goes flexible (v9+).
  assert.ok(md.length > 0 && md.every((v) => v >= 4), `Metadata versions used: ${md.join(',')}`);
  assert.match(stdout, /1 brokers:\s+broker 1 at 127\.0\.0\.1:\d+/);
  assert.match(stdout, /topic "rec-topic" with 1 partitions/);
});

test('kcat -P (librdkafka): produce with none/gzip/snappy/lz4/zstd; real snappy and lz4 batches decompress', { timeout: 60_000 }, async (t) => {
  if (!hasKcat()) return t.skip('kcat not installed');
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const b = new FakeBroker();
    const port = await b.start();
    const lines = Array.from({ length: 500 }, (_, i) => `message ${i} ${'abc'.repeat(i % 20)}`);
    const child = execFile('kcat', ['-b', `127.0.0.1:${port}`, '-P', '-t', 'rec-topic', '-z', codec, '-X', 'linger.ms=50'], { timeout: 20_000 });
    child.stdin!.end(lines.join('\n') + '\n');
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    await b.stop();
    assert.equal(code, 0, `kcat -z ${codec} exit`);
    assert.deepEqual(b.frames.filter((f) => f.error).map((f) => String(f.error)), []);
    const p = producedValues(b);
    const want = ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(codec);
    assert.ok(p.codecs.length > 0 && p.codecs.every((c) => c === want), `${codec}: codecs ${p.codecs.join(',')}`);
    if (codec !== 'zstd') assert.deepEqual(p.values, lines, `${codec}: values`);
    assert.ok(p.versions.every((v) => v >= 3), `${codec}: produce versions ${p.versions.join(',')}`);
  }
});

function hasPython(mod: string): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', `import ${mod}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

test('kafka-python 2.0.2 (fixed old versions): ApiVersions v0, Metadata, Produce with its batches', { timeout: 60_000 }, async (t) => {
  if (!hasPython('kafka')) return t.skip('kafka-python not installed for /usr/bin/python3');
  const b = new FakeBroker();
  const port = await b.start();
  const script = [
    'import kafka',
    `p = kafka.KafkaProducer(bootstrap_servers="127.0.0.1:${port}", acks=1, compression_type="gzip", linger_ms=200, request_timeout_ms=5000, max_block_ms=20000, api_version_auto_timeout_ms=20000)`,
    'for i in range(20): p.send("rec-topic", key=b"k%d" % i, value=b"py-%d" % i)',
    'p.flush(20)',
    'p.close(5)',
  ].join('\n');
  // Generous client timeouts: kafka-python probes the broker version with a 2 s default and on a
  // loaded machine (the full suite runs files two at a time) that probe can time out.
  await run('/usr/bin/python3', ['-c', script], { timeout: 50_000 });
  await b.stop();
  assert.deepEqual(b.frames.filter((f) => f.error).map((f) => String(f.error)), []);
  assert.ok(b.of(ApiKey.ApiVersions).length >= 1);
  const p = producedValues(b);
  assert.deepEqual(p.values, Array.from({ length: 20 }, (_, i) => `py-${i}`));
  // kafka-python sends a batch uncompressed when gzip would not make it smaller, as a batch of
  // one record is (its sender thread drains as soon as a record is queued, linger or not, when
  // the machine is loaded): every batch gzip or plain, and the 20 records lingered into gzip.
  assert.ok(p.codecs.every((c) => c === 1 || c === 0), `codecs ${p.codecs.join(',')}`);
  assert.ok(p.codecs.includes(1), `no gzip batch among ${p.codecs.join(',')}`);
  t.diagnostic(`kafka-python request versions: ${[...new Set(b.frames.map((f) => `${f.frame.readInt16BE(0)}v${f.frame.readInt16BE(2)}`))].join(' ')}`);
});

test('confluent-kafka (librdkafka via Python): produce with snappy', { timeout: 60_000 }, async (t) => {
  if (!hasPython('confluent_kafka')) return t.skip('confluent-kafka not installed for /usr/bin/python3');
  const b = new FakeBroker();
  const port = await b.start();
  const script = [
    'import confluent_kafka',
    `p = confluent_kafka.Producer({"bootstrap.servers": "127.0.0.1:${port}", "compression.codec": "snappy", "linger.ms": 100})`,
    'for i in range(50): p.produce("rec-topic", value=b"ck-%d" % i, headers=[("h", b"v")])',
    'assert p.flush(10) == 0',
  ].join('\n');
  await run('/usr/bin/python3', ['-c', script], { timeout: 30_000 });
  await b.stop();
  assert.deepEqual(b.frames.filter((f) => f.error).map((f) => String(f.error)), []);
  const p = producedValues(b);
  assert.deepEqual(p.values, Array.from({ length: 50 }, (_, i) => `ck-${i}`));
  // librdkafka sends a batch uncompressed when snappy would not make it smaller, as a batch of a
  // few of these short records may be: every batch is snappy or plain, and every batch of 10 or
  // more records (which snappy always shrinks) is snappy. In one full-suite run librdkafka sent
  // the 50 records as 50 one-record batches, all plain: then there is nothing to compress, and
  // the diagnostic says so.
  assert.ok(p.codecs.every((c) => c === 2 || c === 0), `codecs ${p.codecs.join(',')}`);
  const large = p.codecs.filter((_, i) => p.counts[i]! >= 10);
  assert.ok(large.every((c) => c === 2), `batches of 10+ records not snappy: codecs ${p.codecs.join(',')}, records ${p.counts.join(',')}`);
  t.diagnostic(`librdkafka batches: records ${p.counts.join(',')}, codecs ${p.codecs.join(',')}`);
  if (large.length === 0) t.diagnostic('librdkafka sent small batches only: none large enough to require snappy');
});

test('kafka-python with api_version 0.9 / 0.10: magic 0 and 1 message sets (plain and gzip) convert to RecordBatch v2', { timeout: 90_000 }, async (t) => {
  if (!hasPython('kafka')) return t.skip('kafka-python not installed for /usr/bin/python3');
  for (const [apiVersion, magic] of [['(0, 9)', 0], ['(0, 10, 1)', 1]] as const) {
    for (const compression of ['None', '"gzip"']) {
      const b = new FakeBroker();
      const port = await b.start();
      const script = [
        'import kafka',
        `p = kafka.KafkaProducer(bootstrap_servers="127.0.0.1:${port}", api_version=${apiVersion}, compression_type=${compression}, acks=1, request_timeout_ms=5000, max_block_ms=5000)`,
        'for i in range(10): p.send("rec-topic", key=b"k%d" % i, value=b"old-%d" % i)',
        'p.flush(10)',
        'p.close(5)',
      ].join('\n');
      await run('/usr/bin/python3', ['-c', script], { timeout: 30_000 });
      await b.stop();
      assert.deepEqual(b.frames.filter((f) => f.error).map((f) => String(f.error)), []);
      const values: string[] = [];
      for (const r of b.of(ApiKey.Produce)) {
        const d = r.decoded!;
        assert.ok(isRequest(d, ApiKey.Produce));
        assert.ok(d.header.apiVersion <= 2, `Produce v${d.header.apiVersion}`);
        const recs = d.body.topicData[0]!.partitionData[0]!.records!;
        assert.equal(recordsMagic(recs), magic);
        assert.equal(parseMessageSet(recs).length > 0, true);
        const conv = messageSetToRecordBatch(recs)!;
        validateRecordBatches(conv.batch);
        for (const rec of decodeRecordBatch(conv.batch).records) values.push(rec.value!.toString());
      }
      assert.deepEqual(values, Array.from({ length: 10 }, (_, i) => `old-${i}`), `${apiVersion} ${compression}`);
    }
  }
});
