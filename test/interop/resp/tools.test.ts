import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { raw, startServer, type TestServer } from './helpers.js';

const run = promisify(execFile);
/** Wait for the server to close the connection. */
const NEVER = /(?!)/;
let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.close();
});

const CLI = '/usr/bin/redis-cli';

/** Runs a client with stdin input, asynchronously (the server runs in this process: never spawnSync it). */
function withInput(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args);
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('close', () => resolve(out));
    p.stdin.end(input);
  });
}
const BENCH = '/usr/bin/redis-benchmark';
const pyRedis = spawnSync('/usr/bin/python3', ['-c', 'import redis'], { encoding: 'utf8' });

test('redis-cli: normal and RESP3 commands, inline via stdin', { skip: existsSync(CLI) ? false : `${CLI} not installed` }, async () => {
  const cli = (...args: string[]) => run(CLI, ['-p', String(srv.port), ...args]).then((r) => r.stdout.trim());
  assert.equal(await cli('PING'), 'PONG');
  assert.equal(await cli('LPUSH', 'cliq', 'one', 'two'), '2');
  assert.equal(await cli('RPOP', 'cliq'), 'one');
  assert.match(await cli('-3', 'HELLO', '3'), /proto 3/);
  assert.equal(await cli('-3', 'LRANGE', 'cliq', '0', '-1'), 'two');
  const viaStdin = await withInput(CLI, ['-p', String(srv.port)], 'RPUSH cli2 "a b" c\nLRANGE cli2 0 -1\n');
  assert.equal(viaStdin, '2\na b\nc\n');
  const mass = await withInput(
    CLI,
    ['-p', String(srv.port), '--pipe'],
    Array.from({ length: 100 }, (_, i) => `*3\r\n$5\r\nLPUSH\r\n$4\r\nmass\r\n$${String(i).length}\r\n${i}\r\n`).join(''),
  );
  assert.match(mass, /errors: 0, replies: 100/);
  // Inline commands on a raw socket (telnet style).
  const inline = await raw(srv.port, 'PING\r\nLLEN mass\r\n', /:100\r\n$/);
  assert.equal(inline.text, '+PONG\r\n:100\r\n');
});

test('redis-benchmark -t ping,lpush,rpop completes without errors', { skip: existsSync(BENCH) ? false : `${BENCH} not installed` }, async () => {
  const r = await run(BENCH, ['-p', String(srv.port), '-t', 'ping,lpush,rpop', '-n', '10000', '-q'], { timeout: 60_000 });
  assert.doesNotMatch(r.stdout + r.stderr, /error|ERR/i);
  assert.match(r.stdout, /LPUSH: .*requests per second/);
  assert.match(r.stdout, /RPOP: .*requests per second/);
});

test('redis-py (Debian python3-redis)', { skip: pyRedis.status === 0 ? false : 'python3 -c "import redis" failed: python3-redis is not installed' }, async () => {
  const script = `
import redis, sys
r = redis.Redis(port=int(sys.argv[1]))
assert r.ping()
r.lpush('pyq', 'a', 'b')
assert r.rpop('pyq') == b'a'
i = r.xadd('pys', {'f': 'v'})
assert r.xrange('pys')[0][0] == i
print('ok')
`;
  const out = await run('/usr/bin/python3', ['-c', script, String(srv.port)]);
  assert.equal(out.stdout.trim(), 'ok');
});

test('bad input: protocol errors close that connection only', async () => {
  const good = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    await good.lpush('bad-q', 'still');
    const garbage = await raw(srv.port, '*1\r\nx\r\n', NEVER);
    assert.equal(garbage.text, "-ERR Protocol error: expected '$', got 'x'\r\n");
    assert.ok(garbage.closed);
    const big = await raw(srv.port, '*99999999999\r\n', NEVER);
    assert.equal(big.text, '-ERR Protocol error: invalid multibulk length\r\n');
    assert.ok(big.closed);
    const bulk = await raw(srv.port, '*1\r\n$999999999999\r\n', NEVER);
    assert.equal(bulk.text, '-ERR Protocol error: invalid bulk length\r\n');
    assert.ok(bulk.closed);
    const quotes = await raw(srv.port, 'SET "a\r\n');
    assert.equal(quotes.text, '-ERR Protocol error: unbalanced quotes in request\r\n');
    assert.equal(await good.rpop('bad-q'), 'still');
  } finally {
    good.disconnect();
  }
});

test('cross-protocol: a Redis list is the engine queue topic/default', async () => {
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    await r.lpush('xq', 'from-redis');
    const g = await srv.engine.group('xq', DEFAULT_GROUP);
    const d = await g.get();
    assert.equal(d?.body.toString(), 'from-redis');
    await d?.ack();
    await srv.engine.publish('xq', [{ body: Buffer.from('from-engine'), timestamp: Date.now(), priority: 0 }]);
    assert.equal(await r.rpop('xq'), 'from-engine');
    // A blocked BRPOP is woken by a publish from another protocol.
    const waiting = r.brpop('xq', 5);
    await new Promise((res) => setTimeout(res, 50));
    await srv.transport.publish('xq', [{ body: Buffer.from('via-transport') }]);
    assert.deepEqual(await waiting, ['xq', 'via-transport']);
  } finally {
    r.disconnect();
  }
});

test('file:// durability: acknowledged LPUSH/XADD/XGROUP survive a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-resp-'));
  try {
    const s1 = await startServer(`file://${dir}`);
    const r1 = new Redis({ port: s1.port, host: '127.0.0.1' });
    await r1.rpush('dq', 'a', 'b', 'c');
    const id = await r1.xadd('ds', '*', 'f', 'v');
    await r1.xgroup('CREATE', 'ds', 'g', '0');
    r1.disconnect();
    await s1.close();
    const s2 = await startServer(`file://${dir}`);
    const r2 = new Redis({ port: s2.port, host: '127.0.0.1' });
    try {
      assert.deepEqual(await r2.lrange('dq', 0, -1), ['a', 'b', 'c']);
      assert.equal(await r2.lpop('dq'), 'a'); // the orientation (RPUSH appends) survived too
      assert.deepEqual(await r2.xrange('ds', '-', '+'), [[id, ['f', 'v']]]);
      assert.equal(await r2.type('ds'), 'stream');
      const got = (await r2.xreadgroup('GROUP', 'g', 'c', 'STREAMS', 'ds', '>')) as [string, [string, string[]][]][];
      assert.equal(got[0]![1][0]![0], id);
    } finally {
      r2.disconnect();
      await s2.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
