/**
 * The kafka:// transport's partition track: the offsets a subscription handed out on one
 * partition, until committed. Dropping the committed prefix moves a head (the arrays are reused
 * from the front once empty, compacted once the dead prefix is at least half); a delivery's
 * sequence number must keep finding its entry across both, and a re-read below the tail must
 * still be recorded in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionTrack } from '../../../src/transports/kafka.js';

function filled(from: number, n: number): { tr: PartitionTrack; seqs: number[] } {
  const tr = new PartitionTrack('t', 0, 't\u00000');
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push(tr.put(from + i, 'open', undefined));
  return { tr, seqs };
}

test('the commit point is the first unsettled offset, or one past the last when all are settled', () => {
  const { tr, seqs } = filled(100, 5);
  assert.equal(tr.point(), 100);
  tr.mark(100, 'settled', seqs[0]);
  tr.mark(102, 'settled', seqs[2]);
  assert.equal(tr.point(), 101);
  for (let i = 0; i < 5; i++) tr.mark(100 + i, 'settled', seqs[i]);
  assert.equal(tr.point(), 105);
});

test('a fully committed track starts again at the front and sequence numbers keep increasing', () => {
  const { tr, seqs } = filled(0, 10);
  for (let i = 0; i < 10; i++) tr.mark(i, 'settled', seqs[i]);
  tr.dropBelow(tr.point()!);
  assert.equal(tr.point(), undefined);
  assert.equal(tr.head, 0);
  assert.equal(tr.end, 0);
  // An old entry is gone: its sequence number no longer finds anything.
  assert.equal(tr.find(3, seqs[3]), -1);
  const next = tr.put(10, 'open', undefined);
  assert.ok(next > seqs[9]!, `sequence ${next} follows ${seqs[9]}`);
  assert.equal(tr.find(10, next), next - tr.dropped);
  assert.equal(tr.point(), 10);
});

test('a window still open behind a long settled run moves to the front and its sequence numbers still find it', () => {
  const { tr, seqs } = filled(1000, 3000);
  for (let i = 0; i < 2500; i++) tr.mark(1000 + i, 'settled', seqs[i]);
  assert.equal(tr.point(), 3500);
  tr.dropBelow(3500);
  assert.equal(tr.head, 0, 'compacted');
  assert.equal(tr.end, 500);
  for (let i = 2500; i < 3000; i++) assert.equal(tr.offsets[tr.find(1000 + i, seqs[i])], 1000 + i);
  // Nothing stale is reported as live.
  let open = 0;
  tr.each('open', () => open++);
  assert.equal(open, 500);
  tr.mark(3500, 'settled', seqs[2500]);
  assert.equal(tr.point(), 3501);
});

test('dropping part of the track keeps the rest findable without compacting a short prefix', () => {
  const { tr, seqs } = filled(0, 100);
  for (let i = 0; i < 40; i++) tr.mark(i, 'settled', seqs[i]);
  tr.dropBelow(tr.point()!);
  assert.equal(tr.head, 40);
  assert.equal(tr.find(10, seqs[10]), -1);
  assert.equal(tr.find(70, seqs[70]), 70 - tr.dropped);
  assert.equal(tr.find(70), 70 - tr.dropped, 'by bisection too');
  let n = 0;
  tr.each('open', () => n++);
  assert.equal(n, 60);
});

test('a re-read below the tail of an offset already dropped is recorded in order', () => {
  const { tr, seqs } = filled(0, 20);
  for (let i = 0; i < 10; i++) tr.mark(i, 'settled', seqs[i]);
  tr.dropBelow(10);
  tr.put(5, 'open', undefined);
  assert.equal(tr.point(), 5);
  assert.deepEqual(tr.offsets.slice(tr.head, tr.end).slice(0, 3), [5, 10, 11]);
  // The later entries' sequence numbers went stale: the bisection still finds them.
  assert.equal(tr.offsets[tr.find(15, seqs[15])], 15);
});
