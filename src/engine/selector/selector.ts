/**
 * JMS message selectors (JMS 1.1 §3.8.1, the SQL-92 subset used by ActiveMQ over STOMP/OpenWire
 * and by RocketMQ's SQL92 filters), compiled to closures.
 *
 * Grammar (keywords case-insensitive, identifiers case-sensitive; lowest precedence first):
 *
 *   selector       := orExpr EOF                      (empty/blank text selects every message)
 *   orExpr         := andExpr ( OR andExpr )*
 *   andExpr        := notExpr ( AND notExpr )*
 *   notExpr        := NOT notExpr | predicate
 *   predicate      := additive [ compOp additive
 *                              | [NOT] BETWEEN additive AND additive
 *                              | [NOT] IN '(' string ( ',' string )* ')'
 *                              | [NOT] LIKE string [ ESCAPE string ]
 *                              | IS [NOT] NULL ]
 *   compOp         := '=' | '<>' | '<' | '<=' | '>' | '>='
 *   additive       := multiplicative ( ( '+' | '-' ) multiplicative )*
 *   multiplicative := unary ( ( '*' | '/' ) unary )*
 *   unary          := ( '+' | '-' ) unary | primary
 *   primary        := literal | identifier | '(' orExpr ')'
 *   literal        := string | exact | approx | TRUE | FALSE | NULL
 *   string         := "'" ( any char but "'" | "''" )* "'"
 *   exact          := digits [L] | 0x hexdigits [L]               (decimal, no octal: 010 is ten)
 *   approx         := digits '.' digits* [exp] | '.' digits [exp] | digits exp
 *   exp            := ( 'e' | 'E' ) [ '+' | '-' ] digits
 *   identifier     := ( letter | '_' | '$' ) ( letter | digit | '_' | '$' )*   - not a keyword
 *   keywords       := NOT AND OR BETWEEN IN LIKE ESCAPE IS NULL TRUE FALSE
 *
 * Semantics, as JMS 1.1 specifies unless stated:
 * - Three-valued logic: every condition is TRUE, FALSE or UNKNOWN (null). A message is selected
 *   only when the selector is TRUE. AND/OR/NOT follow the SQL truth tables (F AND U = F,
 *   T OR U = T, NOT U = U). A missing property is NULL.
 * - A comparison, arithmetic, BETWEEN, IN or LIKE with a NULL operand is UNKNOWN (`IS NULL` is the
 *   only test for absence).
 * - Comparing values of different types (string vs number, boolean vs string) is FALSE - for `<>`
 *   too, as the spec says "the value of the operation is false" (ActiveMQ evaluates `<>` as
 *   NOT(=) and would say TRUE). Exact and approximate numbers compare with each other.
 *   Strings and booleans support only `=` and `<>`: ordering them is a compile error for
 *   literals and FALSE for property values.
 * - `x NOT BETWEEN a AND b` is `x < a OR x > b`; `NOT IN` and `NOT LIKE` are NOT applied to the
 *   positive form (the equivalences the spec gives). So a number `NOT LIKE 'a%'` is TRUE.
 * - A property that is not a boolean used as a condition (`flag AND ...`) is UNKNOWN.
 * - Arithmetic: `+ - *` on two JS numbers is double arithmetic; when a bigint is involved and
 *   both operands are integral it is exact (bigint), so Java `long` values beyond 2^53 compare
 *   and add exactly. `/` is always floating point (as ActiveMQ: 7 / 2 = 3.5). Unlike Java, `+ - *`
 *   never wrap around at 2^63. Arithmetic on a non-number is UNKNOWN (ActiveMQ throws, which
 *   also de-selects).
 * - Numeric strings (decision): strict by default - the string '10' is not the number 10, as in
 *   ActiveMQ's default. STOMP sends every header as a string, so `compileSelector(text,
 *   { convertNumericStrings: true })` (ActiveMQ's `convertStringExpressions`) converts a string
 *   operand that parses as a decimal number when compared with, or computed with, a number, and
 *   'true'/'false' (any case) when compared with a boolean. String-to-string comparison is never
 *   converted ('10' <> '10.0').
 * - Property values that are not string/number/bigint/boolean/null (objects, bytes) are of a type
 *   no literal has: comparisons with them are FALSE, `IS NULL` is FALSE.
 *
 * Not done here: the JMS header mapping (JMSPriority, JMSType, JMSCorrelationID, JMSTimestamp,
 * JMSMessageID, JMSDeliveryMode are ordinary identifiers looked up in the caller's property
 * source - the engine supplies them), per-consumer indexing of selectors (see `identifiers`),
 * ActiveMQ extensions (XPATH/XQUERY, `%` modulo), SQL `!=` (rejected with a hint).
 *
 * Hostile input: text longer than `maxLength` (default 65 536 UTF-16 units) and nesting of
 * parentheses/NOT/unary signs deeper than `maxDepth` (default 100) are MQ_ERR_SELECTOR. AND/OR
 * and +-/* chains are evaluated by loops, not nested closures, so a 64 KiB `a=1 AND a=1 AND ...`
 * cannot overflow the stack at evaluation either. Every compile error is an OmnibusError with
 * code MQ_ERR_SELECTOR and a message "invalid selector at position N: ..." (1-based).
 */

import { err } from '../../core/errors.js';
import type { OmnibusError } from '../../core/errors.js';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** Where property values come from: a lookup function, a Map, or a plain record (own keys only). */
export type PropertySource =
  | ((name: string) => unknown)
  | ReadonlyMap<string, unknown>
  | Readonly<Record<string, unknown>>;

export interface SelectorOptions {
  /** Convert numeric strings when they meet numbers (see the header). Default false. */
  readonly convertNumericStrings?: boolean;
  /** Maximum nesting of parentheses, NOT and unary signs. Default 100. */
  readonly maxDepth?: number;
  /** Maximum selector length in UTF-16 code units. Default 65 536. */
  readonly maxLength?: number;
}

export interface Selector {
  /** The selector text as given. */
  readonly text: string;
  /** Identifiers the selector reads (lets the engine index or pre-extract properties). */
  readonly identifiers: ReadonlySet<string>;
  /** True iff the selector evaluates to TRUE for these properties. Never throws. */
  matches(props: PropertySource): boolean;
  /** The three-valued result: true, false, or null for UNKNOWN. */
  evaluate(props: PropertySource): boolean | null;
}

export const DEFAULT_MAX_DEPTH = 100;
export const DEFAULT_MAX_LENGTH = 65_536;

/**
 * Parses and compiles a JMS selector. Throws OmnibusError MQ_ERR_SELECTOR (message names the
 * 1-based position and the problem) for any syntax or static type error. Blank text compiles to a
 * selector that matches every message (JMS: an empty selector is no selector).
 */
export function compileSelector(text: string, options: SelectorOptions = {}): Selector {
  if (typeof text !== 'string') throw selectorError(0, 'the selector must be a string');
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  if (text.length > maxLength) {
    throw selectorError(maxLength, `the selector is ${text.length} characters long; the limit is ${maxLength}`);
  }
  const identifiers = new Set<string>();
  if (text.trim() === '') return makeSelector(text, identifiers, () => true);
  const parser = new Parser(text, options, identifiers);
  const root = parser.parseSelector();
  const ev = root.ev;
  return makeSelector(text, identifiers, (env) => truth(ev(env)));
}

function makeSelector(text: string, identifiers: Set<string>, ev: (env: PropertySource) => boolean | null): Selector {
  return {
    text,
    identifiers,
    matches: (props) => ev(props) === true,
    evaluate: ev,
  };
}

function selectorError(pos: number, problem: string): OmnibusError {
  return err('MQ_ERR_SELECTOR', `invalid selector at position ${pos + 1}: ${problem}`);
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

type TokenType = 'num' | 'str' | 'id' | 'kw' | 'op' | 'eof';

interface Token {
  readonly type: TokenType;
  /** Source text (keywords upper-cased). */
  readonly text: string;
  /** Literal value for num/str tokens. */
  readonly value?: number | bigint | string;
  /** 0-based offset in the selector. */
  readonly pos: number;
}

const KEYWORDS: ReadonlySet<string> = new Set([
  'NOT', 'AND', 'OR', 'BETWEEN', 'IN', 'LIKE', 'ESCAPE', 'IS', 'NULL', 'TRUE', 'FALSE',
]);

const IDENT_RE = /[\p{L}_$][\p{L}\p{N}_$]*/uy;
const DECIMAL_RE = /(\d+)(\.\d*)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?/y;
const HEX_RE = /0[xX]([0-9a-fA-F]+)/y;
const IDENT_PART_RE = /[\p{L}\p{N}_$.]/u;
const LONG_LIMIT = 9223372036854775808n; // 2^63: |Long.MIN_VALUE|

function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw selectorError(start, 'unterminated string literal');
        const d = src[i] as string;
        if (d === "'") {
          if (src[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += d;
        i++;
      }
      tokens.push({ type: 'str', text: src.slice(start, i), value, pos: start });
      continue;
    }
    if ((c >= '0' && c <= '9') || (c === '.' && /\d/.test(src[i + 1] ?? ''))) {
      tokens.push(lexNumber(src, start));
      i = start + (tokens[tokens.length - 1] as Token).text.length;
      continue;
    }
    IDENT_RE.lastIndex = i;
    const id = IDENT_RE.exec(src);
    if (id !== null) {
      const word = id[0];
      const upper = word.toUpperCase();
      if (KEYWORDS.has(upper)) tokens.push({ type: 'kw', text: upper, pos: start });
      else tokens.push({ type: 'id', text: word, pos: start });
      i += word.length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '<>' || two === '<=' || two === '>=') {
      tokens.push({ type: 'op', text: two, pos: start });
      i += 2;
      continue;
    }
    if (two === '!=') throw selectorError(start, 'unknown operator "!="; use "<>"');
    if ('=<>+-*/(),'.includes(c)) {
      tokens.push({ type: 'op', text: c, pos: start });
      i++;
      continue;
    }
    if (c === '"') throw selectorError(start, 'string literals use single quotes');
    const cp = String.fromCodePoint(src.codePointAt(i) ?? 0);
    throw selectorError(start, `unexpected character ${JSON.stringify(cp)}`);
  }
  tokens.push({ type: 'eof', text: '', pos: n });
  return tokens;
}

function lexNumber(src: string, start: number): Token {
  HEX_RE.lastIndex = start;
  const hex = HEX_RE.exec(src);
  let end: number;
  let value: number | bigint;
  if (hex !== null) {
    end = start + hex[0].length;
    if (src[end] === 'l' || src[end] === 'L') end++;
    const digits = hex[1] as string;
    if (digits.length > 16) throw selectorError(start, `hex literal ${hex[0]} is out of the long range`);
    value = normalizeBig(BigInt(`0x${digits}`), start, hex[0]);
  } else {
    DECIMAL_RE.lastIndex = start;
    const m = DECIMAL_RE.exec(src) as RegExpExecArray;
    end = start + m[0].length;
    const approx = m[2] !== undefined || m[3] !== undefined || m[4] !== undefined;
    if (approx) {
      value = Number(m[0]);
      if (!Number.isFinite(value)) throw selectorError(start, `number ${m[0]} is out of the double range`);
    } else {
      if (src[end] === 'l' || src[end] === 'L') end++;
      value = m[0].length <= 15 ? Number(m[0]) : normalizeBig(BigInt(m[0]), start, m[0]);
    }
  }
  const next = src[end];
  if (next !== undefined && IDENT_PART_RE.test(next)) {
    throw selectorError(start, `invalid number ${JSON.stringify(src.slice(start, end + 1))}`);
  }
  return { type: 'num', text: src.slice(start, end), value, pos: start };
}

function normalizeBig(v: bigint, pos: number, text: string): number | bigint {
  // 2^63 itself is accepted so that -9223372036854775808 (Long.MIN_VALUE) can be written.
  if (v > LONG_LIMIT) throw selectorError(pos, `integer ${text} is out of the long range`);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ---------------------------------------------------------------------------------------------
// Values and operators (runtime)
// ---------------------------------------------------------------------------------------------

/** Evaluates a node. Truth values are true/false/null; other values are literals' JS types. */
type Ev = (env: PropertySource) => unknown;
/** Static type of a node, used for compile-time checks only ('any' = property, unknown type). */
type Kind = 'bool' | 'num' | 'str' | 'null' | 'any';

interface Node {
  readonly kind: Kind;
  readonly ev: Ev;
  /** Set for literals, enables folding of a negated numeric literal. */
  readonly constant?: { readonly value: unknown };
}

const hasOwn = Object.prototype.hasOwnProperty;

function lookup(env: PropertySource, name: string): unknown {
  let v: unknown;
  if (typeof env === 'function') v = env(name);
  else if (env instanceof Map) v = env.get(name);
  else v = hasOwn.call(env, name) ? (env as Record<string, unknown>)[name] : undefined;
  return v === undefined ? null : v;
}

function truth(v: unknown): boolean | null {
  return v === true ? true : v === false ? false : null;
}

function isNumeric(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

const NUMERIC_STRING_RE = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** A numeric string as a number (bigint for unsafe integers), or undefined. */
function parseNumericString(s: string): number | bigint | undefined {
  if (!NUMERIC_STRING_RE.test(s)) return undefined;
  const t = s.trim();
  if (/^[+-]?\d+$/.test(t) && t.replace(/^[+-]/, '').length > 15) {
    const b = BigInt(t);
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    return b <= safe && b >= -safe ? Number(b) : b;
  }
  return Number(t);
}

function isIntegral(v: number | bigint): boolean {
  return typeof v === 'bigint' || Number.isInteger(v);
}

function normalize(v: bigint): number | bigint {
  const safe = BigInt(Number.MAX_SAFE_INTEGER);
  return v <= safe && v >= -safe ? Number(v) : v;
}

type ArithOp = '+' | '-' | '*' | '/';

function arith(op: ArithOp, a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      case '/': return a / b;
    }
  }
  if (op !== '/' && isIntegral(a) && isIntegral(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return normalize(op === '+' ? x + y : op === '-' ? x - y : x * y);
  }
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return x / y;
  }
}

type CompOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

/**
 * Compares two runtime values. Returns the truth value: null if either is NULL, false on a type
 * mismatch (after optional numeric-string conversion), else the comparison.
 */
function compare(op: CompOp, a: unknown, b: unknown, convert: boolean): boolean | null {
  if (a === null || b === null) return null;
  if (isNumeric(a) && isNumeric(b)) return numCompare(op, a, b);
  const ta = typeof a;
  const tb = typeof b;
  if (ta === tb && (ta === 'string' || ta === 'boolean')) {
    if (op === '=') return a === b;
    if (op === '<>') return a !== b;
    return false; // JMS: strings and booleans support only = and <>
  }
  if (convert) {
    if (ta === 'string' && isNumeric(b)) {
      const x = parseNumericString(a as string);
      return x === undefined ? false : numCompare(op, x, b);
    }
    if (tb === 'string' && isNumeric(a)) {
      const y = parseNumericString(b as string);
      return y === undefined ? false : numCompare(op, a, y);
    }
    if ((ta === 'string' && tb === 'boolean') || (ta === 'boolean' && tb === 'string')) {
      const s = (ta === 'string' ? a : b) as string;
      const bool = (ta === 'boolean' ? a : b) as boolean;
      const lower = s.toLowerCase();
      if (lower !== 'true' && lower !== 'false') return false;
      if (op === '=') return (lower === 'true') === bool;
      if (op === '<>') return (lower === 'true') !== bool;
      return false;
    }
  }
  return false;
}

function numCompare(op: CompOp, a: number | bigint, b: number | bigint): boolean {
  // Relational and loose-equality operators are exact between number and bigint.
  switch (op) {
    case '=': return a == b; // eslint-disable-line eqeqeq
    case '<>': return a != b; // eslint-disable-line eqeqeq
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

function toNumber(v: unknown, convert: boolean): number | bigint | null {
  if (isNumeric(v)) return v;
  if (convert && typeof v === 'string') return parseNumericString(v) ?? null;
  return null;
}

function and3(a: boolean | null, b: boolean | null): boolean | null {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : null;
}

function or3(a: boolean | null, b: boolean | null): boolean | null {
  if (a === true || b === true) return true;
  return a === false && b === false ? false : null;
}

function not3(a: boolean | null): boolean | null {
  return a === null ? null : !a;
}

// ---------------------------------------------------------------------------------------------
// Parser + compiler (one pass: each grammar rule returns the compiled closure)
// ---------------------------------------------------------------------------------------------

const COMP_OPS: ReadonlySet<string> = new Set(['=', '<>', '<', '<=', '>', '>=']);

class Parser {
  private readonly tokens: Token[];
  private k = 0;
  private depth = 0;
  private readonly convert: boolean;
  private readonly maxDepth: number;

  constructor(
    src: string,
    options: SelectorOptions,
    private readonly identifiers: Set<string>,
  ) {
    this.tokens = lex(src);
    this.convert = options.convertNumericStrings ?? false;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  parseSelector(): Node {
    const node = this.orExpr();
    const t = this.peek();
    if (t.type !== 'eof') {
      throw selectorError(t.pos, `expected AND, OR or the end of the selector but found ${describe(t)}`);
    }
    if (node.kind !== 'bool' && node.kind !== 'any') {
      throw selectorError(0, `the selector is a ${kindName(node.kind)}, not a condition`);
    }
    return node;
  }

  // --- token helpers ---

  private peek(): Token {
    return this.tokens[this.k] as Token;
  }

  private next(): Token {
    const t = this.tokens[this.k] as Token;
    if (t.type !== 'eof') this.k++;
    return t;
  }

  private isKw(word: string, offset = 0): boolean {
    const t = this.tokens[this.k + offset];
    return t !== undefined && t.type === 'kw' && t.text === word;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.type === 'op' && t.text === op;
  }

  private expectOp(op: string, what: string): Token {
    const t = this.next();
    if (t.type !== 'op' || t.text !== op) throw selectorError(t.pos, `expected "${op}" ${what} but found ${describe(t)}`);
    return t;
  }

  private enter(pos: number): void {
    if (++this.depth > this.maxDepth) {
      throw selectorError(pos, `the selector is nested more than ${this.maxDepth} levels deep`);
    }
  }

  // --- conditions ---

  private orExpr(): Node {
    const first = this.andExpr();
    if (!this.isKw('OR')) return first;
    const parts = [this.condition(first, 'OR')];
    while (this.isKw('OR')) {
      const t = this.next();
      parts.push(this.condition(this.andExpr(), 'OR', t));
    }
    return { kind: 'bool', ev: orN(parts) };
  }

  private andExpr(): Node {
    const first = this.notExpr();
    if (!this.isKw('AND')) return first;
    const parts = [this.condition(first, 'AND')];
    while (this.isKw('AND')) {
      const t = this.next();
      parts.push(this.condition(this.notExpr(), 'AND', t));
    }
    return { kind: 'bool', ev: andN(parts) };
  }

  private notExpr(): Node {
    if (this.isKw('NOT')) {
      const t = this.next();
      this.enter(t.pos);
      const inner = this.condition(this.notExpr(), 'NOT', t);
      this.depth--;
      return { kind: 'bool', ev: (env) => not3(inner(env) as boolean | null) };
    }
    return this.predicate();
  }

  /** Checks that `node` can be a condition and returns a closure yielding true/false/null. */
  private condition(node: Node, op: string, at?: Token): Ev {
    if (node.kind === 'num' || node.kind === 'str') {
      throw selectorError(at?.pos ?? 0, `${op} needs conditions, not a ${kindName(node.kind)}`);
    }
    if (node.kind === 'bool') return node.ev;
    const ev = node.ev;
    return (env) => truth(ev(env));
  }

  private predicate(): Node {
    const left = this.additive();
    const t = this.peek();
    if (t.type === 'op' && COMP_OPS.has(t.text)) {
      this.next();
      const right = this.additive();
      return this.comparison(t.text as CompOp, left, right, t);
    }
    const negated = this.isKw('NOT') && (this.isKw('BETWEEN', 1) || this.isKw('IN', 1) || this.isKw('LIKE', 1));
    if (negated) this.next();
    if (this.isKw('BETWEEN')) return this.between(left, negated);
    if (this.isKw('IN')) return this.inList(left, negated);
    if (this.isKw('LIKE')) return this.like(left, negated);
    if (this.isKw('IS')) {
      this.next();
      const not = this.isKw('NOT');
      if (not) this.next();
      const n = this.next();
      if (n.type !== 'kw' || n.text !== 'NULL') {
        throw selectorError(n.pos, `expected NULL after ${not ? 'IS NOT' : 'IS'} but found ${describe(n)}`);
      }
      const ev = left.ev;
      return { kind: 'bool', ev: not ? (env) => ev(env) !== null : (env) => ev(env) === null };
    }
    return left;
  }

  private comparison(op: CompOp, left: Node, right: Node, at: Token): Node {
    if (op !== '=' && op !== '<>') {
      for (const side of [left, right]) {
        if (side.kind === 'str' || side.kind === 'bool') {
          throw selectorError(at.pos, `"${op}" cannot compare a ${kindName(side.kind)}; strings and booleans allow only = and <>`);
        }
      }
    }
    return { kind: 'bool', ev: comparator(op, left.ev, right.ev, this.convert) };
  }

  private between(left: Node, negated: boolean): Node {
    const kw = this.next();
    this.arithmeticOperand(left, 'BETWEEN', kw);
    const low = this.additive();
    this.arithmeticOperand(low, 'BETWEEN', kw);
    const and = this.next();
    if (and.type !== 'kw' || and.text !== 'AND') {
      throw selectorError(and.pos, `expected AND in BETWEEN but found ${describe(and)}`);
    }
    const high = this.additive();
    this.arithmeticOperand(high, 'BETWEEN', kw);
    const v = left.ev;
    const lo = low.ev;
    const hi = high.ev;
    const c = this.convert;
    const ev: Ev = negated
      ? (env) => {
          const x = v(env);
          return or3(compare('<', x, lo(env), c), compare('>', x, hi(env), c));
        }
      : (env) => {
          const x = v(env);
          return and3(compare('>=', x, lo(env), c), compare('<=', x, hi(env), c));
        };
    return { kind: 'bool', ev };
  }

  private inList(left: Node, negated: boolean): Node {
    const kw = this.next();
    if (left.kind === 'num' || left.kind === 'bool') {
      throw selectorError(kw.pos, `IN needs a string operand, not a ${kindName(left.kind)}`);
    }
    this.expectOp('(', 'after IN');
    const values: string[] = [];
    for (;;) {
      const t = this.next();
      if (t.type !== 'str') throw selectorError(t.pos, `IN lists hold string literals; found ${describe(t)}`);
      values.push(t.value as string);
      if (this.isOp(',')) {
        this.next();
        continue;
      }
      this.expectOp(')', 'to close the IN list');
      break;
    }
    const set = new Set(values);
    const v = left.ev;
    const c = this.convert;
    const positive = (env: PropertySource): boolean | null => {
      const x = v(env);
      if (x === null) return null;
      if (typeof x === 'string') return set.has(x);
      if (!c) return false;
      for (const s of values) if (compare('=', x, s, true) === true) return true;
      return false;
    };
    return { kind: 'bool', ev: negated ? (env) => not3(positive(env)) : positive };
  }

  private like(left: Node, negated: boolean): Node {
    const kw = this.next();
    if (left.kind === 'num' || left.kind === 'bool') {
      throw selectorError(kw.pos, `LIKE needs a string operand, not a ${kindName(left.kind)}`);
    }
    const pat = this.next();
    if (pat.type !== 'str') throw selectorError(pat.pos, `LIKE needs a string literal pattern; found ${describe(pat)}`);
    let escape: string | undefined;
    if (this.isKw('ESCAPE')) {
      this.next();
      const e = this.next();
      if (e.type !== 'str') throw selectorError(e.pos, `ESCAPE needs a string literal; found ${describe(e)}`);
      const chars = [...(e.value as string)];
      if (chars.length !== 1) throw selectorError(e.pos, `the ESCAPE string must be exactly one character, not ${e.text}`);
      escape = chars[0];
    }
    const re = likeRegExp(pat.value as string, escape, pat.pos);
    const v = left.ev;
    const positive = (env: PropertySource): boolean | null => {
      const x = v(env);
      if (x === null) return null;
      return typeof x === 'string' ? re.test(x) : false;
    };
    return { kind: 'bool', ev: negated ? (env) => not3(positive(env)) : positive };
  }

  private arithmeticOperand(node: Node, op: string, at: Token): void {
    if (node.kind === 'str' || node.kind === 'bool') {
      throw selectorError(at.pos, `${op} needs numbers, not a ${kindName(node.kind)}`);
    }
  }

  // --- arithmetic ---

  private additive(): Node {
    return this.chain(() => this.multiplicative(), '+', '-');
  }

  private multiplicative(): Node {
    return this.chain(() => this.unary(), '*', '/');
  }

  /** Left-associative chain evaluated by a loop (no closure nesting per operator). */
  private chain(operand: () => Node, opA: ArithOp, opB: ArithOp): Node {
    const first = operand();
    if (!this.isOp(opA) && !this.isOp(opB)) return first;
    const operands: Ev[] = [];
    const ops: ArithOp[] = [];
    const t0 = this.peek();
    this.arithmeticOperand(first, `"${t0.text}"`, t0);
    operands.push(first.ev);
    while (this.isOp(opA) || this.isOp(opB)) {
      const t = this.next();
      const rhs = operand();
      this.arithmeticOperand(rhs, `"${t.text}"`, t);
      ops.push(t.text as ArithOp);
      operands.push(rhs.ev);
    }
    const c = this.convert;
    const f0 = operands[0] as Ev;
    if (operands.length === 2) {
      const f1 = operands[1] as Ev;
      const op = ops[0] as ArithOp;
      return {
        kind: 'num',
        ev: (env) => {
          const a = toNumber(f0(env), c);
          if (a === null) return null;
          const b = toNumber(f1(env), c);
          return b === null ? null : arith(op, a, b);
        },
      };
    }
    return {
      kind: 'num',
      ev: (env) => {
        let acc = toNumber(f0(env), c);
        for (let i = 0; i < ops.length; i++) {
          const b = toNumber((operands[i + 1] as Ev)(env), c);
          if (acc === null || b === null) return null;
          acc = arith(ops[i] as ArithOp, acc, b);
        }
        return acc;
      },
    };
  }

  private unary(): Node {
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.next();
      this.enter(t.pos);
      const inner = this.unary();
      this.depth--;
      this.arithmeticOperand(inner, `unary "${t.text}"`, t);
      const c = this.convert;
      if (inner.constant !== undefined && isNumeric(inner.constant.value)) {
        const value = t.text === '-' ? negate(inner.constant.value) : inner.constant.value;
        return { kind: 'num', ev: () => value, constant: { value } };
      }
      const ev = inner.ev;
      return {
        kind: 'num',
        ev:
          t.text === '-'
            ? (env) => {
                const x = toNumber(ev(env), c);
                return x === null ? null : negate(x);
              }
            : (env) => toNumber(ev(env), c),
      };
    }
    return this.primary();
  }

  private primary(): Node {
    const t = this.next();
    switch (t.type) {
      case 'num': {
        const value = t.value as number | bigint;
        return { kind: 'num', ev: () => value, constant: { value } };
      }
      case 'str': {
        const value = t.value as string;
        return { kind: 'str', ev: () => value, constant: { value } };
      }
      case 'id': {
        const name = t.text;
        this.identifiers.add(name);
        return { kind: 'any', ev: (env) => lookup(env, name) };
      }
      case 'kw':
        if (t.text === 'TRUE') return { kind: 'bool', ev: () => true, constant: { value: true } };
        if (t.text === 'FALSE') return { kind: 'bool', ev: () => false, constant: { value: false } };
        if (t.text === 'NULL') return { kind: 'null', ev: () => null, constant: { value: null } };
        throw selectorError(t.pos, `expected an expression but found the keyword ${t.text}`);
      case 'op':
        if (t.text === '(') {
          this.enter(t.pos);
          const inner = this.orExpr();
          this.expectOp(')', `to close the "(" at position ${t.pos + 1}`);
          this.depth--;
          // Keep the kind but drop `constant`, so -(9223372036854775808) is not folded past range.
          return { kind: inner.kind, ev: inner.ev };
        }
        throw selectorError(t.pos, `expected an expression but found ${describe(t)}`);
      case 'eof':
        throw selectorError(t.pos, 'unexpected end of the selector; expected an expression');
    }
  }
}

function negate(v: number | bigint): number | bigint {
  return typeof v === 'bigint' ? normalize(-v) : -v;
}

function describe(t: Token): string {
  if (t.type === 'eof') return 'the end of the selector';
  const text = t.text.length > 20 ? `${t.text.slice(0, 20)}...` : t.text;
  return t.type === 'kw' ? `the keyword ${text}` : JSON.stringify(text);
}

function kindName(k: Kind): string {
  switch (k) {
    case 'bool': return 'condition';
    case 'num': return 'number';
    case 'str': return 'string';
    case 'null': return 'NULL';
    case 'any': return 'property';
  }
}

// Specialised closures for the hot path: the common case (two numbers, two strings) avoids the
// generic `compare` call.
function comparator(op: CompOp, l: Ev, r: Ev, c: boolean): Ev {
  switch (op) {
    case '=':
      return (env) => {
        const a = l(env);
        const b = r(env);
        if (typeof a === typeof b && (typeof a === 'string' || typeof a === 'number')) return a === b;
        return compare('=', a, b, c);
      };
    case '<>':
      return (env) => {
        const a = l(env);
        const b = r(env);
        if (typeof a === typeof b && (typeof a === 'string' || typeof a === 'number')) return a !== b;
        return compare('<>', a, b, c);
      };
    case '<':
      return (env) => {
        const a = l(env);
        const b = r(env);
        return typeof a === 'number' && typeof b === 'number' ? a < b : compare('<', a, b, c);
      };
    case '<=':
      return (env) => {
        const a = l(env);
        const b = r(env);
        return typeof a === 'number' && typeof b === 'number' ? a <= b : compare('<=', a, b, c);
      };
    case '>':
      return (env) => {
        const a = l(env);
        const b = r(env);
        return typeof a === 'number' && typeof b === 'number' ? a > b : compare('>', a, b, c);
      };
    case '>=':
      return (env) => {
        const a = l(env);
        const b = r(env);
        return typeof a === 'number' && typeof b === 'number' ? a >= b : compare('>=', a, b, c);
      };
  }
}

function andN(parts: Ev[]): Ev {
  if (parts.length === 2) {
    const [f, g] = parts as [Ev, Ev];
    return (env) => {
      const a = f(env);
      if (a === false) return false;
      const b = g(env);
      if (b === false) return false;
      return a === true && b === true ? true : null;
    };
  }
  return (env) => {
    let unknown = false;
    for (const f of parts) {
      const v = f(env);
      if (v === false) return false;
      if (v !== true) unknown = true;
    }
    return unknown ? null : true;
  };
}

function orN(parts: Ev[]): Ev {
  if (parts.length === 2) {
    const [f, g] = parts as [Ev, Ev];
    return (env) => {
      const a = f(env);
      if (a === true) return true;
      const b = g(env);
      if (b === true) return true;
      return a === false && b === false ? false : null;
    };
  }
  return (env) => {
    let unknown = false;
    for (const f of parts) {
      const v = f(env);
      if (v === true) return true;
      if (v !== false) unknown = true;
    }
    return unknown ? null : false;
  };
}

/**
 * LIKE pattern -> anchored RegExp: `%` any sequence, `_` exactly one character (code point), the
 * escape character makes the next character literal. A pattern ending in the escape character is
 * an error (ActiveMQ would silently ignore it).
 */
export function likeRegExp(pattern: string, escape: string | undefined, pos = 0): RegExp {
  let re = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (escape !== undefined && ch === escape) {
      const nextCh = chars[i + 1];
      if (nextCh === undefined) throw selectorError(pos, 'the LIKE pattern ends with its escape character');
      re += escapeRegExp(nextCh);
      i++;
    } else if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += escapeRegExp(ch);
  }
  return new RegExp(`^${re}$`, 'su');
}

function escapeRegExp(ch: string): string {
  // Only syntax characters may be escaped in a `u` RegExp.
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}
