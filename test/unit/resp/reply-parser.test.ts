import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  PushReply,
  ReplyError,
  ReplyWriter,
  RespReplyParser,
  formatDouble,
  isProtocolError,
} from '../../../src/protocols/resp/index.js';
import type { RespReply, RespValue, RespVersion } from '../../../src/protocols/resp/index.js';
import { bytes, splitAt } from './helpers.js';

/** A comparable, JSON-like form of parsed replies. */
type Norm = null | string | Norm[] | { [k: string]: Norm };

function norm(r: RespReply): Norm {
  if (r === null) return null;
  if (typeof r === 'number' || typeof r === 'bigint') return { num: String(r) };
  if (typeof r === 'boolean') return { bool: String(r) };
  if (typeof r === 'string') return { s: r };
  if (Buffer.isBuffer(r)) return { b: r.toString('hex') };
  if (r instanceof ReplyError) return { e: r.message };
  if (Array.isArray(r)) return r.map(norm);
  if (r instanceof Map) return { map: [...r].map(([k, v]) => [norm(k), norm(v)]) };
  if (r instanceof Set) return { set: [...r].map(norm) };
  if (r instanceof PushReply) return { push: r.items.map(norm) };
  throw new Error('unexpected reply');
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const clean = (s: string) => utf8(s.replace(/[\r\n]/g, ' ')).toString('utf8');

/** What the reply parser must produce for a value the writer encoded in `proto`. */
function expected(v: RespValue, proto: RespVersion): Norm {
  if (v === null) return null;
  switch (typeof v) {
    case 'string':
      return { b: utf8(v).toString('hex') };
    case 'number':
      if (Number.isInteger(v)) return { num: String(v) };
      return proto === 3 ? { num: String(v) } : { b: utf8(formatDouble(v)).toString('hex') };
    case 'boolean':
      return proto === 3 ? { bool: String(v) } : { num: v ? '1' : '0' };
    case 'bigint':
      if ((v >= INT64_MIN && v <= INT64_MAX) || proto === 3) return { num: String(v) };
      return { b: utf8(v.toString()).toString('hex') };
    default:
      break;
  }
  if (v instanceof Uint8Array) return { b: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return (v as readonly RespValue[]).map((x) => expected(x, proto));
  if (v instanceof Map) {
    const pairs = [...(v as ReadonlyMap<RespValue, RespValue>)].map(([k, x]) => [expected(k, proto), expected(x, proto)]);
    return proto === 3 ? { map: pairs } : pairs.flat();
  }
  if (v instanceof Set) {
    const items = [...(v as ReadonlySet<RespValue>)].map((x) => expected(x, proto));
    return proto === 3 ? { set: items } : items;
  }
  const t = v as Exclude<RespValue, null | boolean | number | bigint | string | Uint8Array | readonly RespValue[] | ReadonlyMap<RespValue, RespValue> | ReadonlySet<RespValue>>;
  switch (t.kind) {
    case 'simple':
      return { s: clean(t.value) };
    case 'error':
      return { e: clean(t.message.startsWith('-') ? t.message.slice(1) : t.message) };
    case 'integer':
      return { num: String(t.value) };
    case 'double':
      return proto === 3 ? { num: String(t.value) } : { b: utf8(formatDouble(t.value)).toString('hex') };
    case 'bignum':
      return proto === 3 ? { num: String(t.value) } : { b: utf8(String(t.value)).toString('hex') };
    case 'verbatim':
      return { b: (typeof t.text === 'string' ? utf8(t.text) : Buffer.from(t.text)).toString('hex') };
    case 'push':
      return proto === 3 ? { push: t.items.map((x) => expected(x, proto)) } : t.items.map((x) => expected(x, proto));
    case 'nullArray':
      return null;
    case 'attribute':
      return expected(t.value, proto);
  }
}

const str = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', '\r\n', 'a\rb', '$5\r\n', '*1'));
const leaf: fc.Arbitrary<RespValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  str,
  fc.uint8Array({ maxLength: 40 }),
  str.map((value) => ({ kind: 'simple' as const, value })),
  str.map((s) => ({ kind: 'error' as const, message: 'ERR ' + s })),
  fc.double().map((value) => ({ kind: 'double' as const, value })),
  fc.bigInt().map((value) => ({ kind: 'bignum' as const, value })),
  fc.tuple(str, fc.constantFrom('txt', 'mkd')).map(([text, format]) => ({ kind: 'verbatim' as const, text, format })),
  fc.constant({ kind: 'nullArray' as const }),
);
const { value: respValue } = fc.letrec<{ value: RespValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    // String keys/members only: distinct JS keys must stay distinct after parsing.
    fc.uniqueArray(fc.tuple(fc.string(), tie('value')), { maxLength: 4, selector: (e) => e[0] }).map((e) => new Map<RespValue, RespValue>(e)),
    fc.uniqueArray(fc.string(), { maxLength: 4 }).map((e) => new Set<RespValue>(e)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => ({ kind: 'push' as const, items: ['message' as RespValue, ...items] })),
    fc
      .tuple(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 2 }), tie('value'))
      .map(([keys, value]) => ({ kind: 'attribute' as const, attributes: new Map<RespValue, RespValue>(keys.map((k) => [k, 1])), value })),
  ),
}));

function parseAll(chunks: readonly Buffer[], options?: ConstructorParameters<typeof RespReplyParser>[0]): { replies: Norm[]; error: string | null } {
  const p = new RespReplyParser(options);
  const replies: Norm[] = [];
  for (const c of chunks) {
    p.push(c);
    for (;;) {
      const r = p.next();
      if (r === undefined) break;
      if (isProtocolError(r)) return { replies, error: r.error };
      replies.push(norm(r));
    }
  }
  return { replies, error: null };
}

describe('writer → reply parser round trip (property)', () => {
  for (const proto of [2, 3] as const) {
    it(`RESP${proto}: every type survives encode/parse, whole and split at random points`, () => {
      fc.assert(
        fc.property(fc.array(respValue, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (values, cuts) => {
          const w = new ReplyWriter({ protocol: proto });
          for (const v of values) w.value(v);
          const wire = Buffer.from(w.take());
          const want = values.map((v) => expected(v, proto));
          assert.deepEqual(parseAll([wire]), { replies: want, error: null });
          assert.deepEqual(parseAll(splitAt(wire, cuts.map((c) => c % (wire.length + 1)))), { replies: want, error: null });
        }),
        { numRuns: 1500 },
      );
    });
  }

  it('split at every byte boundary yields the same replies', () => {
    const w = new ReplyWriter({ protocol: 3 });
    w.value([new Map<RespValue, RespValue>([['a', [1, 2.5, true]]]), new Set<RespValue>(['x']), { kind: 'push', items: ['message', 'c', 'hello'] }, null, 'bulk\r\nwith crlf', { kind: 'verbatim', text: 'v' }, 10n ** 25n, { kind: 'error', message: 'WRONGTYPE x' }]);
    const wire = Buffer.from(w.take());
    const whole = parseAll([wire]);
    assert.equal(whole.error, null);
    for (let k = 0; k <= wire.length; k++) assert.deepEqual(parseAll(splitAt(wire, [k])), whole, `split at ${k}`);
    const singles: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) singles.push(wire.subarray(i, i + 1));
    assert.deepEqual(parseAll(singles), whole);
  });
});

describe('RespReplyParser: RESP3 types from the spec', () => {
  const one = (wire: string, options?: ConstructorParameters<typeof RespReplyParser>[0]) => {
    const p = new RespReplyParser(options);
    p.push(bytes(wire));
    return p.next();
  };

  it('scalars', () => {
    assert.equal(one('+hello world\r\n'), 'hello world');
    assert.equal(one(':1234\r\n'), 1234);
    assert.equal(one(':-9223372036854775808\r\n'), -(2n ** 63n));
    assert.equal(one('_\r\n'), null);
    assert.equal(one('$-1\r\n'), null);
    assert.equal(one('*-1\r\n'), null);
    assert.equal(one(',1.23\r\n'), 1.23);
    assert.equal(one(',10\r\n'), 10);
    assert.equal(one(',1e3\r\n'), 1000);
    assert.equal(one(',inf\r\n'), Infinity);
    assert.equal(one(',-inf\r\n'), -Infinity);
    assert.ok(Number.isNaN(one(',nan\r\n')));
    assert.ok(Number.isNaN(one(',-nan\r\n')));
    assert.equal(one('#t\r\n'), true);
    assert.equal(one('#f\r\n'), false);
    assert.equal(one('(3492890328409238509324850943850943825024385\r\n'), 3492890328409238509324850943850943825024385n);
    assert.equal(one('=15\r\ntxt:Some string\r\n', { strings: 'utf8' }), 'Some string');
    assert.deepEqual(one('$11\r\nhello world\r\n'), Buffer.from('hello world'));
  });

  it('errors are values with a code', () => {
    const e = one('-WRONGTYPE Operation against a key\r\n');
    assert.ok(e instanceof ReplyError);
    assert.equal(e.code, 'WRONGTYPE');
    const b = one('!21\r\nSYNTAX invalid syntax\r\n');
    assert.ok(b instanceof ReplyError);
    assert.equal(b.code, 'SYNTAX');
  });

  it('aggregates', () => {
    assert.deepEqual(one('*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n#f\r\n', { strings: 'utf8' }), [[1, 'hello', 2], false]);
    assert.deepEqual(one('%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n'), new Map([['first', 1], ['second', 2]]));
    assert.deepEqual(one('~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n'), new Set(['orange', 'apple', true, 100, 999]));
    const push = one('>3\r\n+message\r\n+somechannel\r\n+this is the message\r\n');
    assert.ok(push instanceof PushReply);
    assert.equal(push.kind, 'message');
    assert.deepEqual(push.items, ['message', 'somechannel', 'this is the message']);
  });

  it('attributes are skipped and exposed separately', () => {
    const p = new RespReplyParser({ strings: 'utf8' });
    p.push(bytes('|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n'));
    assert.deepEqual(p.next(), [2039123, 9543892]);
    assert.deepEqual(p.attributes, new Map([['key-popularity', new Map([['a', 0.1923], ['b', 0.0012]])]]));
    p.push(bytes('*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n'));
    assert.deepEqual(p.next(), [1, 2, 3]);
    assert.equal(p.attributes, undefined);
  });

  it('streamed strings and aggregates', () => {
    // The spec's own example: its chunks really spell "Hello word" (4 + 5 + 1 bytes).
    assert.equal(one('$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n', { strings: 'utf8' }), 'Hello word');
    assert.equal(one('$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n', { strings: 'utf8' }), 'Hello world');
    assert.deepEqual(one('*?\r\n:1\r\n:2\r\n:3\r\n.\r\n'), [1, 2, 3]);
    assert.deepEqual(one('%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n'), new Map([['a', 1], ['b', 2]]));
    assert.deepEqual(one('~?\r\n+a\r\n.\r\n'), new Set(['a']));
    assert.deepEqual(one('*?\r\n*?\r\n.\r\n$?\r\n;0\r\n.\r\n', { strings: 'utf8' }), [[], '']);
  });

  it('push frames interleave with replies', () => {
    const p = new RespReplyParser({ strings: 'utf8' });
    p.push(bytes('>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n$9\r\nGet-Reply\r\n'));
    assert.ok(p.next() instanceof PushReply);
    assert.equal(p.next(), 'Get-Reply');
    assert.equal(p.next(), undefined);
  });

  it('a 4 MiB bulk in 1 KiB chunks is assembled in linear time', () => {
    const payload = Buffer.alloc(4 << 20, 0x5a);
    const w = new ReplyWriter();
    w.arrayHeader(2).bulk(payload).integer(7);
    const wire = w.take();
    const p = new RespReplyParser();
    const t0 = performance.now();
    let got: unknown;
    for (let i = 0; i < wire.length; i += 1024) {
      p.push(wire.subarray(i, i + 1024));
      const r = p.next();
      if (r !== undefined) got = r;
    }
    assert.ok(performance.now() - t0 < 2000);
    assert.ok(Array.isArray(got));
    assert.ok((got[0] as Buffer).equals(payload));
    assert.equal(got[1], 7);
  });
});

describe('RespReplyParser: hostile input', () => {
  it('malformed input yields a sticky protocol error', () => {
    for (const wire of ['?x\r\n', ':12a\r\n', '#x\r\n', ',1.2.3\r\n', '$-2\r\n', '*-2\r\n', '_x\r\n', '.\r\n', ';3\r\nabc\r\n', '(1.5\r\n', '$?\r\n:1\r\n', '%?\r\n:1\r\n.\r\n']) {
      const p = new RespReplyParser();
      p.push(bytes(wire));
      const r = p.next();
      assert.ok(isProtocolError(r), wire);
      assert.match(r.error, /^Protocol error: /);
      assert.equal(p.next(), r);
    }
  });

  it('limits: bulk length, line length, depth', () => {
    const check = (wire: string | Buffer, options: ConstructorParameters<typeof RespReplyParser>[0], message: string) => {
      const p = new RespReplyParser(options);
      p.push(typeof wire === 'string' ? bytes(wire) : wire);
      const r = p.next();
      assert.ok(isProtocolError(r));
      assert.equal(r.error, message);
      assert.equal(p.bufferedBytes, 0);
    };
    check('$11\r\n', { maxBulkLength: 10 }, 'Protocol error: invalid bulk length');
    check('$536870913\r\n', {}, 'Protocol error: invalid bulk length');
    check(Buffer.alloc(2000, 0x2b), { maxLineLength: 1000 }, 'Protocol error: too big reply line');
    check('*1\r\n'.repeat(10), { maxDepth: 5 }, 'Protocol error: reply nested too deeply');
    check('*5000000000\r\n', {}, 'Protocol error: invalid aggregate length');
  });

  it('random bytes never throw and do not depend on chunking', () => {
    const alphabet = fc.constantFrom(...'+-:$*_,#!=(%~|>;.?\r\n0123456789-tfx'.split(''));
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)), fc.array(alphabet, { maxLength: 80 }).map((a) => bytes(a.join('')))),
        fc.array(fc.nat(), { maxLength: 8 }),
        (wire, cuts) => {
          const whole = parseAll([wire], { maxDepth: 8 });
          const split = parseAll(splitAt(wire, cuts.map((c) => c % (wire.length + 1))), { maxDepth: 8 });
          assert.deepEqual(split, whole);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
