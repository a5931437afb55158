/** Destination names → engine objects, reply-to rewriting, and SEND → record mapping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDestinations, rewriteReplyTo, DestinationError } from '../../../src/protocols/stomp/session/destination.js';
import { buildRecord, messageHeaders, selectorProps, SendError } from '../../../src/protocols/stomp/session/message.js';
import type { DecodedRecord } from '../../../src/engine/record.js';

const ctx = { tempQueue: (n: string) => `tq:${n}`, tempTopic: (n: string) => `tt.${n}` };

test('destination forms', () => {
  assert.deepEqual(parseDestinations('/queue/a', ctx, false), [{ kind: 'queue', name: 'a', header: '/queue/a', temp: false }]);
  assert.deepEqual(parseDestinations('/amq/queue/a', ctx, false)[0], { kind: 'queue', name: 'a', header: '/queue/a', temp: false });
  assert.deepEqual(parseDestinations('bare', ctx, false)[0], { kind: 'queue', name: 'bare', header: '/queue/bare', temp: false });
  assert.deepEqual(parseDestinations('/topic/a.*.>', ctx, true)[0], { kind: 'route', exchange: 'amq.topic', key: 'a.*.#', header: '/topic/a.*.>', wildcard: true });
  assert.deepEqual(parseDestinations('/topic/a.b', ctx, true)[0], { kind: 'route', exchange: 'amq.topic', key: 'a.b', header: '/topic/a.b', wildcard: false });
  assert.deepEqual(parseDestinations('/exchange/logs/x.#', ctx, true)[0], { kind: 'route', exchange: 'logs', key: 'x.#', header: '/exchange/logs/x.#', wildcard: true });
  assert.deepEqual(parseDestinations('/exchange/fan', ctx, false)[0], { kind: 'route', exchange: 'fan', key: '', header: '/exchange/fan', wildcard: false });
  assert.deepEqual(parseDestinations('/temp-queue/r', ctx, false)[0], { kind: 'queue', name: 'tq:r', header: '/temp-queue/r', temp: true });
  assert.equal(parseDestinations('/temp-topic/r', ctx, false)[0]!.kind === 'route' && (parseDestinations('/temp-topic/r', ctx, false)[0] as { key: string }).key, 'tt.r');
  const comp = parseDestinations('/queue/a, b ,/topic/t,u', ctx, false);
  assert.deepEqual(
    comp.map((d) => d.header),
    ['/queue/a', '/queue/b', '/topic/t', '/topic/u'],
  );
  for (const bad of ['/bogus/x', '/queue/', '/queue/a,,b', '/topic/a.>.b', '/exchange/']) assert.throws(() => parseDestinations(bad, ctx, true), DestinationError, bad);
  assert.equal(rewriteReplyTo('/temp-queue/r', ctx), '/remote-temp-queue/tq:r');
  assert.equal(rewriteReplyTo('/queue/r', ctx), '/queue/r');
});

test('SEND → record → MESSAGE headers', () => {
  const rec = buildRecord({
    headers: [
      ['destination', '/queue/q'],
      ['receipt', 'r'],
      ['priority', '7'],
      ['expires', '2000000000000'],
      ['AMQ_SCHEDULED_DELAY', '500'],
      ['JMSXGroupID', 'g1'],
      ['custom', 'v'],
      ['custom', 'ignored'],
      ['content-length', '2'],
    ],
    body: Buffer.from('hi'),
    now: 1000,
    messageId: 'ID:1',
    destinationHeader: '/queue/q',
    replyTo: undefined,
  });
  assert.equal(rec.priority, 7);
  assert.equal(rec.expiresAt, 2000000000000);
  assert.equal(rec.deliverAt, 1500);
  assert.equal(rec.key, 'g1');
  assert.equal(rec.headers!['custom'], 'v');
  assert.equal(rec.headers!['receipt'], undefined);
  assert.equal(rec.headers!['content-length'], undefined);
  assert.throws(() => buildRecord({ headers: [['priority', 'high']], body: Buffer.alloc(0), now: 0, messageId: 'x', destinationHeader: '/queue/q', replyTo: undefined }), SendError);

  const dec: DecodedRecord = { offset: 3, timestamp: 1000, priority: 0, key: undefined, headers: { 'message-id': 'ID:1', destination: '/queue/dead', x: 'y' }, body: Buffer.from('hi'), expiresAt: 0, deliverAt: 0, props: undefined, propsFormat: 0, size: 0 };
  const h = new Map(messageHeaders({ rec: dec, messageId: 'ID:1', destination: '/queue/ActiveMQ.DLQ', subscription: 's', ack: '9', attempt: 2, originalDestination: '/queue/dead' }));
  assert.equal(h.get('priority'), '4');
  assert.equal(h.get('redelivered'), 'true');
  assert.equal(h.get('ack'), '9');
  assert.equal(h.get('original-destination'), '/queue/dead');
  assert.equal(h.get('content-length'), '2');
  assert.equal(h.get('x'), 'y');
  const props = selectorProps(dec);
  assert.equal(props('JMSPriority'), 4);
  assert.equal(props('x'), 'y');
  assert.equal(props('missing'), null);
  assert.equal(props('JMSDeliveryMode'), 'NON_PERSISTENT');
});
