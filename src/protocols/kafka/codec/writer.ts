/**
 * Growable writer for Kafka requests/responses (same primitive grammar as reader.ts).
 *
 * Output is a list of chunks: small fields are written into a scratch buffer that doubles when
 * full; record-batch views of at least `zeroCopyThreshold` bytes (default 4 KiB) are not copied but
 * appended to the chunk list by reference, so a Fetch response made of stored batches costs one
 * small header buffer plus the batches themselves, ready for `socket.cork(); write…; uncork()` or
 * writev. Below the threshold a copy is cheaper than an extra iovec (memcpy of 4 KiB ≈ 0.2 µs).
 *
 * Typical use, a size-prefixed frame:
 *   const w = new Writer(); const at = w.reserveInt32(); …fields…; w.patchFrameSize(at); w.chunks()
 *
 * INT64 values are JS numbers (see reader.ts); values outside the INT64 range are clamped, and
 * non-integers are truncated, so Long.MAX_VALUE sentinels read as 2^63 write back as 2^63-1.
 * The writer does not validate UTF-8 or string lengths beyond what the wire format can express
 * (a STRING longer than 32767 bytes throws KafkaEncodeError).
 */
import { KafkaEncodeError } from './errors.js';

const TWO_32 = 4294967296;
const INT64_MAX = 9223372036854775807; // 2^63 as a double
const INT64_MIN = -9223372036854775808;

export class Writer {
  #buf: Buffer;
  #pos = 0;
  /** Finished chunks (scratch regions and zero-copy views), in order. */
  #chunks: Buffer[] = [];
  /** Total bytes in #chunks. */
  #flushed = 0;
  readonly zeroCopyThreshold: number;

  constructor(initialSize = 256, zeroCopyThreshold = 4096) {
    this.#buf = Buffer.allocUnsafe(Math.max(16, initialSize));
    this.zeroCopyThreshold = zeroCopyThreshold;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#flushed + this.#pos;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    // Keep what is in the scratch buffer as a chunk only if a zero-copy view already follows it,
    // otherwise grow in place (fewer chunks for ordinary responses).
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.#buf.copy(nb, 0, 0, this.#pos);
    this.#buf = nb;
  }

  int8(v: number): void {
    this.#ensure(1);
    this.#buf.writeInt8(v, this.#pos);
    this.#pos += 1;
  }
  uint8(v: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = v & 0xff;
  }
  bool(v: boolean): void {
    this.uint8(v ? 1 : 0);
  }
  int16(v: number): void {
    this.#ensure(2);
    this.#buf.writeInt16BE(v, this.#pos);
    this.#pos += 2;
  }
  uint16(v: number): void {
    this.#ensure(2);
    this.#buf.writeUInt16BE(v, this.#pos);
    this.#pos += 2;
  }
  int32(v: number): void {
    this.#ensure(4);
    this.#buf.writeInt32BE(v, this.#pos);
    this.#pos += 4;
  }
  uint32(v: number): void {
    this.#ensure(4);
    this.#buf.writeUInt32BE(v, this.#pos);
    this.#pos += 4;
  }
  int64(v: number): void {
    this.#ensure(8);
    if (!(v < INT64_MAX)) {
      // Clamp (covers NaN too: NaN writes as 0 below).
      if (v >= INT64_MAX) {
        this.#buf.writeUInt32BE(0x7fffffff, this.#pos);
        this.#buf.writeUInt32BE(0xffffffff, this.#pos + 4);
        this.#pos += 8;
        return;
      }
      v = 0;
    }
    if (v < INT64_MIN) v = INT64_MIN;
    v = Math.trunc(v);
    const hi = Math.floor(v / TWO_32);
    const lo = v - hi * TWO_32;
    this.#buf.writeInt32BE(hi, this.#pos);
    this.#buf.writeUInt32BE(lo, this.#pos + 4);
    this.#pos += 8;
  }
  float64(v: number): void {
    this.#ensure(8);
    this.#buf.writeDoubleBE(v, this.#pos);
    this.#pos += 8;
  }

  /** UNSIGNED_VARINT of a value in [0, 2^32). */
  uvarint(v: number): void {
    this.#ensure(5);
    const buf = this.#buf;
    v = v >>> 0;
    while (v >= 0x80) {
      buf[this.#pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.#pos++] = v;
  }
  /** VARINT: zig-zag 32-bit. */
  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  /** VARLONG: zig-zag 64-bit from a number (exact up to ±2^53). */
  varlong(v: number): void {
    this.#ensure(10);
    v = Math.trunc(v);
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    const buf = this.#buf;
    while (u >= 0x80) {
      buf[this.#pos++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    buf[this.#pos++] = u;
  }

  uuid(v: string): void {
    const b = Buffer.from(v, 'base64url');
    if (b.length !== 16) throw new KafkaEncodeError(`uuid "${v}" is not 16 bytes of base64url`);
    this.raw(b);
  }

  /** Copies bytes into the output. */
  raw(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /**
   * Appends a view: by reference when at least zeroCopyThreshold bytes, else copied. The caller
   * must not modify the view until the output has been written to the socket.
   */
  view(b: Buffer): void {
    if (b.length < this.zeroCopyThreshold) return this.raw(b);
    if (this.#pos > 0) {
      this.#chunks.push(this.#buf.subarray(0, this.#pos));
      this.#flushed += this.#pos;
      this.#buf = this.#buf.subarray(this.#pos);
      if (this.#buf.length < 64) this.#buf = Buffer.allocUnsafe(256);
      this.#pos = 0;
    }
    this.#chunks.push(b);
    this.#flushed += b.length;
  }

  #utf8(s: string, len: number): void {
    this.#ensure(len);
    if (len > 0) this.#buf.write(s, this.#pos, len, 'utf8');
    this.#pos += len;
  }
  string(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0x7fff) throw new KafkaEncodeError(`string of ${len} bytes exceeds 32767`);
    this.int16(len);
    this.#utf8(s, len);
  }
  nullableString(s: string | null): void {
    if (s === null) return this.int16(-1);
    this.string(s);
  }
  compactString(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.uvarint(len + 1);
    this.#utf8(s, len);
  }
  compactNullableString(s: string | null): void {
    if (s === null) return this.uvarint(0);
    this.compactString(s);
  }
  bytes(b: Uint8Array): void {
    this.int32(b.length);
    this.raw(b);
  }
  nullableBytes(b: Uint8Array | null): void {
    if (b === null) return this.int32(-1);
    this.bytes(b);
  }
  compactBytes(b: Uint8Array): void {
    this.uvarint(b.length + 1);
    this.raw(b);
  }
  compactNullableBytes(b: Uint8Array | null): void {
    if (b === null) return this.uvarint(0);
    this.compactBytes(b);
  }

  /** RECORDS (nullable bytes; compact when flexible). Batch views are appended zero-copy. */
  records(r: RecordsValue, compact: boolean): void {
    if (r === null) return compact ? this.uvarint(0) : this.int32(-1);
    if (Buffer.isBuffer(r)) {
      if (compact) this.uvarint(r.length + 1);
      else this.int32(r.length);
      this.view(r);
      return;
    }
    let total = 0;
    for (const b of r) total += b.length;
    if (compact) this.uvarint(total + 1);
    else this.int32(total);
    for (const b of r) this.view(b);
  }

  arrayLength(n: number): void {
    this.int32(n);
  }
  compactArrayLength(n: number): void {
    this.uvarint(n + 1);
  }

  /** Reserves 4 bytes (e.g. a frame size) and returns their absolute position. */
  reserveInt32(): number {
    this.#ensure(4);
    const at = this.length;
    this.#pos += 4;
    return at;
  }
  /** Writes v at an absolute position previously reserved (in the current or a flushed chunk). */
  patchInt32(at: number, v: number): void {
    let base = 0;
    for (const c of this.#chunks) {
      if (at < base + c.length) {
        c.writeInt32BE(v, at - base);
        return;
      }
      base += c.length;
    }
    this.#buf.writeInt32BE(v, at - base);
  }
  /** Patches the size prefix reserved at `at` with the number of bytes written after it. */
  patchFrameSize(at: number): void {
    this.patchInt32(at, this.length - at - 4);
  }

  /** The output as chunks (scratch regions and zero-copy views), for writev / cork+write. */
  chunks(): Buffer[] {
    const out = this.#chunks.slice();
    if (this.#pos > 0) out.push(this.#buf.subarray(0, this.#pos));
    return out;
  }
  /** The output as one Buffer (concatenates if zero-copy views were appended). */
  toBuffer(): Buffer {
    if (this.#chunks.length === 0) return this.#buf.subarray(0, this.#pos);
    return Buffer.concat(this.chunks(), this.length);
  }
}

/** A RECORDS value: null, one buffer, or several stored batches served back to back. */
export type RecordsValue = Buffer | readonly Buffer[] | null;
