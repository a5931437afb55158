/**
 * kafka-python 2.0.2 and confluent-kafka (librdkafka) from Debian's /usr/bin/python3 across a
 * broker RESTART on file storage: phase 1 creates a 3-partition topic with the admin client,
 * produces 300 keyed records (acks=all), and a group consumer consumes 150 of them and commits
 * synchronously; then the listener and the engine are closed and reopened on the same directory
 * and port; phase 2 produces 50 more, a new consumer of the same group resumes from the committed
 * offsets (exactly the 200 records not consumed before: no gap, no repeat), and the admin client
 * lists the group and describes the topic. Each client is skipped, with the reason, when missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { pyHas, runPython, startBroker, type Broker } from './helpers.js';

const confluent = pyHas('confluent_kafka') ? false : 'python3-confluent-kafka is not installed';
const kafkaPython = pyHas('kafka') ? false : 'python3-kafka (kafka-python) is not installed';

const py = runPython;

const KAFKA_PYTHON = String.raw`
import sys, json
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient
from kafka.admin import NewTopic
bs, phase, topic, group = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
adm = KafkaAdminClient(bootstrap_servers=bs)
out = {}
if phase == '1':
    adm.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    lo, hi = 0, 300
else:
    lo, hi = 300, 350
p = KafkaProducer(bootstrap_servers=bs, acks='all', retries=5)
for i in range(lo, hi):
    p.send(topic, key=('k%d' % i).encode(), value=('r%d' % i).encode())
p.flush()
p.close()
want = 150 if phase == '1' else 200
c = KafkaConsumer(topic, bootstrap_servers=bs, group_id=group, auto_offset_reset='earliest', enable_auto_commit=False, consumer_timeout_ms=15000)
got = []
for m in c:
    got.append(m.value.decode())
    if len(got) == want: break
c.commit()
c.close(autocommit=False)
out['got'] = got
if phase == '2':
    out['groups'] = [g[0] for g in adm.list_consumer_groups()]
    offs = adm.list_consumer_group_offsets(group)
    out['committed'] = sum(v.offset for k, v in offs.items() if k.topic == topic)
    out['partitions'] = len(adm.describe_topics([topic])[0]['partitions'])
adm.close()
print(json.dumps(out))
`;

const CONFLUENT = String.raw`
import sys, json
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
bs, phase, topic, group = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
adm = AdminClient({'bootstrap.servers': bs})
out = {}
if phase == '1':
    for t, f in adm.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)]).items(): f.result()
    lo, hi = 0, 300
else:
    lo, hi = 300, 350
p = Producer({'bootstrap.servers': bs, 'acks': 'all', 'enable.idempotence': True, 'linger.ms': 5})
for i in range(lo, hi):
    p.produce(topic, key=('k%d' % i).encode(), value=('r%d' % i).encode())
assert p.flush(30) == 0
want = 150 if phase == '1' else 200
c = Consumer({'bootstrap.servers': bs, 'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.subscribe([topic])
got = []
while len(got) < want:
    m = c.poll(15)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value().decode())
c.commit(asynchronous=False)
c.close()
out['got'] = got
if phase == '2':
    out['groups'] = [g.id for g in adm.list_groups(timeout=10)]
    out['partitions'] = len(adm.list_topics(topic=topic, timeout=10).topics[topic].partitions)
    res = adm.describe_configs([ConfigResource('topic', topic)])
    cfg = list(res.values())[0].result()
    out['retention'] = cfg['retention.ms'].value
print(json.dumps(out))
`;

interface Phase {
  got: string[];
  groups?: string[];
  committed?: number;
  partitions?: number;
  retention?: string;
}

async function restartScenario(script: string, topic: string, group: string): Promise<Phase> {
  const dir = await mkdtemp(path.join(tmpdir(), 'omnibus-kafka-py-'));
  const open = async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' });
  let b: Broker | undefined;
  try {
    b = await startBroker({ engine: await open() });
    const port = b.server.port;
    const first = (await py(script, [b.bootstrap, '1', topic, group])) as Phase;
    assert.equal(first.got.length, 150, 'phase 1 consumed 150');
    let committed = 0;
    for (let p = 0; p < 3; p++) committed += b.engine.committedOffset(group, topic, p)?.offset ?? 0;
    assert.equal(committed, 150, 'phase 1 committed exactly what it consumed');

    // Restart: listener and engine closed, reopened on the same directory and port.
    const engine = b.engine;
    await b.close();
    await engine.close();
    b = undefined;
    b = await startBroker({ engine: await open(), port });
    const second = (await py(script, [b.bootstrap, '2', topic, group])) as Phase;

    const all = Array.from({ length: 350 }, (_, i) => `r${i}`);
    assert.equal(new Set(first.got).size, 150);
    assert.ok(!second.got.some((v) => first.got.includes(v)), 'nothing consumed twice: phase 2 resumed at the committed offsets');
    assert.deepEqual([...first.got, ...second.got].sort(), [...all].sort(), 'every record consumed once across the restart');
    let after = 0;
    for (let p = 0; p < 3; p++) after += b.engine.committedOffset(group, topic, p)?.offset ?? 0;
    assert.equal(after, 350);
    return second;
  } finally {
    if (b) {
      const engine = b.engine;
      await b.close();
      await engine.close();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

test('kafka-python 2.0.2: admin, producer, group commits, resume from committed offsets after a broker restart', { skip: kafkaPython, timeout: 180_000 }, async () => {
  const second = await restartScenario(KAFKA_PYTHON, 'py-kp', 'py-kp-g');
  assert.ok(second.groups!.includes('py-kp-g'));
  assert.equal(second.committed, 350);
  assert.equal(second.partitions, 3);
});

test('confluent-kafka: admin, idempotent producer, group commits, resume from committed offsets after a broker restart', { skip: confluent, timeout: 180_000 }, async () => {
  const second = await restartScenario(CONFLUENT, 'py-ck', 'py-ck-g');
  assert.ok(second.groups!.includes('py-ck-g'));
  assert.equal(second.partitions, 3);
  assert.equal(second.retention, '604800000');
});
