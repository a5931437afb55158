/**
 * Pipelined pushes and pops from several ioredis clients at once, on file:// (where a push waits
 * for its write, so concurrent pushes to one key are combined) and in memory: every element
 * arrives once, and every reply is one a sequential execution could give.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startServer } from './helpers.js';

const CLIENTS = 6;
const PER_CLIENT = 300;

for (const storage of ['memory', 'file'] as const) {
  test(`${storage}://: concurrent pipelined LPUSH from ${CLIENTS} clients answer every length 1..N exactly once, then pipelined RPOP drains them in order`, async () => {
    const dir = storage === 'file' ? mkdtempSync(path.join(tmpdir(), 'omnibus-resp-pipe-')) : undefined;
    const srv = await startServer(dir ? `file://${dir}?fsync=interval` : 'memory://');
    const clients = Array.from({ length: CLIENTS }, () => new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
    try {
      const replies = await Promise.all(
        clients.map(async (r, c) => {
          const p = r.pipeline();
          for (let i = 0; i < PER_CLIENT; i++) p.lpush('q.pipe', `${c}:${i}`);
          return ((await p.exec()) ?? []).map(([e, v]) => {
            assert.equal(e, null);
            return v as number;
          });
        }),
      );
      for (const rs of replies) for (let i = 1; i < rs.length; i++) assert.ok(rs[i]! > rs[i - 1]!, 'one client sees its list grow');
      const all = replies.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: CLIENTS * PER_CLIENT }, (_, i) => i + 1));
      const p = clients[0]!.pipeline();
      for (let i = 0; i < CLIENTS * PER_CLIENT + 2; i++) p.rpop('q.pipe');
      const popped = ((await p.exec()) ?? []).map(([, v]) => v as string | null);
      assert.deepEqual(popped.slice(-2), [null, null]);
      const got = popped.slice(0, -2) as string[];
      assert.equal(new Set(got).size, CLIENTS * PER_CLIENT);
      // Each client's elements come out in the order it pushed them (FIFO per producer).
      for (let c = 0; c < CLIENTS; c++) {
        const mine = got.filter((v) => v.startsWith(`${c}:`)).map((v) => Number(v.split(':')[1]));
        assert.deepEqual(mine, Array.from({ length: PER_CLIENT }, (_, i) => i));
      }
    } finally {
      for (const c of clients) c.disconnect();
      await srv.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('concurrent pipelined RPOP from several clients hand out every element exactly once', async () => {
  const srv = await startServer('memory://');
  const clients = Array.from({ length: CLIENTS }, () => new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  try {
    const n = CLIENTS * PER_CLIENT;
    await clients[0]!.lpush('q.pops', ...Array.from({ length: n }, (_, i) => String(i)));
    const got = await Promise.all(
      clients.map(async (r) => {
        const p = r.pipeline();
        for (let i = 0; i < PER_CLIENT / 2; i++) p.rpop('q.pops');
        for (let i = 0; i < PER_CLIENT / 20; i++) p.rpop('q.pops', 10);
        return ((await p.exec()) ?? []).flatMap(([e, v]) => {
          assert.equal(e, null);
          return v === null ? [] : Array.isArray(v) ? (v as string[]) : [v as string];
        });
      }),
    );
    // Each client receives a subsequence of the FIFO order; together they hold every element once.
    for (const mine of got) for (let i = 1; i < mine.length; i++) assert.ok(Number(mine[i]) > Number(mine[i - 1]));
    assert.deepEqual(got.flat().map(Number).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
    assert.equal(await clients[0]!.llen('q.pops'), 0);
  } finally {
    for (const c of clients) c.disconnect();
    await srv.close();
  }
});

test('file://: RPOP with a count from several clients on their own keys at once returns only each key\'s elements, every one once, in order', async () => {
  // Pops on file:// wait for storage reads, so several are in flight together, each collecting its
  // elements' byte ranges (reused collectors, commands/lists.ts BodyRanges) before its reply.
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-resp-popcount-'));
  const srv = await startServer(`file://${dir}?fsync=interval`);
  const clients = Array.from({ length: CLIENTS }, () => new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  try {
    await Promise.all(clients.map((r, c) => r.lpush(`q.count.${c}`, ...Array.from({ length: PER_CLIENT }, (_, i) => `${c}:${i}:${'x'.repeat(i % 200)}`))));
    const got = await Promise.all(
      clients.map(async (r, c) => {
        const p = r.pipeline();
        for (let i = 0; i < PER_CLIENT / 20 + 1; i++) p.rpop(`q.count.${c}`, 20);
        const replies = ((await p.exec()) ?? []).map(([e, v]) => {
          assert.equal(e, null);
          return v as string[] | null;
        });
        assert.equal(replies.at(-1), null, 'the list is empty after its elements');
        return replies.slice(0, -1).flat() as string[];
      }),
    );
    for (let c = 0; c < CLIENTS; c++) {
      assert.deepEqual(
        got[c],
        Array.from({ length: PER_CLIENT }, (_, i) => `${c}:${i}:${'x'.repeat(i % 200)}`),
      );
    }
  } finally {
    for (const c of clients) c.disconnect();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
