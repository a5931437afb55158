import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DirectExchange,
  FanoutExchange,
  TopicExchange,
  HeadersExchange,
  createExchange,
  routeThrough,
  headerValueEquals,
} from '../../../src/engine/routing/exchange.js';
import type { Exchange } from '../../../src/engine/routing/exchange.js';
import { isOmnibusError } from '../../../src/core/errors.js';

const sorted = <T>(xs: T[]): T[] => [...xs].sort();

describe('direct exchange', () => {
  test('routes to destinations bound with exactly the routing key', () => {
    const x = new DirectExchange<string>();
    x.bind('q1', 'orders');
    x.bind('q2', 'orders');
    x.bind('q3', 'invoices');
    assert.deepEqual(sorted(x.route('orders')), ['q1', 'q2']);
    assert.deepEqual(x.route('Orders'), []);
    assert.deepEqual(x.route('orders.eu'), []);
  });

  test('binding the same destination, key and arguments twice is one binding', () => {
    const x = new DirectExchange<string>();
    assert.equal(x.bind('q', 'k', { a: 1, b: 2 }), true);
    assert.equal(x.bind('q', 'k', { b: 2, a: 1 }), false, 'argument order does not matter');
    assert.equal(x.size, 1);
    assert.equal(x.unbind('q', 'k', { a: 1, b: 2 }), true);
    assert.deepEqual(x.route('k'), []);
    assert.equal(x.unbind('q', 'k', { a: 1, b: 2 }), false);
  });

  test('the same destination bound with different arguments is routed once and unbound separately', () => {
    const x = new DirectExchange<string>();
    x.bind('q', 'k');
    x.bind('q', 'k', { tag: 1 });
    assert.equal(x.size, 2);
    assert.deepEqual(x.route('k'), ['q']);
    x.unbind('q', 'k');
    assert.deepEqual(x.route('k'), ['q']);
    x.unbind('q', 'k', { tag: 1 });
    assert.deepEqual(x.route('k'), []);
  });

  test('unbindDestination removes every binding of a deleted queue', () => {
    const x = new DirectExchange<string>();
    x.bind('q', 'a');
    x.bind('q', 'b');
    x.bind('r', 'a');
    assert.equal(x.unbindDestination('q'), 2);
    assert.deepEqual(x.route('a'), ['r']);
    assert.deepEqual(x.route('b'), []);
    assert.deepEqual(
      x.bindings().map((b) => [b.destination, b.bindingKey]),
      [['r', 'a']],
    );
  });

  test('bindings lists destination, key and arguments in binding order', () => {
    const x = new DirectExchange<string>();
    x.bind('q1', 'a', { x: 1 });
    x.bind('q2', 'b');
    assert.deepEqual(x.bindings(), [
      { destination: 'q1', bindingKey: 'a', args: { x: 1 } },
      { destination: 'q2', bindingKey: 'b', args: {} },
    ]);
  });
});

describe('fanout exchange', () => {
  test('routes to every bound destination whatever the key, each once', () => {
    const x = new FanoutExchange<string>();
    x.bind('q1', '');
    x.bind('q2', 'ignored');
    x.bind('q1', 'other');
    assert.deepEqual(sorted(x.route('anything')), ['q1', 'q2']);
    x.unbind('q1', '');
    assert.deepEqual(sorted(x.route('')), ['q1', 'q2']);
    x.unbind('q1', 'other');
    assert.deepEqual(x.route(''), ['q2']);
  });
});

describe('topic exchange', () => {
  test('routes with AMQP wildcards', () => {
    const x = new TopicExchange<string>();
    x.bind('all', '#');
    x.bind('eu', '*.eu.#');
    x.bind('exact', 'order.eu.created');
    assert.deepEqual(sorted(x.route('order.eu.created')), ['all', 'eu', 'exact']);
    assert.deepEqual(sorted(x.route('order.us')), ['all']);
    assert.deepEqual(sorted(x.route('order.eu')), ['all', 'eu']);
  });

  test('unbinding one of two bindings with different arguments keeps the other', () => {
    const x = new TopicExchange<string>();
    x.bind('q', 'a.*', { v: 1 });
    x.bind('q', 'a.*', { v: 2 });
    x.unbind('q', 'a.*', { v: 1 });
    assert.deepEqual(x.route('a.b'), ['q']);
    x.unbind('q', 'a.*', { v: 2 });
    assert.deepEqual(x.route('a.b'), []);
  });

  test('an MQTT-syntax topic exchange rejects an invalid filter without recording a binding', () => {
    const x = new TopicExchange<string>({ trie: { syntax: 'mqtt' } });
    assert.throws(() => x.bind('q', 'a/#/b'), (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    assert.equal(x.size, 0);
    x.bind('q', 'a/+');
    assert.deepEqual(x.route('a/b'), ['q']);
  });
});

describe('headers exchange', () => {
  test('x-match all requires every argument to match', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { 'x-match': 'all', format: 'pdf', type: 'report' });
    assert.deepEqual(x.route('', { format: 'pdf', type: 'report', extra: 1 }), ['q']);
    assert.deepEqual(x.route('', { format: 'pdf' }), []);
    assert.deepEqual(x.route('', { format: 'pdf', type: 'log' }), []);
  });

  test('x-match defaults to all', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { a: 1, b: 2 });
    assert.deepEqual(x.route('', { a: 1 }), []);
    assert.deepEqual(x.route('', { a: 1, b: 2 }), ['q']);
  });

  test('x-match any requires at least one argument to match', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { 'x-match': 'any', format: 'pdf', type: 'report' });
    assert.deepEqual(x.route('', { format: 'zip', type: 'report' }), ['q']);
    assert.deepEqual(x.route('', { format: 'zip' }), []);
    assert.deepEqual(x.route('', {}), []);
  });

  test('all with no arguments matches every message; any with none matches nothing', () => {
    const x = new HeadersExchange<string>();
    x.bind('all', '', {});
    x.bind('any', '', { 'x-match': 'any' });
    assert.deepEqual(x.route('', {}), ['all']);
    assert.deepEqual(x.route('k'), ['all']);
  });

  test('arguments starting with x- are ignored except in the -with-x forms', () => {
    const x = new HeadersExchange<string>();
    x.bind('all', '', { 'x-match': 'all', 'x-tenant': 't1', kind: 'a' });
    x.bind('allx', '', { 'x-match': 'all-with-x', 'x-tenant': 't1', kind: 'a' });
    x.bind('any', '', { 'x-match': 'any', 'x-tenant': 't1' });
    x.bind('anyx', '', { 'x-match': 'any-with-x', 'x-tenant': 't1', kind: 'zzz' });
    assert.deepEqual(sorted(x.route('', { kind: 'a' })), ['all']);
    assert.deepEqual(sorted(x.route('', { kind: 'a', 'x-tenant': 't1' })), ['all', 'allx', 'anyx']);
    assert.deepEqual(sorted(x.route('', { kind: 'a', 'x-tenant': 't2' })), ['all']);
  });

  test('x-match itself is never compared, even in the -with-x forms', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { 'x-match': 'all-with-x', a: 1 });
    assert.deepEqual(x.route('', { a: 1 }), ['q']);
  });

  test('a null argument matches any value of a present header', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { trace: null });
    assert.deepEqual(x.route('', { trace: 'anything' }), ['q']);
    assert.deepEqual(x.route('', { trace: null }), ['q']);
    assert.deepEqual(x.route('', {}), []);
  });

  test('values compare numerically across number and bigint, and strings equal their UTF-8 bytes', () => {
    const x = new HeadersExchange<string>();
    x.bind('n', '', { n: 7 });
    x.bind('s', '', { s: 'é' });
    assert.deepEqual(x.route('', { n: 7n }), ['n']);
    assert.deepEqual(x.route('', { n: '7' }), []);
    assert.deepEqual(x.route('', { s: Buffer.from('é') }), ['s']);
    assert.equal(headerValueEquals([1, { a: 'x' }], [1, { a: 'x' }]), true);
    assert.equal(headerValueEquals(true, 1), false);
  });

  test('inherited object properties are not headers', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { toString: null });
    assert.deepEqual(x.route('', {}), []);
  });

  test('an unknown x-match value is rejected at bind time', () => {
    const x = new HeadersExchange<string>();
    assert.throws(() => x.bind('q', '', { 'x-match': 'some' }), (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    assert.equal(x.size, 0);
  });

  test('unbinding removes exactly the binding with those arguments', () => {
    const x = new HeadersExchange<string>();
    x.bind('q', '', { a: 1 });
    x.bind('q', '', { 'x-match': 'any', b: 2 });
    assert.deepEqual(x.route('', { b: 2 }), ['q']);
    assert.equal(x.unbind('q', '', { 'x-match': 'any', b: 2 }), true);
    assert.deepEqual(x.route('', { b: 2 }), []);
    assert.deepEqual(x.route('', { a: 1 }), ['q']);
  });
});

test('createExchange builds each type and reads alternate-exchange from arguments', () => {
  for (const type of ['direct', 'fanout', 'topic', 'headers'] as const) {
    const x = createExchange<string>(type, { arguments: { 'alternate-exchange': 'ae' } });
    assert.equal(x.type, type);
    assert.equal(x.alternateExchange, 'ae');
  }
  assert.throws(
    () => createExchange('x-custom' as 'direct'),
    (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'),
  );
});

// ---------------------------------------------------------------------------------------------
// routeThrough
// ---------------------------------------------------------------------------------------------

/** Destinations are strings; "x:name" refers to an exchange, anything else to a queue. */
function world(exchanges: Record<string, Exchange<string>>) {
  return {
    lookup: (name: string) => exchanges[name],
    exchangeName: (d: string) => (d.startsWith('x:') ? d.slice(2) : undefined),
  };
}

describe('routeThrough', () => {
  test('follows exchange-to-exchange bindings with the same routing key', () => {
    const a = new TopicExchange<string>();
    const b = new DirectExchange<string>();
    a.bind('x:b', 'order.*');
    a.bind('qa', '#');
    b.bind('qb', 'order.eu');
    const r = routeThrough('a', 'order.eu', undefined, world({ a, b }));
    assert.deepEqual(sorted(r.destinations), ['qa', 'qb']);
    assert.equal(r.routed, true);
    assert.deepEqual(r.exchanges, ['a', 'b']);
  });

  test('a diamond delivers once to the shared queue', () => {
    const a = new FanoutExchange<string>();
    const b = new FanoutExchange<string>();
    const c = new FanoutExchange<string>();
    a.bind('x:b', '');
    a.bind('x:c', '');
    b.bind('q', '');
    c.bind('q', '');
    assert.deepEqual(routeThrough('a', '', undefined, world({ a, b, c })).destinations, ['q']);
  });

  test('exchange-to-exchange cycles terminate and still deliver', () => {
    const a = new FanoutExchange<string>();
    const b = new FanoutExchange<string>();
    a.bind('x:b', '');
    b.bind('x:a', '');
    b.bind('x:b', '');
    b.bind('q', '');
    const r = routeThrough('a', 'k', undefined, world({ a, b }));
    assert.deepEqual(r.destinations, ['q']);
    assert.deepEqual(r.exchanges, ['a', 'b']);
  });

  test('a pure cycle with no queue is unroutable', () => {
    const a = new FanoutExchange<string>();
    a.bind('x:a', '');
    const r = routeThrough('a', 'k', undefined, world({ a }));
    assert.deepEqual(r.destinations, []);
    assert.equal(r.routed, false);
  });

  test('an exchange that routes to nothing uses its alternate exchange', () => {
    const main = new DirectExchange<string>({ alternateExchange: 'ae' });
    const ae = new FanoutExchange<string>();
    main.bind('q', 'known');
    ae.bind('unrouted', '');
    const w = world({ main, ae });
    assert.deepEqual(routeThrough('main', 'known', undefined, w).destinations, ['q']);
    const r = routeThrough('main', 'unknown', undefined, w);
    assert.deepEqual(r.destinations, ['unrouted']);
    assert.equal(r.routed, true);
  });

  test('alternate exchanges chain, and a cycle of alternates terminates unrouted', () => {
    const a = new DirectExchange<string>({ alternateExchange: 'b' });
    const b = new DirectExchange<string>({ alternateExchange: 'c' });
    const c = new FanoutExchange<string>();
    c.bind('last', '');
    assert.deepEqual(routeThrough('a', 'k', undefined, world({ a, b, c })).destinations, ['last']);

    const p = new DirectExchange<string>({ alternateExchange: 'r' });
    const r = new DirectExchange<string>({ alternateExchange: 'p' });
    const res = routeThrough('p', 'k', undefined, world({ p, r }));
    assert.equal(res.routed, false);
    assert.deepEqual(res.exchanges, ['p', 'r']);
  });

  test('the alternate of an exchange that routed only to an empty exchange is not used', () => {
    const a = new FanoutExchange<string>({ alternateExchange: 'aeA' });
    const b = new DirectExchange<string>({ alternateExchange: 'aeB' });
    const aeA = new FanoutExchange<string>();
    const aeB = new FanoutExchange<string>();
    a.bind('x:b', '');
    aeA.bind('fromA', '');
    aeB.bind('fromB', '');
    assert.deepEqual(routeThrough('a', 'k', undefined, world({ a, b, aeA, aeB })).destinations, ['fromB']);
  });

  test('a missing alternate or bound exchange is skipped; a missing start exchange throws', () => {
    const a = new FanoutExchange<string>({ alternateExchange: 'gone' });
    const w = world({ a });
    assert.equal(routeThrough('a', 'k', undefined, w).routed, false);
    a.bind('x:gone', '');
    a.bind('q', '');
    assert.deepEqual(routeThrough('a', 'k', undefined, w).destinations, ['q']);
    assert.throws(() => routeThrough('nope', 'k', undefined, w), (e) => isOmnibusError(e, 'MQ_ERR_NOT_FOUND'));
  });

  test('headers are passed to headers exchanges downstream', () => {
    const a = new FanoutExchange<string>();
    const h = new HeadersExchange<string>();
    a.bind('x:h', '');
    h.bind('pdf', '', { format: 'pdf' });
    assert.deepEqual(routeThrough('a', '', { format: 'pdf' }, world({ a, h })).destinations, ['pdf']);
    assert.equal(routeThrough('a', '', { format: 'doc' }, world({ a, h })).routed, false);
  });

  test('on random exchange graphs routing terminates and returns each queue once (property)', () => {
    const names = ['a', 'b', 'c', 'd'];
    const edge = fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names.map((n) => `x:${n}`), 'q1', 'q2', 'q3'));
    fc.assert(
      fc.property(
        fc.array(edge, { maxLength: 16 }),
        fc.array(fc.option(fc.constantFrom(...names), { nil: undefined }), { minLength: 4, maxLength: 4 }),
        (edges, alternates) => {
          const xs: Record<string, Exchange<string>> = {};
          names.forEach((n, i) => (xs[n] = new FanoutExchange<string>({ alternateExchange: alternates[i] })));
          for (const [from, to] of edges) xs[from]!.bind(to, '');
          const r = routeThrough('a', '', undefined, world(xs));
          assert.equal(new Set(r.destinations).size, r.destinations.length);
          assert.ok(r.exchanges.length <= names.length);
          assert.equal(r.routed, r.destinations.length > 0);
          // Reference: graph reachability over fanout edges and alternates of empty exchanges.
          const reach = new Set<string>(['a']);
          const queues = new Set<string>();
          let changed = true;
          while (changed) {
            changed = false;
            for (const n of [...reach]) {
              const outs = edges.filter(([f]) => f === n).map(([, t]) => t);
              const next = outs.length === 0 && alternates[names.indexOf(n)] !== undefined ? [`x:${alternates[names.indexOf(n)]}`] : outs;
              for (const t of next) {
                if (t.startsWith('x:')) {
                  if (!reach.has(t.slice(2))) {
                    reach.add(t.slice(2));
                    changed = true;
                  }
                } else queues.add(t);
              }
            }
          }
          assert.deepEqual(sorted(r.destinations), sorted([...queues]));
        },
      ),
      { numRuns: 300 },
    );
  });
});
