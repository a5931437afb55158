import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { startServer, type TestServer } from './helpers.js';

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.close();
});

function client(): ReturnType<typeof createClient> {
  // RESP3: node-redis sends HELLO 3 (and CLIENT SETINFO) and expects RESP3 maps.
  return createClient({ url: `redis://127.0.0.1:${srv.port}`, RESP: 3 });
}

test('node-redis RESP3: lists, blocking pop, streams and pub/sub', async () => {
  const c = client();
  const b = client();
  const sub = client();
  c.on('error', () => {});
  b.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([c.connect(), b.connect(), sub.connect()]);
  try {
    assert.equal(await c.ping(), 'PONG');
    assert.equal(await c.lPush('nq', ['a', 'b']), 2);
    assert.equal(await c.rPop('nq'), 'a');
    assert.deepEqual(await c.lRange('nq', 0, -1), ['b']);
    const waiting = b.brPop('nq2', 5);
    await new Promise((r) => setTimeout(r, 100));
    await c.lPush('nq2', 'w');
    assert.deepEqual(await waiting, { key: 'nq2', element: 'w' });

    const id = await c.xAdd('ns', '*', { f: 'v' });
    await c.xGroupCreate('ns', 'g', '0');
    const res = await c.xReadGroup('g', 'c1', { key: 'ns', id: '>' }, { COUNT: 10 });
    const text = JSON.stringify(res);
    assert.ok(text.includes(id) && text.includes('"f"') && text.includes('"v"'), text);
    assert.equal(await c.xAck('ns', 'g', id), 1);
    const pend = await c.xPending('ns', 'g');
    assert.equal(pend.pending, 0);

    const got: string[] = [];
    await sub.subscribe('chan', (m, ch) => got.push(`${ch}:${m}`));
    await sub.pSubscribe('ch*', (m, ch) => got.push(`p:${ch}:${m}`));
    assert.equal(await c.publish('chan', 'hello'), 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got.sort(), ['chan:hello', 'p:chan:hello']);
    // RESP3 lets a subscribed connection run ordinary commands.
    assert.equal(await sub.ping(), 'PONG');
  } finally {
    await Promise.all([c.quit(), b.quit(), sub.quit()]);
  }
});
