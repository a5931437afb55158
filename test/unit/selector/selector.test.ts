import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileSelector } from '../../../src/engine/selector/selector.js';
import type { PropertySource } from '../../../src/engine/selector/selector.js';
import { isOmnibusError } from '../../../src/core/errors.js';

const ev = (sel: string, props: PropertySource = {}): boolean | null => compileSelector(sel).evaluate(props);
const yes = (sel: string, props: PropertySource = {}): void => assert.equal(ev(sel, props), true, sel);
const no = (sel: string, props: PropertySource = {}): void => assert.equal(ev(sel, props), false, sel);
const unknown = (sel: string, props: PropertySource = {}): void => assert.equal(ev(sel, props), null, sel);

function rejects(sel: string, messagePart?: RegExp): void {
  assert.throws(
    () => compileSelector(sel),
    (e: unknown) => {
      assert.ok(isOmnibusError(e, 'MQ_ERR_SELECTOR'), `expected MQ_ERR_SELECTOR for ${JSON.stringify(sel)}, got ${String(e)}`);
      assert.match(e.message, /invalid selector at position \d+: /);
      if (messagePart !== undefined) assert.match(e.message, messagePart);
      return true;
    },
  );
}

describe('literals', () => {
  test('strings use single quotes and double a quote to escape it', () => {
    yes("s = 'it''s'", { s: "it's" });
    yes("s = ''", { s: '' });
    yes("s = 'a\"b'", { s: 'a"b' });
    rejects("s = 'open", /position 5: unterminated string/);
    rejects('s = "x"', /single quotes/);
  });

  test('exact numerics cover the long range exactly', () => {
    yes('n = 42', { n: 42 });
    yes('n = 42L', { n: 42 });
    yes('n = 9223372036854775807', { n: 9223372036854775807n });
    no('n = 9223372036854775807', { n: 9223372036854775806n });
    yes('n = -9223372036854775808', { n: -9223372036854775808n });
    yes('n > 9007199254740992', { n: 9007199254740993n });
    yes('n + 1 = 9007199254740994', { n: 9007199254740993n });
    rejects('n = 9223372036854775809', /out of the long range/);
  });

  test('hex literals are exact numerics', () => {
    yes('n = 0x1F', { n: 31 });
    yes('n = 0XffL', { n: 255 });
    yes('n = 0x7FFFFFFFFFFFFFFF', { n: 9223372036854775807n });
    rejects('n = 0x1FFFFFFFFFFFFFFFF', /out of the long range/);
  });

  test('a leading zero is decimal, not octal', () => {
    yes('n = 010', { n: 10 });
  });

  test('approximate numerics accept 1.5, 1e3, .5, 2. and signed exponents', () => {
    yes('n = 1.5', { n: 1.5 });
    yes('n = 1e3', { n: 1000 });
    yes('n = 1E+3', { n: 1000 });
    yes('n = 25e-1', { n: 2.5 });
    yes('n = .5', { n: 0.5 });
    yes('n = 2.', { n: 2 });
    yes('n = 1.0', { n: 1 });
    rejects('n = 1e', /invalid number/);
    rejects('n = 12abc', /invalid number/);
    rejects('n = 1.2.3', /invalid number/);
    rejects('n = 1e999', /double range/);
  });

  test('exact and approximate numerics compare with each other', () => {
    yes('1 = 1.0');
    yes('n = 3', { n: 3.0 });
    yes('n < 3.5', { n: 3n });
  });

  test('TRUE, FALSE and NULL are case-insensitive keywords', () => {
    yes('TRUE');
    yes('true');
    no('False');
    yes('flag = tRuE', { flag: true });
    no('flag = FALSE', { flag: true });
    unknown('NULL = NULL');
    yes('x IS null');
  });
});

describe('identifiers', () => {
  test('identifiers are case-sensitive property names', () => {
    yes("color = 'red'", { color: 'red' });
    unknown("Color = 'red'", { color: 'red' });
    yes("_a$1 = 'x'", { _a$1: 'x' });
    yes("größe = 'L'", { größe: 'L' });
  });

  test('a keyword cannot be an identifier, but may be part of one', () => {
    rejects('and = 1', /keyword AND/);
    rejects('NOT = 1');
    yes('andy = 1 AND ORDER = 2 AND nullable IS NULL', { andy: 1, ORDER: 2 });
  });

  test('JMS header names are ordinary identifiers looked up in the property source', () => {
    const props = {
      JMSPriority: 7,
      JMSType: 'order',
      JMSCorrelationID: 'c-1',
      JMSTimestamp: 1_700_000_000_000,
      JMSMessageID: 'ID:1',
      JMSDeliveryMode: 'PERSISTENT',
    };
    yes(
      "JMSPriority > 4 AND JMSType = 'order' AND JMSCorrelationID LIKE 'c-%' AND JMSTimestamp >= 1700000000000 " +
        "AND JMSMessageID = 'ID:1' AND JMSDeliveryMode = 'PERSISTENT'",
      props,
    );
  });

  test('properties come from a function, a Map or a record, and inherited keys are not properties', () => {
    const sel = compileSelector("k = 'v'");
    assert.equal(sel.matches((name) => (name === 'k' ? 'v' : undefined)), true);
    assert.equal(sel.matches(new Map([['k', 'v']])), true);
    assert.equal(sel.matches({ k: 'v' }), true);
    yes('constructor IS NULL AND toString IS NULL AND __proto__ IS NULL', {});
    yes('x IS NULL', { x: undefined });
  });

  test('identifiers lists the properties the selector reads', () => {
    const sel = compileSelector("a = 1 AND (b LIKE 'x%' OR c IS NULL) AND a < 5");
    assert.deepEqual([...sel.identifiers].sort(), ['a', 'b', 'c']);
  });
});

describe('precedence', () => {
  test('AND binds tighter than OR', () => {
    yes('a = 1 OR b = 1 AND c = 1', { a: 1, b: 0, c: 0 });
    no('(a = 1 OR b = 1) AND c = 1', { a: 1, b: 0, c: 0 });
  });

  test('NOT binds tighter than AND but looser than comparison', () => {
    yes('NOT a = 1 AND b = 2', { a: 0, b: 2 });
    no('NOT (a = 0 AND b = 2)', { a: 0, b: 2 });
    yes('NOT NOT a = 1', { a: 1 });
  });

  test('multiplication binds tighter than addition and both are left-associative', () => {
    yes('1 + 2 * 3 = 7');
    yes('(1 + 2) * 3 = 9');
    yes('8 - 2 - 1 = 5');
    yes('8 / 2 / 2 = 2');
    yes('2 * 3 - 4 / 2 = 4');
  });

  test('unary minus binds tighter than multiplication', () => {
    yes('-2 * 3 = -6');
    yes('- -2 = 2');
    yes('-a * 2 = -8', { a: 4 });
    yes('+a = 4', { a: 4 });
  });

  test('arithmetic binds tighter than comparison, BETWEEN and IN', () => {
    yes('a + 1 > 2 * 2', { a: 4 });
    yes('a BETWEEN 1 + 1 AND 2 * 2', { a: 4 });
    no('a BETWEEN 1 + 1 AND 2 * 2 - 1', { a: 4 });
  });
});

describe('arithmetic', () => {
  test('division is floating point, as in ActiveMQ', () => {
    yes('7 / 2 = 3.5');
    yes('n / 0 > 1000000', { n: 1 });
  });

  test('arithmetic on NULL or a non-number is UNKNOWN', () => {
    unknown('a + 1 = 2');
    unknown("a + 1 = 2", { a: 'x' });
    unknown('a * 2 > 0', { a: true });
    unknown('-a < 0', { a: 'x' });
  });

  test('bigint arithmetic stays exact beyond 2^53', () => {
    yes('a * 2 = 18014398509481986', { a: 9007199254740993n });
    yes('a - 1 = 9007199254740992', { a: 9007199254740993n });
    yes('a + 0.5 > 9007199254740990', { a: 9007199254740993n }); // mixed with a double: double precision
  });
});

describe('comparisons and three-valued logic', () => {
  test('comparisons with NULL are UNKNOWN, including <> and NOT', () => {
    for (const op of ['=', '<>', '<', '<=', '>', '>=']) {
      unknown(`x ${op} 1`);
      unknown(`1 ${op} x`);
      unknown(`NOT (x ${op} 1)`);
    }
    unknown("x = 'a'");
    unknown('x = y', { x: 1 });
  });

  test('the JMS truth tables for AND, OR and NOT hold', () => {
    const T = { v: true };
    const F = { v: false };
    const U = {};
    const cases: Array<[Record<string, unknown>, boolean | null]> = [
      [T, true],
      [F, false],
      [U, null],
    ];
    const and = (a: boolean | null, b: boolean | null) => (a === false || b === false ? false : a === true && b === true ? true : null);
    const or = (a: boolean | null, b: boolean | null) => (a === true || b === true ? true : a === false && b === false ? false : null);
    for (const [pa, a] of cases) {
      for (const [pb, b] of cases) {
        const props = { p: pa['v'], q: pb['v'] };
        assert.equal(ev('p AND q', props), and(a, b), `${a} AND ${b}`);
        assert.equal(ev('p OR q', props), or(a, b), `${a} OR ${b}`);
        assert.equal(ev('p = TRUE AND q = TRUE', props), and(a === null ? null : a === true, b === null ? null : b === true));
      }
      assert.equal(ev('NOT p', { p: pa['v'] }), a === null ? null : !a, `NOT ${a}`);
    }
    no('FALSE AND x = 1');
    yes('TRUE OR x = 1');
    unknown('TRUE AND x = 1');
    unknown('FALSE OR x = 1');
  });

  test('a selector matches only when it is TRUE', () => {
    const sel = compileSelector('x > 1');
    assert.equal(sel.matches({}), false);
    assert.equal(sel.matches({ x: 0 }), false);
    assert.equal(sel.matches({ x: 2 }), true);
    assert.equal(compileSelector('NOT (x > 1)').matches({}), false);
  });

  test('comparing different types is FALSE, so its negation is TRUE', () => {
    no('color = 5', { color: 'red' });
    no('color <> 5', { color: 'red' });
    yes('NOT (color = 5)', { color: 'red' });
    no("n = '5'", { n: 5 });
    no("flag = 'true'", { flag: true });
    no('flag = 1', { flag: true });
    no("b = 'x'", { b: Buffer.from('x') });
    no('b IS NULL', { b: Buffer.from('x') });
  });

  test('strings and booleans compare only with = and <>', () => {
    yes("s = 'a'", { s: 'a' });
    yes("s <> 'b'", { s: 'a' });
    no('s < t', { s: 'a', t: 'b' });
    no('p > q', { p: true, q: false });
    rejects("s < 'b'", /only = and <>/);
    rejects('TRUE > FALSE', /only = and <>/);
    yes('flag = TRUE', { flag: true });
    yes('flag <> FALSE', { flag: true });
  });

  test('a property that is not a boolean used as a condition is UNKNOWN', () => {
    unknown('flag', { flag: 'yes' });
    unknown('flag AND TRUE', { flag: 1 });
    yes('flag', { flag: true });
  });

  test('IS NULL and IS NOT NULL test for absence', () => {
    yes('x IS NULL');
    no('x IS NOT NULL');
    yes('x IS NOT NULL', { x: 0 });
    yes("x IS NOT NULL", { x: '' });
    yes('x IS NULL', { x: null });
    yes('x + 1 IS NULL');
    rejects('x IS 5', /expected NULL after IS/);
    rejects('x IS NOT TRUE', /expected NULL after IS NOT/);
  });
});

describe('BETWEEN', () => {
  test('BETWEEN includes both ends', () => {
    yes('age BETWEEN 15 AND 19', { age: 15 });
    yes('age BETWEEN 15 AND 19', { age: 19 });
    yes('age BETWEEN 15 AND 19', { age: 17.5 });
    no('age BETWEEN 15 AND 19', { age: 20 });
    no('age BETWEEN 15 AND 19', { age: 14 });
  });

  test('NOT BETWEEN is the complement for numbers', () => {
    no('age NOT BETWEEN 15 AND 19', { age: 15 });
    yes('age NOT BETWEEN 15 AND 19', { age: 20 });
    yes('age NOT BETWEEN 15 AND 19', { age: 14 });
  });

  test('BETWEEN with a NULL operand is UNKNOWN, unless a bound already decides', () => {
    unknown('age BETWEEN 15 AND 19');
    unknown('age NOT BETWEEN 15 AND 19');
    unknown('age BETWEEN lo AND 19', { age: 16 });
    no('age BETWEEN lo AND 19', { age: 20 });
    yes('age NOT BETWEEN lo AND 19', { age: 20 });
  });

  test('BETWEEN on a string is FALSE either way and on a string literal is a compile error', () => {
    no('age BETWEEN 1 AND 2', { age: 'x' });
    no('age NOT BETWEEN 1 AND 2', { age: 'x' });
    rejects("age BETWEEN 'a' AND 'b'", /BETWEEN needs numbers/);
    rejects('age BETWEEN 1 OR 2', /expected AND in BETWEEN/);
  });
});

describe('IN', () => {
  test('IN matches any listed string and NOT IN none', () => {
    yes("country IN ('UK', 'US', 'France')", { country: 'UK' });
    no("country IN ('UK', 'US', 'France')", { country: 'Peru' });
    no("country NOT IN ('UK', 'US', 'France')", { country: 'UK' });
    yes("country NOT IN ('UK', 'US', 'France')", { country: 'Peru' });
    yes("q IN ('it''s')", { q: "it's" });
  });

  test('IN and NOT IN on NULL are UNKNOWN', () => {
    unknown("country IN ('UK')");
    unknown("country NOT IN ('UK')");
  });

  test('IN on a non-string is FALSE and NOT IN is its negation', () => {
    no("n IN ('5')", { n: 5 });
    yes("n NOT IN ('5')", { n: 5 });
  });

  test('IN lists hold string literals only and must not be empty', () => {
    rejects('n IN (1, 2)', /string literals/);
    rejects('n IN ()', /string literals/);
    rejects("n IN ('a',)", /string literals/);
    rejects("n IN ('a'", /close the IN list/);
    rejects("n IN 'a'", /"\(" after IN/);
    rejects("5 IN ('a')", /IN needs a string/);
  });
});

describe('LIKE', () => {
  test('% matches any sequence and _ exactly one character', () => {
    yes("phone LIKE '12%3'", { phone: '123' });
    yes("phone LIKE '12%3'", { phone: '12993' });
    no("phone LIKE '12%3'", { phone: '1234' });
    yes("word LIKE 'l_se'", { word: 'lose' });
    no("word LIKE 'l_se'", { word: 'loose' });
    yes("word LIKE '%'", { word: '' });
    yes("word LIKE '_'", { word: '😀' });
    yes("word LIKE 'a%b'", { word: 'a\nb' });
  });

  test('ESCAPE makes the next character literal', () => {
    yes("underscored LIKE '\\_%' ESCAPE '\\'", { underscored: '_foo' });
    no("underscored LIKE '\\_%' ESCAPE '\\'", { underscored: 'bar' });
    yes("p LIKE '100!%' ESCAPE '!'", { p: '100%' });
    no("p LIKE '100!%' ESCAPE '!'", { p: '1000' });
    yes("p LIKE 'a!!b' ESCAPE '!'", { p: 'a!b' });
    rejects("p LIKE 'a!' ESCAPE '!'", /ends with its escape character/);
    rejects("p LIKE 'a' ESCAPE '!!'", /exactly one character/);
    rejects("p LIKE 'a' ESCAPE 5", /ESCAPE needs a string literal/);
  });

  test('regular-expression characters in the pattern are literal', () => {
    yes("p LIKE 'a.b*(c)[d]{2}+?^$|\\/-'", { p: 'a.b*(c)[d]{2}+?^$|\\/-' });
    no("p LIKE 'a.b'", { p: 'axb' });
  });

  test('NOT LIKE is the negation and NULL is UNKNOWN either way', () => {
    no("word NOT LIKE 'l_se'", { word: 'lose' });
    yes("word NOT LIKE 'l_se'", { word: 'loose' });
    unknown("word LIKE 'a%'");
    unknown("word NOT LIKE 'a%'");
    no("n LIKE '1%'", { n: 12 });
    yes("n NOT LIKE '1%'", { n: 12 });
  });

  test('the LIKE pattern must be a string literal', () => {
    rejects('p LIKE q', /string literal pattern/);
    rejects("5 LIKE 'a'", /LIKE needs a string/);
  });
});

describe('numeric strings', () => {
  test('by default a numeric string is not a number', () => {
    no('weight > 10', { weight: '20' });
    unknown('weight + 1 > 10', { weight: '20' });
  });

  test('with convertNumericStrings a numeric string meets numbers as a number', () => {
    const sel = (s: string) => compileSelector(s, { convertNumericStrings: true });
    assert.equal(sel('weight > 10').matches({ weight: '20' }), true);
    assert.equal(sel('weight > 10').matches({ weight: ' 2e1 ' }), true);
    assert.equal(sel('weight > 10').matches({ weight: 'heavy' }), false);
    assert.equal(sel('weight + 1 = 21').matches({ weight: '20' }), true);
    assert.equal(sel('weight BETWEEN 10 AND 30').matches({ weight: '20' }), true);
    assert.equal(sel("weight = '20'").matches({ weight: 20 }), true);
    assert.equal(sel("n IN ('5', '6')").matches({ n: 6 }), true);
    assert.equal(sel('big = 9223372036854775807').matches({ big: '9223372036854775807' }), true);
    assert.equal(sel("flag = TRUE").matches({ flag: 'TRUE' }), true);
    assert.equal(sel("flag = TRUE").matches({ flag: 'yes' }), false);
    assert.equal(sel("s = '10'").matches({ s: '10.0' }), false, 'string vs string is never converted');
  });
});

describe('errors', () => {
  test('errors name the 1-based position and the problem', () => {
    rejects("color = 'red' AND", /position 18: unexpected end of the selector/);
    rejects("color = 'red' weight", /position 15: expected AND, OR or the end of the selector but found "weight"/);
    rejects('a = (1', /position 7: expected "\)" to close the "\(" at position 5/);
    rejects('a = 1)', /position 6/);
    rejects('a != 1', /position 3: unknown operator "!="; use "<>"/);
    rejects('a = 1 # b', /position 7: unexpected character "#"/);
    rejects('a == 1', /position 4: expected an expression/);
  });

  test('a selector must be a condition', () => {
    rejects('5', /is a number, not a condition/);
    rejects("'x'", /is a string, not a condition/);
    rejects('a + 1', /not a condition/);
    rejects('NULL', /not a condition/);
    rejects('a AND 5', /AND needs conditions/);
    rejects("NOT 'x'", /NOT needs conditions/);
    rejects("'a' + 1 = 2", /needs numbers, not a string/);
    rejects('TRUE + 1 = 2', /needs numbers, not a condition/);
    rejects("-'a' = 1", /needs numbers/);
  });

  test('an empty or blank selector selects every message', () => {
    assert.equal(compileSelector('').matches({}), true);
    assert.equal(compileSelector('  \n\t').matches({}), true);
  });

  test('a non-string selector is MQ_ERR_SELECTOR', () => {
    assert.throws(() => compileSelector(42 as unknown as string), (e) => isOmnibusError(e, 'MQ_ERR_SELECTOR'));
  });

  test('nesting deeper than 100 levels is rejected, 100 is accepted', () => {
    const nest = (d: number) => `${'('.repeat(d)}a = 1${')'.repeat(d)}`;
    assert.equal(compileSelector(nest(99)).matches({ a: 1 }), true);
    rejects(nest(101), /nested more than 100 levels/);
    rejects(nest(30_000), /nested more than 100 levels/);
    rejects(`${'NOT '.repeat(101)}a = 1`, /nested more than 100 levels/);
    rejects(`a = ${'-'.repeat(200)}1`, /nested more than 100 levels/);
    assert.equal(compileSelector(`${'NOT '.repeat(50)}a = 1`).matches({ a: 1 }), true);
    assert.throws(() => compileSelector('(a = 1)', { maxDepth: 0 }), (e) => isOmnibusError(e, 'MQ_ERR_SELECTOR'));
  });

  test('selectors longer than 64 KiB are rejected', () => {
    rejects(`a = '${'x'.repeat(70_000)}'`, /limit is 65536/);
  });

  test('long flat AND, OR and + chains evaluate without exhausting the stack', () => {
    const ands = Array.from({ length: 5_000 }, (_, i) => `a${i % 7} = 1`).join(' AND ');
    assert.ok(ands.length < 65_536);
    const props = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`a${i}`, 1]));
    assert.equal(compileSelector(ands).matches(props), true);
    const ors = Array.from({ length: 6_000 }, () => 'a = 2').join(' OR ');
    assert.equal(compileSelector(ors).matches({ a: 1 }), false);
    const sum = `${Array.from({ length: 20_000 }, () => '1').join('+')} = 20000`;
    assert.equal(compileSelector(sum).matches({}), true);
  });

  test('random text never throws anything but MQ_ERR_SELECTOR (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          compileSelector(text);
        } catch (e) {
          assert.ok(isOmnibusError(e, 'MQ_ERR_SELECTOR'), `${JSON.stringify(text)} threw ${String(e)}`);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  test('random token soup never throws anything but MQ_ERR_SELECTOR and evaluation never throws (property)', () => {
    const tokens = [
      'a', 'b', 'NOT', 'AND', 'OR', 'BETWEEN', 'IN', 'LIKE', 'ESCAPE', 'IS', 'NULL', 'TRUE', 'FALSE',
      '=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '(', ')', ',', "'x'", "'%_'", "'!'", '1', '2.5', '0x1F',
      '9223372036854775807',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 14 }), fc.constantFrom<unknown>(1, 'x', true, null, 2.5, 7n), (parts, value) => {
        const text = parts.join(' ');
        let sel;
        try {
          sel = compileSelector(text);
        } catch (e) {
          assert.ok(isOmnibusError(e, 'MQ_ERR_SELECTOR'), `${JSON.stringify(text)} threw ${String(e)}`);
          return;
        }
        const r = sel.evaluate({ a: value, b: value });
        assert.ok(r === true || r === false || r === null);
      }),
      { numRuns: 3_000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Algebraic properties over generated well-formed selectors
// ---------------------------------------------------------------------------------------------

const valueArb = fc.constantFrom<unknown>(undefined, null, 0, 1, 2, 2.5, -1, 'x', 'y', true, false, 3n);
const numTerm = fc.constantFrom('n', 'm', '1', '2', '2.5', '-1', 'n + 1', 'm * 2');
const cond: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(numTerm, fc.constantFrom('=', '<>', '<', '<=', '>', '>='), numTerm).map(([l, o, r]) => `${l} ${o} ${r}`),
    fc.tuple(fc.constantFrom('s', 'n'), fc.constantFrom("'x'", "'y'")).map(([l, r]) => `${l} = ${r}`),
    fc.constantFrom('p', 'q', 'TRUE', 'FALSE', 'n IS NULL', "s IN ('x', 'z')", "s LIKE 'x%'", 'n BETWEEN 0 AND 2'),
    fc.tuple(tie('c'), tie('c')).map(([a, b]) => `(${a} AND ${b})`),
    fc.tuple(tie('c'), tie('c')).map(([a, b]) => `(${a} OR ${b})`),
    tie('c').map((a) => `NOT (${a})`),
  ),
})).c;
const propsArb = fc.record({ n: valueArb, m: valueArb, s: valueArb, p: valueArb, q: valueArb });
const clean = (p: Record<string, unknown>) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));

describe('algebraic properties', () => {
  test('NOT, AND and OR of compiled selectors follow the three-valued tables (property)', () => {
    const not3 = (a: boolean | null) => (a === null ? null : !a);
    fc.assert(
      fc.property(cond, cond, propsArb, (a, b, props) => {
        const p = clean(props);
        const va = ev(a, p);
        const vb = ev(b, p);
        assert.equal(ev(`NOT (${a})`, p), not3(va));
        assert.equal(ev(`(${a}) AND (${b})`, p), va === false || vb === false ? false : va === true && vb === true ? true : null);
        assert.equal(ev(`(${a}) OR (${b})`, p), va === true || vb === true ? true : va === false && vb === false ? false : null);
        assert.equal(ev(`NOT (${a}) OR NOT (${b})`, p), ev(`NOT ((${a}) AND (${b}))`, p), 'De Morgan');
      }),
      { numRuns: 500 },
    );
  });

  test('x BETWEEN a AND b equals x >= a AND x <= b, and NOT BETWEEN equals x < a OR x > b (property)', () => {
    fc.assert(
      fc.property(valueArb, valueArb, valueArb, (x, lo, hi) => {
        const p = clean({ x, lo, hi });
        assert.equal(ev('x BETWEEN lo AND hi', p), ev('x >= lo AND x <= hi', p));
        assert.equal(ev('x NOT BETWEEN lo AND hi', p), ev('x < lo OR x > hi', p));
      }),
    );
  });

  test('IN equals a chain of = for string values (property)', () => {
    fc.assert(
      fc.property(valueArb, (s) => {
        const p = clean({ s });
        if (typeof s === 'string' || s === null || s === undefined) {
          assert.equal(ev("s IN ('x', 'z')", p), ev("s = 'x' OR s = 'z'", p));
          assert.equal(ev("s NOT IN ('x', 'z')", p), ev("NOT (s = 'x' OR s = 'z')", p));
        }
      }),
    );
  });
});
