import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  TopicTrie,
  AMQP_SYNTAX,
  MQTT_SYNTAX,
  STOMP_SYNTAX,
  validateMqttFilter,
  validateMqttTopicName,
  isValidMqttFilter,
  validatePattern,
  mqttTopicToCanonical,
  canonicalTopicToMqtt,
  mqttFilterToCanonical,
  canonicalPatternToMqtt,
  stompPatternToCanonical,
  canonicalPatternToStomp,
} from '../../../src/engine/routing/topic-trie.js';
import type { TopicSyntax } from '../../../src/engine/routing/topic-trie.js';
import { isOmnibusError } from '../../../src/core/errors.js';

const sorted = <T>(xs: T[]): T[] => [...xs].sort();

function trieOf(syntax: 'amqp' | 'mqtt' | 'stomp', patterns: string[]): TopicTrie<string> {
  const t = new TopicTrie<string>({ syntax });
  for (const p of patterns) t.add(p, p);
  return t;
}

function matches(syntax: 'amqp' | 'mqtt' | 'stomp', pattern: string, topic: string): boolean {
  return trieOf(syntax, [pattern]).match(topic).length === 1;
}

// ---------------------------------------------------------------------------------------------
// Reference matcher: a regex over words terminated by U+0001 (words never contain it).
// ---------------------------------------------------------------------------------------------
const END = '\u0001';
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
function referenceMatch(syntax: TopicSyntax, pattern: string, topic: string): boolean {
  const pw = pattern === '' ? [] : pattern.split(syntax.separator);
  const tw = topic === '' ? [] : topic.split(syntax.separator);
  if (syntax.hideDollarTopics && tw.length > 0 && tw[0]!.startsWith('$')) {
    if (pw.length > 0 && (pw[0] === syntax.singleWildcard || pw[0] === syntax.multiWildcard)) return false;
  }
  const re = pw
    .map((w) => {
      if (w === syntax.singleWildcard) return `[^${END}]*${END}`;
      if (w === syntax.multiWildcard) return `(?:[^${END}]*${END})*`;
      return esc(w) + END;
    })
    .join('');
  return new RegExp(`^${re}$`).test(tw.map((w) => w + END).join(''));
}

const WORDS = ['a', 'b', 'c', '', '$s'];
const topicArb = (sep: string) => fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }).map((ws) => ws.join(sep));
function patternArb(s: TopicSyntax) {
  const word = fc.constantFrom(...WORDS, s.singleWildcard, s.singleWildcard, s.multiWildcard, s.multiWildcard);
  return fc.array(word, { maxLength: 5 }).map((ws) => {
    let out = ws;
    if (s.multiWildcardLastOnly) {
      const at = ws.indexOf(s.multiWildcard);
      if (at !== -1) out = ws.slice(0, at + 1);
    }
    const joined = out.join(s.separator);
    // The empty string is not an MQTT filter.
    return s.name === 'mqtt' && joined === '' ? s.multiWildcard : joined;
  });
}

describe('TopicTrie, AMQP syntax', () => {
  test('a literal pattern matches only the identical topic', () => {
    assert.equal(matches('amqp', 'a.b.c', 'a.b.c'), true);
    assert.equal(matches('amqp', 'a.b.c', 'a.b'), false);
    assert.equal(matches('amqp', 'a.b.c', 'a.b.c.d'), false);
    assert.equal(matches('amqp', 'a.b.c', 'a.x.c'), false);
  });

  test('a pattern with * matches exactly one word', () => {
    assert.equal(matches('amqp', 'a.*.c', 'a.b.c'), true);
    assert.equal(matches('amqp', 'a.*.c', 'a.c'), false);
    assert.equal(matches('amqp', 'a.*.c', 'a.b.b.c'), false);
    assert.equal(matches('amqp', '*', ''), false);
    assert.equal(matches('amqp', 'a.*', 'a.'), true, '* matches the empty word');
  });

  test('a pattern with # matches zero words', () => {
    assert.equal(matches('amqp', 'a.#', 'a'), true);
    assert.equal(matches('amqp', 'a.#.b', 'a.b'), true);
    assert.equal(matches('amqp', '#', ''), true);
    assert.equal(matches('amqp', '#.a', 'a'), true);
  });

  test('a pattern with # matches many words, also in the middle and repeated', () => {
    assert.equal(matches('amqp', 'a.#', 'a.b.c.d'), true);
    assert.equal(matches('amqp', 'a.#.z', 'a.b.c.z'), true);
    assert.equal(matches('amqp', 'a.#.z', 'a.b.c.y'), false);
    assert.equal(matches('amqp', '#.#', 'x.y'), true);
    assert.equal(matches('amqp', '#.*.#', ''), false, '#.*.# needs at least one word');
    assert.equal(matches('amqp', '#.*.#', 'q'), true);
  });

  test('wildcard characters inside a word are literal', () => {
    assert.equal(matches('amqp', 'a*.b', 'a*.b'), true);
    assert.equal(matches('amqp', 'a*.b', 'ax.b'), false);
    assert.equal(matches('amqp', 'a.#x', 'a.b.c'), false);
  });

  test('the empty pattern matches only the empty topic', () => {
    assert.equal(matches('amqp', '', ''), true);
    assert.equal(matches('amqp', '', 'a'), false);
  });

  test('match returns each value once even when several patterns match', () => {
    const t = new TopicTrie<string>();
    t.add('a.*', 'q1');
    t.add('a.#', 'q1');
    t.add('#', 'q1');
    t.add('a.b', 'q2');
    assert.deepEqual(sorted(t.match('a.b')), ['q1', 'q2']);
  });

  test('the same binding added twice is one binding that needs two removes', () => {
    const t = new TopicTrie<string>();
    assert.equal(t.add('a.*', 'q'), 1);
    assert.equal(t.add('a.*', 'q'), 2);
    assert.equal(t.size, 1);
    assert.deepEqual([...t.entries()], [{ pattern: 'a.*', value: 'q', count: 2 }]);
    assert.deepEqual(t.match('a.b'), ['q']);
    assert.equal(t.remove('a.*', 'q'), 1);
    assert.deepEqual(t.match('a.b'), ['q']);
    assert.equal(t.remove('a.*', 'q'), 0);
    assert.deepEqual(t.match('a.b'), []);
    assert.equal(t.size, 0);
    assert.equal(t.isEmpty(), true);
  });

  test('delete removes a binding whatever its count; removing an absent binding is harmless', () => {
    const t = new TopicTrie<string>();
    t.add('a', 'q');
    t.add('a', 'q');
    assert.equal(t.delete('a', 'q'), true);
    assert.equal(t.delete('a', 'q'), false);
    assert.equal(t.remove('nope.#', 'q'), 0);
    assert.equal(t.has('a', 'q'), false);
    assert.equal(t.isEmpty(), true);
  });

  test('removing every binding prunes the trie back to an empty root', () => {
    const t = new TopicTrie<number>();
    const patterns = ['a.b.c', 'a.*.c', 'a.#', '#.c', 'x', '*.*', ''];
    patterns.forEach((p, i) => t.add(p, i));
    patterns.forEach((p, i) => t.remove(p, i));
    assert.equal(t.isEmpty(), true);
  });

  test('entries lists patterns with values and counts', () => {
    const t = new TopicTrie<string>();
    t.add('a.*.#', 'x');
    t.add('b', 'y');
    const e = [...t.entries()].map((x) => `${x.pattern}=${x.value}`).sort();
    assert.deepEqual(e, ['a.*.#=x', 'b=y']);
    t.clear();
    assert.equal(t.size, 0);
    assert.deepEqual(t.match('b'), []);
  });

  test('match is cheap with thousands of bindings', () => {
    const t = new TopicTrie<number>();
    for (let i = 0; i < 20_000; i++) t.add(`sensor.${i}.temp`, i);
    t.add('sensor.*.temp', -1);
    t.add('sensor.#', -2);
    const start = performance.now();
    let hits = 0;
    for (let i = 0; i < 20_000; i++) hits += t.match(`sensor.${i}.temp`).length;
    const ms = performance.now() - start;
    assert.equal(hits, 60_000);
    // A scan of all patterns would be 20k x 20k = 4e8 comparisons; the trie does ~6 steps each.
    assert.ok(ms < 2_000, `20k matches over 20k bindings took ${ms.toFixed(0)} ms`);
  });

  test('patterns with many # do not blow up on long topics', () => {
    const t = new TopicTrie<string>();
    t.add('#.a.#.a.#.a.#.a.#.b', 'x');
    const topic = Array.from({ length: 200 }, () => 'a').join('.');
    const start = performance.now();
    assert.deepEqual(t.match(topic), []);
    assert.deepEqual(t.match(`${topic}.b`), ['x']);
    assert.ok(performance.now() - start < 2_000);
  });

  test('a topic with 100000 words does not overflow the stack', () => {
    const t = new TopicTrie<string>();
    const long = Array.from({ length: 100_000 }, () => 'w').join('.');
    t.add(long, 'exact');
    t.add('w.#', 'prefix');
    assert.deepEqual(sorted(t.match(long)), ['exact', 'prefix']);
  });

  test('a trie matches iff a reference regex matcher does (property)', () => {
    for (const syntax of [AMQP_SYNTAX, MQTT_SYNTAX, STOMP_SYNTAX]) {
      fc.assert(
        fc.property(fc.array(patternArb(syntax), { maxLength: 12 }), topicArb(syntax.separator), (patterns, topic) => {
          const t = new TopicTrie<number>({ syntax });
          patterns.forEach((p, i) => t.add(p, i));
          const expected = patterns.flatMap((p, i) => (referenceMatch(syntax, p, topic) ? [i] : []));
          assert.deepEqual(sorted(t.match(topic)), sorted(expected), `${syntax.name} ${JSON.stringify(patterns)} ~ ${topic}`);
        }),
        { numRuns: 400 },
      );
    }
  });

  test('after random adds and removes the trie matches only the remaining bindings (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(patternArb(AMQP_SYNTAX), fc.integer({ min: 0, max: 3 }), fc.boolean()), { maxLength: 30 }),
        topicArb('.'),
        (ops, topic) => {
          const t = new TopicTrie<number>();
          const model = new Map<string, number>();
          for (const [p, v, isAdd] of ops) {
            const key = `${v}\u0000${p}`;
            if (isAdd) {
              t.add(p, v);
              model.set(key, (model.get(key) ?? 0) + 1);
            } else {
              t.remove(p, v);
              const n = (model.get(key) ?? 0) - 1;
              if (n <= 0) model.delete(key);
              else model.set(key, n);
            }
          }
          const expected = new Set<number>();
          for (const key of model.keys()) {
            const [v, p] = key.split('\u0000') as [string, string];
            if (referenceMatch(AMQP_SYNTAX, p, topic)) expected.add(Number(v));
          }
          assert.deepEqual(sorted(t.match(topic)), sorted([...expected]));
          assert.equal(t.size, model.size);
          if (model.size === 0) assert.equal(t.isEmpty(), true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('TopicTrie, MQTT syntax', () => {
  test('+ matches exactly one level and # matches the parent level too', () => {
    assert.equal(matches('mqtt', 'sport/+/player1', 'sport/tennis/player1'), true);
    assert.equal(matches('mqtt', 'sport/+', 'sport'), false);
    assert.equal(matches('mqtt', 'sport/+', 'sport/'), true);
    assert.equal(matches('mqtt', 'sport/#', 'sport'), true);
    assert.equal(matches('mqtt', 'sport/#', 'sport/tennis/player1'), true);
    assert.equal(matches('mqtt', '/+', '/finance'), true);
    assert.equal(matches('mqtt', '+/+', '/finance'), true);
    assert.equal(matches('mqtt', '+', '/finance'), false);
  });

  test('a topic starting with $ is not matched by a filter starting with a wildcard', () => {
    assert.equal(matches('mqtt', '#', '$SYS/broker/uptime'), false);
    assert.equal(matches('mqtt', '+/broker/uptime', '$SYS/broker/uptime'), false);
    assert.equal(matches('mqtt', '$SYS/#', '$SYS/broker/uptime'), true);
    assert.equal(matches('mqtt', '$SYS/+/uptime', '$SYS/broker/uptime'), true);
    assert.equal(matches('mqtt', '#', 'a/$SYS'), true, 'only the first level counts');
    assert.equal(matches('mqtt', 'a/+', 'a/$x'), true);
  });

  test('the $ rule can be switched on for a canonical trie and off for an MQTT one', () => {
    const canonical = new TopicTrie<string>({ syntax: 'amqp', hideDollarTopics: true });
    canonical.add('#', 'all');
    canonical.add('$SYS.#', 'sys');
    assert.deepEqual(canonical.match(mqttTopicToCanonical('$SYS/x')), ['sys']);
    const open = new TopicTrie<string>({ syntax: 'mqtt', hideDollarTopics: false });
    open.add('#', 'all');
    assert.deepEqual(open.match('$SYS/x'), ['all']);
  });

  test('an invalid filter such as a/#/b is rejected by the exported validator and by add', () => {
    for (const bad of ['a/#/b', '#/a', 'a/b#', 'a+/b', 'a/+b', '']) {
      assert.equal(isValidMqttFilter(bad), false, bad);
      assert.throws(() => validateMqttFilter(bad), (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    }
    for (const good of ['#', '+', 'a/#', '+/+/#', '/', 'a//b', '$SYS/#']) {
      assert.equal(isValidMqttFilter(good), true, good);
    }
    const t = new TopicTrie<string>({ syntax: 'mqtt' });
    assert.throws(() => t.add('a/#/b', 'x'), (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    assert.equal(t.isEmpty(), true);
  });

  test('MQTT topic names with wildcards or empty are rejected', () => {
    for (const bad of ['', 'a/+', 'a/#', 'a\u0000b']) {
      assert.throws(() => validateMqttTopicName(bad), (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    }
    validateMqttTopicName('a/b/$c');
  });
});

describe('TopicTrie, STOMP/ActiveMQ syntax', () => {
  test('> matches zero or more trailing words and * one word', () => {
    assert.equal(matches('stomp', 'PRICE.>', 'PRICE'), true);
    assert.equal(matches('stomp', 'PRICE.>', 'PRICE.STOCK.NASDAQ.ORCL'), true);
    assert.equal(matches('stomp', 'PRICE.*.NYSE', 'PRICE.STOCK.NYSE'), true);
    assert.equal(matches('stomp', 'PRICE.*.NYSE', 'PRICE.NYSE'), false);
    assert.equal(matches('stomp', 'a.#', 'a.b'), false, '# is a literal word in ActiveMQ syntax');
  });

  test('> before the end is rejected', () => {
    assert.throws(() => validatePattern('a.>.b', 'stomp'), (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    assert.throws(() => new TopicTrie<string>({ syntax: 'stomp' }).add('>.a', 'x'));
    validatePattern('a.#.b', 'amqp');
  });
});

describe('conversion to the canonical AMQP form', () => {
  test('MQTT topics and filters convert separators and wildcards', () => {
    assert.equal(mqttTopicToCanonical('a/b/c'), 'a.b.c');
    assert.equal(canonicalTopicToMqtt('a.b.c'), 'a/b/c');
    assert.equal(mqttFilterToCanonical('a/+/#'), 'a.*.#');
    assert.equal(mqttFilterToCanonical('+'), '*');
    assert.equal(canonicalPatternToMqtt('a.*.#'), 'a/+/#');
  });

  test('a dot inside an MQTT level is swapped with the slash, so it stays inside the word', () => {
    assert.equal(mqttTopicToCanonical('v1.2/data'), 'v1/2.data');
    assert.equal(canonicalTopicToMqtt('v1/2.data'), 'v1.2/data');
    const t = new TopicTrie<string>();
    t.add(mqttFilterToCanonical('v1.2/+'), 'sub');
    assert.deepEqual(t.match(mqttTopicToCanonical('v1.2/data')), ['sub']);
    assert.deepEqual(t.match(mqttTopicToCanonical('v1/2/data')), []);
  });

  test('filters that cannot be expressed in the other syntax are rejected', () => {
    const bad = (f: () => unknown) => assert.throws(f, (e) => isOmnibusError(e, 'MQ_ERR_INVALID_ARGUMENT'));
    bad(() => mqttFilterToCanonical('a/*'));
    bad(() => mqttFilterToCanonical('a/#/b'));
    bad(() => canonicalPatternToMqtt('a.#.b'));
    bad(() => canonicalPatternToMqtt('a.+'));
    bad(() => stompPatternToCanonical('a.#'));
    bad(() => stompPatternToCanonical('a.>.b'));
    bad(() => canonicalPatternToStomp('#.a'));
    bad(() => canonicalPatternToStomp('a.>'));
  });

  test('ActiveMQ > converts to #', () => {
    assert.equal(stompPatternToCanonical('PRICE.*.>'), 'PRICE.*.#');
    assert.equal(canonicalPatternToStomp('PRICE.*.#'), 'PRICE.*.>');
  });

  test('MQTT topic conversion round-trips (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '.', '/', '$', 'b') }), (topic) => {
        assert.equal(canonicalTopicToMqtt(mqttTopicToCanonical(topic)), topic);
      }),
    );
  });

  test('an MQTT trie and a canonical trie fed converted filters agree (property)', () => {
    const level = fc.constantFrom('a', 'b.c', '', '$s', 'x/y'.replace('/', '.'));
    const topicArbM = fc.array(level, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('/'));
    const filterArbM = fc
      .array(fc.constantFrom('a', 'b.c', '', '$s', '+', '#'), { minLength: 1, maxLength: 5 })
      .map((ls) => {
        const at = ls.indexOf('#');
        const f = (at === -1 ? ls : ls.slice(0, at + 1)).join('/');
        return f === '' ? '#' : f;
      });
    fc.assert(
      fc.property(fc.array(filterArbM, { maxLength: 8 }), topicArbM, (filters, topic) => {
        const mqtt = new TopicTrie<number>({ syntax: 'mqtt' });
        const canonical = new TopicTrie<number>({ syntax: 'amqp', hideDollarTopics: true });
        filters.forEach((f, i) => {
          mqtt.add(f, i);
          canonical.add(mqttFilterToCanonical(f), i);
          assert.equal(canonicalPatternToMqtt(mqttFilterToCanonical(f)), f);
        });
        assert.deepEqual(sorted(canonical.match(mqttTopicToCanonical(topic))), sorted(mqtt.match(topic)));
      }),
      { numRuns: 300 },
    );
  });
});
