/**
 * stomp.py 8.0 (Debian python3-stomp) against the STOMP listener: queues in 1.0/1.1/1.2, topics
 * with wildcards, ack modes (client is cumulative), transactions, selectors, an invalid selector's
 * ERROR with the receipt id, NACK redelivery to ActiveMQ.DLQ, and a durable topic subscription
 * that keeps collecting while its client is away. Skipped with a reason when `import stomp` fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPython, startBroker, stompPySkip } from './helpers.js';

const skip = stompPySkip();

const PRELUDE = `
import os, json, time, stomp
PORT = int(os.environ['PORT'])
class L(stomp.ConnectionListener):
    def __init__(self): self.msgs = []; self.errors = []; self.receipts = []
    def on_message(self, f): self.msgs.append(f)
    def on_error(self, f): self.errors.append(f)
    def on_receipt(self, f): self.receipts.append(f.headers.get('receipt-id'))
def conn(cls=stomp.Connection12, **kw):
    c = cls([('127.0.0.1', PORT)], **kw); l = L(); c.set_listener('', l)
    return c, l
def wait(pred, t=5):
    end = time.time() + t
    while time.time() < end:
        if pred(): return True
        time.sleep(0.02)
    return False
`;

test('stomp.py: queues in STOMP 1.0, 1.1 and 1.2 with each version\'s ACK headers', { skip }, async () => {
  const b = await startBroker();
  try {
    const r = await runPython(
      PRELUDE +
        `
out = {}
for name, cls in [('10', stomp.Connection10), ('11', stomp.Connection11), ('12', stomp.Connection12)]:
    c, l = conn(cls)
    c.connect(wait=True)
    q = '/queue/v' + name
    if name == '10': c.subscribe(q, ack='client')
    else: c.subscribe(q, id='s', ack='client-individual')
    for i in range(3): c.send(q, 'm%d' % i, headers={'custom': 'x%d' % i})
    wait(lambda: len(l.msgs) == 3)
    for m in l.msgs:
        if name == '12': c.ack(m.headers['ack'])
        elif name == '11': c.ack(m.headers['message-id'], m.headers['subscription'])
        else: c.ack(m.headers['message-id'])
    c.disconnect()
    out[name] = [[m.body, m.headers['custom'], m.headers['destination']] for m in l.msgs]
    out[name + 'err'] = len(l.errors)
print(json.dumps(out))
`,
      { PORT: String(b.port) },
    );
    for (const v of ['10', '11', '12']) {
      assert.deepEqual((r as Record<string, unknown>)[v], [0, 1, 2].map((i) => [`m${i}`, `x${i}`, `/queue/v${v}`]));
      assert.equal((r as Record<string, unknown>)[v + 'err'], 0);
    }
    // Every ack settled: nothing left in the queues.
    for (const v of ['10', '11', '12']) assert.equal((await b.engine.group(`v${v}`, 'default')).readyCount + (await b.engine.group(`v${v}`, 'default')).leasedCount, 0);
  } finally {
    await b.close();
  }
});

test('stomp.py: topics fan out, wildcards * and >, non-matching subscribers get nothing', { skip }, async () => {
  const b = await startBroker();
  try {
    const r = (await runPython(
      PRELUDE +
        `
c, l = conn(); c.connect(wait=True)
subs = {'exact': '/topic/a.b', 'star': '/topic/a.*', 'gt': '/topic/a.>', 'other': '/topic/z.*'}
for sid, d in subs.items(): c.subscribe(d, id=sid, headers={'receipt': 'r-' + sid})
wait(lambda: len(l.receipts) == 4)
c.send('/topic/a.b', 'one')
c.send('/topic/a.b.c', 'two')
wait(lambda: len(l.msgs) >= 4); time.sleep(0.2)
c.disconnect()
print(json.dumps(sorted([m.headers['subscription'] + ':' + m.body + ':' + m.headers['destination'] for m in l.msgs])))
`,
      { PORT: String(b.port) },
    )) as string[];
    assert.deepEqual(r, ['exact:one:/topic/a.b', 'gt:one:/topic/a.b', 'gt:two:/topic/a.b.c', 'star:one:/topic/a.b']);
  } finally {
    await b.close();
  }
});

test('stomp.py: client ack is cumulative; unacked messages come back redelivered after disconnect', { skip }, async () => {
  const b = await startBroker();
  try {
    const r = (await runPython(
      PRELUDE +
        `
c, l = conn(); c.connect(wait=True)
c.subscribe('/queue/cum', id='1', ack='client')
for i in range(5): c.send('/queue/cum', str(i))
wait(lambda: len(l.msgs) == 5)
c.ack(l.msgs[2].headers['ack'])   # acks 0, 1, 2
c.disconnect()
c2, l2 = conn(); c2.connect(wait=True)
c2.subscribe('/queue/cum', id='1', ack='auto')
wait(lambda: len(l2.msgs) == 2); time.sleep(0.2)
c2.disconnect()
print(json.dumps([[m.body, m.headers['redelivered'], m.headers['JMSXDeliveryCount']] for m in l2.msgs]))
`,
      { PORT: String(b.port) },
    )) as string[][];
    assert.deepEqual(r, [
      ['3', 'true', '2'],
      ['4', 'true', '2'],
    ]);
  } finally {
    await b.close();
  }
});

test('stomp.py: BEGIN/COMMIT/ABORT — aborted sends never delivered, aborted acks redelivered', { skip }, async () => {
  const b = await startBroker();
  try {
    const r = (await runPython(
      PRELUDE +
        `
c, l = conn(); c.connect(wait=True)
c.subscribe('/queue/tx', id='1', ack='client-individual')
t1 = c.begin()
c.send('/queue/tx', 'aborted', transaction=t1)
c.abort(t1)
t2 = c.begin()
c.send('/queue/tx', 'committed', transaction=t2)
time.sleep(0.3)
before = len(l.msgs)
c.commit(t2)
wait(lambda: len(l.msgs) == 1)
m = l.msgs[0]
t3 = c.begin()
c.ack(m.headers['ack'], transaction=t3)
c.abort(t3)
wait(lambda: len(l.msgs) == 2)
m2 = l.msgs[1]
t4 = c.begin()
c.ack(m2.headers['ack'], transaction=t4)
c.commit(t4, headers={'receipt': 'done'}) if False else c.commit(t4)
time.sleep(0.3)
c.disconnect()
print(json.dumps({'before': before, 'msgs': [[x.body, x.headers['redelivered']] for x in l.msgs], 'errors': len(l.errors)}))
`,
      { PORT: String(b.port) },
    )) as { before: number; msgs: string[][]; errors: number };
    assert.equal(r.before, 0, 'nothing is delivered before COMMIT');
    assert.deepEqual(r.msgs, [
      ['committed', 'false'],
      ['committed', 'true'],
    ]);
    assert.equal(r.errors, 0);
    const g = await b.engine.group('tx', 'default');
    assert.equal(g.readyCount + g.leasedCount, 0, 'the committed ack settled it');
  } finally {
    await b.close();
  }
});

test('stomp.py: selectors over custom headers and JMS headers; an invalid selector gets ERROR with the receipt id', { skip }, async () => {
  const b = await startBroker();
  try {
    const r = (await runPython(
      PRELUDE +
        `
c, l = conn(); c.connect(wait=True)
c.subscribe('/queue/sel', id='red', ack='auto', headers={'selector': "color = 'red' AND weight > 5"})
c.subscribe('/queue/sel', id='prio', ack='auto', headers={'selector': "JMSPriority >= 7"})
c.send('/queue/sel', 'a', headers={'color': 'red', 'weight': '10'})
c.send('/queue/sel', 'b', headers={'color': 'red', 'weight': '2'})
c.send('/queue/sel', 'c', headers={'color': 'blue', 'priority': '8'})
wait(lambda: len(l.msgs) == 2); time.sleep(0.2)
got = sorted([m.headers['subscription'] + ':' + m.body for m in l.msgs])
c.disconnect()
c2, l2 = conn(); c2.connect(wait=True)
c2.subscribe('/queue/sel2', id='bad', headers={'selector': "color = = 'x'", 'receipt': 'sub-1'})
wait(lambda: len(l2.errors) > 0)
e = l2.errors[0]
print(json.dumps({'got': got, 'err': [e.headers.get('message'), e.headers.get('receipt-id')], 'connected': c2.is_connected() and False}))
`,
      { PORT: String(b.port) },
    )) as { got: string[]; err: [string, string] };
    assert.deepEqual(r.got, ['prio:c', 'red:a']);
    assert.match(r.err[0], /invalid selector at position \d+/);
    assert.equal(r.err[1], 'sub-1');
    // 'b' matches nobody: it waits in the queue for a consumer that wants it.
    const d = await (await b.engine.group('sel', 'default')).get();
    assert.equal(d?.body.toString(), 'b');
  } finally {
    await b.close();
  }
});

test('stomp.py: NACK redelivers with a count, then ActiveMQ.DLQ after max redeliveries', { skip }, async () => {
  const b = await startBroker({ maxRedeliveries: 2 });
  try {
    const r = (await runPython(
      PRELUDE +
        `
c, l = conn(); c.connect(wait=True)
c.subscribe('/queue/poison', id='1', ack='client-individual')
c.send('/queue/poison', 'bad', headers={'k': 'v'})
seen = 0
while wait(lambda: len(l.msgs) > seen, 1.5):
    m = l.msgs[seen]; seen += 1
    c.nack(m.headers['ack'])
c.subscribe('/queue/ActiveMQ.DLQ', id='dlq', ack='auto')
wait(lambda: any(m.headers['subscription'] == 'dlq' for m in l.msgs))
c.disconnect()
print(json.dumps([[m.headers['subscription'], m.body, m.headers['redelivered'], m.headers['JMSXDeliveryCount'], m.headers.get('k'), m.headers.get('original-destination'), m.headers.get('x-death-reason')] for m in l.msgs]))
`,
      { PORT: String(b.port) },
    )) as string[][];
    assert.deepEqual(r, [
      ['1', 'bad', 'false', '1', 'v', null, null],
      ['1', 'bad', 'true', '2', 'v', null, null],
      ['1', 'bad', 'true', '3', 'v', null, null],
      ['dlq', 'bad', 'false', '1', 'v', '/queue/poison', 'max-attempts'],
    ]);
  } finally {
    await b.close();
  }
});

test('stomp.py: a durable topic subscription collects while its client is away', { skip }, async () => {
  const b = await startBroker();
  try {
    const r = (await runPython(
      PRELUDE +
        `
c, l = conn(); c.connect(wait=True, headers={'client-id': 'app1'})
c.subscribe('/topic/news.>', id='1', ack='client-individual', headers={'activemq.subscriptionName': 'mysub', 'receipt': 'ok'})
wait(lambda: l.receipts)
c.disconnect()
p, pl = conn(); p.connect(wait=True)
p.send('/topic/news.sport', 'while away 1')
p.send('/topic/news.weather', 'while away 2')
p.send('/topic/other', 'not for us')
p.disconnect()
c, l = conn(); c.connect(wait=True, headers={'client-id': 'app1'})
c.subscribe('/topic/news.>', id='1', ack='client-individual', headers={'activemq.subscriptionName': 'mysub'})
wait(lambda: len(l.msgs) == 2); time.sleep(0.2)
for m in l.msgs: c.ack(m.headers['ack'])
c.unsubscribe('1', headers={'activemq.subscriptionName': 'mysub', 'receipt': 'gone'})
wait(lambda: 'gone' in l.receipts)
c.disconnect()
print(json.dumps([m.body for m in l.msgs]))
`,
      { PORT: String(b.port) },
    )) as string[];
    assert.deepEqual(r, ['while away 1', 'while away 2']);
    assert.ok(!b.engine.topicNames().some((n) => n.startsWith('stomp-durable:app1')), 'UNSUBSCRIBE with the subscription name removed it');
  } finally {
    await b.close();
  }
});
