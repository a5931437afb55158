/**
 * maxLengthBytes (AMQP x-max-length-bytes): the group's ready body bytes follow every state
 * change (publish, lease, nack, delay, purge), drop-head keeps them at or under the limit and
 * reject-publish refuses a message that would take them above it. The AMQP differential suite
 * checks the same rules against RabbitMQ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { rec, settle, Sink } from './helpers.js';

test('ready bytes count bodies of ready messages: leased ones leave, nacked and due ones come back, purge empties', async () => {
  const clock = new ManualClock();
  const engine = await Engine.open({ storage: new MemoryStorage(), clock });
  try {
    const g = await engine.group('q', 'g', { maxLengthBytes: 1000 });
    await engine.publish('q', [rec('aaaa', { headers: { big: 'h'.repeat(100) } }), rec('bbbbbb'), rec('cc')]);
    assert.equal(g.readyBytes, 12, 'headers are not counted');
    const sink = new Sink(2);
    const c = g.addConsumer(sink);
    await settle();
    assert.equal(sink.got.length, 2);
    assert.equal(g.readyBytes, 2, 'two leased: only "cc" is ready');
    await g.nack(sink.got[0]!, 0);
    assert.equal(g.readyBytes, 6, 'a nacked message is ready again');
    await g.nack(sink.got[1]!, 5000);
    assert.equal(g.readyBytes, 6, 'a delayed one is not ready');
    g.removeConsumer(c);
    clock.advance(5000);
    await settle();
    assert.equal(g.readyBytes, 12, 'due again');
    assert.equal(g.purge(), 3);
    assert.equal(g.readyBytes, 0);
  } finally {
    await engine.close();
  }
});

test('drop-head keeps the ready bytes at or under the limit, oldest first; a body above the limit goes too', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage(), clock: new ManualClock() });
  try {
    const g = await engine.group('q', 'g', { maxLengthBytes: 10, overflow: 'drop-head', deadLetter: { topic: 'dropped' } });
    await engine.publish('q', [rec('11111'), rec('22222')]);
    await engine.publish('q', [rec('333')]);
    await g.whenIdle();
    assert.deepEqual((await g.peekReady()).map((r) => r.body.toString()), ['22222', '333']);
    assert.equal(g.readyBytes, 8);
    await engine.publish('q', [rec('x'.repeat(11))]);
    await g.whenIdle();
    assert.equal(g.readyCount, 0);
    assert.equal(g.readyBytes, 0);
    const dropped = await engine.group('dropped', 'g', {});
    assert.equal(dropped.readyCount, 4, 'the four dropped messages are dead-lettered (reason maxlen)');
  } finally {
    await engine.close();
  }
});

test('reject-publish refuses a message whose body would take the ready bytes above the limit', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage(), clock: new ManualClock() });
  try {
    const g = await engine.group('q', 'g', { maxLengthBytes: 12, overflow: 'reject-publish' });
    await engine.publish('q', [rec('666666')]);
    await engine.publish('q', [rec('777777')]);
    assert.equal(g.readyBytes, 12);
    await assert.rejects(engine.publish('q', [rec('8')]), { code: 'MQ_ERR_REJECTED' });
    await g.purge();
    await assert.rejects(engine.publish('q', [rec('9'.repeat(13))]), { code: 'MQ_ERR_REJECTED' });
    // A batch is admitted only as a whole: 6 + 6 fits, 6 + 6 + 1 does not.
    await assert.rejects(engine.publish('q', [rec('aaaaaa'), rec('bbbbbb'), rec('c')]), { code: 'MQ_ERR_REJECTED' });
    assert.equal(g.readyBytes, 0);
    await engine.publish('q', [rec('aaaaaa'), rec('bbbbbb')]);
    assert.equal(g.readyBytes, 12);
  } finally {
    await engine.close();
  }
});

test('a backlog that predates the limit is counted by recountReadyBytes', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage(), clock: new ManualClock() });
  try {
    await engine.topic('q');
    const g0 = await engine.group('q', 'g', {});
    await engine.publish('q', [rec('abc'), rec('defg')]);
    const g = await engine.group('q', 'g', { maxLengthBytes: 100 });
    assert.equal(g, g0);
    assert.equal(await g.recountReadyBytes(), 7);
    assert.equal(g.readyBytes, 7);
  } finally {
    await engine.close();
  }
});
