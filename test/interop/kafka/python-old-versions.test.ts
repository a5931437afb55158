/**
 * kafka-python 2.0.2 (Debian's /usr/bin/python3) with a fixed old `api_version` — it then skips
 * ApiVersions and sends the versions of that broker release: (0, 10, 1) Produce v2 / Fetch v3
 * (magic 1), (0, 10) Produce v2 / Fetch v2 (magic 1), (0, 9) Produce v1 / Fetch v1 (magic 0),
 * (0, 8, 2) Produce v0 / Fetch v0 (magic 0, no consumer groups: assign() and OffsetCommit v1).
 *
 * Every client connection goes through a recording TCP proxy (the broker advertises the proxy's
 * port), so each test asserts the request versions the client really sent, not only the outcome.
 *
 * Per api_version: 20 keyed records produced plain and 20 gzip-compressed, consumed (a group for
 * 0.9+, assign for 0.8.2), offsets committed and read back; keys, values and offsets intact;
 * CreateTime timestamps within the produce window for magic 1, none (None) for magic 0. Then the
 * down-conversion of data written by a current client: kafkajs gzip batches with headers and a
 * committed transaction (its marker) read by kafka-python at (0, 10, 1) and (0, 9); and raw Fetch
 * v3 requests at a transaction marker (nothing to send: an empty answer; a large batch after it:
 * served past the marker). Also librdkafka (kcat) with `api.version.request=false` and
 * `broker.version.fallback` 0.9.0 / 0.8.2 (with 0.10.0 librdkafka 2.0.2 still sends ApiVersions
 * and then current versions).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { CompressionTypes } from 'kafkajs';
import { parseMessageSet } from '../../../src/protocols/kafka/index.js';
import { hasKcat, pyHas, rawCall, runPython, runTool, startBroker, type Broker } from './helpers.js';

const skip = pyHas('kafka') ? false : 'python3-kafka (kafka-python) is not installed';
const skipKcat = skip || (hasKcat() ? false : 'kcat is not installed');

async function kcat(args: string[], input = ''): Promise<string> {
  let stdout = '';
  const { code, stderr } = await runTool('kcat', args, { input, onData: (d) => (stdout += d.toString()), timeoutMs: 30_000 });
  if (code !== 0) throw new Error(`kcat exited ${code}: ${stderr}`);
  return stdout;
}

const py = (script: string, args: string[]) => runPython(script, args, 60_000) as Promise<Record<string, unknown>>;

/**
 * A TCP proxy in front of the broker that records "apiKey:apiVersion" of every request frame the
 * clients send (frames are INT32 size + header INT16 api_key INT16 api_version ...).
 */
class RecordingProxy {
  readonly seen = new Set<string>();
  server!: net.Server;
  target = 0;
  readonly #sockets = new Set<net.Socket>();
  async listen(): Promise<number> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      let pending = Buffer.alloc(0);
      client.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 8) {
          const size = pending.readInt32BE(0);
          if (pending.length < 4 + size) break;
          this.seen.add(`${pending.readInt16BE(4)}:${pending.readInt16BE(6)}`);
          pending = pending.subarray(4 + size);
        }
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as net.AddressInfo).port;
  }
  versionsOf(apiKey: number): number[] {
    return [...this.seen].filter((s) => s.startsWith(`${apiKey}:`)).map((s) => Number(s.split(':')[1])).sort((a, b) => a - b);
  }
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const OLD_CLIENT = String.raw`
import sys, json, time
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
bs, ver, topic = sys.argv[1], tuple(int(x) for x in sys.argv[2].split('.')), sys.argv[3]
out = {'t0': int(time.time() * 1000)}
offsets = []
for comp in (None, 'gzip'):
    p = KafkaProducer(bootstrap_servers=bs, api_version=ver, acks=1, compression_type=comp, linger_ms=20)
    tag = comp or 'plain'
    futs = [p.send(topic, key=('%s-k%d' % (tag, i)).encode(), value=('%s-v%d' % (tag, i)).encode()) for i in range(20)]
    p.flush()
    offsets += [f.get(timeout=10).offset for f in futs]
    p.close()
out['t1'] = int(time.time() * 1000)
out['offsets'] = offsets
kw = dict(bootstrap_servers=bs, api_version=ver, group_id='g-' + topic, auto_offset_reset='earliest', enable_auto_commit=False, consumer_timeout_ms=8000)
tp = TopicPartition(topic, 0)
if ver >= (0, 9):
    c = KafkaConsumer(topic, **kw)
else:
    c = KafkaConsumer(**kw)
    c.assign([tp])
got = []
for m in c:
    got.append([m.offset, m.key.decode(), m.value.decode(), m.timestamp, m.timestamp_type])
    if len(got) == 30: break
c.commit()
c.close(autocommit=False)
c = KafkaConsumer(**kw)
out['committed'] = c.committed(tp)
c.assign([tp])
for m in c:
    got.append([m.offset, m.key.decode(), m.value.decode(), m.timestamp, m.timestamp_type])
    if len(got) == 40: break
c.close(autocommit=False)
out['got'] = got
print(json.dumps(out))
`;

const READER = String.raw`
import sys, json
from kafka import KafkaConsumer, TopicPartition
bs, ver, topic, want = sys.argv[1], tuple(int(x) for x in sys.argv[2].split('.')), sys.argv[3], int(sys.argv[4])
c = KafkaConsumer(bootstrap_servers=bs, api_version=ver, auto_offset_reset='earliest', enable_auto_commit=False, consumer_timeout_ms=8000)
c.assign([TopicPartition(topic, 0)])
got = []
for m in c:
    got.append([m.offset, m.key.decode() if m.key is not None else None, m.value.decode(), m.timestamp, m.timestamp_type])
    if len(got) == want: break
c.close()
print(json.dumps({'got': got}))
`;

let broker: Broker;
let proxy: RecordingProxy;
let bs: string;

before(async () => {
  if (skip) return;
  proxy = new RecordingProxy();
  const port = await proxy.listen();
  broker = await startBroker({ advertisedHost: '127.0.0.1', advertisedPort: port });
  proxy.target = broker.server.port;
  bs = `127.0.0.1:${port}`;
});

after(async () => {
  if (skip) return;
  await proxy.close();
  await broker.close();
});

type Row = [number, string, string, number | null, number | null];

const CASES: { ver: string; produce: number; fetch: number; magic: 0 | 1 }[] = [
  { ver: '0.10.1', produce: 2, fetch: 3, magic: 1 },
  { ver: '0.10.0', produce: 2, fetch: 2, magic: 1 },
  { ver: '0.9', produce: 1, fetch: 1, magic: 0 },
  { ver: '0.8.2', produce: 0, fetch: 0, magic: 0 },
];

for (const c of CASES) {
  test(`kafka-python api_version=${c.ver} produces with Produce v${c.produce}, consumes with Fetch v${c.fetch} (magic ${c.magic}) and commits offsets`, { skip, timeout: 90_000 }, async (t) => {
    proxy.seen.clear();
    const topic = `old-${c.ver.replace(/\./g, '')}`;
    const out = await py(OLD_CLIENT, [bs, c.ver, topic]);
    t.diagnostic(`api_key:version sent: ${[...proxy.seen].sort().join(' ')}`);
    assert.deepEqual(proxy.versionsOf(0), [c.produce], 'Produce versions sent');
    assert.deepEqual(proxy.versionsOf(1), [c.fetch], 'Fetch versions sent');
    assert.deepEqual(proxy.versionsOf(18), [], 'ApiVersions is not sent with a fixed api_version');
    assert.deepEqual(out.offsets, [...Array(40).keys()], 'every record acknowledged with its own offset');
    const got = out.got as Row[];
    const want = [...Array(40).keys()].map((i) => {
      const tag = i < 20 ? 'plain' : 'gzip';
      return [i, `${tag}-k${i % 20}`, `${tag}-v${i % 20}`];
    });
    assert.deepEqual(
      got.map((r) => r.slice(0, 3)),
      want,
      'keys, values and offsets intact, in order; the second consumer resumes at the committed offset',
    );
    assert.equal(out.committed, 30, 'the committed offset reads back');
    for (const r of got) {
      if (c.magic === 1) {
        assert.equal(r[4], 0, 'CreateTime');
        assert.ok(r[3]! >= (out.t0 as number) - 1000 && r[3]! <= (out.t1 as number) + 1000, `timestamp ${r[3]} within the produce window`);
      } else assert.equal(r[3], null, 'magic 0 messages carry no timestamp');
    }
  });
}

test('data written by a current client (gzip batches with headers, a committed transaction) is down-converted for kafka-python at 0.10.1 and 0.9', { skip, timeout: 90_000 }, async () => {
  const topic = 'old-downconvert';
  const kafka = broker.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const t0 = 1_700_000_000_000;
  await producer.send({
    topic,
    compression: CompressionTypes.GZIP,
    messages: [...Array(10).keys()].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: String(t0 + i), headers: { h: 'x' } })),
  });
  await producer.disconnect();
  const tx = kafka.producer({ transactionalId: 'old-downconvert-tx', idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  const t = await tx.transaction();
  await t.send({ topic, messages: [{ key: 'tk', value: 'tv', timestamp: String(t0 + 100) }] });
  await t.commit();
  await tx.disconnect();
  // Offsets 0-9 the gzip batch, 10 the transactional record, 11 its commit marker.
  for (const [ver, magic] of [['0.10.1', 1], ['0.9', 0]] as const) {
    proxy.seen.clear();
    const out = await py(READER, [bs, ver, topic, '11']);
    assert.deepEqual(proxy.versionsOf(1), [ver === '0.9' ? 1 : 3]);
    const rows = out.got as Row[];
    assert.deepEqual(
      rows.map((r) => r.slice(0, 3)),
      [...[...Array(10).keys()].map((i) => [i, `k${i}`, `v${i}`]), [10, 'tk', 'tv']],
      `api_version ${ver}: every record, markers skipped`,
    );
    if (magic === 1) assert.deepEqual(rows.map((r) => r[3]), [...[...Array(10).keys()].map((i) => t0 + i), t0 + 100], 'record timestamps kept in magic 1');
    else assert.ok(rows.every((r) => r[3] === null));
  }
});

/** One raw request on a fresh connection to the broker; the decoded response body. */
const call = (apiKey: number, version: number, body: unknown) => rawCall(broker, apiKey, version, body);

test('Fetch v3 at a transaction marker: empty when nothing follows, else the next message even past a small partition limit', { skip, timeout: 30_000 }, async () => {
  const topic = 'old-marker';
  const kafka = broker.kafka();
  const tx = kafka.producer({ transactionalId: 'old-marker-tx', idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  const t = await tx.transaction();
  await t.send({ topic, messages: [{ key: 'tk', value: 'tv' }] });
  await t.commit();
  await tx.disconnect();
  const fetch = async (maxWaitMs: number) => {
    const r = await call(1, 3, { replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1000 }] }] });
    const p = r.responses[0].partitions[0];
    assert.equal(p.errorCode, 0);
    return parseMessageSet(Buffer.concat([p.records ?? Buffer.alloc(0)].flat()), { allowPartial: true });
  };
  assert.deepEqual(await fetch(100), [], 'only the commit marker (offset 1) is there');
  const big = 'x'.repeat(20_000);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'big', value: big }] });
  await producer.disconnect();
  const msgs = await fetch(5000);
  assert.deepEqual(msgs.map((m) => [m.offset, m.magic, m.key?.toString(), m.value?.length]), [[2, 1, 'big', 20_000]]);
});

for (const [fallback, produceV, fetchV] of [['0.9.0', 1, 1], ['0.8.2', 0, 0]] as const) {
  test(`kcat with broker.version.fallback=${fallback} produces gzip with Produce v${produceV} and reads with Fetch v${fetchV}`, { skip: skipKcat, timeout: 60_000 }, async (t) => {
    proxy.seen.clear();
    const topic = `old-kcat-${fallback.replace(/\./g, '')}`;
    const common = ['-b', bs, '-t', topic, '-X', 'api.version.request=false', '-X', `broker.version.fallback=${fallback}`];
    const lines = [...Array(50).keys()].map((i) => `k${i}:v${i}`);
    await kcat([...common, '-P', '-K:', '-z', 'gzip'], lines.join('\n') + '\n');
    const out = await kcat([...common, '-C', '-e', '-K:', '-f', '%o %k:%s\n']);
    t.diagnostic(`api_key:version sent: ${[...proxy.seen].sort().join(' ')}`);
    assert.deepEqual(proxy.versionsOf(0), [produceV]);
    assert.deepEqual(proxy.versionsOf(1), [fetchV]);
    assert.deepEqual(out.trim().split('\n'), lines.map((l, i) => `${i} ${l}`));
  });
}
