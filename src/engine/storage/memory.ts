/**
 * MemoryStorage: the storage SPI with segments as in-heap Buffers.
 *
 * Each segment is one growable Buffer holding frames in exactly the on-disk format of
 * FileStorage (segment-format.ts), plus the same sparse index in typed arrays. An append writes
 * the frame into the active segment's buffer (doubling it, starting at 4 KiB, up to
 * `segmentBytes`) and adds to the index at most one typed-array entry per 4 KiB: no per-batch JS
 * objects are retained, so the heap is the payload bytes + ~1.6% framing/index overhead at
 * 1 KiB batches (32-byte header; 20 index bytes per 4 KiB). Buffer doubling copies each byte
 * ~once more on average; a segment's spare capacity is at most half its size.
 *
 * Frames are CRC'd on write (same bytes as a file segment, ~5% of the append cost at 150-byte
 * batches) but not verified on read: in-heap bytes are not subject to media corruption.
 *
 * Does NOT persist anything, apply fsync policies (durable() is an already-resolved promise),
 * bound memory (the engine's retention does), or copy on read: read() returns views into the
 * segment buffers. Those views stay valid and unchanged forever (bytes are never rewritten;
 * a grown or deleted segment leaves the old ArrayBuffer to the views that reference it), but
 * callers must not mutate them.
 */

import { err } from '../../core/errors.js';
import type { BatchInput, EncodedBatchInput, PartitionOptions, PartitionStore, StorageEngine, StoredBatch, TruncateOptions } from './types.js';
import {
  FRAME_HEADER_BYTES,
  RESOLVED,
  SparseIndex,
  floorIndex,
  frameBaseOffset,
  frameCount,
  frameFormat,
  frameSize,
  frameTimestamp,
  resolveSegmentBytes,
  sealFrame,
  validateBatch,
  validateBatches,
  validateName,
  writeFrame,
} from './segment-format.js';

const INITIAL_SEGMENT_CAPACITY = 4096;

/**
 * Payloads of at least this many bytes are kept by reference instead of copied into the segment
 * (the frame in the segment is header-only, version EXTERNAL_VERSION, crc field = index into the
 * segment's `externals`). The engine hands over a freshly encoded buffer per batch, so the copy
 * would only double the work: on this class of VM first-touch of fresh memory runs at ~250 MB/s,
 * and copying a 1000-message batch into the segment took ~30 % of in-memory publish time. Small
 * payloads are still copied, so a million single-message batches cost no per-batch objects.
 */
const EXTERNAL_MIN = 1024;
const EXTERNAL_VERSION = 0x80;
/**
 * In-heap segments are capped at 4 MiB whatever `segmentBytes` says (it is a maximum): buffers
 * of this size are recycled by the C allocator when freed, while 64 MiB ones are mmap'ed fresh
 * and every page faults on first touch. Measured on the 2-vCPU dev VM: 64 MiB segments appended
 * at ~60-250 MB/s (page-fault bound), 4 MiB ones several times faster. Retention granularity
 * gets finer, never coarser.
 */
const MAX_MEMORY_SEGMENT = 4 * 1024 * 1024;

/** One in-heap segment. Only `buf[0, size)` holds frames. */
class MemSegment {
  end: number;
  size = 0;
  maxTs = -Infinity;
  buf: Buffer;
  readonly index = new SparseIndex(4);
  /** Payloads of external frames (see EXTERNAL_MIN), by the index stored in the frame's crc field. */
  readonly externals: Buffer[] = [];
  /** Bytes held in `externals`. */
  extBytes = 0;
  constructor(
    readonly base: number,
    capacity: number,
  ) {
    this.end = base;
    this.buf = Buffer.allocUnsafe(capacity);
  }
}

/** The data of one partition log; survives its PartitionStore being closed until remove(). */
class MemLog {
  segments: MemSegment[];
  sizeBytes = 0;
  constructor(base: number) {
    this.segments = [new MemSegment(base, INITIAL_SEGMENT_CAPACITY)];
  }
}

export class MemoryPartition implements PartitionStore {
  private closed = false;
  private readonly segmentBytes: number;

  constructor(
    private readonly log: MemLog,
    opts: PartitionOptions,
  ) {
    this.segmentBytes = Math.min(resolveSegmentBytes(opts.segmentBytes), MAX_MEMORY_SEGMENT);
  }

  get startOffset(): number {
    return this.log.segments[0]!.base;
  }
  get endOffset(): number {
    return this.log.segments[this.log.segments.length - 1]!.end;
  }
  get sizeBytes(): number {
    return this.log.sizeBytes;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  append(batches: readonly BatchInput[]): number {
    if (this.closed) throw err('MQ_ERR_CLOSED', 'partition store is closed');
    const total = validateBatches(batches);
    const log = this.log;
    const segs = log.segments;
    let seg = segs[segs.length - 1]!;
    const first = seg.end;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const external = b.payload.length >= EXTERNAL_MIN;
      const size = external ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + b.payload.length;
      seg = this.#room(seg, size, b.payload.length);
      const off = seg.end;
      if (external) {
        const buf = seg.buf;
        const p = seg.size;
        buf.writeUInt32LE(FRAME_HEADER_BYTES - 4, p);
        buf.writeUInt32LE(seg.externals.length, p + 4);
        buf[p + 8] = EXTERNAL_VERSION;
        buf[p + 9] = b.format;
        buf.writeUInt16LE(0, p + 10);
        buf.writeDoubleLE(off, p + 12);
        buf.writeUInt32LE(b.count, p + 20);
        buf.writeDoubleLE(b.timestamp, p + 24);
        const pl = b.payload;
        seg.externals.push(Buffer.isBuffer(pl) ? pl : Buffer.from(pl.buffer, pl.byteOffset, pl.byteLength));
        seg.extBytes += pl.length;
      } else writeFrame(seg.buf, seg.size, b, off);
      frameAdded(seg, size, b);
    }
    log.sizeBytes += total;
    return first;
  }

  /**
   * The active segment with room for a frame taking `size` bytes of it and `payloadBytes` of
   * payload; rolls to a new segment first if the active one would pass the segment size.
   */
  #room(seg: MemSegment, size: number, payloadBytes: number): MemSegment {
    if (seg.size > 0 && seg.size + seg.extBytes + FRAME_HEADER_BYTES + payloadBytes > this.segmentBytes) {
      seg.index.trim();
      // A partition that filled a segment with inline frames will likely fill the next: allocate
      // it whole (pages are only committed when touched) instead of doubling, which touches each
      // byte ~2x. One rolled by an external payload holds 32-byte headers: with huge pages
      // (bin/glibc-tunables) its first touch commits 2 MiB, which doubled memory:// RSS and cost
      // ~0.45 µs per 512 B message in 1000-message batches; it starts small and doubles instead.
      const next = new MemSegment(seg.end, payloadBytes >= EXTERNAL_MIN ? INITIAL_SEGMENT_CAPACITY : Math.max(size, this.segmentBytes));
      this.log.segments.push(next);
      seg = next;
    }
    if (seg.size + size > seg.buf.length) grow(seg, seg.size + size, this.segmentBytes);
    return seg;
  }

  /**
   * A batch below EXTERNAL_MIN is encoded straight into the active segment: without this the
   * engine encoded it into a buffer of its own, which append() then copied here (a buffer per
   * publish, a second copy of every body). A larger one is encoded into a buffer of its own that
   * the segment keeps by reference, as append() keeps large payloads.
   */
  appendEncoded(b: EncodedBatchInput): number {
    if (this.closed) throw err('MQ_ERR_CLOSED', 'partition store is closed');
    const size = validateBatch(b, b.size);
    if (b.size >= EXTERNAL_MIN) {
      const payload = Buffer.allocUnsafe(b.size);
      b.write(payload, 0);
      return this.append([{ count: b.count, timestamp: b.timestamp, format: b.format, payload }]);
    }
    const seg = this.#room(this.log.segments[this.log.segments.length - 1]!, size, b.size);
    const off = seg.end;
    // Past seg.size: nothing reads these bytes until seg.size moves, so a throw appends nothing.
    b.write(seg.buf, seg.size + FRAME_HEADER_BYTES);
    sealFrame(seg.buf, seg.size, b.size, b, off);
    frameAdded(seg, size, b);
    this.log.sizeBytes += size;
    return off;
  }

  durable(): Promise<void> {
    return RESOLVED;
  }

  read(offset: number, maxBytes: number): Promise<StoredBatch[]> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'partition store is closed'));
    const segs = this.log.segments;
    if (offset < this.startOffset) offset = this.startOffset;
    const out: StoredBatch[] = [];
    if (offset >= this.endOffset) return Promise.resolve(out);
    let si = floorIndex(segs.length, (i) => segs[i]!.base, offset);
    let bytes = 0;
    for (; si < segs.length; si++) {
      const seg = segs[si]!;
      const buf = seg.buf;
      const e = seg.index.floor(offset);
      let pos = e < 0 ? 0 : seg.index.positions[e]!;
      while (pos < seg.size) {
        const size = frameSize(buf, pos);
        const base = frameBaseOffset(buf, pos);
        const count = frameCount(buf, pos);
        if (base + count > offset) {
          const plen = buf[pos + 8] === EXTERNAL_VERSION ? seg.externals[buf.readUInt32LE(pos + 4)]!.length : size - FRAME_HEADER_BYTES;
          if (out.length > 0 && bytes + plen > maxBytes) return Promise.resolve(out);
          out.push({
            baseOffset: base,
            count,
            timestamp: frameTimestamp(buf, pos),
            format: frameFormat(buf, pos),
            payload: buf[pos + 8] === EXTERNAL_VERSION ? seg.externals[buf.readUInt32LE(pos + 4)]! : buf.subarray(pos + FRAME_HEADER_BYTES, pos + size),
          });
          bytes += plen;
          if (bytes >= maxBytes) return Promise.resolve(out);
        }
        pos += size;
      }
    }
    return Promise.resolve(out);
  }

  offsetForTimestamp(timestamp: number): Promise<number> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'partition store is closed'));
    for (const seg of this.log.segments) {
      if (!(seg.maxTs >= timestamp)) continue;
      const e = seg.index.firstWithTimestampAtLeast(timestamp);
      let pos = seg.index.positions[e]!;
      while (pos < seg.size) {
        if (frameTimestamp(seg.buf, pos) >= timestamp) return Promise.resolve(frameBaseOffset(seg.buf, pos));
        pos += frameSize(seg.buf, pos);
      }
    }
    return Promise.resolve(this.endOffset);
  }

  /** `minRollBytes` is ignored: rolling an in-heap segment costs no I/O, and keeping settled records would hold memory. */
  truncateBefore(offset: number, _opts?: TruncateOptions): Promise<void> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'partition store is closed'));
    const log = this.log;
    const segs = log.segments;
    const active = segs[segs.length - 1]!;
    if (offset >= active.end && active.size > 0) {
      active.index.trim();
      segs.push(new MemSegment(active.end, INITIAL_SEGMENT_CAPACITY));
    }
    let drop = 0;
    while (drop < segs.length - 1 && segs[drop]!.end <= offset) {
      const d = segs[drop++]!;
      log.sizeBytes -= d.size + d.extBytes;
    }
    if (drop > 0) segs.splice(0, drop);
    return RESOLVED;
  }

  enforceRetention(opts: { maxBytes?: number; maxAgeMs?: number; now: number }): Promise<void> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'partition store is closed'));
    const log = this.log;
    const segs = log.segments;
    const cutoff = opts.maxAgeMs === undefined ? -Infinity : opts.now - opts.maxAgeMs;
    let drop = 0;
    let size = log.sizeBytes;
    while (drop < segs.length - 1) {
      const s = segs[drop]!;
      if ((opts.maxBytes !== undefined && size > opts.maxBytes) || s.maxTs < cutoff) {
        size -= s.size + s.extBytes;
        drop++;
      } else break;
    }
    if (drop > 0) {
      segs.splice(0, drop);
      log.sizeBytes = size;
    }
    return RESOLVED;
  }

  sealedSegments(): { base: number; end: number }[] {
    const segs = this.log.segments;
    const out: { base: number; end: number }[] = [];
    for (let i = 0; i < segs.length - 1; i++) if (segs[i]!.end > segs[i]!.base) out.push({ base: segs[i]!.base, end: segs[i]!.end });
    return out;
  }

  /**
   * Builds the replacement with this class's own append() into a scratch log (so the framing,
   * index and external-payload rules are the same), then swaps it in with one splice: read() is
   * synchronous, so no reader sees a mix. A rewrite larger than the segment cap (a compressed
   * Kafka batch rewritten uncompressed) becomes several segments. Views handed out earlier stay
   * valid: the old buffers are left to them.
   */
  rewriteSegment(base: number, end: number, batches: readonly BatchInput[]): Promise<boolean> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'partition store is closed'));
    let covered = 0;
    for (const b of batches) covered += b.count;
    if (covered !== end - base || batches.length === 0) {
      return Promise.reject(err('MQ_ERR_INVALID_ARGUMENT', `rewrite of [${base}, ${end}) must cover ${end - base} offsets, got ${covered}`));
    }
    const segs = this.log.segments;
    const i = segs.findIndex((x) => x.base === base);
    if (i < 0 || i === segs.length - 1 || segs[i]!.end !== end) return Promise.resolve(false);
    const scratch = new MemLog(base);
    try {
      new MemoryPartition(scratch, { fsync: 'never', segmentBytes: this.segmentBytes }).append(batches);
    } catch (e) {
      return Promise.reject(e);
    }
    const fresh = scratch.segments.filter((x) => x.size > 0);
    for (const x of fresh) x.index.trim();
    const old = segs[i]!;
    segs.splice(i, 1, ...fresh);
    this.log.sizeBytes += scratch.sizeBytes - (old.size + old.extBytes);
    return Promise.resolve(true);
  }

  reset(nextOffset: number): Promise<void> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'partition store is closed'));
    if (!Number.isSafeInteger(nextOffset) || nextOffset < 0) {
      return Promise.reject(err('MQ_ERR_INVALID_ARGUMENT', `reset offset must be a non-negative integer, got ${String(nextOffset)}`));
    }
    this.log.segments = [new MemSegment(nextOffset, INITIAL_SEGMENT_CAPACITY)];
    this.log.sizeBytes = 0;
    return RESOLVED;
  }

  close(): Promise<void> {
    this.closed = true;
    return RESOLVED;
  }
}

/** Bookkeeping for a frame of `size` bytes just written at the end of `seg` (at offset seg.end): index, sizes. */
function frameAdded(seg: MemSegment, size: number, b: { readonly count: number; readonly timestamp: number }): void {
  const off = seg.end;
  seg.index.add(off, seg.size, b.timestamp);
  if (b.timestamp > seg.maxTs) seg.maxTs = b.timestamp;
  seg.size += size;
  seg.end = off + b.count;
}

function grow(seg: MemSegment, needed: number, segmentBytes: number): void {
  let cap = seg.buf.length * 2;
  while (cap < needed) cap *= 2;
  cap = Math.max(needed, Math.min(cap, segmentBytes));
  const nb = Buffer.allocUnsafe(cap);
  seg.buf.copy(nb, 0, 0, seg.size);
  seg.buf = nb;
}

/**
 * In-heap StorageEngine. A partition's data lives until remove() or engine close(); closing one
 * PartitionStore and opening the name again gives a new store over the same data (as a restart
 * of FileStorage would), which keeps the shared test suite honest for both.
 */
export class MemoryStorage implements StorageEngine {
  readonly kind = 'memory' as const;
  readonly persistent = false;
  private readonly logs = new Map<string, MemLog>();
  private readonly stores = new Map<string, MemoryPartition>();
  private closed = false;

  open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'storage is closed'));
    try {
      validateName(name);
      const existing = this.stores.get(name);
      if (existing && !existing.isClosed) return Promise.resolve(existing);
      let log = this.logs.get(name);
      if (!log) {
        log = new MemLog(0);
        this.logs.set(name, log);
      }
      const store = new MemoryPartition(log, opts);
      this.stores.set(name, store);
      return Promise.resolve(store);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  list(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.logs.keys()].filter((n) => n.startsWith(prefix)).sort());
  }

  async remove(name: string): Promise<void> {
    const s = this.stores.get(name);
    if (s) await s.close();
    this.stores.delete(name);
    this.logs.delete(name);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.stores.values()) await s.close();
    this.stores.clear();
    this.logs.clear();
  }
}
