/**
 * FilePartition: one partition log as a directory of segment files `<base:20 digits>.log`
 * (framing in ../segment-format.ts), each sealed segment with an optional `<base>.index`.
 *
 * Heap per partition: per segment one small object + its sparse index (20 bytes per 4 KiB of
 * data), plus write/recent chunks bounded by the engine-wide ChunkCache. No per-batch objects.
 *
 * Write path. append() frames batches synchronously into the tail *chunk* (a Buffer of 64 KiB
 * doubling to 1 MiB while the partition is busy) and schedules the flusher with setImmediate.
 * The flusher is the only actor doing write-side I/O, one operation at a time: it writes the
 * unwritten range of the oldest chunk (everything appended while the previous write/fsync was in
 * flight goes out in one write: group commit), seals rolled segments (fdatasync + index file),
 * runs fdatasync for `always` waiters (one fsync releases every durable() called before it
 * started), and runs maintenance commands (truncate/retention/reset file work) in append order.
 * A segment detached for deletion is still written to its end before the command that unlinks
 * it, so a crash between the two leaves a contiguous log, never a hole.
 * Chunks stay after they are written, so tailing readers are served from memory; the cache
 * evicts written chunks oldest-first past `cacheBytes` (unwritten data is never evicted, so a
 * producer that never awaits durable() can grow the heap: the engine must apply backpressure).
 *
 * Read path. read() finds the segment (binary search), the index entry (binary search), then
 * walks frames forward: from a chunk if one covers the position (no CRC check: those bytes never
 * left the process), else from the file in 64 KiB–1 MiB reads into a fresh Buffer per read()
 * (CRC verified on every frame, MQ_ERR_CORRUPT on mismatch). Returned payloads are views into
 * that buffer or into a chunk; neither is ever rewritten, so views stay valid, but do not mutate.
 * readLeased() is the same walk with the call's first file read in a recycled slab of the
 * engine-wide ReadPool (read-pool.ts), extended in place for a frame that crosses its end; its
 * views are valid only while the lease is held.
 *
 * Recovery. Sealed segments with a valid index file (CRC'd, matching size) are trusted and not
 * read; others and the last segment are scanned with CRC checks; the first bad/torn frame ends
 * the log: the file is truncated there and any later segments are deleted (as Kafka does), each
 * logged. A frame with a valid CRC but an unexpected offset, or a gap between segments, is not a
 * torn write and fails open() with MQ_ERR_CORRUPT.
 *
 * Does NOT: compress, split batches, keep a time index beyond the per-4 KiB max timestamp, use
 * mmap, or apply backpressure. Not safe for two processes (FileStorage holds a lock).
 */

import { mkdirp } from './mkdirp.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { err, isOmnibusError } from '../../../core/errors.js';
import type { OmnibusError } from '../../../core/errors.js';
import type { BatchInput, EncodedBatchInput, FsyncPolicy, LeasedRead, PartitionOptions, PartitionStore, StoredBatch, TruncateOptions } from '../types.js';
import { READ_SLAB_BYTES } from './read-pool.js';
import type { ReadPool, ReadSlab } from './read-pool.js';
import {
  FRAME_FIXED_AFTER_LENGTH,
  FRAME_HEADER_BYTES,
  FrameCheck,
  RESOLVED,
  SparseIndex,
  checkFrame,
  describeFrameCheck,
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
  writeFrame,
} from '../segment-format.js';
import {
  INDEX_FILE_RE,
  LOG_FILE_RE,
  RESET_FILE_RE,
  closeFd,
  fdatasync,
  fsyncDir,
  openFd,
  readAt,
  segmentIndexPath,
  segmentLogPath,
  unlinkIfExists,
  writeAll,
  writeAllSync,
} from './io.js';

export type StorageLogger = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 1024 * 1024;
/** Free-list bound of ChunkCache (recycled never-read chunks). */
const POOL_CHUNKS = 8;
const MIN_READ = 64 * 1024;
const MAX_READ = 1024 * 1024;
const SCAN_READ = 1024 * 1024;
/**
 * Pending writes up to this size are written on the event loop (writeAllSync), larger ones on the
 * thread pool. A push answered one at a time (RESP naive LPUSH) writes ~200 B per flush: the pool's
 * hand-off to a worker and back cost more CPU than the write. 64 KiB into the page cache takes
 * ~10–30 µs here, about one hand-off; a busy partition's 1 MiB chunks stay off the loop.
 */
const SYNC_WRITE_MAX = 64 * 1024;
/** Idle fds of sealed segments kept open per partition for readers (LRU); more are closed. */
const MAX_IDLE_SEALED_FDS = 4;

/** A pooled slab offered to one readLeased() call; `used` once a file read went into it. */
interface SlabUse {
  readonly slab: ReadSlab;
  used: boolean;
}

// =============================================================================================
// Segments and chunks
// =============================================================================================

class FileSegment {
  /** Next offset after the last frame. */
  end: number;
  /** Logical size, including bytes not yet written. */
  size = 0;
  /** Bytes handed to the OS; always at a frame boundary. */
  written = 0;
  maxTs = -Infinity;
  index = new SparseIndex(16);
  fd = -1;
  opening: Promise<number> | null = null;
  refs = 0;
  lastUse = 0;
  /** The flusher holds one ref on segments it may still write or seal. */
  writerHeld = false;
  /** The file does not exist yet: the flusher creates it ('wx+'). */
  create = false;
  sealed = false;
  deleted = false;
  constructor(
    readonly base: number,
    readonly path: string,
  ) {
    this.end = base;
  }
}

/** A window of a segment's bytes in memory: [pos, pos + len) of the file. Frames never span chunks. */
export interface Chunk {
  readonly part: FilePartition;
  readonly seg: FileSegment;
  readonly buf: Buffer;
  readonly pos: number;
  len: number;
  written: number;
  /** Log-sequence number (bytes appended to this store instance) of buf[0]. */
  readonly lsn: number;
  evicted: boolean;
  /**
   * Set once a reader has looked into this chunk: views of `buf` may then live anywhere (decoded
   * message bodies), so its memory is left to the GC instead of being recycled.
   */
  exposed: boolean;
}

/**
 * Engine-wide budget for chunk memory. Chunks are registered when allocated and evicted in
 * allocation order once fully written, which for a tailing reader is "oldest data first".
 *
 * Evicted full-size chunks that no reader ever looked into (see Chunk.exposed) go to a small
 * free list and are reused by the next chunk allocation. Why: on the VMs measured here, fresh
 * memory costs a page fault per 4 KiB on first touch (~250-280 MB/s), and copying frames into
 * freshly allocated 1 MiB chunks was the largest cost of a producer that nobody is tailing:
 * recycling took 128 B enqueue on file:// (fsync interval, one publisher) from ~570k to
 * ~900k msg/s in an A/B run at load 1.7. The list holds at most POOL_CHUNKS buffers
 * (8 MiB, outside `budget`).
 */
export class ChunkCache {
  bytes = 0;
  private fifo: Chunk[] = [];
  private head = 0;
  private readonly free: Buffer[] = [];
  constructor(readonly budget: number) {}

  /**
   * Fills the free list with as many full-size chunks as the budget holds, every page written
   * once, so the first `budget` bytes appended do not pay a page fault per 4 KiB. Why: a fresh
   * broker's first 64 MiB of appends land in never-touched memory, and on the VMs measured here a
   * 10 KiB copy into fresh pages costs 44–49 µs against 0.6–0.7 µs into recycled ones (a third of
   * a 20,000 × 10 KiB run). The cost moves to start-up (~64 MiB memset, tens of ms) and the
   * memory is resident from the start instead of after the first 64 MiB of traffic. Not for
   * short-lived embedded stores (tests, scripts): `omnibus serve` asks for it.
   */
  prefault(): void {
    for (let n = Math.floor(this.budget / MAX_CHUNK); n > 0; n--) {
      // allocUnsafe + fill, not alloc: a zeroed allocation may come from untouched calloc pages.
      this.free.push(Buffer.allocUnsafe(MAX_CHUNK).fill(0));
    }
  }

  /** A buffer of MAX_CHUNK bytes, recycled when one is free. Its contents are garbage. */
  takeFull(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(MAX_CHUNK);
  }

  add(c: Chunk): void {
    this.fifo.push(c);
    this.bytes += c.buf.length;
  }

  /** Forgets a chunk (its partition closed or dropped it). */
  release(c: Chunk): void {
    if (c.evicted) return;
    c.evicted = true;
    this.bytes -= c.buf.length;
  }

  trim(): void {
    while (this.bytes > this.budget && this.head < this.fifo.length) {
      const c = this.fifo[this.head]!;
      if (!c.evicted) {
        if (c.written < c.len) break; // unwritten data is never dropped (the flusher accounts for it)
        this.release(c);
        c.part.dropChunk(c);
        if (!c.exposed && c.buf.length === MAX_CHUNK && this.free.length < POOL_CHUNKS) this.free.push(c.buf);
      }
      this.fifo[this.head++] = undefined as unknown as Chunk;
    }
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
  }
}

interface Waiter {
  readonly lsn: number;
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

interface Command {
  readonly lsn: number;
  run(): Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function makeWaiter(lsn: number): Waiter {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { lsn, promise, resolve, reject };
}

function storageError(what: string, e: unknown): OmnibusError {
  if (isOmnibusError(e)) return e;
  return err('MQ_ERR_STORAGE', `${what}: ${(e as Error)?.message ?? String(e)}`, e);
}

export interface PartitionContext {
  cache: ChunkCache;
  /** Recycled read buffers for readLeased(); read() never uses them. */
  readPool?: ReadPool;
  logger: StorageLogger | undefined;
  onClose(p: FilePartition): void;
}

// =============================================================================================
// The partition
// =============================================================================================

export class FilePartition implements PartitionStore {
  private segments: FileSegment[] = [];
  private chunks: Chunk[] = [];
  private chunkCap = MIN_CHUNK;
  private appendedLsn = 0;
  private writtenLsn = 0;
  private syncedLsn = 0;
  private writeWaiters: Waiter[] = [];
  private syncWaiters: Waiter[] = [];
  private commands: Command[] = [];
  private pendingSeal: FileSegment[] = [];
  private dirty = new Set<FileSegment>();
  private flushing = false;
  private flushScheduled = false;
  private syncRequested = false;
  private failure: OmnibusError | null = null;
  private closed = false;
  private closePromise: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private bytes = 0;
  private useTick = 0;
  /** Segments replaced by rewriteSegment() so far (a read that raced one retries). */
  private rewrites = 0;
  private readonly fsync: FsyncPolicy;
  private readonly segmentBytes: number;

  private constructor(
    readonly name: string,
    readonly dir: string,
    opts: PartitionOptions,
    private readonly ctx: PartitionContext,
  ) {
    if (opts.fsync !== 'always' && opts.fsync !== 'interval' && opts.fsync !== 'never') {
      throw err('MQ_ERR_INVALID_ARGUMENT', `fsync must be 'always', 'interval' or 'never', got ${String(opts.fsync)}`);
    }
    this.fsync = opts.fsync;
    this.segmentBytes = resolveSegmentBytes(opts.segmentBytes);
    if (this.fsync === 'interval') {
      const ms = opts.fsyncIntervalMs ?? 200;
      if (!(ms > 0)) throw err('MQ_ERR_INVALID_ARGUMENT', `fsyncIntervalMs must be > 0, got ${String(ms)}`);
      this.timer = setInterval(() => {
        if (this.dirty.size > 0 || this.syncedLsn < this.writtenLsn) {
          this.syncRequested = true;
          this.kick();
        }
      }, ms);
      this.timer.unref();
    }
  }

  static async open(root: string, name: string, opts: PartitionOptions, ctx: PartitionContext): Promise<FilePartition> {
    const p = new FilePartition(name, path.join(root, ...name.split('/')), opts, ctx);
    try {
      await p.recover();
    } catch (e) {
      await p.closeAllFds();
      p.clearTimer();
      throw storageError(`cannot open partition log ${name}`, e);
    }
    return p;
  }

  get startOffset(): number {
    return this.segments[0]!.base;
  }
  get endOffset(): number {
    return this.segments[this.segments.length - 1]!.end;
  }
  get sizeBytes(): number {
    return this.bytes;
  }

  // -------------------------------------------------------------------------------------------
  // Append / durable
  // -------------------------------------------------------------------------------------------

  append(batches: readonly BatchInput[]): number {
    if (this.closed) throw err('MQ_ERR_CLOSED', `partition log ${this.name} is closed`);
    if (this.failure) throw this.failure;
    const total = validateBatches(batches);
    const first = this.segments[this.segments.length - 1]!.end;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const size = FRAME_HEADER_BYTES + b.payload.length;
      const c = this.chunkFor(size);
      writeFrame(c.buf, c.len, b, c.seg.end);
      this.frameAdded(c, size, b);
    }
    this.bytes += total;
    if (batches.length > 0) this.kick();
    return first;
  }

  /** append() of one batch that `b.write` encodes straight into the tail chunk (no payload copy). */
  appendEncoded(b: EncodedBatchInput): number {
    if (this.closed) throw err('MQ_ERR_CLOSED', `partition log ${this.name} is closed`);
    if (this.failure) throw this.failure;
    const size = validateBatch(b, b.size);
    const c = this.chunkFor(size);
    const off = c.seg.end;
    // Past c.len: no reader sees these bytes until frameAdded, so a throw appends nothing.
    b.write(c.buf, c.len + FRAME_HEADER_BYTES);
    sealFrame(c.buf, c.len, b.size, b, off);
    this.frameAdded(c, size, b);
    this.bytes += size;
    this.kick();
    return off;
  }

  /** The tail chunk with room for a frame of `size` bytes; rolls the segment first if it is full. */
  private chunkFor(size: number): Chunk {
    let seg = this.segments[this.segments.length - 1]!;
    if (seg.size > 0 && seg.size + size > this.segmentBytes) seg = this.roll();
    const c = this.chunks.length > 0 ? this.chunks[this.chunks.length - 1]! : null;
    return c === null || c.seg !== seg || c.evicted || c.len + size > c.buf.length ? this.newChunk(seg, size, c) : c;
  }

  /** Bookkeeping for a frame just written at the end of `c` (at offset c.seg.end): index, sizes, lsn. */
  private frameAdded(c: Chunk, size: number, b: { readonly count: number; readonly timestamp: number }): void {
    const seg = c.seg;
    const off = seg.end;
    seg.index.add(off, seg.size, b.timestamp);
    if (b.timestamp > seg.maxTs) seg.maxTs = b.timestamp;
    c.len += size;
    seg.size += size;
    seg.end = off + b.count;
    this.appendedLsn += size;
  }

  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return this.closePromise ?? RESOLVED;
    const target = this.appendedLsn;
    const always = this.fsync === 'always';
    if ((always ? this.syncedLsn : this.writtenLsn) >= target) return RESOLVED;
    const q = always ? this.syncWaiters : this.writeWaiters;
    const last = q.length > 0 ? q[q.length - 1]! : null;
    if (last !== null && last.lsn === target) return last.promise; // nothing appended since: share
    const w = makeWaiter(target);
    q.push(w);
    this.kick();
    return w.promise;
  }

  private roll(): FileSegment {
    const old = this.segments[this.segments.length - 1]!;
    old.sealed = true;
    old.index.trim();
    this.pendingSeal.push(old);
    const seg = new FileSegment(old.end, segmentLogPath(this.dir, old.end));
    seg.create = true;
    this.segments.push(seg);
    return seg;
  }

  private newChunk(seg: FileSegment, size: number, prev: Chunk | null): Chunk {
    if (prev !== null && prev.seg === seg && !prev.evicted && this.chunkCap < MAX_CHUNK) this.chunkCap *= 2;
    else if (prev === null || prev.evicted) this.chunkCap = MIN_CHUNK; // idle partition: start small again
    const cap = Math.max(size, this.chunkCap);
    const c: Chunk = {
      part: this,
      seg,
      buf: cap === MAX_CHUNK ? this.ctx.cache.takeFull() : Buffer.allocUnsafe(cap),
      pos: seg.size,
      len: 0,
      written: 0,
      lsn: this.appendedLsn,
      evicted: false,
      exposed: false,
    };
    this.chunks.push(c);
    this.ctx.cache.add(c);
    return c;
  }

  /** Called by the cache when it evicts a written chunk. */
  dropChunk(c: Chunk): void {
    const i = this.chunks.indexOf(c);
    if (i >= 0) this.chunks.splice(i, 1);
  }

  // -------------------------------------------------------------------------------------------
  // The flusher: the only writer; one I/O operation in flight per partition
  // -------------------------------------------------------------------------------------------

  private kick(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.runFlusher);
  }

  private readonly runFlusher = (): void => {
    this.flushScheduled = false;
    if (this.flushing || this.failure) return;
    this.flushing = true;
    this.flushLoop().then(
      () => {
        this.flushing = false;
        if (this.hasWork()) this.kick();
      },
      (e: unknown) => {
        this.flushing = false;
        this.fail(e);
      },
    );
  };

  private hasWork(): boolean {
    if (this.failure) return false;
    if (this.commands.length > 0 || this.writtenLsn < this.appendedLsn) return true;
    if (this.syncWaiters.length > 0 || (this.syncRequested && this.dirty.size > 0)) return true;
    return this.pendingSeal.length > 0 && this.pendingSeal[0]!.written >= this.pendingSeal[0]!.size;
  }

  private nextUnwritten(): Chunk | null {
    for (const c of this.chunks) if (c.written < c.len) return c;
    return null;
  }

  private async flushLoop(): Promise<void> {
    for (;;) {
      if (this.failure) return;
      const cmd = this.commands[0];
      if (cmd !== undefined && this.writtenLsn >= cmd.lsn) {
        this.commands.shift();
        try {
          await cmd.run();
          cmd.resolve();
        } catch (e) {
          cmd.reject(storageError(`partition log ${this.name}`, e));
        }
        continue;
      }
      const c = this.nextUnwritten();
      if (c !== null) {
        const end = c.len;
        // A segment detached for deletion is still written to its end: until the command that
        // unlinks it runs, its file is on disk next to its successor's, and a crash there must
        // leave a contiguous log. Skipping its unwritten frames left a hole that recovery refuses
        // as corruption (test/storage/truncate-crash.test.ts). The cost is writing frames that
        // are about to be deleted: at most the tail of the segments one truncation removes.
        const fd = await this.writerFd(c.seg);
        const len = end - c.written;
        if (len <= SYNC_WRITE_MAX) writeAllSync(fd, c.buf, c.written, len, c.pos + c.written);
        else await writeAll(fd, c.buf, c.written, len, c.pos + c.written);
        if (this.fsync !== 'never') this.dirty.add(c.seg);
        c.written = end;
        if (c.pos + end > c.seg.written) c.seg.written = c.pos + end;
        this.writtenLsn = c.lsn + end;
        this.resolve(this.writeWaiters, this.writtenLsn);
        this.ctx.cache.trim();
        continue;
      }
      const s = this.pendingSeal[0];
      if (s !== undefined && (s.deleted || s.written >= s.size)) {
        this.pendingSeal.shift();
        if (!s.deleted) await this.seal(s);
        continue;
      }
      if ((this.syncWaiters.length > 0 || this.syncRequested) && this.syncedLsn < this.writtenLsn) {
        await this.syncDirty();
        continue;
      }
      if (this.syncWaiters.length > 0) {
        this.resolve(this.syncWaiters, this.syncedLsn);
      }
      this.syncRequested = false;
      return;
    }
  }

  /** fdatasync of those of `segs` written since their last sync (not with fsync 'never'). */
  private async syncSegments(segs: readonly FileSegment[]): Promise<void> {
    for (const s of segs) {
      if (!this.dirty.delete(s)) continue;
      if (s.fd >= 0) await fdatasync(s.fd);
    }
  }

  private async syncDirty(): Promise<void> {
    const target = this.writtenLsn;
    for (const s of [...this.dirty]) {
      this.dirty.delete(s);
      // A detached segment too: its file stays until its deletion command runs, and the log
      // after it must not outlive it on disk (a hole refuses the log at open).
      if (s.fd >= 0) await fdatasync(s.fd);
    }
    this.syncedLsn = target;
    this.syncRequested = false;
    this.resolve(this.syncWaiters, target);
  }

  private resolve(q: Waiter[], upTo: number): void {
    let n = 0;
    while (n < q.length && q[n]!.lsn <= upTo) q[n++]!.resolve();
    if (n > 0) q.splice(0, n);
  }

  /** A sealed segment is complete on disk: make it durable (unless `never`), persist its index, drop the writer's fd ref. */
  private async seal(s: FileSegment): Promise<void> {
    if (s.writerHeld && s.fd >= 0) {
      if (this.fsync !== 'never') {
        await fdatasync(s.fd);
        this.dirty.delete(s);
      }
    }
    await this.writeIndexFile(s);
    this.releaseWriter(s);
  }

  private async writeIndexFile(s: FileSegment): Promise<void> {
    const ip = segmentIndexPath(this.dir, s.base);
    const tmp = `${ip}.tmp`;
    // Not fsynced: a torn or stale index fails its CRC/size check and the segment is rescanned.
    await fs.promises.writeFile(tmp, s.index.serialize(s.size, s.end, s.maxTs));
    await fs.promises.rename(tmp, ip);
  }

  private async writerFd(s: FileSegment): Promise<number> {
    if (!s.writerHeld) {
      s.writerHeld = true;
      s.refs++;
    }
    if (s.fd >= 0) return s.fd;
    if (s.opening) return s.opening;
    const create = s.create;
    s.opening = openFd(s.path, create ? 'wx+' : 'r+');
    try {
      s.fd = await s.opening;
    } finally {
      s.opening = null;
    }
    s.create = false;
    if (create && this.fsync !== 'never') await fsyncDir(this.dir);
    return s.fd;
  }

  private releaseWriter(s: FileSegment): void {
    if (!s.writerHeld) return;
    s.writerHeld = false;
    this.release(s);
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = storageError(`write to partition log ${this.name} failed`, e);
    this.ctx.logger?.('error', 'partition log write failed; the store refuses further appends', {
      partition: this.name,
      error: String((e as Error)?.message ?? e),
    });
    const f = this.failure;
    for (const w of this.writeWaiters.splice(0)) w.reject(f);
    for (const w of this.syncWaiters.splice(0)) w.reject(f);
    for (const c of this.commands.splice(0)) c.reject(f);
  }

  private enqueue(run: () => Promise<void>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.commands.push({ lsn: this.appendedLsn, run, resolve, reject });
      this.kick();
    });
  }

  // -------------------------------------------------------------------------------------------
  // File descriptors for readers
  // -------------------------------------------------------------------------------------------

  /** Returns an fd for reading `s`, or -1 if the segment was deleted meanwhile. */
  private async acquire(s: FileSegment): Promise<number> {
    if (s.deleted) return -1;
    s.refs++;
    if (s.fd < 0) {
      try {
        if (!s.opening) {
          s.opening = openFd(s.path, 'r');
          const o = s.opening;
          try {
            s.fd = await o;
          } finally {
            s.opening = null;
          }
        } else await s.opening;
      } catch (e) {
        s.refs--;
        if (s.deleted) return -1;
        throw storageError(`cannot open segment ${s.path}`, e);
      }
    }
    if (s.deleted) {
      this.release(s);
      return -1;
    }
    return s.fd;
  }

  private release(s: FileSegment): void {
    s.refs--;
    s.lastUse = ++this.useTick;
    if (s.refs > 0 || s.fd < 0) return;
    if (s.deleted || this.closed) {
      this.closeSegmentFd(s);
      return;
    }
    // Keep a few idle sealed fds for readers; close the least recently used beyond that.
    let idle = 0;
    let lru: FileSegment | null = null;
    for (const x of this.segments) {
      if (x.fd >= 0 && x.refs === 0 && !x.writerHeld) {
        idle++;
        if (lru === null || x.lastUse < lru.lastUse) lru = x;
      }
    }
    if (idle > MAX_IDLE_SEALED_FDS && lru !== null) this.closeSegmentFd(lru);
  }

  private closeSegmentFd(s: FileSegment): void {
    const fd = s.fd;
    if (fd < 0) return;
    s.fd = -1;
    void closeFd(fd); // closeFd never rejects
  }

  private async closeAllFds(): Promise<void> {
    const ps: Promise<void>[] = [];
    for (const s of this.segments) {
      if (s.fd >= 0 && s.refs - (s.writerHeld ? 1 : 0) <= 0) {
        ps.push(closeFd(s.fd));
        s.fd = -1;
      }
    }
    await Promise.all(ps);
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  private checkReadable(): void {
    if (this.closed) throw err('MQ_ERR_CLOSED', `partition log ${this.name} is closed`);
  }

  read(offset: number, maxBytes: number): Promise<StoredBatch[]> {
    return this.readWith(offset, maxBytes, null);
  }

  /**
   * read() with the file bytes in a pooled slab (see read-pool.ts): the first file read of the
   * call goes into the slab, any further one (a frame larger than what is left of it) into a
   * fresh buffer. The slab goes straight back to the pool when no payload ended up in it.
   */
  async readLeased(offset: number, maxBytes: number): Promise<LeasedRead> {
    const pool = this.ctx.readPool;
    if (pool === undefined) return { batches: await this.read(offset, maxBytes), lease: undefined };
    const use: SlabUse = { slab: pool.take(), used: false };
    let batches: StoredBatch[];
    try {
      batches = await this.readWith(offset, maxBytes, use);
    } catch (e) {
      use.slab.release(); // no view of it left this call; no read into it is in flight
      throw e;
    }
    if (!use.used) {
      use.slab.release();
      return { batches, lease: undefined };
    }
    return { batches, lease: use.slab };
  }

  private async readWith(offset: number, maxBytes: number, slab: SlabUse | null): Promise<StoredBatch[]> {
    this.checkReadable();
    if (offset < this.startOffset) offset = this.startOffset;
    const out: StoredBatch[] = [];
    if (offset >= this.endOffset) return out;
    const segs = this.segments;
    const si = floorIndex(segs.length, (i) => segs[i]!.base, offset);
    const snapshot = segs.slice(Math.max(0, si));
    const rewrites = this.rewrites;
    let bytes = 0;
    const target = offset;
    for (const seg of snapshot) {
      const e = seg.index.floor(target);
      const pos = e < 0 ? 0 : seg.index.positions[e]!;
      const expected = e < 0 ? seg.base : seg.index.offsets[e]!;
      let stop = false;
      // A frame that would take the read past maxBytes is refused on its length alone, before
      // its bytes are read (only to be read again by the next read()).
      const admit = (frameBytes: number): boolean => {
        if (out.length > 0 && bytes + frameBytes - FRAME_HEADER_BYTES > maxBytes) {
          stop = true;
          return false;
        }
        return true;
      };
      const ok = await this.walk(seg, pos, expected, maxBytes, slab, (buf, q) => {
        const size = frameSize(buf, q);
        const base = frameBaseOffset(buf, q);
        const count = frameCount(buf, q);
        if (base + count <= target) return false;
        const plen = size - FRAME_HEADER_BYTES;
        if (out.length > 0 && bytes + plen > maxBytes) return (stop = true);
        out.push({
          baseOffset: base,
          count,
          timestamp: frameTimestamp(buf, q),
          format: frameFormat(buf, q),
          payload: buf.subarray(q + FRAME_HEADER_BYTES, q + size),
        });
        bytes += plen;
        if (bytes >= maxBytes) stop = true;
        return stop;
      }, admit);
      if (!ok || stop) break;
    }
    // A segment compacted (replaced) under this read: read again from the new one.
    if (out.length === 0 && this.rewrites !== rewrites && !this.closed) return this.readWith(offset, maxBytes, slab);
    return out;
  }

  async offsetForTimestamp(timestamp: number): Promise<number> {
    this.checkReadable();
    for (const seg of this.segments.slice()) {
      if (!(seg.maxTs >= timestamp)) continue;
      const e = seg.index.firstWithTimestampAtLeast(timestamp);
      if (e < 0) continue;
      let found = -1;
      const ok = await this.walk(seg, seg.index.positions[e]!, seg.index.offsets[e]!, MIN_READ, null, (buf, q) => {
        if (frameTimestamp(buf, q) >= timestamp) {
          found = frameBaseOffset(buf, q);
          return true;
        }
        return false;
      });
      if (found >= 0) return found;
      if (!ok) break;
    }
    return this.endOffset;
  }

  /**
   * Visits frames of `seg` from byte `pos` (whose frame must have base offset `expected`) until
   * `visit` returns true or the segment ends. Returns false if the segment was deleted meanwhile.
   * `slab`: the first file read of the call (not yet `used`) may go into it instead of a fresh
   * buffer.
   *
   * What is verified when: every frame taken from the file is CRC-checked here, on every read,
   * whether the kernel served it from the page cache or the disk (the process cannot tell which,
   * and a page-cache miss is exactly where a bad sector or a torn write shows up), and a bad frame
   * throws MQ_ERR_CORRUPT. Frames served from a write chunk are not: those bytes never left this
   * process (the CRC was computed over them when they were framed). Recovery (scan) checks the
   * CRC of every frame it rebuilds an index from.
   */
  private async walk(
    seg: FileSegment,
    pos: number,
    expected: number,
    maxBytes: number,
    slab: SlabUse | null,
    visit: (buf: Buffer, q: number) => boolean,
    admit?: (frameBytes: number) => boolean,
  ): Promise<boolean> {
    const limit = seg.size;
    let fd = -1;
    let fbuf: Buffer | null = null;
    let fstart = 0;
    let fend = 0;
    const readSize = Math.min(MAX_READ, Math.max(MIN_READ, maxBytes + 8192));
    try {
      while (pos < limit) {
        const c = this.findChunk(seg, pos);
        if (c !== null) {
          const cend = c.len;
          let q = pos - c.pos;
          while (q < cend) {
            if (frameBaseOffset(c.buf, q) !== expected) throw this.corrupt(seg, c.pos + q, `expected offset ${expected}`);
            expected += frameCount(c.buf, q);
            const size = frameSize(c.buf, q);
            if (visit(c.buf, q)) return true;
            q += size;
          }
          pos = c.pos + cend;
          continue;
        }
        if (seg.deleted) return false;
        const avail = seg.written;
        if (pos >= avail) throw err('MQ_ERR_STORAGE', `internal: segment ${seg.path} position ${pos} is neither written nor buffered`);
        // Make sure the whole frame at `pos` is in fbuf.
        let need = 4;
        for (;;) {
          if (fbuf !== null && pos >= fstart && pos + need <= fend) {
            if (need > 4) break;
            const len = fbuf.readUInt32LE(pos - fstart);
            if (len < FRAME_FIXED_AFTER_LENGTH || pos + 4 + len > avail) throw this.corrupt(seg, pos, 'bad frame length');
            need = 4 + len;
            if (admit !== undefined && !admit(need)) return true;
            if (pos + need <= fend) break;
          }
          if (fd < 0) {
            fd = await this.acquire(seg);
            if (fd < 0) return false;
          }
          const slabBuf = slab !== null ? slab.slab.buf : null;
          if (fbuf !== null && fbuf === slabBuf && pos >= fstart && pos <= fend && pos - fstart + need <= fbuf.length) {
            // The frame fits the rest of the slab: read what is missing after what is there (no
            // copy, and no fresh buffer holding a frame the slab only had the head of).
            const at = fend - fstart;
            const want = pos + need - fend; // just the frame's missing bytes: the first read covered maxBytes
            const got = await readAt(fd, fbuf, at, want, fend);
            if (pos + need > fend + got) throw this.corrupt(seg, pos, `segment file is shorter than its index (${fend + got} bytes)`);
            fend += got;
            continue;
          }
          const len = Math.min(Math.max(need, readSize), avail - pos);
          // The slab only for the call's first file read: once used, views of it are in `out`.
          let b: Buffer;
          if (slab !== null && !slab.used && len <= READ_SLAB_BYTES) {
            slab.used = true;
            b = slab.slab.buf;
          } else b = Buffer.allocUnsafe(len);
          // The head of a frame that did not fit the previous read is copied, not read again: with
          // frames a little larger than the read size (e.g. 512 × 1 KiB records) every frame was
          // read ~twice.
          const have = fbuf !== null && pos >= fstart && pos < fend ? fbuf.copy(b, 0, pos - fstart, fend - fstart) : 0;
          const n = have + (await readAt(fd, b, have, len - have, pos + have));
          if (n < need) throw this.corrupt(seg, pos, `segment file is shorter than its index (${pos + n} bytes)`);
          fbuf = b;
          fstart = pos;
          fend = pos + n;
        }
        const q = pos - fstart;
        const check = checkFrame(fbuf!, q, fend - fstart, true);
        if (check !== FrameCheck.Ok) throw this.corrupt(seg, pos, describeFrameCheck(check));
        if (frameBaseOffset(fbuf!, q) !== expected) throw this.corrupt(seg, pos, `expected offset ${expected}`);
        expected += frameCount(fbuf!, q);
        if (visit(fbuf!, q)) return true;
        pos += need;
      }
      return true;
    } finally {
      if (fd >= 0) this.release(seg);
    }
  }

  private findChunk(seg: FileSegment, pos: number): Chunk | null {
    const cs = this.chunks;
    for (let i = cs.length - 1; i >= 0; i--) {
      const c = cs[i]!;
      if (c.seg === seg && pos >= c.pos && pos < c.pos + c.len) {
        c.exposed = true;
        return c;
      }
    }
    return null;
  }

  private corrupt(seg: FileSegment, pos: number, why: string): OmnibusError {
    return err('MQ_ERR_CORRUPT', `partition log ${this.name}: corrupt frame in ${seg.path} at byte ${pos}: ${why}`);
  }

  // -------------------------------------------------------------------------------------------
  // Truncation, retention, reset
  // -------------------------------------------------------------------------------------------

  private checkWritable(): void {
    if (this.closed) throw err('MQ_ERR_CLOSED', `partition log ${this.name} is closed`);
    if (this.failure) throw this.failure;
  }

  /** Takes segments out of the log now; their files go in append order via the flusher. */
  private detach(n: number): FileSegment[] {
    const gone = this.segments.splice(0, n);
    for (const s of gone) {
      s.deleted = true;
      this.bytes -= s.size;
    }
    return gone;
  }

  private async destroy(s: FileSegment): Promise<void> {
    await unlinkIfExists(s.path);
    await unlinkIfExists(segmentIndexPath(this.dir, s.base));
    this.releaseWriter(s);
    if (s.refs <= 0) this.closeSegmentFd(s);
    for (const c of this.chunks.filter((x) => x.seg === s)) {
      this.ctx.cache.release(c);
      this.dropChunk(c);
    }
  }

  async truncateBefore(offset: number, opts?: TruncateOptions): Promise<void> {
    this.checkWritable();
    const active = this.segments[this.segments.length - 1]!;
    let rolled: FileSegment | null = null;
    if (offset >= active.end && active.size > 0 && active.size >= (opts?.minRollBytes ?? 0)) rolled = this.roll();
    let n = 0;
    while (n < this.segments.length - 1 && this.segments[n]!.end <= offset) n++;
    if (n === 0 && rolled === null) return;
    const gone = this.detach(n);
    await this.enqueue(async () => {
      // Create the new segment first: a crash in between leaves a contiguous suffix of the old
      // log. The old segments' frames were all written before this command (it runs in append
      // order); they are synced before the new file's entry so that after a power loss too the
      // new segment never exists without the end of the one before it.
      if (rolled !== null && !rolled.deleted) {
        await this.syncSegments(gone);
        await this.writerFd(rolled);
      }
      for (const s of gone) await this.destroy(s);
      if (this.fsync !== 'never') await fsyncDir(this.dir);
    });
  }

  async enforceRetention(opts: { maxBytes?: number; maxAgeMs?: number; now: number }): Promise<void> {
    this.checkWritable();
    const cutoff = opts.maxAgeMs === undefined ? -Infinity : opts.now - opts.maxAgeMs;
    let size = this.bytes;
    let n = 0;
    while (n < this.segments.length - 1) {
      const s = this.segments[n]!;
      if ((opts.maxBytes !== undefined && size > opts.maxBytes) || s.maxTs < cutoff) {
        size -= s.size;
        n++;
      } else break;
    }
    if (n === 0) return;
    const gone = this.detach(n);
    await this.enqueue(async () => {
      for (const s of gone) await this.destroy(s);
      if (this.fsync !== 'never') await fsyncDir(this.dir);
    });
  }

  sealedSegments(): { base: number; end: number }[] {
    const out: { base: number; end: number }[] = [];
    const segs = this.segments;
    for (let i = 0; i < segs.length - 1; i++) {
      const s = segs[i]!;
      if (s.sealed && !s.deleted && !this.pendingSeal.includes(s) && s.end > s.base) out.push({ base: s.base, end: s.end });
    }
    return out;
  }

  /**
   * Compaction's crash-safe swap, run by the flusher in append order with truncation and
   * retention: `<base>.log.compact` is written and fdatasynced, the old index file is unlinked
   * (and the unlink made durable, so a stale index can never describe the new file), then the
   * temp file is renamed over `<base>.log` and the directory fsynced. A crash before the rename
   * leaves the old segment plus a temp file that recovery deletes; after it, the new segment,
   * rescanned if its index was not written yet. Readers holding the old file keep reading its
   * inode; later reads use the new one.
   */
  async rewriteSegment(base: number, end: number, batches: readonly BatchInput[]): Promise<boolean> {
    this.checkWritable();
    let covered = 0;
    for (const b of batches) covered += b.count;
    if (covered !== end - base || batches.length === 0) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `rewrite of [${base}, ${end}) must cover ${end - base} offsets, got ${covered}`);
    }
    const total = validateBatches(batches);
    let done = false;
    await this.enqueue(async () => {
      const i = this.segments.findIndex((x) => x.base === base);
      const old = this.segments[i];
      if (old === undefined || i === this.segments.length - 1 || old.end !== end || !old.sealed || old.deleted || this.pendingSeal.includes(old)) return;
      const fresh = new FileSegment(base, old.path);
      const buf = Buffer.allocUnsafe(total);
      let pos = 0;
      let off = base;
      for (const b of batches) {
        writeFrame(buf, pos, b, off);
        fresh.index.add(off, pos, b.timestamp);
        if (b.timestamp > fresh.maxTs) fresh.maxTs = b.timestamp;
        pos += FRAME_HEADER_BYTES + b.payload.length;
        off += b.count;
      }
      fresh.index.trim();
      fresh.size = fresh.written = pos;
      fresh.end = off;
      fresh.sealed = true;
      const tmp = `${old.path}.compact`;
      const fd = await openFd(tmp, 'w');
      try {
        await writeAll(fd, buf, 0, pos, 0);
        if (this.fsync !== 'never') await fdatasync(fd);
      } finally {
        await closeFd(fd);
      }
      // Hold the old file open across the rename, so a reader never opens the new file through
      // the old segment's (stale) index.
      if ((await this.acquire(old)) < 0) {
        await unlinkIfExists(tmp);
        return;
      }
      try {
        await unlinkIfExists(segmentIndexPath(this.dir, base));
        if (this.fsync !== 'never') await fsyncDir(this.dir);
        await fs.promises.rename(tmp, old.path);
        if (this.fsync !== 'never') await fsyncDir(this.dir);
        // Swap in memory: walks of `old` still in flight stop (deleted) and their read retries.
        this.segments[this.segments.indexOf(old)] = fresh;
        old.deleted = true;
        this.rewrites++;
        this.bytes += pos - old.size;
      } finally {
        this.release(old);
      }
      for (const c of this.chunks.filter((x) => x.seg === old)) {
        this.ctx.cache.release(c);
        this.dropChunk(c);
      }
      await this.writeIndexFile(fresh);
      done = true;
    });
    return done;
  }

  async reset(nextOffset: number): Promise<void> {
    this.checkWritable();
    if (!Number.isSafeInteger(nextOffset) || nextOffset < 0) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `reset offset must be a non-negative integer, got ${String(nextOffset)}`);
    }
    const gone = this.detach(this.segments.length);
    const seg = new FileSegment(nextOffset, segmentLogPath(this.dir, nextOffset));
    this.segments.push(seg);
    await this.enqueue(async () => {
      // Crash-safe order: `<base>.log.reset` exists (durably) before any old file is unlinked;
      // recovery finishes a reset it finds (deletes every .log, renames .reset into place).
      const tmp = `${seg.path}.reset`;
      const fd = await openFd(tmp, 'w+');
      try {
        if (this.fsync !== 'never') await fsyncDir(this.dir);
        for (const s of gone.reverse()) await this.destroy(s);
        await fs.promises.rename(tmp, seg.path);
        if (this.fsync !== 'never') await fsyncDir(this.dir);
      } catch (e) {
        await closeFd(fd);
        throw e;
      }
      if (seg.deleted) {
        await closeFd(fd);
        await unlinkIfExists(seg.path);
        return;
      }
      seg.fd = fd;
      seg.writerHeld = true;
      seg.refs++;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Close
  // -------------------------------------------------------------------------------------------

  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    let failure: unknown = null;
    this.closed = true; // refuse appends and reads from now on; the flush below drains what came before
    if (!this.failure) {
      try {
        await this.enqueue(async () => {
          for (const s of this.pendingSeal.splice(0)) if (!s.deleted && s.written >= s.size) await this.seal(s);
          if (this.fsync !== 'never') await this.syncDirty();
        });
      } catch (e) {
        failure = e;
      }
    }
    this.clearTimer();
    for (const s of this.segments) this.releaseWriter(s);
    await this.closeAllFds();
    for (const c of this.chunks) this.ctx.cache.release(c);
    this.chunks = [];
    for (const w of this.writeWaiters.splice(0)) w.resolve();
    for (const w of this.syncWaiters.splice(0)) w.resolve();
    this.ctx.onClose(this);
    if (failure !== null) throw storageError(`closing partition log ${this.name}`, failure);
  }

  private clearTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // -------------------------------------------------------------------------------------------
  // Recovery
  // -------------------------------------------------------------------------------------------

  private log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.ctx.logger?.(level, message, { partition: this.name, ...fields });
  }

  private async recover(): Promise<void> {
    await mkdirp(this.dir);
    let names = await fs.promises.readdir(this.dir);

    // Finish an interrupted reset (see reset()).
    const resets = names.filter((n) => RESET_FILE_RE.test(n)).sort();
    if (resets.length > 0) {
      const keep = resets[resets.length - 1]!;
      for (const n of names) {
        if ((LOG_FILE_RE.test(n) || INDEX_FILE_RE.test(n) || RESET_FILE_RE.test(n)) && n !== keep) {
          await unlinkIfExists(path.join(this.dir, n));
        }
      }
      await fs.promises.rename(path.join(this.dir, keep), path.join(this.dir, keep.slice(0, -'.reset'.length)));
      await fsyncDir(this.dir);
      this.log('warn', 'finished a reset interrupted by a crash', { file: keep });
      names = await fs.promises.readdir(this.dir);
    }
    for (const n of names) if (n.endsWith('.index.tmp')) await unlinkIfExists(path.join(this.dir, n));
    // A compaction rewrite that crashed before its rename: the original segment is intact.
    for (const n of names) {
      if (n.endsWith('.log.compact')) {
        await unlinkIfExists(path.join(this.dir, n));
        this.log('info', 'deleted an unfinished compaction rewrite', { file: n });
      }
    }

    const bases = names
      .map((n) => LOG_FILE_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);

    if (bases.length === 0) {
      const seg = new FileSegment(0, segmentLogPath(this.dir, 0));
      seg.create = true;
      this.segments.push(seg);
      await this.writerFd(seg);
      return;
    }

    let prevEnd = -1;
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      if (!Number.isSafeInteger(base)) throw err('MQ_ERR_CORRUPT', `segment file name ${segmentLogPath(this.dir, base)} is out of range`);
      const seg = new FileSegment(base, segmentLogPath(this.dir, base));
      if (prevEnd >= 0 && base !== prevEnd) {
        throw err('MQ_ERR_CORRUPT', `partition log ${this.name}: segment ${seg.path} starts at ${base} but the previous segment ends at ${prevEnd}`);
      }
      const isLast = i === bases.length - 1;
      const st = await fs.promises.stat(seg.path);
      let loaded = false;
      if (!isLast) loaded = await this.loadIndexFile(seg, st.size);
      let truncated = false;
      if (!loaded) truncated = await this.scan(seg, st.size, !isLast);
      this.segments.push(seg);
      this.bytes += seg.size;
      prevEnd = seg.end;
      if (!isLast && seg.size === 0 && !truncated && i === 0) {
        // truncateBefore rolled this segment, its records were settled and it was being replaced:
        // a crash after the next segment's file was created and before this one was deleted leaves
        // it empty (its frames were never written, being deleted). No data: finish the deletion.
        this.segments.pop();
        await unlinkIfExists(seg.path);
        await unlinkIfExists(segmentIndexPath(this.dir, base));
        this.log('warn', 'deleted an empty first segment left by an interrupted truncation', { file: seg.path });
        prevEnd = -1;
        continue;
      }
      if (!isLast && seg.size === 0 && !truncated) {
        throw err('MQ_ERR_CORRUPT', `partition log ${this.name}: sealed segment ${seg.path} is empty`);
      }
      if (truncated && !isLast) {
        for (const later of bases.slice(i + 1)) {
          await unlinkIfExists(segmentLogPath(this.dir, later));
          await unlinkIfExists(segmentIndexPath(this.dir, later));
          this.log('warn', 'deleted a segment after a truncated one', { file: segmentLogPath(this.dir, later) });
        }
        await fsyncDir(this.dir);
        break;
      }
    }
    for (let i = 0; i < this.segments.length - 1; i++) this.segments[i]!.sealed = true;
    const active = this.segments[this.segments.length - 1]!;
    await unlinkIfExists(segmentIndexPath(this.dir, active.base));
    await this.writerFd(active);
  }

  private async loadIndexFile(seg: FileSegment, fileSize: number): Promise<boolean> {
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(segmentIndexPath(this.dir, seg.base));
    } catch {
      return false;
    }
    const parsed = SparseIndex.deserialize(buf);
    if (parsed === null || parsed.segmentSize !== fileSize || parsed.index.offsets[0] !== seg.base || parsed.endOffset <= seg.base) {
      this.log('info', 'ignoring a stale or torn index file; rescanning the segment', { file: seg.path });
      return false;
    }
    seg.index = parsed.index;
    seg.size = seg.written = fileSize;
    seg.end = parsed.endOffset;
    seg.maxTs = parsed.maxTimestamp;
    return true;
  }

  /**
   * Rebuilds the index of `seg` by reading it front to back with CRC checks. Truncates the file
   * at the first torn or bad frame and returns true if it did. For a sealed segment, persists the
   * rebuilt index so the next open skips the scan.
   */
  private async scan(seg: FileSegment, fileSize: number, sealed: boolean): Promise<boolean> {
    const fd = await openFd(seg.path, 'r+');
    try {
      let buf = Buffer.allocUnsafe(Math.min(SCAN_READ, Math.max(fileSize, 64)));
      let bstart = 0;
      let bend = 0;
      let pos = 0;
      let expected = seg.base;
      let bad: FrameCheck | null = null;
      while (pos < fileSize) {
        let need = 4;
        let check: FrameCheck = FrameCheck.Ok;
        for (;;) {
          if (pos >= bstart && pos + need <= bend) {
            if (need === 4) {
              const len = buf.readUInt32LE(pos - bstart);
              if (len < FRAME_FIXED_AFTER_LENGTH) {
                check = FrameCheck.BadLength;
                break;
              }
              need = 4 + len;
              if (pos + need > fileSize) {
                check = FrameCheck.Short;
                break;
              }
              continue;
            }
            break;
          }
          if (pos + need > fileSize) {
            check = FrameCheck.Short;
            break;
          }
          if (need > buf.length) buf = Buffer.allocUnsafe(need);
          const len = Math.min(buf.length, fileSize - pos);
          const n = await readAt(fd, buf, 0, len, pos);
          bstart = pos;
          bend = pos + n;
          if (n < need) {
            check = FrameCheck.Short;
            break;
          }
        }
        if (check === FrameCheck.Ok) check = checkFrame(buf, pos - bstart, bend - bstart, true);
        if (check !== FrameCheck.Ok) {
          bad = check;
          break;
        }
        const q = pos - bstart;
        const base = frameBaseOffset(buf, q);
        if (base !== expected) {
          throw err(
            'MQ_ERR_CORRUPT',
            pos === 0
              ? `partition log ${this.name}: first frame of ${seg.path} has offset ${base}, not the ${seg.base} of its file name`
              : `partition log ${this.name}: frame at byte ${pos} of ${seg.path} has offset ${base}, expected ${expected}`,
          );
        }
        const ts = frameTimestamp(buf, q);
        seg.index.add(base, pos, ts);
        if (ts > seg.maxTs) seg.maxTs = ts;
        expected = base + frameCount(buf, q);
        pos += need;
      }
      seg.size = seg.written = pos;
      seg.end = expected;
      if (bad !== null) {
        await new Promise<void>((resolve, reject) => fs.ftruncate(fd, pos, (e) => (e ? reject(e) : resolve())));
        await fdatasync(fd);
        this.log('warn', 'truncated a torn or corrupt segment tail', {
          file: seg.path,
          at: pos,
          droppedBytes: fileSize - pos,
          reason: describeFrameCheck(bad),
        });
      }
      if (sealed && bad === null && pos > 0) {
        seg.index.trim();
        await this.writeIndexFile(seg);
      }
      return bad !== null;
    } finally {
      await closeFd(fd);
    }
  }
}
