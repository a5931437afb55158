/**
 * ReadPool: recycled buffers for file reads whose payloads have a known lifetime
 * (PartitionStore.readLeased).
 *
 * Why: a plain read() allocates a fresh buffer per file read (up to 1 MiB) and hands out views
 * of it that must stay valid for ever, so the buffer is freed only by the garbage collector. The
 * memory is external to the V8 heap and, once a buffer outlives a scavenge or two (records in
 * flight to a slow socket), only a mark-compact frees it; V8 starts one each time external
 * memory has grown by ~64 MiB. A 10 KiB MQTT drain from the file store (~380 MB/s read) ran a
 * mark-compact every 50–300 ms of 4–25 ms each with the heap itself at ~10 MB, and every
 * fresh buffer cost its allocation, and on first use its page faults, again. A slab whose every
 * holder has released it goes back to the pool instead and the next read reuses it.
 *
 * Safety rule: a slab is reused only after its reference count fell to zero AND it was never
 * marked escaped. The reader of a leased read holds one reference; whoever keeps a view of the
 * payloads past that (a delivery, a socket write in flight) must retain() and later release();
 * anyone who hands a view to code that will not release (user code, an untracked queue) must
 * escape() the slab, which then stays valid for ever and is left to the GC like a plain read's
 * buffer. Releases beyond the references taken are ignored (never a double recycle).
 *
 * Memory bound: at most `maxFree` idle slabs (default 16 × 1 MiB); slabs in use are bounded by
 * what holds them (the engine's prefetch windows), as the views of plain reads are.
 */

import type { ReadLease } from '../types.js';

/** Size of a pooled slab: the file store's largest read (partition.ts MAX_READ). */
export const READ_SLAB_BYTES = 1024 * 1024;
const DEFAULT_MAX_FREE = 16;

export class ReadSlab implements ReadLease {
  #refs = 1;
  #escaped = false;
  #done = false;
  constructor(
    private readonly pool: ReadPool,
    readonly buf: Buffer,
  ) {}

  get refs(): number {
    return this.#refs;
  }
  get escaped(): boolean {
    return this.#escaped;
  }

  retain(): void {
    if (this.#done) return; // already back in the pool or abandoned: no holder can be added
    this.#refs++;
  }

  release(): void {
    if (this.#done || this.#refs <= 0) return;
    if (--this.#refs > 0) return;
    this.#done = true;
    if (!this.#escaped) this.pool.recycle(this.buf);
  }

  escape(): void {
    this.#escaped = true;
  }
}

export class ReadPool {
  readonly #free: Buffer[] = [];
  /** Slabs handed out and slabs reused, for tests and benchmarks. */
  allocated = 0;
  reused = 0;

  constructor(readonly maxFree = DEFAULT_MAX_FREE) {}

  /** A slab of READ_SLAB_BYTES held once by the caller. Its contents are garbage. */
  take(): ReadSlab {
    let b = this.#free.pop();
    if (b === undefined) {
      b = Buffer.allocUnsafeSlow(READ_SLAB_BYTES);
      this.allocated++;
    } else this.reused++;
    return new ReadSlab(this, b);
  }

  get freeCount(): number {
    return this.#free.length;
  }

  /** @internal Called by ReadSlab.release at zero references. */
  recycle(b: Buffer): void {
    if (this.#free.length < this.maxFree) this.#free.push(b);
  }
}
