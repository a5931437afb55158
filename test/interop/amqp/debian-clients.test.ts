/**
 * Debian's AMQP clients against the listener: pika (publish/consume, basic.get, confirms, tx),
 * amqp-tools (amqp-publish / amqp-consume, librabbitmq) and kombu/py-amqp (AMQPLAIN auth). Each
 * is skipped with the reason when it is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { startBroker, type Broker } from './helpers.js';

const PY = '/usr/bin/python3';
function pyHas(mod: string): boolean {
  return existsSync(PY) && spawnSync(PY, ['-c', `import ${mod}`]).status === 0;
}
const hasPika = pyHas('pika');
const hasKombu = pyHas('kombu');
const hasTools = existsSync('/usr/bin/amqp-publish') && existsSync('/usr/bin/amqp-consume');

function run(cmd: string, args: string[], input?: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args, { timeout: timeoutMs }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${cmd} failed: ${e.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) p.stdin!.end(input);
  });
}

let b: Broker;
before(async () => {
  b = await startBroker();
});
after(async () => {
  await b.close();
});

test('pika: publish with confirms, consume, basic.get, tx', { skip: hasPika ? false : 'python3-pika is not installed (/usr/bin/python3 -c "import pika" failed)' }, async () => {
  const script = `
import pika, sys
params = pika.ConnectionParameters(host='127.0.0.1', port=${b.server.port}, credentials=pika.PlainCredentials('guest', 'guest'))
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.confirm_delivery()
ch.queue_declare(queue='pika-q', durable=True)
for i in range(5):
    ch.basic_publish(exchange='', routing_key='pika-q', body=('p%d' % i).encode(), properties=pika.BasicProperties(delivery_mode=2, headers={'i': i}))
m, props, body = ch.basic_get('pika-q', auto_ack=False)
print('get', body.decode(), props.headers['i'], m.message_count)
ch.basic_ack(m.delivery_tag)
got = []
for method, props, body in ch.consume('pika-q', inactivity_timeout=1):
    if method is None: break
    got.append(body.decode())
    ch.basic_ack(method.delivery_tag)
    if len(got) == 4: break
ch.cancel()
print('consumed', ','.join(got))
tx = conn.channel()
tx.tx_select()
tx.basic_publish(exchange='', routing_key='pika-q', body=b'tx1')
tx.tx_rollback()
tx.basic_publish(exchange='', routing_key='pika-q', body=b'tx2')
tx.tx_commit()
m, props, body = tx.basic_get('pika-q', auto_ack=True)
print('tx', body.decode())
m = tx.basic_get('pika-q', auto_ack=True)[0]
print('empty', m is None)
conn.close()
`;
  const out = await run(PY, ['-c', script]);
  assert.match(out, /get p0 0 4/);
  assert.match(out, /consumed p1,p2,p3,p4/);
  assert.match(out, /tx tx2/);
  assert.match(out, /empty True/);
});

test('amqp-tools: amqp-publish then amqp-consume', { skip: hasTools ? false : 'amqp-tools (amqp-publish/amqp-consume) is not installed' }, async () => {
  const url = `amqp://guest:guest@127.0.0.1:${b.server.port}`;
  await run('/usr/bin/amqp-declare-queue', ['--url', url, '-q', 'tools-q', '-d']).catch(async () => {
    await b.engine.topic('tools-q');
  });
  await run('/usr/bin/amqp-publish', ['--url', url, '-r', 'tools-q', '-b', 'hello from librabbitmq']);
  const g = await b.engine.group('tools-q', DEFAULT_GROUP);
  assert.equal(g.readyCount, 1);
  const out = await run('/usr/bin/amqp-consume', ['--url', url, '-q', 'tools-q', '-c', '1', 'cat']);
  assert.equal(out, 'hello from librabbitmq');
});

test('kombu (py-amqp, AMQPLAIN): publish and consume', { skip: hasKombu ? false : 'python3-kombu is not installed (/usr/bin/python3 -c "import kombu" failed)' }, async () => {
  const script = `
from kombu import Connection, Exchange, Queue
with Connection('amqp://guest:guest@127.0.0.1:${b.server.port}//') as conn:
    q = Queue('kombu-q', Exchange('kombu-x', type='direct'), routing_key='k')
    producer = conn.Producer()
    producer.publish({'hello': 'kombu'}, exchange=q.exchange, routing_key='k', declare=[q], serializer='json')
    got = []
    def cb(body, message):
        got.append(body); message.ack()
    with conn.Consumer(q, callbacks=[cb]):
        conn.drain_events(timeout=5)
    print(got[0]['hello'])
`;
  const out = await run(PY, ['-c', script]);
  assert.match(out, /kombu/);
});
