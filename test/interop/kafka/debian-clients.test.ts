/**
 * librdkafka (kcat, confluent-kafka) and kafka-python 2.0.2 (fixed old API versions) against the
 * Kafka listener. Each is skipped, with the reason, when the client is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hasKcat, PY, pyHas, runCapture as run, startBroker, type Broker } from './helpers.js';


const kcat = hasKcat() ? false : 'kcat is not installed';
const confluent = pyHas('confluent_kafka') ? false : 'python3-confluent-kafka is not installed';
const kafkaPython = pyHas('kafka') ? false : 'python3-kafka (kafka-python) is not installed';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});


test('kcat: -L metadata, -P produce lines, -C -e consume them', { skip: kcat }, async () => {
  await b.engine.topic('kc', { partitions: 2 });
  const md = await run('kcat', ['-b', b.bootstrap, '-L', '-t', 'kc']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /1 brokers:\s+broker 1 at 127\.0\.0\.1:\d+/);
  assert.match(md.stdout, /topic "kc" with 2 partitions/);
  const lines = Array.from({ length: 1000 }, (_, i) => `line-${i}`);
  const prod = await run('kcat', ['-b', b.bootstrap, '-P', '-t', 'kc', '-p', '0', '-z', 'gzip'], lines.join('\n') + '\n');
  assert.equal(prod.code, 0, prod.stderr);
  const cons = await run('kcat', ['-b', b.bootstrap, '-C', '-t', 'kc', '-p', '0', '-o', 'beginning', '-e', '-q']);
  assert.equal(cons.code, 0, cons.stderr);
  assert.deepEqual(cons.stdout.trim().split('\n'), lines);
  // Keys via -K, consumer-group mode (-G) reads both partitions.
  const keyed = await run('kcat', ['-b', b.bootstrap, '-P', '-t', 'kc', '-K', ':', '-p', '1'], 'ka:va\nkb:vb\n');
  assert.equal(keyed.code, 0, keyed.stderr);
  const k = await run('kcat', ['-b', b.bootstrap, '-C', '-t', 'kc', '-p', '1', '-o', 'beginning', '-e', '-q', '-f', '%k=%s %o\\n']);
  assert.deepEqual(k.stdout.trim().split('\n'), ['ka=va 0', 'kb=vb 1']);
});

test('kcat -G: balanced consumer group with commits', { skip: kcat }, async () => {
  await b.engine.topic('kcg', { partitions: 3 });
  const lines = Array.from({ length: 300 }, (_, i) => `g${i}`);
  const prod = await run('kcat', ['-b', b.bootstrap, '-P', '-t', 'kcg'], lines.join('\n') + '\n');
  assert.equal(prod.code, 0, prod.stderr);
  // -G with -e exits once every assigned partition reached its end.
  const cons = await run('kcat', ['-b', b.bootstrap, '-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-q', 'kcg'], undefined, 60_000);
  assert.equal(cons.code, 0, cons.stderr);
  assert.deepEqual(cons.stdout.trim().split('\n').sort(), [...lines].sort());
  let committed = 0;
  for (let p = 0; p < 3; p++) committed += b.engine.committedOffset('kcat-group', 'kcg', p)?.offset ?? 0;
  assert.equal(committed, 300, 'offsets committed for every partition');
});

const CONFLUENT_SCRIPT = String.raw`
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
bs = sys.argv[1]
a = AdminClient({'bootstrap.servers': bs})
fs = a.create_topics([NewTopic('ck', num_partitions=3, replication_factor=1)])
for t, f in fs.items(): f.result()
p = Producer({'bootstrap.servers': bs, 'enable.idempotence': True, 'compression.type': 'lz4', 'linger.ms': 5})
for i in range(200):
    p.produce('ck', key=('k%d' % i).encode(), value=('v%d' % i).encode(), headers=[('h', b'x')])
assert p.flush(30) == 0
def consume(n):
    c = Consumer({'bootstrap.servers': bs, 'group.id': 'ck-g', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
    c.subscribe(['ck'])
    got = []
    while len(got) < n:
        m = c.poll(10)
        if m is None: break
        if m.error(): raise Exception(m.error())
        got.append((m.key().decode() if m.key() else None, m.value().decode(), [(k, v.decode()) for k, v in (m.headers() or [])]))
        c.commit(message=m, asynchronous=False)
    c.close()
    return got
first = consume(200)
for i in range(200, 210):
    p.produce('ck', value=('v%d' % i).encode())
p.flush(30)
second = consume(10)
print(json.dumps({'first': len(first), 'uniq': len(set(v for _, v, _ in first)), 'hdr': first[0][2], 'second': sorted(v for _, v, _ in second)}))
`;

test('confluent-kafka (librdkafka): admin, idempotent lz4 producer, group consumer with commits, resume', { skip: confluent }, async () => {
  const r = await run(PY, ['-c', CONFLUENT_SCRIPT, b.bootstrap], undefined, 90_000);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { first: number; uniq: number; hdr: [string, string][]; second: string[] };
  assert.equal(out.first, 200);
  assert.equal(out.uniq, 200);
  assert.deepEqual(out.hdr, [['h', 'x']]);
  assert.deepEqual(out.second, Array.from({ length: 10 }, (_, i) => `v${200 + i}`).sort());
});

const KAFKA_PYTHON_SCRIPT = String.raw`
import sys, json, logging
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient
from kafka.admin import NewTopic
bs = sys.argv[1]
adm = KafkaAdminClient(bootstrap_servers=bs)
adm.create_topics([NewTopic('kp', num_partitions=2, replication_factor=1)])
p = KafkaProducer(bootstrap_servers=bs, acks='all', compression_type='gzip')
for i in range(100):
    p.send('kp', key=('k%d' % i).encode(), value=('v%d' % i).encode(), headers=[('h', b'y')])
p.flush()
def consume(n):
    c = KafkaConsumer('kp', bootstrap_servers=bs, group_id='kp-g', auto_offset_reset='earliest', enable_auto_commit=False, consumer_timeout_ms=10000)
    got = []
    for m in c:
        got.append((m.key.decode() if m.key else None, m.value.decode(), [(k, v.decode()) for k, v in (m.headers or [])]))
        if len(got) == n: break
    c.commit()
    c.close()
    return got
first = consume(100)
for i in range(100, 105):
    p.send('kp', value=('v%d' % i).encode())
p.flush()
second = consume(5)
groups = [g[0] for g in adm.list_consumer_groups()]
print(json.dumps({'first': len(first), 'uniq': len(set(v for _, v, _ in first)), 'hdr': first[0][2], 'second': sorted(v for _, v, _ in second), 'groups': groups}))
`;

test('kafka-python 2.0.2: admin, gzip producer, group consumer with commits, resume', { skip: kafkaPython }, async () => {
  const r = await run(PY, ['-c', KAFKA_PYTHON_SCRIPT, b.bootstrap], undefined, 90_000);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { first: number; uniq: number; hdr: [string, string][]; second: string[]; groups: string[] };
  assert.equal(out.first, 100);
  assert.equal(out.uniq, 100);
  assert.deepEqual(out.hdr, [['h', 'y']]);
  assert.deepEqual(out.second, ['v100', 'v101', 'v102', 'v103', 'v104']);
  assert.ok(out.groups.includes('kp-g'));
});
