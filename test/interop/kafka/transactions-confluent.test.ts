/**
 * Kafka transactions with librdkafka 2.x (confluent-kafka on /usr/bin/python3): a transactional
 * producer's commits and abort, read_committed and read_uncommitted consumers, and
 * send_offsets_to_transaction in a consume-transform-produce loop. Skipped, with the reason, when
 * confluent-kafka is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PY, pyHas, runCapture, startBroker, type Broker } from './helpers.js';

const confluent = pyHas('confluent_kafka') ? false : 'python3-confluent-kafka is not installed';

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

const SCRIPT = String.raw`
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
bs = sys.argv[1]
out = {}
p = Producer({'bootstrap.servers': bs, 'transactional.id': 'py-tx'})
p.init_transactions(10)
p.begin_transaction()
for i in range(3): p.produce('pytx', value=f'c{i}'.encode())
p.commit_transaction(10)
p.begin_transaction()
p.produce('pytx', value=b'aborted')
p.flush(10)  # sent, so that the abort has written data to abort (else librdkafka purges it)
p.abort_transaction(10)
p.begin_transaction()
p.produce('pytx', value=b'c3')
p.commit_transaction(10)

def read(iso, n):
    c = Consumer({'bootstrap.servers': bs, 'group.id': 'py-' + iso, 'auto.offset.reset': 'earliest', 'isolation.level': iso, 'enable.auto.commit': False})
    c.subscribe(['pytx'])
    got = []
    import time
    end = time.time() + 15
    while time.time() < end and len(got) < n:
        m = c.poll(0.2)
        if m is None or m.error(): continue
        got.append(m.value().decode())
    # drain a little more to catch extras
    end = time.time() + 1
    while time.time() < end:
        m = c.poll(0.1)
        if m is not None and not m.error(): got.append(m.value().decode())
    c.close()
    return got
out['committed'] = read('read_committed', 4)
out['uncommitted'] = read('read_uncommitted', 5)

# consume-transform-produce with send_offsets_to_transaction
c = Consumer({'bootstrap.servers': bs, 'group.id': 'py-eos', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False, 'isolation.level': 'read_committed'})
c.subscribe(['pytx'])
import time
done = 0
end = time.time() + 15
while done < 4 and time.time() < end:
    m = c.poll(0.2)
    if m is None or m.error(): continue
    p.begin_transaction()
    p.produce('pytx-out', value=b'x' + m.value())
    p.send_offsets_to_transaction([TopicPartition(m.topic(), m.partition(), m.offset() + 1)], c.consumer_group_metadata(), 10)
    p.commit_transaction(10)
    done += 1
c.close()
out['eos_done'] = done
print(json.dumps(out))
`;

const python = (args: string[], input: string, timeoutMs = 90_000) => runCapture(PY, ['-', ...args], input, timeoutMs);

test('confluent-kafka: transactional commits and an abort; read_committed sees only the committed; send_offsets_to_transaction', { skip: confluent }, async () => {
  const r = await python([b.bootstrap], SCRIPT);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { committed: string[]; uncommitted: string[]; eos_done: number };
  assert.deepEqual(out.committed, ['c0', 'c1', 'c2', 'c3']);
  assert.deepEqual([...out.uncommitted].sort(), ['aborted', 'c0', 'c1', 'c2', 'c3']);
  assert.equal(out.eos_done, 4);
  assert.equal(b.engine.committedOffset('py-eos', 'pytx', 0)?.offset, b.engine.logBounds('pytx', 0).end - 1, 'the last consumed offset + 1 (the commit marker is the last offset)');
});
