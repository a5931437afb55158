/**
 * Retention deletes whole segments whatever the groups have read. A group whose read is in flight
 * when the segment it reads is deleted gets an empty read back (file storage's walk stops at a
 * deleted segment), while its cursor is still below the end of the log; its pump then stops.
 * The deletion must wake the groups so they go on from the new start of the log. The race is
 * produced here by a store wrapper whose first read lets the engine's retention pass run (on the
 * real file storage, through the engine's own retention timer) and then answers as a read that
 * lost its segment does: with nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import { Engine } from '../../src/engine/engine.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import type { BatchInput, PartitionOptions, PartitionStore, StoredBatch } from '../../src/engine/storage/types.js';
import { FileStorageWrapper, rec, settle, Sink } from './helpers.js';

/** A store whose next read runs `during` first and then returns what a read racing a deletion returns. */
class RacedStore implements PartitionStore {
  during: (() => Promise<void>) | undefined;
  constructor(readonly inner: PartitionStore) {}
  get startOffset(): number {
    return this.inner.startOffset;
  }
  get endOffset(): number {
    return this.inner.endOffset;
  }
  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  append(batches: readonly BatchInput[]): number {
    return this.inner.append(batches);
  }
  durable(): Promise<void> {
    return this.inner.durable();
  }
  async read(offset: number, maxBytes: number): Promise<StoredBatch[]> {
    const during = this.during;
    if (during === undefined) return this.inner.read(offset, maxBytes);
    this.during = undefined;
    await during();
    // The segment holding `offset` is gone now: a read that had started on it returns nothing.
    assert.ok(offset < this.inner.startOffset, 'the segment being read was deleted');
    return [];
  }
  offsetForTimestamp(timestamp: number): Promise<number> {
    return this.inner.offsetForTimestamp(timestamp);
  }
  truncateBefore(offset: number): Promise<void> {
    return this.inner.truncateBefore(offset);
  }
  enforceRetention(opts: { maxBytes?: number; maxAgeMs?: number; now: number }): Promise<void> {
    return this.inner.enforceRetention(opts);
  }
  sealedSegments(): { base: number; end: number }[] {
    return this.inner.sealedSegments();
  }
  rewriteSegment(base: number, end: number, batches: readonly BatchInput[]): Promise<boolean> {
    return this.inner.rewriteSegment(base, end, batches);
  }
  reset(nextOffset: number): Promise<void> {
    return this.inner.reset(nextOffset);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** FileStorage that hands out the store named `raced` wrapped in a RacedStore. */
class RacingStorage extends FileStorageWrapper {
  store: RacedStore | undefined;
  constructor(
    inner: FileStorage,
    readonly raced: string,
  ) {
    super(inner);
  }
  override async open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    const s = await this.inner.open(name, opts);
    if (name !== this.raced) return s;
    return (this.store ??= new RacedStore(s));
  }
}

test('a group whose read loses its segment to retention goes on from the new start of the log', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-retention-race-'));
  const clock = new ManualClock();
  const storage = new RacingStorage(await FileStorage.open(dir), 'topics/r/0');
  const engine = await Engine.open({ storage, clock, fsync: 'never', segmentBytes: 1024 });
  try {
    await engine.topic('r', { retentionMs: 60_000 });
    // One 700-byte message per segment: offsets 0 and 1 in sealed segments, 2 in the active one.
    for (const body of ['a', 'b', 'c']) await engine.publish('r', [rec(body.repeat(700), { timestamp: clock.now() })]);
    const lane = engine.getTopic('r')!.lanes.get('0')!;
    assert.equal(lane.store.sealedSegments().length, 2);
    const g = await engine.group('r', 'g');
    // The group's first read is in flight when the retention timer fires, two minutes later:
    // both sealed segments are past retention and deleted.
    let raced!: () => void;
    const racedDone = new Promise<void>((r) => (raced = r));
    storage.store!.during = async () => {
      clock.advance(120_000);
      await settle(); // the timer's trim runs on the next turn
      raced();
    };
    const s = new Sink();
    g.addConsumer(s);
    await racedDone;
    await settle();
    assert.equal(lane.store.startOffset, 2);
    assert.deepEqual(
      s.got.map((d) => d.offset),
      [2],
      'the message retention kept is delivered',
    );
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
