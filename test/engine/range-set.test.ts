import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeSet } from '../../src/engine/range-set.js';

test('countIn counts the members of a closed interval across ranges', () => {
  const s = RangeSet.fromArray([2, 4, 8, 8, 10, 20]);
  assert.equal(s.countIn(0, 100), 3 + 1 + 11);
  assert.equal(s.countIn(3, 9), 2 + 1);
  assert.equal(s.countIn(5, 7), 0);
  assert.equal(s.countIn(15, 15), 1);
  assert.equal(s.countIn(21, 30), 0);
  assert.equal(s.countIn(9, 3), 0);
  assert.equal(new RangeSet().countIn(0, 10), 0);
});

test('below finds the largest non-member at or under x', () => {
  const s = RangeSet.fromArray([2, 4, 8, 8]);
  assert.equal(s.below(10), 10);
  assert.equal(s.below(8), 7);
  assert.equal(s.below(4), 1);
  assert.equal(s.below(2), 1);
  assert.equal(s.below(5), 5);
  assert.equal(new RangeSet().below(3), 3);
});
