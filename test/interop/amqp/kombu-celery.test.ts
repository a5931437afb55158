/**
 * kombu and Celery (Debian's python3-kombu 5.2 / python3-celery 5.2, over py-amqp) against
 * Omnibus's AMQP listener: a kombu SimpleQueue round trip, and a Celery worker that runs a task
 * whose result comes back through the `rpc://` backend (a reply queue the client consumes, with
 * the task's correlation id). py-amqp picks AMQPLAIN when the server offers it (kombu's
 * Connection asks for PLAIN unless told otherwise), so both mechanisms are exercised. Skipped, with the reason, when /usr/bin/python3 cannot import them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type Broker } from './helpers.js';
import { python, pythonMissing } from '../../differential/targets.js';

const missing = pythonMissing(['kombu', 'celery', 'amqp']);

let b: Broker;
let url: string;
before(async () => {
  if (missing) return;
  b = await startBroker();
  url = `amqp://guest:guest@127.0.0.1:${b.server.port}//`;
});
after(async () => {
  if (!missing) await b.close();
});

const KOMBU = String.raw`
import sys, json
from kombu import Connection
out = {}
with Connection(sys.argv[1]) as conn:
    conn.connect()
    raw = conn.connection
    out['offered'] = sorted(m.decode() for m in raw.mechanisms)
    out['chosen'] = next(a.mechanism.decode() for a in raw.authentication if a.mechanism in raw.mechanisms)
    out['product'] = raw.server_properties.get('product')
    q = conn.SimpleQueue('kombu.simple')
    q.put({'hello': 'world', 'n': 1}, serializer='json')
    q.put('second', serializer='json', headers={'trace': 't-1'})
    m = q.get(block=True, timeout=5)
    out['first'] = [m.payload, m.content_type, m.delivery_info.get('routing_key')]
    m.ack()
    m2 = q.get(block=True, timeout=5)
    out['second'] = [m2.payload, m2.headers.get('trace')]
    m2.requeue()
    m3 = q.get(block=True, timeout=5)
    out['requeued'] = [m3.payload, m3.delivery_info.get('redelivered')]
    m3.ack()
    try:
        q.get(block=False)
        out['empty'] = False
    except q.Empty:
        out['empty'] = True
    q.close()
# py-amqp on its own (Celery's and kombu's transport) prefers AMQPLAIN when the server offers it;
# kombu's Connection defaults to PLAIN unless login_method says otherwise.
import amqp
host = sys.argv[1].split('@')[1].rstrip('/')
raw = amqp.Connection(host=host, userid='guest', password='guest')
raw.connect()
out['py_amqp_chosen'] = next(a.mechanism.decode() for a in raw.authentication if a.mechanism in raw.mechanisms)
raw.close()
with Connection(sys.argv[1], login_method='AMQPLAIN') as conn:
    q = conn.SimpleQueue('kombu.amqplain')
    q.put('via-amqplain')
    m = q.get(block=True, timeout=5)
    out['amqplain_payload'] = m.payload
    m.ack()
    q.close()
print(json.dumps(out))
`;

test('kombu SimpleQueue: put, get, ack and requeue round trip, with PLAIN (kombu\'s default) and AMQPLAIN (py-amqp\'s choice)', { skip: missing }, async () => {
  const out = JSON.parse(await python(KOMBU, [url], 30_000)) as Record<string, unknown>;
  assert.deepEqual(out, {
    offered: ['AMQPLAIN', 'PLAIN'],
    chosen: 'PLAIN',
    product: 'Omnibus',
    first: [{ hello: 'world', n: 1 }, 'application/json', 'kombu.simple'],
    second: ['second', 't-1'],
    requeued: ['second', true],
    empty: true,
    py_amqp_chosen: 'AMQPLAIN',
    amqplain_payload: 'via-amqplain',
  });
});

const APP = String.raw`
import os
from celery import Celery
app = Celery('omnitasks', broker=os.environ['OMNIBUS_BROKER_URL'], backend='rpc://')
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
)

@app.task
def add(x, y):
    return x + y

@app.task
def fail(msg):
    raise ValueError(msg)
`;

const CLIENT = String.raw`
import json, sys, time
from omnitasks import add, fail
out = {}
t0 = time.time()
out['add'] = add.delay(2, 40).get(timeout=30)
out['many'] = [r.get(timeout=30) for r in [add.delay(i, i) for i in range(5)]]
try:
    fail.delay('boom').get(timeout=30)
    out['fail'] = None
except ValueError as e:
    out['fail'] = ['ValueError', str(e)]
out['seconds'] = round(time.time() - t0, 2)
print(json.dumps(out))
`;

function stopByPid(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    p.kill('SIGTERM'); // Celery's warm shutdown
  });
}

test('a Celery worker runs tasks sent through Omnibus and the rpc:// backend returns their results and errors', { skip: missing }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-celery-'));
  writeFileSync(join(dir, 'omnitasks.py'), APP);
  const env = { ...process.env, OMNIBUS_BROKER_URL: url, PYTHONPATH: dir, C_FORCE_ROOT: '1', PYTHONDONTWRITEBYTECODE: '1' };
  let log = '';
  const worker = spawn('/usr/bin/python3', ['-m', 'celery', '-A', 'omnitasks', 'worker', '--pool=solo', '-c', '1', '--without-gossip', '--without-mingle', '--without-heartbeat', '--loglevel=INFO'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout.on('data', (d: Buffer) => (log += d.toString()));
  worker.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const client = spawn('/usr/bin/python3', ['-c', CLIENT], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let o = '';
      let e = '';
      client.stdout.on('data', (d: Buffer) => (o += d.toString()));
      client.stderr.on('data', (d: Buffer) => (e += d.toString()));
      const timer = setTimeout(() => client.kill('SIGKILL'), 60_000);
      client.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(o);
        else reject(new Error(`celery client exited ${code}: ${e.slice(-2000)}\nworker log:\n${log.slice(-3000)}`));
      });
    });
    const res = JSON.parse(out) as { add: number; many: number[]; fail: unknown; seconds: number };
    assert.equal(res.add, 42);
    assert.deepEqual(res.many, [0, 2, 4, 6, 8]);
    assert.deepEqual(res.fail, ['ValueError', 'boom']);
    assert.match(log, /Task omnitasks\.add\[[0-9a-f-]+\] succeeded/);
  } finally {
    await stopByPid(worker);
    rmSync(dir, { recursive: true, force: true });
  }
});
