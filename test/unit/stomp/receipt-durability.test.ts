/**
 * A STOMP connection owes durability only at a RECEIPT (session/send.ts, publishNow; connection.ts,
 * #syncPoint): queue SENDs are appended without asking storage for durability, and a RECEIPT asks
 * once for every queue appended to since the last one and is written only when that is durable.
 * Storage here is memory storage whose topic partitions hold durable() until the test opens a gate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import type { PartitionOptions, PartitionStore, StorageEngine } from '../../../src/engine/storage/types.js';
import { header } from '../../../src/protocols/stomp/codec/index.js';
import { sends, settle, setup } from './harness.js';

/** Memory storage whose `topics/…` partitions count durable() calls and hold them until open(). */
class GatedStorage extends MemoryStorage {
  calls = 0;
  #open!: () => void;
  #gate = new Promise<void>((r) => (this.#open = r));
  openGate(): void {
    this.#open();
  }
  override async open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    const store = await super.open(name, opts);
    if (!name.startsWith('topics/')) return store;
    return new Proxy(store, {
      get: (t, k) => {
        if (k === 'durable')
          return () => {
            this.calls++;
            return this.#gate.then(() => t.durable());
          };
        const v: unknown = Reflect.get(t, k, t);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }
}

const receipts = (out: { command: string; headers: [string, string][] }[]) => out.filter((f) => f.command === 'RECEIPT').map((f) => header(f as never, 'receipt-id'));

test('SENDs without a receipt ask storage for no durability; a RECEIPT asks once and is written once it is durable', async () => {
  const storage = new GatedStorage();
  const h = await setup(storage as StorageEngine);
  try {
    await h.engine.topic('c');
    for (let i = 0; i < 5; i++) {
      h.conn.onData(sends(20));
      h.clock.advance(1);
      await settle();
    }
    assert.equal(storage.calls, 0, '100 SENDs, no receipt: no fsync owed');
    h.conn.onData(sends(1, 'r1'));
    await settle();
    assert.equal(storage.calls, 1, 'the RECEIPT asks for durability once');
    assert.deepEqual(receipts(h.out), [], 'not written before the data is durable');
    storage.openGate();
    await settle();
    assert.deepEqual(receipts(h.out), ['r1']);
    const g = await h.engine.group('c', 'default');
    let n = 0;
    for (let d = await g.get(); d; d = await g.get()) {
      n++;
      await d.ack();
    }
    assert.equal(n, 101);
  } finally {
    await h.close();
  }
});

test('the first SEND to a queue that does not exist yet: its RECEIPT waits for the append, then for its durability', async () => {
  const storage = new GatedStorage();
  const h = await setup(storage as StorageEngine);
  try {
    h.conn.onData(sends(1, 'r-new', 'fresh'));
    await settle();
    assert.equal(storage.calls, 1, 'durability asked of the created queue, after the append');
    assert.deepEqual(receipts(h.out), []);
    storage.openGate();
    await settle();
    assert.deepEqual(receipts(h.out), ['r-new']);
  } finally {
    await h.close();
  }
});

test('DISCONNECT with a receipt waits for the durability of what was sent before it', async () => {
  const storage = new GatedStorage();
  const h = await setup(storage as StorageEngine);
  try {
    h.conn.onData(Buffer.concat([sends(3), Buffer.from('DISCONNECT\nreceipt:bye\n\n\x00')]));
    await settle();
    assert.equal(storage.calls, 1);
    assert.deepEqual(receipts(h.out), []);
    storage.openGate();
    await settle();
    assert.deepEqual(receipts(h.out), ['bye']);
  } finally {
    await h.close();
  }
});

test('a producer that sends to 1,024 queues without a receipt gets them synced anyway: the set of queues owed a sync stays bounded', async () => {
  const storage = new GatedStorage();
  const h = await setup(storage as StorageEngine);
  try {
    const frames: Buffer[] = [];
    for (let i = 0; i < 1100; i++) frames.push(sends(1, undefined, `spread-${i}`));
    for (let i = 0; i < frames.length; i += 50) {
      h.conn.onData(Buffer.concat(frames.slice(i, i + 50)));
      h.clock.advance(1);
      await settle();
    }
    assert.ok(h.conn.undurable.size < 1024, `still owed: ${h.conn.undurable.size}`);
    assert.ok(storage.calls >= 1024, `durability asked ${storage.calls} times`);
    storage.openGate();
    await settle();
    assert.equal(h.conn.closed, false);
  } finally {
    await h.close();
  }
});
