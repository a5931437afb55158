/**
 * Pipelined writes on one connection with fsync always (file://, in-process listener, ioredis):
 * later commands run while earlier writes wait for their fsync, yet every reply still means
 * "durable", replies come in command order, and a read in the pipeline sees the writes before it.
 * Durability is proven with a storage whose topic logs hold durable() at a gate. The last test
 * runs redis-py against `omnibus serve --fsync always` (needs dist/: npx tsc -p .).
 */
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import type { PartitionOptions, PartitionStore } from '../../../src/engine/storage/types.js';
import { EmbeddedTransport } from '../../../src/transports/embedded.js';
import { createRespListener } from '../../../src/protocols/resp/listener.js';
import { Broker } from '../../../src/protocols/resp/server/broker.js';
import { MAX_IN_FLIGHT } from '../../../src/protocols/resp/server/session.js';
import { FileStorageWrapper } from '../../engine/helpers.js';

/** Real file storage whose topic logs' durable() waits for `open()` of the gate. */
class GatedStorage extends FileStorageWrapper {
  #open!: () => void;
  #gate: Promise<void> = new Promise((r) => (this.#open = r));
  /** Topic log names whose durable() was called while the gate was shut. */
  readonly waiting = new Set<string>();
  #watch: { names: string[]; resolve: () => void } | undefined;

  override async open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    const store = await this.inner.open(name, opts);
    if (!name.startsWith('topics/')) return store;
    const topic = decodeURIComponent(name.split('/')[1]!);
    return new Proxy(store, {
      get: (t, p) => {
        if (p === 'durable') {
          return () => {
            this.waiting.add(topic);
            if (this.#watch && this.#watch.names.every((n) => this.waiting.has(n))) this.#watch.resolve();
            return this.#gate.then(() => t.durable());
          };
        }
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }

  /** Resolves once the logs of every topic in `names` are waiting for durability. */
  allWaiting(names: string[]): Promise<void> {
    if (names.every((n) => this.waiting.has(n))) return Promise.resolve();
    return new Promise((resolve) => (this.#watch = { names, resolve }));
  }

  release(): void {
    this.#open();
  }
}

/**
 * An in-process RESP listener over file storage (fsync always) in a fresh directory; `gated` wraps
 * the storage in GatedStorage. close() disconnects the clients made by client(), stops the
 * listener and removes the directory.
 */
async function serveFile<G extends boolean>(gated: G) {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-resp-fsp-'));
  const file = await FileStorage.open(dir);
  const storage = (gated ? new GatedStorage(file) : file) as G extends true ? GatedStorage : FileStorage;
  const engine = await Engine.open({ storage, fsync: 'always' });
  const transport = new EmbeddedTransport('file', engine);
  const ac = new AbortController();
  const listener = await createRespListener({ password: undefined, users: new Map() }).start(
    { transport, storage: 'file', dataDir: undefined, signal: ac.signal, log: () => {} },
    { host: '127.0.0.1', port: 0 },
  );
  const port = Number(listener.address.split(':').pop());
  const clients: Redis[] = [];
  return {
    port,
    engine,
    storage,
    client(): Redis {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.disconnect();
      ac.abort();
      await listener.close();
      await transport.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `p`, and whether it has settled yet (to check that a reply waits for its fsync). */
function watch<T>(p: Promise<T>): { result: Promise<T>; answered: () => boolean } {
  let done = false;
  const result = p.finally(() => (done = true));
  return { result, answered: () => done };
}

test('fsync always: a pipeline of writes to three keys has all three waiting for their fsync at once, and no reply leaves before the fsync', { timeout: 20_000 }, async () => {
  const srv = await serveFile(true);
  const storage = srv.storage;
  const r = srv.client();
  try {
    await r.ping();
    const exec = watch(
      r
        .pipeline()
        .lpush('q', 'a')
        .xadd('s', '*', 'f', 'v')
        .rpush('b', 'c')
        .lrange('q', 0, -1)
        .exec(),
    );
    // The XADD and the RPUSH were appended while the LPUSH waited for its fsync.
    await storage.allWaiting(['q', 's', 'b']);
    const other = r.duplicate();
    await other.ping(); // another connection's round trip: the first one had every chance to answer
    other.disconnect();
    assert.equal(exec.answered(), false, 'nothing is answered before the fsync');
    storage.release();
    const res = (await exec.result)!;
    assert.deepEqual(
      res.map(([e]) => e),
      [null, null, null, null],
    );
    assert.equal(res[0]![1], 1);
    assert.match(res[1]![1] as string, /^\d+-0$/);
    assert.equal(res[2]![1], 1);
    assert.deepEqual(res[3]![1], ['a'], 'the LRANGE sees the LPUSH before it');
  } finally {
    await srv.close();
  }
});

test('fsync always: replies of a long mixed pipeline come in command order and reads see every earlier write', async () => {
  const srv = await serveFile(false);
  const r = srv.client();
  try {
    const p = r.pipeline();
    const expect: ((v: unknown) => void)[] = [];
    let a = 0;
    let b = 0;
    let counter = 0;
    let lastId = '';
    for (let i = 0; i < 600; i++) {
      switch (i % 6) {
        case 0: {
          const n = ++a;
          p.lpush(`a${i % 4}`, String(i));
          expect.push((v) => assert.ok(typeof v === 'number' && v >= 1 && v <= n));
          break;
        }
        case 1:
          p.xadd('s', '*', 'i', String(i));
          expect.push((v) => {
            const id = v as string;
            const [ms, seq] = id.split('-').map(Number) as [number, number];
            if (lastId !== '') {
              const [lms, lseq] = lastId.split('-').map(Number) as [number, number];
              assert.ok(ms > lms || (ms === lms && seq > lseq), `${id} after ${lastId}`);
            }
            lastId = id;
          });
          break;
        case 2: {
          const n = ++b;
          p.rpush('b', String(i));
          expect.push((v) => assert.equal(v, n, 'one key: lengths in command order'));
          break;
        }
        case 3: {
          const n = b;
          p.llen('b');
          expect.push((v) => assert.equal(v, n, 'LLEN sees every RPUSH before it'));
          break;
        }
        case 4: {
          const n = ++counter;
          p.incr('counter');
          expect.push((v) => assert.equal(v, n));
          break;
        }
        default: {
          const n = Math.floor(i / 6) + 1;
          p.xlen('s');
          expect.push((v) => assert.equal(v, n, 'XLEN sees every XADD before it'));
        }
      }
    }
    const res = (await p.exec())!;
    assert.equal(res.length, expect.length);
    res.forEach(([e, v], i) => {
      assert.equal(e, null);
      expect[i]!(v);
    });
    assert.deepEqual(await r.lrange('b', 0, 2), ['2', '8', '14']);
  } finally {
    await srv.close();
  }
});

test('fsync always: MULTI/EXEC, WATCH and a blocking pop in a pipeline behind in-flight pushes answer as if run one by one', async () => {
  const srv = await serveFile(false);
  const r = srv.client();
  try {
    // As a command list: ioredis's pipeline type has no multi()/exec() of its own.
    const res = (await r
      .pipeline([
        ['lpush', 'x', '1'],
        ['watch', 'x'],
        ['lpush', 'x', '2'],
        ['multi'],
        ['lpush', 'x', '3'],
        ['exec'],
        ['lpush', 'y', 'v'],
        ['brpop', 'y', '1'],
        ['multi'],
        ['rpush', 'x', '4'],
        ['lrange', 'x', '0', '-1'],
        ['exec'],
      ])
      .exec())!;
    const vals = res.map(([e, v]) => (e ? `ERR ${(e as Error).message}` : v));
    assert.deepEqual(vals, [
      1,
      'OK',
      2,
      'OK',
      'QUEUED',
      null, // the watched key changed after WATCH: the transaction is aborted
      1,
      ['y', 'v'],
      'OK',
      'QUEUED',
      'QUEUED',
      [3, ['2', '1', '4']],
    ]);
  } finally {
    await srv.close();
  }
});

test(`fsync always: at most ${MAX_IN_FLIGHT} pipelined writes are in flight; the rest wait unread until earlier ones answer`, { timeout: 20_000 }, async () => {
  const srv = await serveFile(true);
  const storage = srv.storage;
  const broker = await Broker.for(srv.engine, () => {});
  const r = srv.client();
  const other = srv.client();
  try {
    await r.ping();
    await other.ping();
    const before = broker.totalCommands;
    let pings = 0;
    const xadds = (): number => broker.totalCommands - before - pings;
    const total = MAX_IN_FLIGHT * 3;
    const p = r.pipeline();
    for (let i = 0; i < total; i++) p.xadd('s', '*', 'i', String(i));
    const exec = p.exec();
    await storage.allWaiting(['s']);
    // Round trips on another connection until the first one has executed a full window, then more.
    while (xadds() < MAX_IN_FLIGHT) {
      await other.ping();
      pings++;
    }
    for (let i = 0; i < 10; i++) {
      await other.ping();
      pings++;
    }
    assert.equal(xadds(), MAX_IN_FLIGHT, 'execution stops at the window while the fsync is held');
    storage.release();
    const res = (await exec)!;
    assert.equal(res.length, total);
    assert.ok(res.every(([e]) => e === null));
    assert.equal(await r.xlen('s'), total);
  } finally {
    await srv.close();
  }
});

test('a push of 300,000 values joining a waiting batch of other clients is appended whole (no spread of its values)', { timeout: 30_000 }, async () => {
  const srv = await serveFile(true);
  const storage = srv.storage;
  const broker = await Broker.for(srv.engine, () => {});
  const [a, b, c] = [0, 1, 2].map(() => srv.client());
  try {
    await Promise.all([a!.ping(), b!.ping(), c!.ping()]);
    const ra = a!.lpush('k', 'a'); // holds the key's lock through its (gated) fsync
    await storage.allWaiting(['k']);
    const before = broker.totalCommands;
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    const rb = b!.lpush('k', 'b'); // queues a batch behind the lock
    while (broker.totalCommands === before) await turn();
    const many = Array.from({ length: 300_000 }, () => 'x');
    const rc = c!.lpush('k', many as unknown as string); // joins b's batch (ioredis flattens the array; its types do not say so)
    // c's push has joined once the broker counted it (it runs in the turn it is counted in).
    while (broker.totalCommands === before + 1) await turn();
    storage.release();
    assert.deepEqual(await Promise.all([ra, rb, rc]), [1, 2, 300_002]);
    assert.equal(await a!.llen('k'), 300_002);
  } finally {
    await srv.close();
  }
});

test('fsync always: the writes of one MULTI/EXEC (as the redis:// transport publishes) wait for their fsyncs together, and EXEC answers after them', { timeout: 20_000 }, async () => {
  const srv = await serveFile(true);
  const storage = srv.storage;
  const r = srv.client();
  try {
    await r.ping();
    const exec = watch(
      r
        .multi()
        .xadd('s1', '*', 'f', '1')
        .xadd('s2', '*', 'f', '2')
        .lpush('q', 'a')
        .lrange('q', 0, -1)
        .xadd('s1', '*', 'f', '3')
        .exec(),
    );
    await storage.allWaiting(['s1', 's2', 'q']);
    // (Another connection's command would wait for this EXEC: it holds the transaction barrier.)
    for (let i = 0; i < 20; i++) await new Promise((res) => setImmediate(res));
    assert.equal(exec.answered(), false, 'EXEC is not answered before the fsyncs');
    storage.release();
    const res = (await exec.result)!;
    assert.ok(res.every(([e]) => e === null));
    const [id1, id2, len, range, id3] = res.map(([, v]) => v) as [string, string, number, string[], string];
    assert.match(id1, /^\d+-\d+$/);
    assert.match(id2, /^\d+-\d+$/);
    assert.equal(len, 1);
    assert.deepEqual(range, ['a'], 'a read inside EXEC sees the push before it');
    const [a, b] = [id1, id3].map((x) => x.split('-').map(Number)) as [[number, number], [number, number]];
    assert.ok(b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]), 'ids of one stream grow in command order');
    assert.equal(await r.xlen('s1'), 2);
  } finally {
    await srv.close();
  }
});

const PY = '/usr/bin/python3';
const probe = spawnSync(PY, ['-c', 'import redis'], { encoding: 'utf8' });
const noPy = probe.status === 0 ? false : 'python3 -c "import redis" failed: install python3-redis';

/** redis-py: a non-transactional pipeline of mixed writes and reads, and the replies it got. */
const PY_PIPELINE = `
import json, sys, redis
r = redis.Redis(port=int(sys.argv[1]))
p = r.pipeline(transaction=False)
for i in range(200):
    p.rpush('py:l', str(i))
    p.xadd('py:s', {'i': str(i)})
    p.llen('py:l')
    if i % 50 == 49:
        p.lrange('py:l', -2, -1)
out = []
for v in p.execute():
    out.append(v.decode() if isinstance(v, bytes) else [x.decode() for x in v] if isinstance(v, list) else v)
print(json.dumps(out))
`;

test('omnibus serve --fsync always: a redis-py pipeline of RPUSH, XADD, LLEN and LRANGE gets every reply in command order', { skip: noPy, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-resp-fsp-'));
  const bin = path.resolve('bin/omnibus.js');
  const srv = spawn(process.execPath, [bin, 'serve', '--data', dir, '--fsync', 'always', '--resp-port', '0', '--no-amqp', '--no-kafka', '--no-stomp', '--no-mqtt', '--health-port', 'off'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      srv.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /resp 127\.0\.0\.1:(\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      srv.once('exit', (c) => reject(new Error(`omnibus serve exited ${c}: ${text}`)));
    });
    const py = spawn(PY, ['-c', PY_PIPELINE, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let json = '';
    py.stdout!.on('data', (d: Buffer) => (json += d.toString()));
    const code = await new Promise<number | null>((resolve) => py.once('exit', resolve));
    assert.equal(code, 0);
    const out = JSON.parse(json) as unknown[];
    let k = 0;
    let lastId = '';
    for (let i = 0; i < 200; i++) {
      assert.equal(out[k++], i + 1, 'RPUSH answers the length after it');
      const id = out[k++] as string;
      assert.match(id, /^\d+-\d+$/);
      const [ms, seq] = id.split('-').map(Number) as [number, number];
      if (lastId !== '') {
        const [lms, lseq] = lastId.split('-').map(Number) as [number, number];
        assert.ok(ms > lms || (ms === lms && seq > lseq));
      }
      lastId = id;
      assert.equal(out[k++], i + 1, 'LLEN sees the RPUSH before it');
      if (i % 50 === 49) assert.deepEqual(out[k++], [String(i - 1), String(i)]);
    }
    assert.equal(k, out.length);
  } finally {
    await new Promise<void>((resolve) => {
      if (srv.exitCode !== null) return resolve();
      srv.once('exit', () => resolve());
      srv.kill('SIGTERM');
    });
    rmSync(dir, { recursive: true, force: true });
  }
});
