import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch, type DecodedRecord, type RecordInput } from '../../src/engine/record.js';

function roundTrip(records: RecordInput[]): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  const payload = encodeBatch(records);
  decodeBatch(payload, 0, records.length, 0, (r) => out.push(r));
  return out;
}

const rec = (key: string | undefined, headers: Record<string, string>, body: string): RecordInput => ({ body: Buffer.from(body), key, headers, timestamp: 1, priority: 0 });

test('records decoded in a row keep their own keys and headers when some repeat and some differ', () => {
  const input = [
    rec('a.b', { x: '1' }, 'one'),
    rec('a.b', { x: '1' }, 'two'),
    rec('a.c', { x: '2', y: 'z' }, 'three'),
    rec(undefined, {}, 'four'),
    rec('a.b', { x: '1' }, 'five'),
    rec('', { x: '1' }, 'six'),
    rec('k'.repeat(300), { long: 'v'.repeat(300) }, 'seven'),
    rec('k'.repeat(300), { long: 'v'.repeat(300) }, 'eight'),
  ];
  const out = roundTrip(input);
  assert.deepEqual(
    out.map((r) => [r.key, { ...r.headers }, r.body.toString()]),
    input.map((r) => [r.key, { ...r.headers }, r.body.toString()]),
  );
});

test('a repeated header block is one shared read-only object', () => {
  const [a, b] = roundTrip([rec('q', { 'x-amqp-exchange': 'amq.topic' }, '1'), rec('q', { 'x-amqp-exchange': 'amq.topic' }, '2')]);
  assert.equal(a!.headers, b!.headers);
  assert.ok(Object.isFrozen(a!.headers));
  assert.throws(() => {
    (a!.headers as Record<string, string>)['x'] = 'y';
  }, TypeError);
});
