/**
 * Engine transactions on file storage: the commit record in meta/txlog, its replay at open (the
 * crash cases built by hand: a commit record whose lanes never got the data, one whose data is
 * already there, one whose earlier unconfirmed appends were lost), acks applied with the
 * publishes, appends ordered around a committing transaction. test/crash/tx-crash.test.ts kills
 * a real process at random moments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { ConsumerSink, DeliveryImpl } from '../../src/engine/group.js';
import { decodeBatch, encodeBatch, type RecordInput } from '../../src/engine/record.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { TxLog } from '../../src/engine/tx-log.js';

const rec = (body: string): RecordInput => ({ body: Buffer.from(body), timestamp: 1, priority: 0 });

async function withDir(fn: (dir: string, open: () => Promise<Engine>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-tx-'));
  try {
    await fn(dir, async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every body of partition 0 of `topic`, in log order. */
async function logBodies(e: Engine, topic: string): Promise<string[]> {
  const out: string[] = [];
  const { start, end } = e.logBounds(topic, 0);
  for (let off = start; off < end; ) {
    const batches = await e.readLog(topic, 0, off, 1 << 20);
    if (batches.length === 0) break;
    for (const b of batches) {
      decodeBatch(b.payload, b.baseOffset, b.count, off, (r) => out.push(r.body.toString()));
      off = b.baseOffset + b.count;
    }
  }
  return out;
}

/** Leases everything ready in `group` of `topic` to one consumer; returns the deliveries. */
async function lease(e: Engine, topic: string, group: string): Promise<{ got: DeliveryImpl[]; close: () => void }> {
  const got: DeliveryImpl[] = [];
  const g = await e.group(topic, group);
  const sink: ConsumerSink = { prefetch: 1000, push: (d) => void got.push(d) };
  const c = g.addConsumer(sink);
  // A pump pass delivers until credit or data runs out (reads are asynchronous on file storage).
  for (let seen = -1; got.length !== seen; ) {
    seen = got.length;
    await g.whenIdle();
  }
  return { got, close: () => g.removeConsumer(c) };
}

/** Writes a commit record straight into meta/txlog, as a process that died right after its fsync would have. */
async function writeCommitRecord(dir: string, parts: { topic: string; base: number; bodies: string[] }[], acks: { topic: string; group: string; offset: number }[]): Promise<void> {
  const storage = await FileStorage.open(dir);
  const log = new TxLog(await storage.open('meta/txlog', { fsync: 'always', segmentBytes: 1 << 20 }), (e) => {
    throw e;
  });
  log.appendCommit(
    parts.map((p) => ({ topic: p.topic, lane: '0', base: p.base, count: p.bodies.length, timestamp: 1, payload: encodeBatch(p.bodies.map(rec)) })),
    acks.map((a) => ({ ...a, lane: '0' })),
  );
  await log.durable();
  await storage.close();
}

test('a commit over two topics with an ack is all there after a restart, once', async () => {
  await withDir(async (_dir, open) => {
    const e1 = await open();
    await e1.publish('in', [rec('job')]);
    const { got, close } = await lease(e1, 'in', 'workers');
    const tx = e1.transaction();
    tx.publish('a', [rec('a1'), rec('a2')]);
    tx.publish('b', [rec('b1')]);
    tx.ack(got[0]!);
    await tx.commit();
    close();
    await e1.close();
    const e2 = await open();
    assert.deepEqual(await logBodies(e2, 'a'), ['a1', 'a2']);
    assert.deepEqual(await logBodies(e2, 'b'), ['b1']);
    const again = await lease(e2, 'in', 'workers');
    assert.deepEqual(again.got.map((d) => d.body.toString()), [], 'the acked job is not redelivered');
    again.close();
    await e2.close();
  });
});

test('a commit record whose publishes never reached their lanes is applied at open, acks included', async () => {
  await withDir(async (dir, open) => {
    const e1 = await open();
    await e1.topic('a');
    await e1.topic('b');
    await e1.publish('in', [rec('j0'), rec('j1')]);
    await e1.group('in', 'workers');
    await e1.close();
    await writeCommitRecord(
      dir,
      [
        { topic: 'a', base: 0, bodies: ['a1', 'a2'] },
        { topic: 'b', base: 0, bodies: ['b1'] },
      ],
      [{ topic: 'in', group: 'workers', offset: 0 }],
    );
    const e2 = await open();
    assert.deepEqual(await logBodies(e2, 'a'), ['a1', 'a2']);
    assert.deepEqual(await logBodies(e2, 'b'), ['b1']);
    const l = await lease(e2, 'in', 'workers');
    assert.deepEqual(l.got.map((d) => d.body.toString()), ['j1'], 'the replayed ack settled j0');
    l.close();
    await e2.close();
    const e3 = await open();
    assert.deepEqual(await logBodies(e3, 'a'), ['a1', 'a2'], 'a second open replays nothing');
    await e3.close();
  });
});

test('a commit record whose publishes already reached one lane adds only the missing one', async () => {
  await withDir(async (dir, open) => {
    const e1 = await open();
    await e1.publish('a', [rec('a1'), rec('a2')]);
    await e1.topic('b');
    await e1.close();
    await writeCommitRecord(
      dir,
      [
        { topic: 'a', base: 0, bodies: ['a1', 'a2'] },
        { topic: 'b', base: 0, bodies: ['b1'] },
      ],
      [],
    );
    const e2 = await open();
    assert.deepEqual(await logBodies(e2, 'a'), ['a1', 'a2']);
    assert.deepEqual(await logBodies(e2, 'b'), ['b1']);
    await e2.close();
  });
});

test('a commit record whose lane lost earlier unconfirmed appends lands at the end of what survived', async () => {
  await withDir(async (dir, open) => {
    const e1 = await open();
    await e1.publish('a', [rec('kept')]);
    await e1.close();
    // Reserved at offset 3: offsets 1..2 were appended before it but never confirmed, and lost.
    await writeCommitRecord(dir, [{ topic: 'a', base: 3, bodies: ['t1', 't2'] }], []);
    const e2 = await open();
    assert.deepEqual(await logBodies(e2, 'a'), ['kept', 't1', 't2']);
    await e2.publish('a', [rec('after')]);
    await e2.close();
    const e3 = await open();
    assert.deepEqual(await logBodies(e3, 'a'), ['kept', 't1', 't2', 'after']);
    await e3.close();
  });
});

test('a commit record of a topic deleted since is not replayed into anything', async () => {
  await withDir(async (dir, open) => {
    const e1 = await open();
    await e1.topic('kept');
    await e1.close();
    await writeCommitRecord(
      dir,
      [
        { topic: 'gone', base: 0, bodies: ['x'] },
        { topic: 'kept', base: 0, bodies: ['k'] },
      ],
      [],
    );
    const e2 = await open();
    assert.equal(e2.getTopic('gone'), undefined);
    assert.deepEqual(await logBodies(e2, 'kept'), ['k']);
    await e2.close();
  });
});

test('after commits finish, the transaction log holds nothing to replay', async () => {
  await withDir(async (dir, open) => {
    const e1 = await open();
    for (let i = 0; i < 20; i++) {
      const tx = e1.transaction();
      tx.publish('a', [rec(`a${i}`)]);
      tx.publish('b', [rec(`b${i}`)]);
      await tx.commit();
    }
    await e1.close();
    const storage = await FileStorage.open(dir);
    const log = new TxLog(await storage.open('meta/txlog', { fsync: 'always' }), () => {});
    assert.deepEqual(await log.pending(), []);
    await storage.close();
  });
});

test('appends to a lane during a commit keep call order, and the transaction batch stays contiguous', async () => {
  await withDir(async (_dir, open) => {
    const e = await open();
    await e.topic('a');
    const calls: Promise<unknown>[] = [];
    const tx = e.transaction();
    tx.publish('a', [rec('t1'), rec('t2'), rec('t3')]);
    calls.push(e.publish('a', [rec('p0')]));
    calls.push(tx.commit());
    for (let i = 1; i < 20; i++) {
      calls.push(e.publish('a', [rec(`p${i}`)]));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    const bodies = await logBodies(e, 'a');
    const plain = bodies.filter((b) => b.startsWith('p'));
    assert.deepEqual(plain, Array.from({ length: 20 }, (_, i) => `p${i}`));
    const at = bodies.indexOf('t1');
    assert.deepEqual(bodies.slice(at, at + 3), ['t1', 't2', 't3']);
    await e.close();
  });
});

test('a staged ack whose lease was lost is left out; the rest commits and the commit says MQ_ERR_LEASE_LOST', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  await engine.publish('q', [rec('m')]);
  const l = await lease(engine, 'q', 'g');
  const tx = engine.transaction();
  tx.publish('out', [rec('o')]);
  tx.ack(l.got[0]!);
  l.close(); // the lease ends: m goes back to the queue
  await assert.rejects(tx.commit(), { code: 'MQ_ERR_LEASE_LOST' });
  assert.deepEqual(await logBodies(engine, 'out'), ['o']);
  const again = await lease(engine, 'q', 'g');
  assert.deepEqual(again.got.map((d) => d.body.toString()), ['m']);
  again.close();
  await engine.close();
});

test('a delivery acked in a committing transaction cannot be returned by its subscription closing meanwhile', async () => {
  await withDir(async (_dir, open) => {
    const e = await open();
    await e.publish('q', [rec('m')]);
    await e.topic('out');
    const l = await lease(e, 'q', 'g');
    const tx = e.transaction();
    tx.publish('out', [rec('o')]);
    tx.ack(l.got[0]!);
    const committing = tx.commit();
    // Past the claim (a few microtasks), inside the commit record's fsync.
    for (let i = 0; i < 20; i++) await Promise.resolve();
    l.close();
    await committing;
    const again = await lease(e, 'q', 'g');
    assert.deepEqual(again.got.map((d) => d.body.toString()), []);
    again.close();
    await e.close();
  });
});

test('concurrent commits on the same lanes stack their reservations, apply in order, and reopen unchanged', async () => {
  await withDir(async (dir) => {
    const errors: unknown[] = [];
    const open = async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always', onError: (e) => errors.push(e) });
    const e1 = await open();
    await e1.topic('a');
    await e1.topic('b');
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const tx = e1.transaction();
      tx.publish('a', [rec(`t${i}.1`), rec(`t${i}.2`)]);
      tx.publish('b', [rec(`t${i}.b`)]);
      calls.push(tx.commit());
      if (i % 5 === 0) calls.push(e1.publish('a', [rec(`p${i}`)]));
    }
    await Promise.all(calls);
    const a = await logBodies(e1, 'a');
    assert.equal(a.length, 44);
    for (let i = 0; i < 20; i++) assert.equal(a[a.indexOf(`t${i}.1`) + 1], `t${i}.2`, `transaction ${i} is contiguous`);
    assert.equal((await logBodies(e1, 'b')).length, 20);
    await e1.close();
    const e2 = await open();
    assert.deepEqual(await logBodies(e2, 'a'), a);
    await e2.close();
    assert.deepEqual(errors, []);
  });
});
