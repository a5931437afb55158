/**
 * Kombu and Celery over Omnibus's Redis protocol (Debian python3-kombu / python3-celery with
 * redis-py 4.3.4, RESP2):
 *  - kombu SimpleQueue producer/consumer with acks: LPUSH/BRPOP on the queue key, SADD/SMEMBERS
 *    `_kombu.binding.*`, the unacked hash + sorted-set index written in MULTI/EXEC pipelines;
 *  - kombu's visibility-timeout restore: redis-py Lock (SET NX PX, EVALSHA of the release script,
 *    recognised natively), ZREVRANGEBYSCORE, WATCH + MULTI/EXEC, the message pushed back;
 *  - a Celery worker (solo pool) with the broker AND result backend on Omnibus: a task is sent,
 *    executed and its result read back (SETEX + PUBLISH, SUBSCRIBE, GET/MGET); the worker is
 *    stopped by its pid.
 * Skipped with the reason when the Python packages are not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from './helpers.js';

const PY = '/usr/bin/python3';
const probe = spawnSync(PY, ['-c', 'import kombu, celery, redis'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `python3 -c "import kombu, celery, redis" failed (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}): install python3-kombu python3-celery python3-redis`;

let srv: TestServer;
let dir: string;
before(async () => {
  srv = await startServer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-celery-'));
});
after(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a Python script asynchronously (the server is in this process: never spawnSync it). */
function py(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PY, args, { env: { ...process.env, ...env }, cwd: dir });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const KOMBU_SCRIPT = `
import sys, json, time
from kombu import Connection
port = int(sys.argv[1])
url = 'redis://127.0.0.1:%d/0' % port
res = {}
with Connection(url) as conn:
    q = conn.SimpleQueue('kq')
    for i in range(5):
        q.put({'n': i})
    got = []
    for i in range(5):
        m = q.get(block=True, timeout=10)
        got.append(m.payload['n'])
        m.ack()
    res['acked'] = got
    q.close()

# An unacked message comes back after the visibility timeout (kombu's restore_visible).
with Connection(url, transport_options={'visibility_timeout': 1}) as conn:
    q = conn.SimpleQueue('kq2')
    q.put({'n': 'again'})
    m = q.get(block=True, timeout=10)
    ch = q.channel
    r = ch.client
    res['unacked_before'] = r.hlen(ch.unacked_key)
    time.sleep(1.5)
    ch.qos.restore_visible(num=10)
    res['unacked_after'] = r.hlen(ch.unacked_key)
    m2 = q.get(block=True, timeout=10)
    res['redelivered'] = m2.payload['n']
    m2.ack()
    res['lock_left'] = r.exists(ch.unacked_mutex_key)
    q.close()
print(json.dumps(res))
`;

test('kombu SimpleQueue: produce, consume with acks, visibility-timeout restore', { skip }, async () => {
  writeFileSync(path.join(dir, 'kombu_rt.py'), KOMBU_SCRIPT);
  const r = await py(['kombu_rt.py', String(srv.port)]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.deepEqual(res.acked, [0, 1, 2, 3, 4]);
  assert.equal(res.unacked_before, 1);
  assert.equal(res.unacked_after, 0);
  assert.equal(res.redelivered, 'again');
  assert.equal(res.lock_left, 0);
});

const APP = `
import os
from celery import Celery
url = os.environ['OMNIBUS_TEST_URL']
app = Celery('tinyapp', broker=url, backend=url)
app.conf.broker_connection_retry_on_startup = True
app.conf.worker_hijack_root_logger = False

@app.task
def add(x, y):
    return x + y
`;

const SEND = `
import sys
from tinyapp import add
r = add.delay(2, 3)
print(r.get(timeout=30))
r2 = add.apply_async((40, 2))
print(r2.get(timeout=30))
`;

test('Celery worker: broker and result backend on Omnibus', { skip }, async () => {
  writeFileSync(path.join(dir, 'tinyapp.py'), APP);
  writeFileSync(path.join(dir, 'send.py'), SEND);
  const env = { OMNIBUS_TEST_URL: `redis://127.0.0.1:${srv.port}/0`, PYTHONPATH: dir, C_FORCE_ROOT: '1' };
  const worker: ChildProcess = spawn(PY, ['-m', 'celery', '-A', 'tinyapp', 'worker', '--pool=solo', '-c', '1', '--without-mingle', '--without-gossip', '--loglevel=INFO'], {
    env: { ...process.env, ...env },
    cwd: dir,
  });
  let log = '';
  worker.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  worker.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => worker.on('close', () => resolve()));
  try {
    const r = await py(['send.py'], env);
    assert.equal(r.code, 0, `${r.err}\n--- worker log ---\n${log}`);
    assert.deepEqual(r.out.trim().split('\n'), ['5', '42']);
    assert.match(log, /succeeded in/);
  } finally {
    if (worker.pid !== undefined) process.kill(worker.pid, 'SIGTERM');
    const t = setTimeout(() => worker.pid !== undefined && process.kill(worker.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
});
