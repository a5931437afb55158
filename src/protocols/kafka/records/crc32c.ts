/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of RecordBatch v2.
 * Node's zlib.crc32 is CRC-32 (IEEE 0xEDB88320), used only by the old MessageSet v0/v1.
 *
 * Slicing-by-16: sixteen 256-entry tables (16 KiB), 16 input bytes per step, read as four
 * little-endian 32-bit words through an Int32Array view once the position is 4-byte aligned
 * (x86 and ARM Linux are little-endian; a big-endian host takes the byte loop of slicing-by-8
 * instead). Measured by CPU time on this 2-core VM over 1 MiB: ~1.5-1.8 GB/s, against
 * ~1.1-1.4 GB/s for slicing-by-8 with byte loads and ~350 MB/s byte at a time. The broker checks
 * the CRC of every produced batch (no decompression), so this is on the produce hot path; V8 has
 * no CRC-32C instruction to reach (WebAssembly neither), and node:crypto/zlib offer only CRC-32.
 * Check value (RFC 3720 / the CRC catalogue): crc32c("123456789") = 0xE3069283.
 */

const T = new Int32Array(16 * 256);
(() => {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    T[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = T[n]!;
    for (let k = 1; k < 16; k++) {
      c = T[c & 0xff]! ^ (c >>> 8);
      T[k * 256 + n] = c;
    }
  }
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this many bytes the word view is not worth its allocation. */
const WORDS_MIN = 64;

/** CRC-32C of buf[start, end), continuing from `crc` (pass the previous result to chain). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  let c = ~crc;
  let i = start;
  const t = T;
  if (LITTLE_ENDIAN && end - i >= WORDS_MIN) {
    while (((buf.byteOffset + i) & 3) !== 0) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
    const n = (end - i) >>> 4;
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, n * 4);
    for (let j = 0; j < w.length; j += 4) {
      const a = c ^ w[j]!;
      const b = w[j + 1]!;
      const d = w[j + 2]!;
      const e = w[j + 3]!;
      c =
        t[3840 + (a & 0xff)]! ^
        t[3584 + ((a >>> 8) & 0xff)]! ^
        t[3328 + ((a >>> 16) & 0xff)]! ^
        t[3072 + (a >>> 24)]! ^
        t[2816 + (b & 0xff)]! ^
        t[2560 + ((b >>> 8) & 0xff)]! ^
        t[2304 + ((b >>> 16) & 0xff)]! ^
        t[2048 + (b >>> 24)]! ^
        t[1792 + (d & 0xff)]! ^
        t[1536 + ((d >>> 8) & 0xff)]! ^
        t[1280 + ((d >>> 16) & 0xff)]! ^
        t[1024 + (d >>> 24)]! ^
        t[768 + (e & 0xff)]! ^
        t[512 + ((e >>> 8) & 0xff)]! ^
        t[256 + ((e >>> 16) & 0xff)]! ^
        t[e >>> 24]!;
    }
    i += n * 16;
  }
  const end8 = end - ((end - i) & 7);
  while (i < end8) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
