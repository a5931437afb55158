/**
 * Cursor-style primitive readers/writers for AMQP 0-9-1 (big-endian, spec §4.2.5).
 *
 * `Reader` walks [pos, end) of a Buffer and bounds-checks every read against `end` (not against
 * the Buffer's length: payloads are views into larger socket chunks, so a Buffer read past `end`
 * would silently read the next frame). Any overrun throws `AmqpError` 502 SYNTAX_ERROR.
 *
 * `Writer` writes into a Buffer the caller sized with the `*Bound` helpers (an upper bound, so
 * no byteLength pass is needed: a UTF-16 code unit is at most 3 UTF-8 bytes). It does not grow.
 *
 * Both are plain classes with monomorphic fields so V8 inlines the methods; the generated
 * per-method codecs are straight-line calls on them (no per-field closures).
 *
 * Number representation (decided here, used everywhere):
 * - octet/short/long → number.
 * - longlong/timestamp (unsigned 64-bit) → number. Delivery tags, message counts and body sizes
 *   never approach 2^53 in practice, and bigint arithmetic on the hot path costs ~5-10x. A peer
 *   value above Number.MAX_SAFE_INTEGER is rejected with 502 rather than rounded (rounding a
 *   delivery tag would ack the wrong message). Field-table `l` values use bigint only outside
 *   the safe range (see field-table.ts).
 * - shortstr → string (UTF-8). longstr method args → Buffer (binary-safe: SASL responses such as
 *   AMQPLAIN carry a binary table), a view into the frame, not a copy.
 */
import { isUtf8 } from 'node:buffer';
import { encodeError, syntaxError } from './errors.js';

const EMPTY = Buffer.alloc(0);
const TWO_32 = 4294967296;

export class Reader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;

  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): number {
    const p = this.pos;
    if (p + n > this.end) throw syntaxError(`truncated ${what}: need ${n} bytes at offset ${p}, have ${this.end - p}`);
    this.pos = p + n;
    return p;
  }

  u8(): number {
    const p = this.pos;
    if (p >= this.end) throw syntaxError(`truncated octet at offset ${p}`);
    this.pos = p + 1;
    return this.buf[p]!;
  }

  i8(): number {
    const v = this.u8();
    return (v << 24) >> 24;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw syntaxError(`truncated short at offset ${p}`);
    this.pos = p + 2;
    const b = this.buf;
    return (b[p]! << 8) | b[p + 1]!;
  }

  i16(): number {
    return (this.u16() << 16) >> 16;
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw syntaxError(`truncated long at offset ${p}`);
    this.pos = p + 4;
    const b = this.buf;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  i32(): number {
    const p = this.need(4, 'signed long');
    return this.buf.readInt32BE(p);
  }

  /** Unsigned 64-bit as a safe-integer number; larger values are a 502 (see module comment). */
  u64(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw syntaxError(`truncated longlong at offset ${p}`);
    this.pos = p + 8;
    const b = this.buf;
    const hi = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    if (hi > 0x1fffff) throw syntaxError(`longlong at offset ${p} exceeds 2^53-1`);
    const lo = b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!);
    return hi * TWO_32 + lo;
  }

  /** Unsigned 64-bit, exact: number when ≤ 2^53-1, else bigint. */
  u64Exact(): number | bigint {
    const p = this.need(8, 'longlong');
    const v = this.buf.readBigUInt64BE(p);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Signed 64-bit, exact: number when in the safe range, else bigint. */
  i64Exact(): number | bigint {
    const p = this.need(8, 'signed longlong');
    const hi = this.buf.readInt32BE(p);
    const lo = this.buf.readUInt32BE(p + 4);
    // Safe range is |v| ≤ 2^53-1  ⇔  -2^21 ≤ hi < 2^21 (hi = -2^21 with lo = 0 is -2^53: unsafe).
    if (hi >= -0x200000 && hi < 0x200000 && !(hi === -0x200000 && lo === 0)) return hi * TWO_32 + lo;
    return this.buf.readBigInt64BE(p);
  }

  f32(): number {
    const p = this.need(4, 'float');
    return this.buf.readFloatBE(p);
  }

  f64(): number {
    const p = this.need(8, 'double');
    return this.buf.readDoubleBE(p);
  }

  shortstr(): string {
    const b = this.buf;
    const p = this.pos;
    if (p >= this.end) throw syntaxError(`truncated shortstr length at offset ${p}`);
    const n = b[p]!;
    const s = p + 1;
    const e = s + n;
    if (e > this.end) throw syntaxError(`shortstr of ${n} bytes at offset ${p} overruns the frame`);
    this.pos = e;
    if (n === 0) return '';
    // Short ASCII strings (queue names, routing keys, tags) are decoded in JS: for n ≤ 24 this
    // is ~2x faster than a toString() call into C++. Anything non-ASCII takes the UTF-8 path.
    if (n <= 24) {
      let ascii = true;
      for (let i = s; i < e; i++) {
        if (b[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return b.toString('latin1', s, e);
    }
    return b.toString('utf8', s, e);
  }

  /** longstr as a Buffer view (no copy). */
  longstr(): Buffer {
    const p = this.pos;
    if (p + 4 > this.end) throw syntaxError(`truncated longstr length at offset ${p}`);
    const b = this.buf;
    const n = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    const s = p + 4;
    if (s + n > this.end) throw syntaxError(`longstr of ${n} bytes at offset ${p} overruns the frame`);
    this.pos = s + n;
    return b.subarray(s, s + n);
  }

  /**
   * longstr as text: a string if the bytes are valid UTF-8, else undefined (pos is then left
   * *before* the longstr so the caller can re-read it with longstr()). Short ASCII is checked in
   * JS; longer values use simdutf's isUtf8. Avoids creating a Buffer view per field-table string.
   */
  longstrText(): string | undefined {
    const p = this.pos;
    if (p + 4 > this.end) throw syntaxError(`truncated longstr length at offset ${p}`);
    const b = this.buf;
    const n = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    const s = p + 4;
    const e = s + n;
    if (e > this.end) throw syntaxError(`longstr of ${n} bytes at offset ${p} overruns the frame`);
    if (n <= 32) {
      let i = s;
      while (i < e && b[i]! < 0x80) i++;
      if (i === e) {
        this.pos = e;
        return n === 0 ? '' : b.toString('latin1', s, e);
      }
    }
    if (!isUtf8(b.subarray(s, e))) return undefined;
    this.pos = e;
    return b.toString('utf8', s, e);
  }

  /** Raw bytes view of length n. */
  bytes(n: number): Buffer {
    const p = this.need(n, 'bytes');
    return this.buf.subarray(p, p + n);
  }
}

/** Upper bound of a shortstr's encoded size (length octet + ≤ 3 bytes per UTF-16 unit). */
export function shortstrBound(s: string): number {
  return 1 + 3 * s.length;
}

/** Exact encoded size of a longstr given as a Buffer (4-byte length + bytes). */
export function longstrSize(b: Uint8Array): number {
  return 4 + b.length;
}

export class Writer {
  buf: Buffer = EMPTY;
  pos = 0;

  reset(buf: Buffer, pos: number): this {
    this.buf = buf;
    this.pos = pos;
    return this;
  }

  u8(v: number): void {
    if (!(v >= 0 && v <= 0xff) || v !== Math.floor(v)) throw encodeError(`octet out of range: ${v}`);
    this.buf[this.pos++] = v;
  }

  /** Raw octet without range check (flag/bit octets built by the codec itself). */
  bits(v: number): void {
    this.buf[this.pos++] = v;
  }

  i8(v: number): void {
    if (!(v >= -0x80 && v <= 0x7f) || v !== Math.floor(v)) throw encodeError(`signed octet out of range: ${v}`);
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number): void {
    if (!(v >= 0 && v <= 0xffff) || v !== Math.floor(v)) throw encodeError(`short out of range: ${v}`);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  i16(v: number): void {
    if (!(v >= -0x8000 && v <= 0x7fff) || v !== Math.floor(v)) throw encodeError(`signed short out of range: ${v}`);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }

  u32(v: number): void {
    if (!(v >= 0 && v <= 0xffffffff) || v !== Math.floor(v)) throw encodeError(`long out of range: ${v}`);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  i32(v: number): void {
    if (!(v >= -0x80000000 && v <= 0x7fffffff) || v !== Math.floor(v)) throw encodeError(`signed long out of range: ${v}`);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }

  /** Unsigned 64-bit from a safe non-negative integer. */
  u64(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER) || v !== Math.floor(v)) {
      throw encodeError(`longlong must be a safe non-negative integer: ${v}`);
    }
    const b = this.buf;
    const p = this.pos;
    const hi = Math.floor(v / TWO_32);
    const lo = v >>> 0;
    b[p] = hi >>> 24;
    b[p + 1] = hi >>> 16;
    b[p + 2] = hi >>> 8;
    b[p + 3] = hi;
    b[p + 4] = lo >>> 24;
    b[p + 5] = lo >>> 16;
    b[p + 6] = lo >>> 8;
    b[p + 7] = lo;
    this.pos = p + 8;
  }

  u64Big(v: bigint): void {
    if (v < 0n || v > 0xffffffffffffffffn) throw encodeError(`unsigned longlong out of range: ${v}`);
    this.pos = this.buf.writeBigUInt64BE(v, this.pos);
  }

  i64(v: number | bigint): void {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw encodeError(`signed longlong must be a safe integer: ${v}`);
      const hi = Math.floor(v / TWO_32);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 4);
      this.pos += 8;
      return;
    }
    if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) throw encodeError(`signed longlong out of range: ${v}`);
    this.pos = this.buf.writeBigInt64BE(v, this.pos);
  }

  f32(v: number): void {
    this.pos = this.buf.writeFloatBE(v, this.pos);
  }

  f64(v: number): void {
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }

  /** shortstr; the buffer must have shortstrBound(s) bytes free. Throws past 255 UTF-8 bytes. */
  shortstr(s: string): void {
    const n = s.length;
    if (n > 255) throw encodeError(`shortstr longer than 255 bytes (${n} UTF-16 units)`);
    const b = this.buf;
    const lenAt = this.pos;
    const start = lenAt + 1;
    // ASCII fast path in JS (see Reader.shortstr for why); bail out on the first non-ASCII unit.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[start + i] = c;
    }
    if (i === n) {
      b[lenAt] = n;
      this.pos = start + n;
      return;
    }
    const written = b.write(s, start, 'utf8');
    if (written > 255) throw encodeError(`shortstr longer than 255 bytes (${written} UTF-8 bytes)`);
    b[lenAt] = written;
    this.pos = start + written;
  }

  /** longstr from bytes or a string (UTF-8); a string needs 4 + 3*length bytes free. */
  longstr(v: Uint8Array | string): void {
    const b = this.buf;
    const lenAt = this.pos;
    let n: number;
    if (typeof v === 'string') {
      // Same ASCII fast path as shortstr for short values (header strings are mostly short).
      const len = v.length;
      let i = 0;
      if (len <= 64) {
        const start = lenAt + 4;
        for (; i < len; i++) {
          const c = v.charCodeAt(i);
          if (c >= 0x80) break;
          b[start + i] = c;
        }
      }
      n = len <= 64 && i === len ? len : b.write(v, lenAt + 4, 'utf8');
    } else {
      b.set(v, lenAt + 4);
      n = v.length;
    }
    b.writeUInt32BE(n, lenAt);
    this.pos = lenAt + 4 + n;
  }

  bytes(v: Uint8Array): void {
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }
}
