import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTagFilter } from '../../../src/engine/selector/tag-filter.js';
import { isOmnibusError } from '../../../src/core/errors.js';

test('* and a blank expression select every message, even one without a tag', () => {
  for (const expr of ['*', ' * ', '']) {
    const f = compileTagFilter(expr);
    assert.equal(f.all, true);
    assert.equal(f.matches('TagA'), true);
    assert.equal(f.matches(undefined), true);
  }
});

test('a tag list selects messages whose tag is listed, exactly and case-sensitively', () => {
  const f = compileTagFilter('TagA || TagB');
  assert.equal(f.all, false);
  assert.deepEqual([...f.tags], ['TagA', 'TagB']);
  assert.equal(f.matches('TagA'), true);
  assert.equal(f.matches('TagB'), true);
  assert.equal(f.matches('tagA'), false);
  assert.equal(f.matches('TagC'), false);
  assert.equal(f.matches(null), false);
  assert.equal(f.matches(undefined), false);
});

test('whitespace around tags is trimmed and empty entries are skipped', () => {
  const f = compileTagFilter('  TagA||  ||TagB  ');
  assert.deepEqual([...f.tags], ['TagA', 'TagB']);
  assert.equal(compileTagFilter('Single').matches('Single'), true);
});

test('* inside a list is an ordinary tag', () => {
  const f = compileTagFilter('TagA || *');
  assert.equal(f.all, false);
  assert.equal(f.matches('*'), true);
  assert.equal(f.matches('TagB'), false);
});

test('an expression that lists no tag is rejected with MQ_ERR_SELECTOR', () => {
  for (const expr of ['||', ' || || ']) {
    assert.throws(() => compileTagFilter(expr), (e) => isOmnibusError(e, 'MQ_ERR_SELECTOR'));
  }
});
