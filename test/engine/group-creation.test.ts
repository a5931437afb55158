/**
 * A group created on a topic that already holds messages starts at the earliest message that was
 * retained when it was asked for, even if another group settles (and so frees) everything while
 * the new group is still being created. On file storage, creating a group opens its state log
 * first (mkdir, readdir, open: several round trips through the I/O thread pool); the open is
 * held here at a gate so the other group's acks and the segment deletion they trigger happen
 * exactly inside that window, which a loaded machine produces only now and then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import type { PartitionOptions, PartitionStore } from '../../src/engine/storage/types.js';
import { FileStorageWrapper, rec, settle, Sink } from './helpers.js';

/** Real FileStorage whose open() of the logs named by `held` waits until release() is called. */
class GatedStorage extends FileStorageWrapper {
  #open: (() => void) | undefined;
  readonly #gate = new Promise<void>((r) => (this.#open = r));
  /** Names whose open() reached the gate. */
  readonly waiting: string[] = [];
  constructor(
    inner: FileStorage,
    readonly held: (name: string) => boolean,
  ) {
    super(inner);
  }
  release(): void {
    this.#open!();
  }
  override async open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    if (this.held(name)) {
      this.waiting.push(name);
      await this.#gate;
    }
    return this.inner.open(name, opts);
  }
}

async function withGatedEngine(held: (name: string) => boolean, fn: (engine: Engine, storage: GatedStorage) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-group-creation-'));
  const storage = new GatedStorage(await FileStorage.open(dir), held);
  const engine = await Engine.open({ storage, fsync: 'never' });
  try {
    await fn(engine, storage);
  } finally {
    storage.release();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A body padded so that a test's messages hold over 1 MiB in all: a drained queue's segment is
 * rolled away (and startOffset moves) only past that size (engine.ts DRAINED_TRIM).
 */
function big(body: string, bytes: number): string {
  return body.padEnd(bytes, '.');
}

/** Acks everything `sink` holds until `n` messages were acked (the group refills as acks free credit). */
async function ackAll(sink: Sink, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 5 && sink.got.length <= i; k++) await settle();
    assert.ok(sink.got[i], `delivery ${i + 1} of ${n} arrived`);
    await sink.got[i]!.ack();
  }
}

test('a group still being created receives every message another group settles meanwhile', async () => {
  await withGatedEngine(
    (name) => name === 'groups/q/second',
    async (engine, storage) => {
      const bodies = Array.from({ length: 50 }, (_, i) => big(`m${i}`, 24 * 1024));
      await engine.publish('q', bodies.map((b) => rec(b)));
      const lane = engine.getTopic('q')!.lanes.get('0')!;
      // Both groups are asked for with all 50 messages stored; the second one's state log is slow to open.
      const creating = engine.group('q', 'second');
      creating.catch(() => undefined); // awaited below; a failed assertion before that must not leave it unhandled
      const first = await engine.group('q', 'first');
      assert.deepEqual(storage.waiting, ['groups/q/second'], 'the second group is inside its creation');
      const a = new Sink();
      first.addConsumer(a);
      await ackAll(a, 50);
      await settle(); // segment deletion runs on the turn after the acks
      assert.equal(lane.store.startOffset, 0, 'the messages stay stored while a group that wants them is being created');
      storage.release();
      const second = await creating;
      const b = new Sink();
      second.addConsumer(b);
      await settle();
      assert.deepEqual(b.bodies(), bodies);
      await ackAll(b, 50);
      await settle();
      assert.equal(lane.store.startOffset, 50, 'once both groups have settled everything the segment is deleted');
    },
  );
});

test('a group being created does not stop another topic from deleting its settled segments', async () => {
  await withGatedEngine(
    (name) => name === 'groups/other/g',
    async (engine, storage) => {
      await engine.publish('q', [rec(big('a', 600 * 1024)), rec(big('b', 600 * 1024))]);
      await engine.topic('other');
      const creating = engine.group('other', 'g');
      creating.catch(() => undefined);
      const g = await engine.group('q', 'g');
      const s = new Sink();
      g.addConsumer(s);
      await ackAll(s, 2);
      await settle();
      assert.equal(engine.getTopic('q')!.lanes.get('0')!.store.startOffset, 2);
      storage.release();
      await creating;
    },
  );
});

test('segment deletion held back while a group was being created runs once it exists', async () => {
  await withGatedEngine(
    (name) => name === 'groups/q/late',
    async (engine, storage) => {
      await engine.publish('q', [rec(big('a', 400 * 1024)), rec(big('b', 400 * 1024)), rec(big('c', 400 * 1024))]);
      const lane = engine.getTopic('q')!.lanes.get('0')!;
      const creating = engine.group('q', 'late', { startAt: 'latest' });
      creating.catch(() => undefined);
      const g = await engine.group('q', 'g');
      const s = new Sink();
      g.addConsumer(s);
      await ackAll(s, 3);
      await settle();
      assert.equal(lane.store.startOffset, 0, 'held while "late" is being created');
      storage.release();
      await creating;
      await settle();
      assert.equal(lane.store.startOffset, 3, '"late" starts after the three messages: nobody needs them any more');
    },
  );
});
