/**
 * The field-table decoder keeps the wire tag of values whose tag a re-encode would not infer
 * (FIELD_TAGS), so the broker can name the type a client sent in RabbitMQ's "inequivalent arg"
 * texts: amqplib sends small integers as byte (b), pika as signedint (I).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIELD_TAGS, FieldTyped, RABBIT_TYPE_NAMES, decodeFieldTable, encodeFieldTable, fieldTagOf } from '../../../src/protocols/amqp/index.js';

test('decoded numeric tags other than I are recorded; strings, booleans and I are inferred', () => {
  const wire = encodeFieldTable({
    b: new FieldTyped('b', 10),
    s: new FieldTyped('s', 300),
    I: 10,
    l: new FieldTyped('l', 10),
    d: new FieldTyped('d', 10),
    u: new FieldTyped('u', 7),
    str: 'drop-head',
    t: true,
  });
  const t = decodeFieldTable(wire);
  assert.equal(t['b'], 10, 'values stay plain numbers');
  assert.deepEqual(
    Object.fromEntries(Object.keys(t).map((k) => [k, RABBIT_TYPE_NAMES[fieldTagOf(t, k)!]])),
    { b: 'byte', s: 'short', I: 'signedint', l: 'long', d: 'double', u: 'unsignedshort', str: 'longstr', t: 'bool' },
  );
  // Not enumerable: JSON, Object.keys and deepEqual see only the values.
  assert.deepEqual(Object.keys(t), ['b', 's', 'I', 'l', 'd', 'u', 'str', 't']);
  assert.equal(JSON.stringify(t).includes('byte'), false);
});

test('a table without narrow numeric tags carries no tag record', () => {
  const t = decodeFieldTable(encodeFieldTable({ a: 'x', n: 5, yes: false }));
  assert.equal((t as { [FIELD_TAGS]?: unknown })[FIELD_TAGS], undefined);
  assert.equal(fieldTagOf(t, 'n'), 'I');
  assert.equal(fieldTagOf(t, 'missing'), undefined);
});

test('a duplicate key keeps the tag of its last value', () => {
  // Two entries named "k": first a byte, then a longstr (RabbitMQ and this decoder: the last one wins).
  const key = Buffer.from([1, 0x6b]);
  const body = Buffer.concat([key, Buffer.from([0x62, 5]), key, Buffer.from([0x53, 0, 0, 0, 1, 0x78])]);
  const wire = Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
  const t = decodeFieldTable(wire);
  assert.equal(t['k'], 'x');
  assert.equal(fieldTagOf(t, 'k'), 'S');
});
