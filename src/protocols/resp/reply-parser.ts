/**
 * Client-side streaming RESP2/RESP3 reply parser: bytes from a Redis-speaking server in, JS values
 * out. Used by our tests and by a transport that talks to a real Redis without a client library.
 *
 * Value mapping:
 *   `+` simple string → string (UTF-8)      `-` / `!` error → ReplyError (not thrown, returned)
 *   `:` integer → number, or bigint outside ±2^53   `(` big number → bigint
 *   `$` bulk → Buffer (or string with `strings: 'utf8'`)    `$-1`, `*-1`, `_` → null
 *   `,` double → number (inf/-inf/nan, and the legacy -nan/NAN spellings)   `#` → boolean
 *   `=` verbatim → its text without the `txt:` prefix (Buffer or string, like a bulk)
 *   `*` → Array   `%` → Map   `~` → Set   `>` → PushReply (out-of-band; caller dispatches)
 *   `|` attribute → not part of the value; the attribute map preceding the latest top-level reply
 *      is exposed as `attributes` (nested attributes are dropped)
 *   RESP3 streamed strings (`$?` + `;n` chunks + `;0`) and streamed aggregates (`*?`, `%?`, `~?`
 *      ... `.`) are assembled into the ordinary values.
 *
 * Maps and sets are keyed by the parsed values: in the default Buffer mode a Map's keys are
 * Buffers (identity-compared), so use `strings: 'utf8'` when you want `map.get('proto')`.
 *
 * Streaming: state is an explicit stack of open aggregates plus the position inside the current
 * line or bulk, so a reply arriving in many chunks is parsed in one pass (a partial line
 * remembers how far it was scanned; a bulk spanning pushes is streamed into its own buffer).
 * Bulk values are views of the pushed chunks when they arrive whole (lifetime as in parser.ts:
 * never overwritten, but they pin their chunk); copy what you keep.
 *
 * Hostile input never throws: it yields a sticky ProtocolError (`Protocol error: ...`, our
 * wording — Redis defines none for the client side). Limits: bulk length (512 MiB), line length
 * (1 MiB — simple strings/errors/numbers), aggregate length (2^32-1, the JS array limit; memory
 * is only spent as elements actually arrive, each at least 3 bytes), nesting depth (512).
 *
 * It does NOT check the CRLF after a payload (skipped unchecked, like Redis's server parser) nor
 * the LF after a header's CR; it does not interpret push kinds or attributes.
 */

import { ProtocolError } from './protocol-error.js';

export class ReplyError extends Error {
  /** The first word of the message: `ERR`, `WRONGTYPE`, `NOSCRIPT`, `NOPROTO`, ... */
  readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
    const sp = message.indexOf(' ');
    this.code = sp < 0 ? message : message.slice(0, sp);
  }
}

/** RESP3 out-of-band data (`>`): pub/sub `message`, `subscribe`, client-side caching, ... */
export class PushReply {
  readonly items: RespReply[];
  constructor(items: RespReply[]) {
    this.items = items;
  }
  /** The push kind (first element) as a string, e.g. `message`. */
  get kind(): string {
    const k = this.items[0];
    return typeof k === 'string' ? k : k instanceof Uint8Array ? Buffer.from(k).toString('utf8') : String(k);
  }
}

export type RespReply =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | ReplyError
  | RespReply[]
  | Map<RespReply, RespReply>
  | Set<RespReply>
  | PushReply;

export interface ReplyParserOptions {
  readonly maxBulkLength?: number;
  readonly maxLineLength?: number;
  readonly maxAggregateLength?: number;
  readonly maxDepth?: number;
  /** How bulk/verbatim strings are returned. Default 'buffer'. */
  readonly strings?: 'buffer' | 'utf8';
}

const CR = 13;
const T_SIMPLE = 43; // +
const T_ERROR = 45; // -
const T_INT = 58; // :
const T_BULK = 36; // $
const T_ARRAY = 42; // *
const T_NULL = 95; // _
const T_DOUBLE = 44; // ,
const T_BOOL = 35; // #
const T_BLOBERR = 33; // !
const T_VERBATIM = 61; // =
const T_BIGNUM = 40; // (
const T_MAP = 37; // %
const T_SET = 126; // ~
const T_ATTR = 124; // |
const T_PUSH = 62; // >
const T_CHUNK = 59; // ;
const T_END = 46; // .
const STREAM_STRING = -1; // frame type of an open `$?`

interface Frame {
  readonly type: number;
  /** Elements still expected; -1 for a streamed aggregate terminated by `.`. */
  left: number;
  readonly items: RespReply[];
  readonly chunks: Buffer[] | null;
}

const PENDING: unique symbol = Symbol('pending');
type Pending = typeof PENDING;

const DOUBLE_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF_NAN_RE = /^([+-]?)(inf|infinity|nan(?:\(.*\))?)$/i;

export class RespReplyParser {
  /** Attribute map (`|`) sent before the most recently returned reply, if any. */
  attributes: Map<RespReply, RespReply> | undefined = undefined;

  private readonly maxBulk: number;
  private readonly maxLine: number;
  private readonly maxAgg: number;
  private readonly maxDepth: number;
  private readonly utf8: boolean;

  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  private owned = false;
  private lineScanned = 0;
  private skip = 0;

  private readonly frames: Frame[] = [];
  private pendingAttributes: Map<RespReply, RespReply> | undefined = undefined;

  private fill: Buffer | null = null;
  private fillType = 0;
  private fillLen = 0;
  private filled = 0;

  private hasReady = false;
  private ready: RespReply = null;
  private failure: ProtocolError | null = null;

  constructor(options: ReplyParserOptions = {}) {
    this.maxBulk = options.maxBulkLength ?? 512 * 1024 * 1024;
    this.maxLine = options.maxLineLength ?? 1024 * 1024;
    this.maxAgg = options.maxAggregateLength ?? 2 ** 32 - 1;
    this.maxDepth = options.maxDepth ?? 512;
    this.utf8 = options.strings === 'utf8';
  }

  get bufferedBytes(): number {
    return this.end - this.pos + this.filled;
  }

  get error(): ProtocolError | null {
    return this.failure;
  }

  push(chunk: Buffer): void {
    if (this.failure !== null) return;
    const len = chunk.length;
    let off = 0;
    if (this.fill !== null) {
      const n = Math.min(this.fillLen - this.filled, len);
      this.fillBytes(chunk, n);
      off = n;
      if (this.filled === this.fillLen) {
        const f = this.fill;
        this.fill = null;
        this.filled = 0;
        this.skip = 2;
        const out = this.payload(this.fillType, f.length === this.fillLen ? f : f.subarray(0, this.fillLen));
        if (out !== PENDING) {
          this.hasReady = true;
          this.ready = out;
        }
        if (this.failure !== null) return;
      }
    }
    if (this.skip > 0 && off < len) {
      const k = Math.min(this.skip, len - off);
      this.skip -= k;
      off += k;
    }
    if (off === len) return;
    if (this.pos === this.end) {
      this.buf = off === 0 ? chunk : chunk.subarray(off);
      this.pos = 0;
      this.end = this.buf.length;
      this.owned = false;
      this.lineScanned = 0;
      return;
    }
    const add = len - off;
    if (this.owned && this.buf.length - this.end >= add) {
      chunk.copy(this.buf, this.end, off);
      this.end += add;
      return;
    }
    const pending = this.end - this.pos;
    const nb = Buffer.allocUnsafe(Math.max(4096, (pending + add) * 2));
    this.buf.copy(nb, 0, this.pos, this.end);
    chunk.copy(nb, pending, off);
    this.buf = nb;
    this.pos = 0;
    this.end = pending + add;
    this.owned = true;
  }

  /** Next complete top-level reply, a sticky ProtocolError, or `undefined` (need more bytes). */
  next(): RespReply | ProtocolError | undefined {
    if (this.failure !== null) return this.failure;
    if (this.hasReady) {
      const v = this.ready;
      this.hasReady = false;
      this.ready = null;
      return v;
    }
    if (this.fill !== null) return undefined;
    if (this.skip > 0) {
      const k = Math.min(this.skip, this.end - this.pos);
      this.skip -= k;
      this.pos += k;
      if (this.skip > 0) return undefined;
    }
    const buf = this.buf;
    for (;;) {
      const pos = this.pos;
      const end = this.end;
      if (pos >= end) return undefined;
      const t = buf[pos] as number;
      const ls = pos + 1;
      let i = ls + this.lineScanned;
      while (i < end && buf[i] !== CR) i++;
      if (i - ls > this.maxLine) return this.fail('Protocol error: too big reply line');
      if (i + 1 >= end) {
        this.lineScanned = i - ls;
        return undefined;
      }
      this.lineScanned = 0;
      const le = i;
      this.pos = i + 2;
      let value: RespReply | Pending;
      switch (t) {
        case T_SIMPLE:
          value = buf.toString('utf8', ls, le);
          break;
        case T_ERROR:
          value = new ReplyError(buf.toString('utf8', ls, le));
          break;
        case T_INT: {
          const n = parseInteger(buf, ls, le);
          if (n === undefined) return this.fail('Protocol error: invalid integer');
          value = n;
          break;
        }
        case T_NULL:
          if (le !== ls) return this.fail('Protocol error: invalid null');
          value = null;
          break;
        case T_BOOL: {
          const c = buf[ls];
          if (le !== ls + 1 || (c !== 116 && c !== 102)) return this.fail('Protocol error: invalid boolean');
          value = c === 116;
          break;
        }
        case T_DOUBLE: {
          const d = parseDouble(buf.toString('latin1', ls, le));
          if (d === undefined) return this.fail('Protocol error: invalid double');
          value = d;
          break;
        }
        case T_BIGNUM: {
          const text = buf.toString('latin1', ls, le);
          if (!/^[+-]?\d+$/.test(text)) return this.fail('Protocol error: invalid big number');
          value = BigInt(text);
          break;
        }
        case T_BULK:
        case T_BLOBERR:
        case T_VERBATIM:
        case T_CHUNK: {
          if (t === T_BULK && le === ls + 1 && buf[ls] === 63 /* ? */) {
            if (!this.open({ type: STREAM_STRING, left: -1, items: [], chunks: [] })) return this.error as ProtocolError;
            continue;
          }
          const n = parseInteger(buf, ls, le);
          if (t === T_BULK && n === -1) {
            value = null;
            break;
          }
          if (typeof n !== 'number' || n < 0 || n > this.maxBulk) {
            return this.fail('Protocol error: invalid bulk length');
          }
          if (t === T_CHUNK) {
            const top = this.frames[this.frames.length - 1];
            if (top === undefined || top.type !== STREAM_STRING) {
              return this.fail("Protocol error: unexpected ';' outside a streamed string");
            }
            if (n === 0) {
              this.frames.pop();
              value = this.convertBulk(T_BULK, Buffer.concat(top.chunks as Buffer[]));
              break;
            }
          }
          const avail = end - this.pos;
          let data: Buffer;
          if (avail >= n + 2) {
            data = buf.subarray(this.pos, this.pos + n);
            this.pos += n + 2;
          } else if (avail >= n) {
            data = buf.subarray(this.pos, this.pos + n);
            this.skip = n + 2 - avail;
            this.pos = end;
          } else {
            this.startFill(t, n);
            return undefined;
          }
          // payload() emits into the open aggregates itself.
          const out = this.payload(t, data);
          if (this.failure !== null) return this.failure;
          if (out === PENDING) continue;
          return out;
        }
        case T_ARRAY:
        case T_MAP:
        case T_SET:
        case T_PUSH:
        case T_ATTR: {
          if (le === ls + 1 && buf[ls] === 63 /* ? */) {
            if (t === T_ATTR || t === T_PUSH) return this.fail('Protocol error: invalid aggregate length');
            if (!this.open({ type: t, left: -1, items: [], chunks: null })) return this.error as ProtocolError;
            continue;
          }
          const n = parseInteger(buf, ls, le);
          if (t === T_ARRAY && n === -1) {
            value = null;
            break;
          }
          if (typeof n !== 'number' || n < 0 || n > this.maxAgg) {
            return this.fail('Protocol error: invalid aggregate length');
          }
          if (n === 0) {
            if (t === T_ATTR) {
              if (this.frames.length === 0) this.pendingAttributes = new Map();
              continue;
            }
            value = finalize(t, []);
            break;
          }
          const left = t === T_MAP || t === T_ATTR ? n * 2 : n;
          if (!this.open({ type: t, left, items: [], chunks: null })) return this.error as ProtocolError;
          continue;
        }
        case T_END: {
          const top = this.frames[this.frames.length - 1];
          if (le !== ls || top === undefined || top.left !== -1 || top.type === STREAM_STRING) {
            return this.fail("Protocol error: unexpected '.'");
          }
          if (top.type === T_MAP && top.items.length % 2 !== 0) {
            return this.fail('Protocol error: odd number of elements in a map');
          }
          this.frames.pop();
          value = finalize(top.type, top.items);
          break;
        }
        default:
          return this.fail(`Protocol error: invalid reply type byte 0x${t.toString(16).padStart(2, '0')}`);
      }
      const out = this.emit(value);
      if (this.failure !== null) return this.failure;
      if (out !== PENDING) return out;
    }
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.pos = this.end = 0;
    this.owned = false;
    this.lineScanned = 0;
    this.skip = 0;
    this.frames.length = 0;
    this.pendingAttributes = undefined;
    this.attributes = undefined;
    this.fill = null;
    this.filled = this.fillLen = 0;
    this.hasReady = false;
    this.ready = null;
    this.failure = null;
  }

  // ---------------------------------------------------------------------------------------------

  private fail(message: string): ProtocolError {
    const e = new ProtocolError(message);
    this.failure = e;
    this.buf = Buffer.alloc(0);
    this.pos = this.end = 0;
    this.frames.length = 0;
    this.fill = null;
    this.filled = 0;
    this.hasReady = false;
    this.ready = null;
    return e;
  }

  private open(frame: Frame): boolean {
    if (this.frames.length >= this.maxDepth) {
      this.fail('Protocol error: reply nested too deeply');
      return false;
    }
    this.frames.push(frame);
    return true;
  }

  private convertBulk(t: number, data: Buffer): RespReply {
    if (t === T_BLOBERR) return new ReplyError(data.toString('utf8'));
    if (t === T_VERBATIM && data.length >= 4 && data[3] === 58) data = data.subarray(4);
    return this.utf8 ? data.toString('utf8') : data;
  }

  /** A completed bulk-like payload: a chunk of a streamed string, or a value to emit. */
  private payload(t: number, data: Buffer): RespReply | Pending {
    if (t === T_CHUNK) {
      const top = this.frames[this.frames.length - 1] as Frame;
      (top.chunks as Buffer[]).push(data);
      return PENDING;
    }
    return this.emit(this.convertBulk(t, data));
  }

  /** Add a finished value to the open aggregates; returns the top-level reply once complete. */
  private emit(value: RespReply | Pending): RespReply | Pending {
    if (value === PENDING) return PENDING;
    for (;;) {
      const top = this.frames[this.frames.length - 1];
      if (top === undefined) {
        this.attributes = this.pendingAttributes;
        this.pendingAttributes = undefined;
        return value;
      }
      if (top.type === STREAM_STRING) {
        this.fail('Protocol error: expected \';\' in a streamed string');
        return PENDING;
      }
      top.items.push(value);
      if (top.left < 0 || --top.left > 0) return PENDING;
      this.frames.pop();
      if (top.type === T_ATTR) {
        if (this.frames.length === 0) this.pendingAttributes = finalize(T_MAP, top.items) as Map<RespReply, RespReply>;
        return PENDING;
      }
      value = finalize(top.type, top.items);
    }
  }

  private startFill(t: number, len: number): void {
    const avail = this.end - this.pos;
    const cap = len <= 1024 * 1024 ? len : Math.min(len, Math.max(1024 * 1024, avail * 2));
    const f = Buffer.allocUnsafe(cap);
    this.buf.copy(f, 0, this.pos, this.end);
    this.fill = f;
    this.fillType = t;
    this.fillLen = len;
    this.filled = avail;
    this.pos = this.end;
  }

  private fillBytes(src: Buffer, n: number): void {
    let f = this.fill as Buffer;
    if (this.filled + n > f.length) {
      const g = Buffer.allocUnsafe(Math.min(this.fillLen, Math.max(f.length * 2, this.filled + n)));
      f.copy(g, 0, 0, this.filled);
      this.fill = f = g;
    }
    src.copy(f, this.filled, 0, n);
    this.filled += n;
  }
}

function finalize(type: number, items: RespReply[]): RespReply {
  switch (type) {
    case T_MAP: {
      const m = new Map<RespReply, RespReply>();
      for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i] as RespReply, items[i + 1] as RespReply);
      return m;
    }
    case T_SET:
      return new Set(items);
    case T_PUSH:
      return new PushReply(items);
    default:
      return items;
  }
}

/** Optional sign and 1+ decimal digits; number within ±2^53, else bigint. */
function parseInteger(buf: Buffer, from: number, to: number): number | bigint | undefined {
  let i = from;
  let neg = false;
  const c0 = buf[i];
  if (c0 === 45 || c0 === 43) {
    neg = c0 === 45;
    i++;
  }
  if (i >= to) return undefined;
  const digits = to - i;
  let v = 0;
  for (let j = i; j < to; j++) {
    const d = (buf[j] as number) - 48;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  if (digits <= 15) return neg ? -v : v;
  const big = BigInt(buf.toString('latin1', from, to));
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function parseDouble(text: string): number | undefined {
  if (DOUBLE_RE.test(text)) return Number(text);
  const m = INF_NAN_RE.exec(text);
  if (m === null) return undefined;
  const word = (m[2] as string).toLowerCase();
  if (word.startsWith('nan')) return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}
