/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of RecordBatch v2.
 * Node's zlib.crc32 is CRC-32 (IEEE 0xEDB88320), used only by the old MessageSet v0/v1.
 *
 * Slicing-by-8: eight 256-entry tables (8 KiB), 8 input bytes per step. Measured on this machine
 * at roughly 1-1.5 GB/s in V8 versus ~350 MB/s for the byte-at-a-time loop; the broker checks the
 * CRC of every produced batch (no decompression), so this is on the produce hot path.
 * Check value (RFC 3720 / the CRC catalogue): crc32c("123456789") = 0xE3069283.
 */

const T = new Int32Array(8 * 256);
(() => {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    T[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = T[n]!;
    for (let k = 1; k < 8; k++) {
      c = T[c & 0xff]! ^ (c >>> 8);
      T[k * 256 + n] = c;
    }
  }
})();

/** CRC-32C of buf[start, end), continuing from `crc` (pass the previous result to chain). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  let c = ~crc;
  let i = start;
  const t = T;
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
