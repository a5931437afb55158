/**
 * Pure-JS LZ4 frame decompressor (the LZ4 Frame Format 1.6.x, as Kafka's lz4 codec uses it).
 *
 *   Frame      = Magic:UINT32 LE (0x184D2204) FrameDescriptor Block* EndMark:UINT32 (0) [ContentChecksum:UINT32]
 *   Descriptor = FLG:BYTE (version 01 in bits 7-6; bit 5 block independence; bit 4 block checksum;
 *                bit 3 content size; bit 2 content checksum; bit 0 dictionary id)
 *                BD:BYTE (bits 6-4 block max size) [ContentSize:UINT64 LE] [DictID:UINT32 LE] HC:BYTE
 *   Block      = Size:UINT32 LE (bit 31 set = stored uncompressed) Data[Size & 0x7fffffff] [BlockChecksum:UINT32]
 *   Skippable  = Magic 0x184D2A50..5F, Size:UINT32 LE, Data      (skipped)
 *   LZ4 block  = Sequence*; Sequence = Token (literal length 4 bits | match length 4 bits),
 *                [more literal length bytes while 255], literals, Offset:UINT16 LE, [more match length bytes]
 *                (match length + 4; the last sequence has literals only)
 *
 * Checksums (xxHash32 header/block/content checksums) are skipped, not verified: Kafka < 0.10
 * wrote a wrong header checksum for magic 0/1 batches (KAFKA-3160), and record batches carry their
 * own CRC-32C which the broker checks anyway. Dependent blocks (block independence = 0) work
 * because all blocks decode into one output buffer, so matches can reach into earlier blocks.
 * Dictionaries (DictID) are not supported (no Kafka client uses them).
 *
 * Output is capped by `maxOutput` (default 256 MiB): growth doubles and stops at the cap, so a
 * bomb fails with CORRUPT_MESSAGE instead of exhausting memory.
 */
import { corruptMessage } from '../codec/errors.js';
import { DEFAULT_MAX_DECOMPRESSED } from './snappy.js';

const MAGIC = 0x184d2204;

class Out {
  buf: Buffer;
  len = 0;
  constructor(
    size: number,
    readonly max: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(64, Math.min(size, max)));
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    if (this.len + n > this.max) throw corruptMessage(`lz4: output exceeds the limit ${this.max}`);
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const nb = Buffer.allocUnsafe(Math.min(size, this.max));
    this.buf.copy(nb, 0, 0, this.len);
    this.buf = nb;
  }
}

export function lz4FrameDecompress(input: Buffer, maxOutput = DEFAULT_MAX_DECOMPRESSED): Buffer {
  const out = new Out(input.length * 4, maxOutput);
  let pos = 0;
  const need = (n: number): void => {
    if (input.length - pos < n) throw corruptMessage('lz4: truncated frame');
  };
  while (pos < input.length) {
    need(4);
    const magic = input.readUInt32LE(pos);
    pos += 4;
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      need(4);
      const size = input.readUInt32LE(pos);
      pos += 4;
      need(size);
      pos += size;
      continue;
    }
    if (magic !== MAGIC) throw corruptMessage(`lz4: bad magic 0x${magic.toString(16)}`);
    need(2);
    const flg = input[pos++]!;
    pos++; // BD: block max size is only a hint for us.
    if (flg >> 6 !== 1) throw corruptMessage('lz4: unsupported frame version');
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    if (flg & 0x01) throw corruptMessage('lz4: dictionaries are not supported');
    if (contentSize) {
      need(8);
      pos += 8;
    }
    need(1);
    pos++; // HC (header checksum), not verified (see above).
    for (;;) {
      need(4);
      const word = input.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      need(size);
      if (word & 0x80000000) {
        out.reserve(size);
        input.copy(out.buf, out.len, pos, pos + size);
        out.len += size;
      } else {
        lz4BlockDecode(input, pos, pos + size, out);
      }
      pos += size;
      if (blockChecksum) {
        need(4);
        pos += 4;
      }
    }
    if (contentChecksum) {
      need(4);
      pos += 4;
    }
  }
  return out.buf.subarray(0, out.len);
}

function lz4BlockDecode(src: Buffer, pos: number, end: number, out: Out): void {
  for (;;) {
    if (pos >= end) throw corruptMessage('lz4: truncated sequence');
    const token = src[pos++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      for (;;) {
        if (pos >= end) throw corruptMessage('lz4: truncated literal length');
        const b = src[pos++]!;
        lit += b;
        if (b !== 255) break;
      }
    }
    if (lit > end - pos) throw corruptMessage('lz4: literals overrun the block');
    if (lit > 0) {
      out.reserve(lit);
      src.copy(out.buf, out.len, pos, pos + lit);
      out.len += lit;
      pos += lit;
    }
    if (pos === end) return; // last sequence: literals only
    if (end - pos < 2) throw corruptMessage('lz4: truncated match offset');
    const offset = src[pos]! | (src[pos + 1]! << 8);
    pos += 2;
    let mlen = token & 15;
    if (mlen === 15) {
      for (;;) {
        if (pos >= end) throw corruptMessage('lz4: truncated match length');
        const b = src[pos++]!;
        mlen += b;
        if (b !== 255) break;
      }
    }
    mlen += 4;
    if (offset === 0 || offset > out.len) throw corruptMessage(`lz4: match offset ${offset} outside the output`);
    out.reserve(mlen);
    const buf = out.buf;
    let from = out.len - offset;
    if (offset >= mlen) {
      buf.copyWithin(out.len, from, from + mlen);
      out.len += mlen;
    } else {
      let op = out.len;
      for (let i = 0; i < mlen; i++) buf[op++] = buf[from++]!;
      out.len = op;
    }
  }
}
