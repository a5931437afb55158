/** What survives a restart of the engine on file storage (and what must not). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';

async function withDir(fn: (open: () => Promise<Engine>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-recovery-'));
  try {
    await fn(async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'never' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const decl = { type: 'topic' as const, durable: true, autoDelete: false, internal: false, arguments: {} };

test('a binding from a durable exchange to a transient topic does not survive a restart', async () => {
  await withDir(async (open) => {
    const e1 = await open();
    await e1.exchanges.declare({ name: 'amq.topic', ...decl });
    await e1.topic('transient', { durable: false });
    await e1.topic('kept');
    await e1.exchanges.bind('amq.topic', { kind: 'topic', name: 'transient' }, 'a.#');
    await e1.exchanges.bind('amq.topic', { kind: 'topic', name: 'kept' }, 'a.#');
    await e1.close();
    const e2 = await open();
    assert.equal(e2.getTopic('transient'), undefined);
    assert.deepEqual(e2.exchanges.route('amq.topic', 'a.b').topics, ['kept']);
    await e2.exchanges.publish('amq.topic', 'a.b', [{ body: Buffer.from('x'), timestamp: 1, priority: 0 }]);
    assert.equal(e2.getTopic('transient'), undefined, 'a publish does not resurrect the transient topic');
    await e2.close();
  });
});

test('deleting a topic removes its durable bindings for good', async () => {
  await withDir(async (open) => {
    const e1 = await open();
    await e1.exchanges.declare({ name: 'x', ...decl });
    await e1.topic('q');
    await e1.exchanges.bind('x', { kind: 'topic', name: 'q' }, '#');
    await e1.deleteTopic('q');
    await e1.close();
    const e2 = await open();
    assert.deepEqual(e2.exchanges.route('x', 'anything').topics, []);
    await e2.close();
  });
});

test('group options survive a restart', async () => {
  await withDir(async (open) => {
    const e1 = await open();
    await e1.group('q', 'g', { leaseMs: 1234, maxAttempts: 3, deadLetter: { topic: 'dlq' }, messageTtlMs: 500, maxLength: 7, overflow: 'reject-publish' });
    await e1.close();
    const e2 = await open();
    const g = e2.getTopic('q')!.groups.get('g')!;
    assert.equal(g.config.leaseMs, 1234);
    assert.equal(g.config.maxAttempts, 3);
    assert.equal(g.config.messageTtlMs, 500);
    assert.equal(g.config.maxLength, 7);
    assert.equal(g.config.overflow, 'reject-publish');
    assert.deepEqual(e2.deadLetterTarget(g), { topic: 'dlq' });
    await e2.close();
  });
});

test('messages removed by takeBatch stay removed after a restart', async () => {
  await withDir(async (open) => {
    const e1 = await open();
    await e1.publish('q', ['a', 'b', 'c', 'd'].map((b) => ({ body: Buffer.from(b), timestamp: 1, priority: 0 })));
    const g1 = await e1.group('q', 'g');
    assert.deepEqual((await g1.takeBatch(3)).map((r) => r.body.toString()), ['a', 'b', 'c']);
    await e1.close();
    const e2 = await open();
    const g2 = await e2.group('q', 'g');
    assert.deepEqual((await g2.peekReady()).map((r) => r.body.toString()), ['d']);
    assert.deepEqual((await g2.takeBatch(10)).map((r) => r.body.toString()), ['d']);
    await e2.close();
  });
});

test('runs of takeNewest from the end of one batch stay removed after a restart, and the rest keeps its order', async () => {
  await withDir(async (open) => {
    const e1 = await open();
    const bodies = 'abcdefghij'.split('');
    await e1.publish('q', bodies.map((b) => ({ body: Buffer.from(b), timestamp: 1, priority: 0 })));
    const g1 = await e1.group('q', 'g');
    assert.deepEqual((await g1.takeNewest(3))?.map((r) => r.body.toString()), ['j', 'i', 'h']);
    assert.deepEqual((await g1.takeNewest(3))?.map((r) => r.body.toString()), ['g', 'f', 'e']);
    await e1.close();
    const e2 = await open();
    const g2 = await e2.group('q', 'g');
    assert.equal(g2.readyCount, 4);
    assert.deepEqual((await g2.takeNewest(1))?.map((r) => r.body.toString()), ['d']);
    assert.deepEqual((await g2.takeBatch(10)).map((r) => r.body.toString()), ['a', 'b', 'c']);
    await e2.close();
  });
});

test('messages removed by takeNewest stay removed after a restart and the ready count is exact', async () => {
  await withDir(async (open) => {
    const e1 = await open();
    await e1.publish('q', ['a', 'b', 'c', 'd'].map((b) => ({ body: Buffer.from(b), timestamp: 1, priority: 0 })));
    const g1 = await e1.group('q', 'g');
    assert.deepEqual((await g1.takeNewest(2))?.map((r) => r.body.toString()), ['d', 'c']);
    await e1.close();
    const e2 = await open();
    const g2 = await e2.group('q', 'g');
    assert.equal(g2.readyCount, 2);
    assert.deepEqual((await g2.takeBatch(10)).map((r) => r.body.toString()), ['a', 'b']);
    await e2.close();
  });
});
