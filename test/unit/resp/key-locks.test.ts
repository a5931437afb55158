import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyLocks } from '../../../src/protocols/resp/server/mutex.js';

/** A promise with its resolver, to hold a lock open as long as a test wants. */
function gate(): { p: Promise<void>; open: () => void } {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('KeyLocks', () => {
  it('runs operations on one key one at a time, in the order they asked', async () => {
    const locks = new KeyLocks();
    const order: string[] = [];
    const g = gate();
    const a = locks.run('k', async () => {
      order.push('a start');
      await g.p;
      order.push('a end');
    });
    assert.equal(locks.isLocked('k'), true);
    const b = locks.run('k', () => order.push('b'));
    const c = locks.run('k', () => order.push('c'));
    const other = locks.run('other', () => order.push('other'));
    await other;
    assert.deepEqual(order, ['a start', 'other']);
    g.open();
    await Promise.all([a, b, c]);
    assert.deepEqual(order, ['a start', 'other', 'a end', 'b', 'c']);
    assert.equal(locks.isLocked('k'), false);
  });

  it('releases the key when the operation throws or rejects', async () => {
    const locks = new KeyLocks();
    await assert.rejects(
      locks.run('k', () => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(locks.isLocked('k'), false);
    await assert.rejects(locks.run('k', () => Promise.reject(new Error('async'))), /async/);
    assert.equal(locks.isLocked('k'), false);
    assert.equal(await locks.run('k', () => 7), 7);
  });

  it('an idle key is taken again at once, and idle keys do not pile up beyond a bound', async () => {
    const locks = new KeyLocks();
    for (let i = 0; i < 10_000; i++) await locks.run(`key-${i}`, () => i);
    assert.ok(locks.size <= 257, `${locks.size} entries kept for 10,000 idle keys`);
    // A held key survives the sweeps the idle ones trigger.
    const g = gate();
    const held = locks.run('held', () => g.p);
    for (let i = 0; i < 1_000; i++) await locks.run(`more-${i}`, () => i);
    assert.equal(locks.isLocked('held'), true);
    let ran = false;
    const after = locks.run('held', () => (ran = true));
    await Promise.resolve();
    assert.equal(ran, false);
    g.open();
    await Promise.all([held, after]);
    assert.equal(ran, true);
  });
});
