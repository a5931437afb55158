/**
 * Strings, hashes, sets, sorted sets, expiry, RENAME, WATCH/MULTI/EXEC, OOM, scripting and
 * durability of the keyspace, through ioredis (RESP3 by default) and a RESP2 connection.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { Broker } from '../../../src/protocols/resp/server/broker.js';
import { MOVE_DUE, POP_DUE } from '../../../src/protocols/resp/transport-scripts.js';
import { raw, startServer, type TestServer } from './helpers.js';

let srv: TestServer;
const clients: Redis[] = [];
function client(opts: RedisOptions = {}, s: TestServer = srv): Redis {
  const c = new Redis({ port: s.port, host: '127.0.0.1', maxRetriesPerRequest: 1, ...opts });
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

test('strings: SET options, GET, INCR family, MGET/MSET, APPEND, STRLEN, GETDEL', async () => {
  const r = client();
  assert.equal(await r.set('s1', 'v'), 'OK');
  assert.equal(await r.set('s1', 'w', 'NX'), null);
  assert.equal(await r.set('s1', 'w', 'XX', 'GET'), 'v');
  assert.equal(await r.set('nope', 'x', 'XX'), null);
  assert.equal(await r.get('s1'), 'w');
  assert.equal(await r.setnx('s1', 'z'), 0);
  assert.equal(await r.incr('ctr'), 1);
  assert.equal(await r.incrby('ctr', 41), 42);
  assert.equal(await r.decrby('ctr', 2), 40);
  assert.equal(await r.incrbyfloat('ctr', '0.5'), '40.5');
  await assert.rejects(r.incr('s1'), /ERR value is not an integer or out of range/);
  await r.set('big', '9223372036854775807');
  await assert.rejects(r.incr('big'), /ERR increment or decrement would overflow/);
  assert.equal(await r.mset('m1', 'a', 'm2', 'b'), 'OK');
  assert.deepEqual(await r.mget('m1', 'm2', 'missing'), ['a', 'b', null]);
  assert.equal(await r.append('m1', 'bc'), 3);
  assert.equal(await r.strlen('m1'), 3);
  assert.equal(await r.getdel('m1'), 'abc');
  assert.equal(await r.exists('m1'), 0);
  await assert.rejects(r.set('s1', 'v', 'EX', '0'), /ERR invalid expire time in 'set' command/);
  await assert.rejects(r.call('set', 's1', 'v', 'NX', 'XX'), /ERR syntax error/);
  const bin = Buffer.from([0, 255, 13, 10, 1]);
  await r.set('bin', bin);
  assert.deepEqual(await r.getBuffer('bin'), bin);
});

test('hashes, sets, sorted sets and their RESP2/RESP3 reply shapes', async () => {
  const r = client();
  const r2 = client({ protocol: 2 } as RedisOptions);
  assert.equal(await r.hset('h', 'a', '1', 'b', '2'), 2);
  assert.equal(await r.hset('h', 'a', '3'), 0);
  assert.equal(await r.hget('h', 'a'), '3');
  assert.deepEqual(await r.hmget('h', 'a', 'zz'), ['3', null]);
  assert.deepEqual(await r.hgetall('h'), { a: '3', b: '2' });
  assert.deepEqual(await r2.hgetall('h'), { a: '3', b: '2' });
  assert.equal(await r.hincrby('h', 'b', 5), 7);
  await assert.rejects(r.hincrby('h', 'x', 1).then(() => r.hset('h', 'x', 'abc')).then(() => r.hincrby('h', 'x', 1)), /ERR hash value is not an integer/);
  assert.equal(await r.hsetnx('h', 'a', '9'), 0);
  assert.equal(await r.hexists('h', 'a'), 1);
  assert.equal(await r.hdel('h', 'a', 'nope'), 1);
  assert.deepEqual((await r.hkeys('h')).sort(), ['b', 'x']);
  assert.equal(await r.hlen('h'), 2);

  assert.equal(await r.sadd('st', 'a', 'b', 'c', 'a'), 3);
  assert.deepEqual((await r.smembers('st')).sort(), ['a', 'b', 'c']);
  assert.deepEqual((await r2.smembers('st')).sort(), ['a', 'b', 'c']);
  assert.equal(await r.sismember('st', 'b'), 1);
  assert.equal(await r.srem('st', 'b', 'zz'), 1);
  assert.equal(await r.scard('st'), 2);
  const popped = await r.spop('st');
  assert.ok(popped === 'a' || popped === 'c');
  assert.equal(await r.scard('st'), 1);
  assert.equal(typeof (await r.srandmember('st')), 'string');

  assert.equal(await r.zadd('z', 1, 'a', 2, 'b', 3, 'c'), 3);
  assert.equal(await r.zadd('z', 'NX', 10, 'a'), 0);
  assert.equal(await r.zadd('z', 'XX', 'CH', 5, 'a', 9, 'new'), 1);
  assert.equal(await r.zadd('z', 'GT', 'CH', 1, 'a'), 0);
  assert.equal(await r.zadd('z', 'INCR', 1, 'a'), '6');
  assert.equal(await r.zadd('z', 'NX', 'INCR', 1, 'a'), null);
  assert.equal(await r.zscore('z', 'a'), '6');
  assert.equal(await r2.zscore('z', 'a'), '6');
  assert.deepEqual(await r2.zrange('z', 0, -1, 'WITHSCORES'), ['b', '2', 'c', '3', 'a', '6']);
  // RESP3 on the wire: [member, double] pairs, as Redis 7.
  const wire = await raw(srv.port, 'HELLO 3\r\nZRANGE z 0 1 WITHSCORES\r\nZSCORE z a\r\n', /,6\r\n$/);
  assert.ok(wire.text.endsWith('*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3\r\n,6\r\n'), JSON.stringify(wire.text.slice(-80)));
  assert.deepEqual(await r2.zrangebyscore('z', '(2', '+inf'), ['c', 'a']);
  assert.deepEqual(await r2.zrevrangebyscore('z', 10, 0, 'WITHSCORES', 'LIMIT', 0, 2), ['a', '6', 'c', '3']);
  assert.deepEqual(await r2.zrange('z', 5, 2, 'BYSCORE', 'REV'), ['c', 'b']);
  assert.equal(await r.zcount('z', '-inf', '+inf'), 3);
  assert.equal(await r.zcard('z'), 3);
  assert.equal(await r.zrank('z', 'c'), 1);
  assert.deepEqual(await r2.zpopmin('z'), ['b', '2']);
  assert.equal(await r.zremrangebyscore('z', 0, 3), 1);
  assert.equal(await r.zrem('z', 'a', 'zz'), 1);
  assert.equal(await r.exists('z'), 0);
  await assert.rejects(r.zadd('z', 'x', 'a'), /ERR value is not a valid float/);
  await assert.rejects(r.call('zrangebyscore', 'z', 'a', '1'), /ERR min or max is not a float/);
});

test('types: TYPE, WRONGTYPE across lists/streams/keyspace, KEYS/SCAN TYPE, DEL', async () => {
  const r = client();
  await r.set('t:str', '1');
  await r.hset('t:hash', 'f', 'v');
  await r.sadd('t:set', 'm');
  await r.zadd('t:zset', 1, 'm');
  await r.lpush('t:list', 'x');
  await r.xadd('t:stream', '*', 'f', 'v');
  for (const t of ['str', 'hash', 'set', 'zset', 'list', 'stream']) assert.equal(await r.type(`t:${t}`), t === 'str' ? 'string' : t);
  await assert.rejects(r.get('t:hash'), /^ReplyError: WRONGTYPE/);
  await assert.rejects(r.lpush('t:str', 'x'), /WRONGTYPE/);
  await assert.rejects(r.xadd('t:set', '*', 'f', 'v'), /WRONGTYPE/);
  await assert.rejects(r.hset('t:list', 'f', 'v'), /WRONGTYPE/);
  await assert.rejects(r.set('t:list', 'v'), /WRONGTYPE/);
  assert.equal(await r.set('t:list', 'v', 'NX'), null);
  assert.equal(await r.set('t:hash', 'now a string'), 'OK');
  assert.equal(await r.type('t:hash'), 'string');
  assert.deepEqual((await r.keys('t:*')).sort(), ['t:hash', 't:list', 't:set', 't:str', 't:stream', 't:zset']);
  assert.deepEqual(await r.scan(0, 'MATCH', 't:*', 'TYPE', 'zset'), ['0', ['t:zset']]);
  assert.equal(await r.del('t:str', 't:set', 't:zset', 't:hash', 't:list', 't:stream', 'missing'), 6);
});

test('expiry: EXPIRE/PEXPIRE/TTL/PTTL/PERSIST, SETEX, lazy and active expiry; lists cannot expire', async () => {
  const r = client();
  await r.set('e1', 'v', 'PX', 80);
  const pttl = await r.pttl('e1');
  assert.ok(pttl > 0 && pttl <= 80);
  await r.setex('e2', 100, 'v');
  assert.equal(await r.ttl('e2'), 100);
  assert.equal(await r.persist('e2'), 1);
  assert.equal(await r.ttl('e2'), -1);
  assert.equal(await r.ttl('missing'), -2);
  await r.hset('e3', 'f', 'v');
  assert.equal(await r.pexpire('e3', 50), 1);
  assert.equal(await r.call('expire', 'e3', 100, 'NX'), 0);
  assert.equal(await r.expire('nope', 10), 0);
  await r.set('kept', 'v', 'EX', 100);
  await r.set('kept', 'w', 'KEEPTTL');
  assert.ok((await r.ttl('kept')) > 90);
  await new Promise((res) => setTimeout(res, 150));
  // Active expiry deleted them without any access.
  assert.equal(srv.engine && (await Broker.for(srv.engine, () => {})).kv.has('e1'), false);
  assert.equal(await r.exists('e1', 'e3'), 0);
  assert.equal(await r.get('e1'), null);
  await r.lpush('elist', 'x');
  assert.equal(await r.expire('elist', 10), 0);
  assert.equal(await r.ttl('elist'), -1);
  await r.set('gone', 'v');
  assert.equal(await r.expire('gone', -1), 1);
  assert.equal(await r.exists('gone'), 0);
});

test('RENAME and RENAMENX', async () => {
  const r = client();
  await r.sadd('rn1', 'a');
  await r.set('rn2', 'x');
  await r.pexpire('rn1', 100_000);
  assert.equal(await r.rename('rn1', 'rn2'), 'OK');
  assert.equal(await r.type('rn2'), 'set');
  assert.ok((await r.pttl('rn2')) > 90_000);
  assert.equal(await r.renamenx('rn2', 'rn2b'), 1);
  await r.set('rn3', 'v');
  assert.equal(await r.renamenx('rn2b', 'rn3'), 0);
  await assert.rejects(r.rename('missing', 'x'), /ERR no such key/);
  await r.lpush('rnl', 'x');
  await assert.rejects(r.rename('rnl', 'x'), /ERR RENAME of a list key is not supported/);
});

test('WATCH aborts EXEC when another client modifies the key; MULTI/EXEC is not interleaved', async () => {
  const a = client();
  const b = client();
  await a.set('w', '1');
  await a.watch('w');
  await b.set('w', '2');
  const res = await a.multi().set('w', '3').exec();
  assert.equal(res, null);
  assert.equal(await a.get('w'), '2');
  // Unmodified watched key: EXEC runs.
  await a.watch('w');
  assert.deepEqual(await a.multi().incr('ctr-w').get('w').exec(), [
    [null, 1],
    [null, '2'],
  ]);
  // A no-op write (SET NX failing) does not touch the key.
  await a.watch('w');
  await b.set('w', 'x', 'NX');
  assert.notEqual(await a.multi().get('w').exec(), null);
  // DISCARD/UNWATCH forget the watch.
  await a.watch('w');
  await a.unwatch();
  await b.set('w', '5');
  assert.deepEqual(await a.multi().get('w').exec(), [[null, '5']]);
  // A list write by another client also aborts.
  await a.watch('wl');
  await b.lpush('wl', 'x');
  assert.equal(await a.multi().llen('wl').exec(), null);

  // Isolation: many clients incrementing through MULTI/GET/SET pipelines never lose an update,
  // including transactions with an engine-async command (LPUSH) in the middle.
  const workers = Array.from({ length: 5 }, () => client());
  await Promise.all(
    workers.map(async (c) => {
      for (let i = 0; i < 20; i++) {
        const r = await c.multi().incr('iso').lpush('iso-list', 'x').incr('iso').exec();
        assert.ok(r);
        assert.equal((r[2]![1] as number) - (r[0]![1] as number), 1);
      }
    }),
  );
  assert.equal(await a.get('iso'), '200');
});

test('OOM above the keyspace memory limit; deletes still allowed', async () => {
  const r = client();
  const broker = await Broker.for(srv.engine, () => {});
  const saved = broker.kv.maxBytes;
  try {
    broker.kv.maxBytes = broker.kv.used;
    await r.set('oom1', 'x'.repeat(1000));
    await assert.rejects(r.set('oom2', 'y'), /^ReplyError: OOM command not allowed when used memory > 'maxmemory'\./);
    await assert.rejects(r.hset('oom3', 'f', 'v'), /OOM/);
    assert.equal(await r.get('oom1'), 'x'.repeat(1000));
    assert.equal(await r.del('oom1'), 1);
    assert.equal(await r.set('oom2', 'y'), 'OK');
  } finally {
    broker.kv.maxBytes = saved;
  }
});

test('scripting: redis-py Lock scripts run natively; other Lua is refused with a clear error', async () => {
  const r = client();
  await assert.rejects(r.eval('return 1', 0), /ERR Lua scripting is not supported by Omnibus/);
  await assert.rejects(r.evalsha('e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 0), /NOSCRIPT No matching script/);
  await assert.rejects(r.call('function', 'list'), /not supported by Omnibus/);
  const release = "\n        local token = redis.call('get', KEYS[1])\n        if not token or token ~= ARGV[1] then\n            return 0\n        end\n        redis.call('del', KEYS[1])\n        return 1\n    ";
  const sha = (await r.script('LOAD', release)) as string;
  assert.deepEqual(await r.script('EXISTS', sha, '0000'), [1, 0]);
  await r.set('lock', 'tok', 'PX', 10_000, 'NX');
  assert.equal(await r.evalsha(sha, 1, 'lock', 'other'), 0);
  assert.equal(await r.evalsha(sha, 1, 'lock', 'tok'), 1);
  assert.equal(await r.exists('lock'), 0);
});

test("scripting: the redis:// transport's delayed-publish and delayed-nack scripts run natively with Redis' results", async () => {
  const r = client();
  // MOVE_DUE: due members (score <= now), at most LIMIT, move from their hash into the stream.
  await r.hset('dh:1', 'body', 'one', 'k', 'a');
  await r.hset('dh:2', 'body', 'two');
  await r.hset('dh:3', 'body', 'three');
  await r.zadd('dz', 10, '1', 20, '2', 99, '3');
  assert.equal(await r.eval(MOVE_DUE, 2, 'dz', 'ds', 50, 1, 'dh:'), 1, 'LIMIT bounds one call');
  assert.equal(await r.eval(MOVE_DUE, 2, 'dz', 'ds', 50, 100, 'dh:'), 1);
  assert.equal(await r.eval(MOVE_DUE, 2, 'dz', 'ds', 50, 100, 'dh:'), 0, 'nothing is moved twice');
  const moved = (await r.xrange('ds', '-', '+')).map(([, f]) => f);
  assert.deepEqual(moved, [['body', 'one', 'k', 'a'], ['body', 'two']]);
  assert.deepEqual(await r.zrange('dz', 0, -1), ['3'], 'the member not yet due stays');
  assert.equal(await r.exists('dh:1', 'dh:2', 'dh:3'), 1, 'moved hashes are deleted');
  // POP_DUE: removes and returns the due members, ascending by score.
  await r.zadd('pz', 5, 'b', 1, 'a', 70, 'c');
  assert.deepEqual(await r.eval(POP_DUE, 1, 'pz', 60, 10), ['a', 'b']);
  assert.deepEqual(await r.eval(POP_DUE, 1, 'pz', 60, 10), []);
  assert.deepEqual(await r.zrange('pz', 0, -1), ['c']);
  // Two subscribers' calls at once (two connections): each due message is moved exactly once.
  const r2 = client();
  for (let i = 0; i < 50; i++) await r.hset(`ch:${i}`, 'body', String(i));
  await r.zadd('cz', ...Array.from({ length: 50 }, (_, i) => [1, String(i)]).flat());
  const [n1, n2] = await Promise.all([r.eval(MOVE_DUE, 2, 'cz', 'cs', 5, 100, 'ch:'), r2.eval(MOVE_DUE, 2, 'cz', 'cs', 5, 100, 'ch:')]);
  assert.equal((n1 as number) + (n2 as number), 50);
  assert.equal(await r.xlen('cs'), 50);
  assert.equal(await r.zcard('cz'), 0);
  // ioredis' defineCommand path: EVALSHA first, EVAL on NOSCRIPT.
  const sha = (await r.script('LOAD', POP_DUE)) as string;
  assert.deepEqual(await r.evalsha(sha, 1, 'pz', 100, 10), ['c']);
});

test('file:// durability: keyspace values, expiry and deletions survive a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-resp-kv-'));
  try {
    const s1 = await startServer(`file://${dir}`);
    const c1 = client({}, s1);
    await c1.set('d:s', 'v');
    await c1.set('d:ttl', 'v', 'EX', 1000);
    await c1.set('d:short', 'v', 'PX', 100);
    await c1.hset('d:h', 'a', '1', 'b', Buffer.from([0, 1, 2]));
    await c1.hdel('d:h', 'a');
    await c1.sadd('d:set', 'x', 'y');
    await c1.zadd('d:z', 1.5, 'm', '-inf', 'low');
    await c1.set('d:gone', 'v');
    await c1.del('d:gone');
    await c1.rename('d:set', 'd:set2');
    c1.disconnect();
    await s1.close();
    await new Promise((res) => setTimeout(res, 150));
    const s2 = await startServer(`file://${dir}`);
    const c2 = client({}, s2);
    assert.equal(await c2.get('d:s'), 'v');
    assert.ok((await c2.ttl('d:ttl')) > 990);
    assert.equal(await c2.exists('d:short', 'd:gone', 'd:set'), 0);
    assert.deepEqual(await c2.hgetallBuffer('d:h'), { b: Buffer.from([0, 1, 2]) });
    assert.deepEqual((await c2.smembers('d:set2')).sort(), ['x', 'y']);
    assert.deepEqual(await c2.zrange('d:z', 0, -1, 'WITHSCORES'), ['low', '-inf', 'm', '1.5']);
    c2.disconnect();
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
