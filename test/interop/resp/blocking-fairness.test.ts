/**
 * Blocked clients are served in the order they blocked (Redis's rule), for BRPOP/BLPOP/BLMPOP,
 * whether the element comes from LPUSH or from another protocol's publish; plus LPUSHX/RPUSHX and
 * LMPOP/BLMPOP shapes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from './helpers.js';

let srv: TestServer;
const clients: Redis[] = [];
function client(): Redis {
  const c = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
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

async function blockedCount(r: Redis): Promise<number> {
  const info = (await r.info('clients')) as string;
  return Number(/blocked_clients:(\d+)/.exec(info)![1]);
}

async function untilBlocked(r: Redis, n: number): Promise<void> {
  for (let i = 0; i < 200 && (await blockedCount(r)) < n; i++) await new Promise((res) => setTimeout(res, 5));
  assert.equal(await blockedCount(r), n);
}

test('BRPOP: first blocked, first served (LPUSH one at a time, and a multi-value LPUSH)', async () => {
  const ctl = client();
  const waiters = Array.from({ length: 6 }, () => client());
  for (const w of waiters) await w.ping();
  const got: Promise<[string, string] | null>[] = [];
  for (let i = 0; i < waiters.length; i++) {
    got.push(waiters[i]!.brpop('fair', 5));
    await untilBlocked(ctl, i + 1);
  }
  for (let i = 0; i < 3; i++) await ctl.lpush('fair', `v${i}`);
  await ctl.lpush('fair', 'v3', 'v4', 'v5');
  const res = await Promise.all(got);
  assert.deepEqual(
    res.map((r) => r?.[1]),
    ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'],
  );
});

test('fair order holds for messages published by another protocol (embedded API)', async () => {
  const ctl = client();
  const waiters = Array.from({ length: 4 }, () => client());
  for (const w of waiters) await w.ping();
  const got: Promise<[string, string] | null>[] = [];
  for (let i = 0; i < waiters.length; i++) {
    got.push(waiters[i]!.brpop('fair2', 'other', 5));
    await untilBlocked(ctl, i + 1);
  }
  for (let i = 0; i < 4; i++) await srv.engine.publish('fair2', [{ body: Buffer.from(`e${i}`), timestamp: Date.now(), priority: 0 }]);
  const res = await Promise.all(got);
  assert.deepEqual(
    res.map((r) => r?.[1]),
    ['e0', 'e1', 'e2', 'e3'],
  );
});

test('a timed-out waiter is skipped; BLMPOP and BLPOP share the order', async () => {
  const ctl = client();
  const a = client();
  const b = client();
  const c = client();
  // Long enough for b and c to block first, even on a loaded machine.
  const pa = a.blpop('fair3', 2);
  await untilBlocked(ctl, 1);
  const pb = b.call('blmpop', 5, 1, 'fair3', 'LEFT', 'COUNT', 2) as Promise<[string, string[]] | null>;
  await untilBlocked(ctl, 2);
  const pc = c.blpop('fair3', 5);
  assert.equal(await pa, null);
  await untilBlocked(ctl, 2);
  await ctl.rpush('fair3', 'x');
  await ctl.rpush('fair3', 'y');
  assert.deepEqual(await pb, ['fair3', ['x']]);
  assert.deepEqual(await pc, ['fair3', 'y']);
});

test('LPUSHX/RPUSHX only push to existing lists; LMPOP pops from the first non-empty key', async () => {
  const r = client();
  assert.equal(await r.lpushx('px', 'a'), 0);
  assert.equal(await r.exists('px'), 0);
  await r.rpush('px', 'a');
  assert.equal(await r.rpushx('px', 'b', 'c'), 3);
  assert.equal(await r.lpushx('px', 'z'), 4);
  assert.deepEqual(await r.lrange('px', 0, -1), ['z', 'a', 'b', 'c']);
  assert.deepEqual(await r.call('lmpop', 2, 'empty', 'px', 'RIGHT', 'COUNT', 2), ['px', ['c', 'b']]);
  assert.equal(await r.call('lmpop', 1, 'empty', 'LEFT'), null);
  await assert.rejects(r.call('lmpop', 0, 'k', 'LEFT'), /ERR numkeys should be greater than 0/);
});
