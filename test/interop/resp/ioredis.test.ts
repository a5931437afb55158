import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { raw, startServer, type TestServer } from './helpers.js';

let srv: TestServer;
const clients: Redis[] = [];
function client(opts: Record<string, unknown> = {}): Redis {
  const c = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1, ...opts });
  clients.push(c);
  return c;
}

before(async () => {
  srv = await startServer();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await srv.close();
});

test('handshake, PING, ECHO, INFO, CLIENT, TIME, DBSIZE', async () => {
  const r = client();
  assert.equal(await r.ping(), 'PONG');
  assert.equal(await r.echo('hi'), 'hi');
  const info = await r.info();
  assert.match(info, /redis_version:7\.\d+\.\d+/);
  assert.match(info, /loading:0/);
  assert.match(info, /maxmemory_policy:noeviction/);
  assert.equal(await r.client('SETNAME', 'worker-1'), 'OK');
  assert.equal(await r.client('GETNAME'), 'worker-1');
  assert.equal(typeof (await r.client('ID')), 'number');
  assert.match(String(await r.client('LIST')), /name=worker-1/);
  const [sec, us] = await r.time();
  assert.ok(Math.abs(Number(sec) * 1000 + Number(us) / 1000 - Date.now()) < 5000);
  assert.equal(typeof (await r.dbsize()), 'number');
  await assert.rejects(r.call('NOSUCH', 'a', 'b'), /ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b'/);
  await assert.rejects(r.call('LPUSH', 'x'), /ERR wrong number of arguments for 'lpush' command/);
});

test('lists: LPUSH+RPOP and RPUSH+LPOP are FIFO; LRANGE/LLEN/LINDEX see the deque', async () => {
  const r = client();
  await r.lpush('fifo1', 'a', 'b', 'c');
  await r.lpush('fifo1', 'd');
  assert.deepEqual(await r.lrange('fifo1', 0, -1), ['d', 'c', 'b', 'a']);
  assert.equal(await r.llen('fifo1'), 4);
  assert.equal(await r.lindex('fifo1', 0), 'd');
  assert.equal(await r.lindex('fifo1', -1), 'a');
  assert.equal(await r.rpop('fifo1'), 'a');
  assert.deepEqual(await r.rpop('fifo1', 2), ['b', 'c']);
  assert.equal(await r.rpop('fifo1'), 'd');
  assert.equal(await r.rpop('fifo1'), null);
  assert.equal(await r.exists('fifo1'), 0);

  await r.rpush('fifo2', '1', '2', '3');
  assert.deepEqual(await r.lrange('fifo2', 0, -1), ['1', '2', '3']);
  assert.equal(await r.lpop('fifo2'), '1');
  assert.deepEqual(await r.lpop('fifo2', 5), ['2', '3']);
  assert.equal(await r.lpop('fifo2'), null);
});

test('lists: LIFO and edit-in-place operations are correct', async () => {
  const r = client();
  await r.rpush('stack', 'a', 'b', 'c');
  assert.equal(await r.rpop('stack'), 'c'); // pop at the push end
  await r.lpush('stack', 'z'); // push at the other end
  assert.deepEqual(await r.lrange('stack', 0, -1), ['z', 'a', 'b']);
  assert.equal(await r.lset('stack', 1, 'A'), 'OK');
  assert.equal(await r.linsert('stack', 'BEFORE', 'b', 'x'), 4);
  assert.deepEqual(await r.lrange('stack', 0, -1), ['z', 'A', 'x', 'b']);
  await r.rpush('stack', 'x');
  assert.equal(await r.lrem('stack', 0, 'x'), 2);
  assert.deepEqual(await r.lrange('stack', 0, -1), ['z', 'A', 'b']);
  assert.equal(await r.ltrim('stack', 1, -1), 'OK');
  assert.deepEqual(await r.lrange('stack', 0, -1), ['A', 'b']);
  assert.equal(await r.lpos('stack', 'b'), 1);
  await assert.rejects(r.lset('stack', 9, 'q'), /ERR index out of range/);
  assert.equal(await r.rpoplpush('stack', 'other'), 'b');
  assert.equal(await r.lmove('stack', 'other', 'LEFT', 'RIGHT'), 'A');
  assert.deepEqual(await r.lrange('other', 0, -1), ['b', 'A']);
  assert.equal(await r.exists('stack'), 0);
  assert.equal(await r.type('other'), 'list');
  assert.equal(await r.del('other'), 1);
  assert.equal(await r.llen('other'), 0);
});

test('BRPOP blocks and is woken by another client; timeout returns null', async () => {
  const a = client();
  const b = client();
  const t0 = Date.now();
  const waiting = a.brpop('jobs', 5);
  await new Promise((r) => setTimeout(r, 100));
  await b.lpush('jobs', 'j1');
  assert.deepEqual(await waiting, ['jobs', 'j1']);
  assert.ok(Date.now() - t0 < 2000);
  const t1 = Date.now();
  assert.equal(await a.brpop('jobs', 0.2), null);
  assert.ok(Date.now() - t1 >= 150);
  // BLPOP over several keys takes the first non-empty key.
  await b.rpush('k2', 'v2');
  assert.deepEqual(await a.blpop('k1', 'k2', 1), ['k2', 'v2']);
  // BLMOVE waits then moves.
  const mv = a.blmove('src', 'dst', 'RIGHT', 'LEFT', 5);
  await new Promise((r) => setTimeout(r, 50));
  await b.lpush('src', 'm');
  assert.equal(await mv, 'm');
  assert.deepEqual(await b.lrange('dst', 0, -1), ['m']);
});

test('a pipeline of 1000 commands', async () => {
  const r = client();
  const p = r.pipeline();
  for (let i = 0; i < 1000; i++) p.lpush('pipe', String(i));
  const res = await p.exec();
  assert.equal(res?.length, 1000);
  assert.deepEqual(res?.[999], [null, 1000]);
  const q = r.pipeline();
  for (let i = 0; i < 1000; i++) q.rpop('pipe');
  const out = (await q.exec())!.map(([e, v]) => (assert.equal(e, null), v));
  assert.deepEqual(out, Array.from({ length: 1000 }, (_, i) => String(i)));
});

test('streams: XADD, XRANGE, XREADGROUP, XACK, XPENDING, XAUTOCLAIM, XINFO', async () => {
  const r = client();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await r.xadd('events', '*', 'n', String(i)))!);
  assert.equal(await r.xadd('events', '1-1', 'n', 'x').catch((e: Error) => e.message), 'ERR The ID specified in XADD is equal or smaller than the target stream top item');
  assert.equal(await r.xlen('events'), 5);
  const all = await r.xrange('events', '-', '+');
  assert.deepEqual(all.map(([id]) => id), ids);
  assert.deepEqual(await r.xrange('events', ids[1]!, ids[2]!), [[ids[1], ['n', '1']], [ids[2], ['n', '2']]]);
  assert.deepEqual((await r.xrevrange('events', '+', '-', 'COUNT', 2)).map(([id]) => id), [ids[4], ids[3]]);
  assert.equal(await r.xgroup('CREATE', 'events', 'workers', '0'), 'OK');
  await assert.rejects(r.xgroup('CREATE', 'events', 'workers', '0'), /BUSYGROUP Consumer Group name already exists/);
  await assert.rejects(r.xreadgroup('GROUP', 'nope', 'c', 'STREAMS', 'events', '>'), /NOGROUP/);
  const got = (await r.xreadgroup('GROUP', 'workers', 'c1', 'COUNT', 3, 'STREAMS', 'events', '>')) as [string, [string, string[]][]][];
  assert.deepEqual(got[0]![1].map(([id]) => id), ids.slice(0, 3));
  assert.equal(await r.xack('events', 'workers', ids[0]!), 1);
  const summary = (await r.xpending('events', 'workers')) as [number, string, string, [string, string][]];
  assert.equal(summary[0], 2);
  assert.deepEqual(summary[3], [['c1', '2']]);
  const ext = (await r.xpending('events', 'workers', '-', '+', 10, 'c1')) as [string, string, number, number][];
  assert.deepEqual(ext.map((e) => [e[0], e[1], e[3]]), [[ids[1], 'c1', 1], [ids[2], 'c1', 1]]);
  await new Promise((res) => setTimeout(res, 30));
  const claimed = (await r.xautoclaim('events', 'workers', 'c2', 20, '0-0', 'COUNT', 10)) as [string, [string, string[]][], string[]];
  assert.equal(claimed[0], '0-0');
  assert.deepEqual(claimed[1].map(([id]) => id), [ids[1], ids[2]]);
  // History read of c2's pending entries.
  const hist = (await r.xreadgroup('GROUP', 'workers', 'c2', 'STREAMS', 'events', '0')) as [string, [string, string[]][]][];
  assert.deepEqual(hist[0]![1].map(([id]) => id), [ids[1], ids[2]]);
  const info = (await r.xinfo('STREAM', 'events')) as unknown[];
  assert.equal(info[info.indexOf('length') + 1], 5);
  const groups = (await r.xinfo('GROUPS', 'events')) as unknown[][];
  assert.equal(groups[0]![groups[0]!.indexOf('pending') + 1], 2);
  assert.equal(await r.xdel('events', ids[4]!), 1);
  assert.equal(await r.xlen('events'), 4);
  assert.equal(await r.xtrim('events', 'MAXLEN', 2), 2);
  assert.deepEqual((await r.xrange('events', '-', '+')).map(([id]) => id), [ids[2], ids[3]]);
  await assert.rejects(r.lpush('events', 'x'), /WRONGTYPE/);
  assert.equal(await r.type('events'), 'stream');
});

test('XREAD BLOCK is woken by XADD', async () => {
  const a = client();
  const b = client();
  const waiting = a.xread('BLOCK', 3000, 'STREAMS', 'live', '$');
  await new Promise((r) => setTimeout(r, 100));
  const id = await b.xadd('live', '*', 'k', 'v');
  const res = (await waiting) as [string, [string, string[]][]][];
  assert.deepEqual(res, [['live', [[id, ['k', 'v']]]]]);
  assert.equal(await a.xread('BLOCK', 100, 'STREAMS', 'live', '$'), null);
});

test('pub/sub with channels and patterns', async () => {
  const sub = client();
  const pub = client();
  const got: string[] = [];
  sub.on('message', (ch: string, m: string) => got.push(`m:${ch}:${m}`));
  sub.on('pmessage', (p: string, ch: string, m: string) => got.push(`p:${p}:${ch}:${m}`));
  await sub.subscribe('news');
  await sub.psubscribe('news.*');
  assert.deepEqual(await pub.pubsub('CHANNELS'), ['news']);
  assert.equal(await pub.pubsub('NUMPAT'), 1);
  assert.equal(await pub.publish('news', 'hello'), 1);
  assert.equal(await pub.publish('news.sport', 'goal'), 1);
  assert.equal(await pub.publish('other', 'x'), 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, ['m:news:hello', 'p:news.*:news.sport:goal']);
  await sub.unsubscribe('news');
  await sub.punsubscribe();
  assert.equal(await pub.publish('news', 'again'), 0);
});

test('AUTH: NOAUTH before, WRONGPASS on a bad password, works after', async () => {
  const s2 = await startServer('memory://', { password: 's3cret', users: new Map([['alice', 'pw']]) });
  try {
    const r1 = await raw(s2.port, '*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$1\r\nx\r\n');
    assert.equal(r1.text, '-NOAUTH Authentication required.\r\n');
    const r2 = await raw(s2.port, 'AUTH bad\r\nAUTH s3cret\r\nLPUSH q x\r\n', /:1\r\n$/);
    assert.equal(r2.text, '-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n:1\r\n');
    const bad = new Redis({ port: s2.port, host: '127.0.0.1', password: 'nope', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    bad.on('error', () => {});
    clients.push(bad);
    await assert.rejects(bad.connect()); // ioredis reports the WRONGPASS reply as a closed connection
    const good = new Redis({ port: s2.port, host: '127.0.0.1', password: 's3cret' });
    clients.push(good);
    assert.equal(await good.rpop('q'), 'x');
    const alice = new Redis({ port: s2.port, host: '127.0.0.1', username: 'alice', password: 'pw' });
    clients.push(alice);
    assert.equal(await alice.ping(), 'PONG');
    good.disconnect();
    alice.disconnect();
  } finally {
    await s2.close();
  }
});

test('XADD from 20 connections at once to one stream (file://, appends batched): every caller gets its own id, ids ascend in log order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-xadd-batch-'));
  const fsrv = await startServer(`file://${dir}`);
  const cs = Array.from({ length: 20 }, () => new Redis({ port: fsrv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  try {
    const sent = new Map<string, string>();
    await Promise.all(
      cs.map(async (c, n) => {
        for (let i = 0; i < 25; i++) sent.set((await c.xadd('batched', '*', 'who', `${n}.${i}`))!, `${n}.${i}`);
      }),
    );
    assert.equal(sent.size, 500, 'no id was handed to two callers');
    const log = await cs[0]!.xrange('batched', '-', '+');
    assert.equal(log.length, 500);
    for (const [id, fields] of log) assert.equal(fields[1], sent.get(id), `entry ${id} holds the fields of the XADD that got that id`);
    const order = log.map(([id]) => id.split('-').map(Number) as [number, number]);
    for (let i = 1; i < order.length; i++) assert.ok(order[i]![0] > order[i - 1]![0] || (order[i]![0] === order[i - 1]![0] && order[i]![1] > order[i - 1]![1]), 'ids ascend');
  } finally {
    for (const c of cs) c.disconnect();
    await fsrv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
