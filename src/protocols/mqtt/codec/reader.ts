/**
 * Bounds-checked primitive readers and writers shared by the packet codec: big-endian integers,
 * the Variable Byte Integer (1–4 bytes, max 268,435,455), UTF-8 strings (well-formed, no U+0000:
 * MQTT 3.1.1 §1.5.3 / 5.0 §1.5.4) and length-prefixed binary data.
 *
 * Reader views slices of the packet buffer without copying; strings are decoded once. Binary
 * fields (payload, correlation data, password) are views into the received packet: a caller that
 * keeps one beyond the packet's life must not mutate the packet buffer (the decoder never reuses
 * buffers, so views stay valid).
 */
import { isUtf8 } from 'node:buffer';
import { malformed } from './errors.js';

export const MAX_VARINT = 268_435_455;

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  #need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`packet too short reading ${what}`);
  }
  u8(what = 'a byte'): number {
    this.#need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what = 'a two-byte integer'): number {
    this.#need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what = 'a four-byte integer'): number {
    this.#need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  varint(what = 'a variable byte integer'): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw malformed(`${what} is longer than 4 bytes`);
  }
  bytes(n: number, what: string): Buffer {
    this.#need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  binary(what = 'binary data'): Buffer {
    return this.bytes(this.u16(what), what);
  }
  utf8(what = 'a string'): string {
    return checkedUtf8(this.binary(what), what);
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}

/** Decodes UTF-8 that MQTT allows: well-formed (no surrogates, no overlongs) and without U+0000. */
export function checkedUtf8(b: Buffer, what: string): string {
  // Pure ASCII without NUL is the common case and needs no validator.
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0) throw malformed(`${what} contains U+0000`);
    if (c > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return b.toString('latin1');
  if (!isUtf8(b)) throw malformed(`${what} is not well-formed UTF-8`);
  const s = b.toString('utf8');
  if (s.includes('\u0000')) throw malformed(`${what} contains U+0000`);
  return s;
}

export function varintSize(v: number): number {
  return v < 128 ? 1 : v < 16_384 ? 2 : v < 2_097_152 ? 3 : 4;
}

/**
 * A growable output buffer. Packets other than PUBLISH are small and rare, so a simple doubling
 * buffer (starting at 64 bytes) beats computing sizes twice; PUBLISH sizes itself exactly.
 */
export class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size = 64) {
    this.buf = Buffer.allocUnsafe(size);
  }
  #room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
  }
  u8(v: number): void {
    this.#room(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.#room(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.#room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  varint(v: number): void {
    this.#room(4);
    this.pos = writeVarint(this.buf, this.pos, v);
  }
  raw(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  binary(b: Uint8Array): void {
    if (b.length > 0xffff) throw new RangeError('binary field longer than 65535 bytes');
    this.u16(b.length);
    this.raw(b);
  }
  utf8(s: string): void {
    const n = Buffer.byteLength(s);
    if (n > 0xffff) throw new RangeError('string longer than 65535 bytes');
    this.#room(2 + n);
    this.buf.writeUInt16BE(n, this.pos);
    this.buf.write(s, this.pos + 2, 'utf8');
    this.pos += 2 + n;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export function writeVarint(buf: Buffer, pos: number, v: number): number {
  if (!(v >= 0 && v <= MAX_VARINT) || !Number.isInteger(v)) throw new RangeError(`variable byte integer out of range: ${v}`);
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    buf[pos++] = b;
  } while (v > 0);
  return pos;
}
