/**
 * Bounds-checked reader over one Kafka request/response body (a Buffer view, no copy).
 *
 * Primitive grammar (Kafka protocol guide, "Protocol Primitive Types"):
 *   INT8/16/32/64, UINT16/32     big-endian, fixed width
 *   VARINT / VARLONG             zig-zag, LEB128 (7 bits per byte, low group first)
 *   UNSIGNED_VARINT              LEB128, at most 5 bytes
 *   FLOAT64                      IEEE 754 big-endian
 *   UUID                         16 bytes
 *   STRING / NULLABLE_STRING     INT16 length (-1 = null) + UTF-8
 *   COMPACT_(NULLABLE_)STRING    UNSIGNED_VARINT length+1 (0 = null) + UTF-8
 *   BYTES / NULLABLE_BYTES       INT32 length (-1 = null) + bytes
 *   COMPACT_(NULLABLE_)BYTES     UNSIGNED_VARINT length+1 (0 = null) + bytes
 *   ARRAY / COMPACT_ARRAY        INT32 count (-1 = null) / UNSIGNED_VARINT count+1 (0 = null)
 *   TAGGED_FIELDS                UNSIGNED_VARINT count, then per field: tag, size (both UNSIGNED_VARINT), data
 *
 * Every read checks the remaining length first and throws `KafkaCodecError` (INVALID_REQUEST),
 * so a truncated or hostile body never reads out of bounds and never produces a RangeError.
 * Array counts are capped by the bytes that remain (each element takes at least one byte), so a
 * hostile count of 2^31 fails before anything is allocated.
 *
 * Decisions:
 * - INT64 / VARLONG are returned as JS numbers, not bigint: offsets, timestamps and producer ids
 *   stay far below 2^53 in practice, and bigint arithmetic is ~10x slower on the hot path. Values
 *   beyond ±2^53 (e.g. Long.MAX_VALUE sentinels) lose precision; the writer clamps to the INT64 range.
 * - BYTES / RECORDS are returned as views into the input (subarray), never copied: the produce path
 *   stores record batches straight from the request frame. A caller that keeps a view keeps the
 *   whole socket chunk alive (typically ≤ 64 KiB); copy small values you keep for long.
 * - UUID is returned as Kafka prints it: 22 characters of unpadded base64url.
 */
import { invalidRequest } from './errors.js';

const TWO_32 = 4294967296;

export class Reader {
  buf: Buffer;
  pos: number;
  /** Exclusive end of the readable region (tagged-field decoding narrows it temporarily). */
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    if (pos < 0 || end > buf.length || pos > end) throw invalidRequest('reader bounds out of range');
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless n more bytes are readable. */
  need(n: number): void {
    if (n > this.end - this.pos || n < 0) throw invalidRequest(`truncated: need ${n} bytes at ${this.pos}, have ${this.end - this.pos}`);
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  uint8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }
  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** UNSIGNED_VARINT (at most 5 bytes, result in [0, 2^32)). */
  uvarint(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw invalidRequest('truncated varint');
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result > 0xffffffff ? this.#badVarint() : result;
      shift += 7;
    }
    return this.#badVarint();
  }
  #badVarint(): never {
    throw invalidRequest('varint longer than 5 bytes or above 2^32');
  }

  /** VARINT: zig-zag 32-bit. */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** VARLONG: zig-zag 64-bit, as a number (precision lost beyond ±2^53). */
  varlong(): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw invalidRequest('truncated varlong');
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result % 2 === 1 ? -(result + 1) / 2 : result / 2;
      mul *= 128;
    }
    throw invalidRequest('varlong longer than 10 bytes');
  }

  uuid(): string {
    this.need(16);
    const s = this.buf.toString('base64url', this.pos, this.pos + 16);
    this.pos += 16;
    return s;
  }

  #utf8(len: number): string {
    this.need(len);
    const s = len === 0 ? '' : this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** STRING (non-null). */
  string(): string {
    const len = this.int16();
    if (len < 0) throw invalidRequest('non-nullable string is null');
    return this.#utf8(len);
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) {
      if (len === -1) return null;
      throw invalidRequest(`invalid string length ${len}`);
    }
    return this.#utf8(len);
  }
  compactString(): string {
    const len = this.uvarint();
    if (len === 0) throw invalidRequest('non-nullable compact string is null');
    return this.#utf8(len - 1);
  }
  compactNullableString(): string | null {
    const len = this.uvarint();
    return len === 0 ? null : this.#utf8(len - 1);
  }

  #view(len: number): Buffer {
    this.need(len);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }
  /** BYTES (non-null), a view into the input. */
  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) throw invalidRequest('non-nullable bytes are null');
    return this.#view(len);
  }
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) {
      if (len === -1) return null;
      throw invalidRequest(`invalid bytes length ${len}`);
    }
    return this.#view(len);
  }
  compactBytes(): Buffer {
    const len = this.uvarint();
    if (len === 0) throw invalidRequest('non-nullable compact bytes are null');
    return this.#view(len - 1);
  }
  compactNullableBytes(): Buffer | null {
    const len = this.uvarint();
    return len === 0 ? null : this.#view(len - 1);
  }
  /** Raw view of n bytes. */
  view(n: number): Buffer {
    return this.#view(n);
  }

  /** ARRAY count; -1 (null) is returned as -1. Capped by the remaining bytes. */
  arrayLength(): number {
    const n = this.int32();
    if (n < 0) {
      if (n === -1) return -1;
      throw invalidRequest(`invalid array length ${n}`);
    }
    if (n > this.end - this.pos) throw invalidRequest(`array length ${n} exceeds the ${this.end - this.pos} remaining bytes`);
    return n;
  }
  /** COMPACT_ARRAY count; null is returned as -1. Capped by the remaining bytes. */
  compactArrayLength(): number {
    const n = this.uvarint() - 1;
    if (n > this.end - this.pos) throw invalidRequest(`array length ${n} exceeds the ${this.end - this.pos} remaining bytes`);
    return n;
  }

  /** Skips a whole tagged-field section (used where no tagged field is known). */
  skipTaggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}
