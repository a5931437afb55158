/**
 * Tiny test-only compressors written from the format specs (greedy, hash of 4 bytes), so the
 * decompressors are tested against independent encoders that exercise every element type.
 */

function hash4(b: Uint8Array, i: number): number {
  return (((b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) * 2654435761) >>> 0) >>> 18;
}

function uvarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Raw Snappy. `copy4` forces 4-byte-offset copies (type 11) instead of 2-byte ones. */
export function snappyCompress(input: Uint8Array, opts: { copy4?: boolean } = {}): Buffer {
  const out: number[] = uvarint(input.length);
  const table = new Int32Array(1 << 14).fill(-1);
  let lit = 0;
  const emitLiteral = (from: number, to: number): void => {
    let n = to - from;
    let p = from;
    while (n > 0) {
      const len = Math.min(n, 70000);
      const l1 = len - 1;
      if (l1 < 60) out.push(l1 << 2);
      else if (l1 < 256) out.push(60 << 2, l1);
      else if (l1 < 65536) out.push(61 << 2, l1 & 0xff, l1 >> 8);
      else out.push(62 << 2, l1 & 0xff, (l1 >> 8) & 0xff, l1 >> 16);
      for (let i = 0; i < len; i++) out.push(input[p + i]!);
      p += len;
      n -= len;
    }
  };
  const emitCopy = (offset: number, len: number): void => {
    while (len > 0) {
      if (!opts.copy4 && len >= 4 && len <= 11 && offset < 2048) {
        out.push(1 | ((len - 4) << 2) | ((offset >> 8) << 5), offset & 0xff);
        return;
      }
      const l = Math.min(len, 64);
      if (len - l > 0 && len - l < 4) {
        // keep the remainder ≥ 4 where possible is not required for copy-2; fine either way
      }
      if (opts.copy4) out.push(3 | ((l - 1) << 2), offset & 0xff, (offset >> 8) & 0xff, (offset >> 16) & 0xff, offset >>> 24);
      else out.push(2 | ((l - 1) << 2), offset & 0xff, offset >> 8);
      len -= l;
    }
  };
  let i = 0;
  while (i + 4 <= input.length) {
    const h = hash4(input, i);
    const cand = table[h]!;
    table[h] = i;
    if (cand >= 0 && i - cand < 65536 && input[cand] === input[i] && input[cand + 1] === input[i + 1] && input[cand + 2] === input[i + 2] && input[cand + 3] === input[i + 3]) {
      let len = 4;
      while (i + len < input.length && input[cand + len] === input[i + len]) len++;
      emitLiteral(lit, i);
      emitCopy(i - cand, len);
      i += len;
      lit = i;
    } else i++;
  }
  emitLiteral(lit, input.length);
  return Buffer.from(out);
}

/** xerial framing around raw snappy chunks of at most `chunk` input bytes. */
export function xerialSnappyCompress(input: Uint8Array, chunk = 32 * 1024): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (let p = 0; p < input.length; p += chunk) {
    const c = snappyCompress(input.subarray(p, p + chunk));
    const len = Buffer.alloc(4);
    len.writeInt32BE(c.length);
    parts.push(len, c);
  }
  return Buffer.concat(parts);
}

/** One LZ4 block (greedy). */
export function lz4BlockCompress(input: Uint8Array): Buffer {
  const out: number[] = [];
  const table = new Int32Array(1 << 14).fill(-1);
  let anchor = 0;
  let i = 0;
  const lenExt = (n: number): void => {
    while (n >= 255) {
      out.push(255);
      n -= 255;
    }
    out.push(n);
  };
  const limit = input.length - 12;
  while (i < limit) {
    const h = hash4(input, i);
    const cand = table[h]!;
    table[h] = i;
    if (cand >= 0 && i - cand < 65536 && input[cand] === input[i] && input[cand + 1] === input[i + 1] && input[cand + 2] === input[i + 2] && input[cand + 3] === input[i + 3]) {
      let len = 4;
      while (i + len < input.length - 5 && input[cand + len] === input[i + len]) len++;
      const litLen = i - anchor;
      const ml = len - 4;
      out.push((Math.min(litLen, 15) << 4) | Math.min(ml, 15));
      if (litLen >= 15) lenExt(litLen - 15);
      for (let k = anchor; k < i; k++) out.push(input[k]!);
      const off = i - cand;
      out.push(off & 0xff, off >> 8);
      if (ml >= 15) lenExt(ml - 15);
      i += len;
      anchor = i;
    } else i++;
  }
  const litLen = input.length - anchor;
  out.push(Math.min(litLen, 15) << 4);
  if (litLen >= 15) lenExt(litLen - 15);
  for (let k = anchor; k < input.length; k++) out.push(input[k]!);
  return Buffer.from(out);
}

/** LZ4 frame: independent blocks of `blockSize`, optional uncompressed blocks, no checksums (HC byte 0). */
export function lz4FrameCompress(input: Uint8Array, opts: { blockSize?: number; storeUncompressed?: boolean } = {}): Buffer {
  const bs = opts.blockSize ?? 64 * 1024;
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x00])];
  for (let p = 0; p < input.length; p += bs) {
    const chunk = input.subarray(p, p + bs);
    const c = opts.storeUncompressed ? Buffer.from(chunk) : lz4BlockCompress(chunk);
    const h = Buffer.alloc(4);
    h.writeUInt32LE(opts.storeUncompressed ? (c.length | 0x80000000) >>> 0 : c.length);
    parts.push(h, c);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}
