/**
 * Recycled buffers for request frames that arrive spread over several socket reads (in practice:
 * Produce requests; librdkafka sends up to 1 MB each, read by the socket 64 KiB at a time).
 *
 * Why: the frame splitter copies such a frame once into a buffer of its own. A fresh 1 MB
 * Buffer.allocUnsafe comes from mmap/brk and costs a page fault per 4 KiB on first touch — on the
 * 2-core VM measured here ~250-280 MB/s of fresh memory, i.e. ~4 ms per 1 MB request, more than
 * the copy itself. Under kcat produce at 128 B the broker took ~16,000 such faults per 1,000,000
 * records (half the bytes received) before this pool.
 *
 * Safety: a buffer goes back to the pool only when the handler said it keeps no view of the
 * request's bytes (RequestContext.requestBytesFree) and its work has finished; otherwise it is
 * simply left to the GC. Buffers are sized to the next power of two ≥ the frame (≥ MIN_POOLED), so
 * requests of slightly different sizes share them; at most MAX_FREE_BYTES sit idle.
 */

/** Frames below this are cheap to allocate (and Node pools allocations under 4 KiB anyway). */
export const MIN_POOLED = 64 * 1024;
/** Idle bytes kept: 16 pipelined 1 MB requests (the session's MAX_RELEASED) times two connections. */
const MAX_FREE_BYTES = 32 * 1024 * 1024;
/** Larger frames are rare (the default max request is 100 MiB): not worth keeping. */
const MAX_POOLED = 16 * 1024 * 1024;

export class FramePool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  /** Buffers handed out and not yet returned: only these may come back. */
  readonly #out = new WeakSet<ArrayBuffer>();
  #freeBytes = 0;

  /** A buffer of exactly `size` bytes (contents are garbage) for a frame of that size. */
  take(size: number): Buffer {
    if (size < MIN_POOLED || size > MAX_POOLED) return Buffer.allocUnsafe(size);
    let cap = MIN_POOLED;
    while (cap < size) cap *= 2;
    const list = this.#free.get(cap);
    let ab = list?.pop();
    if (ab) this.#freeBytes -= cap;
    else ab = new ArrayBuffer(cap);
    this.#out.add(ab);
    return Buffer.from(ab, 0, size);
  }

  /** Whether `frame` lies in a buffer of this pool that is currently handed out. */
  owns(frame: Buffer): boolean {
    return frame.buffer instanceof ArrayBuffer && this.#out.has(frame.buffer);
  }

  /** Returns the buffer under `frame` (no view of it may be used afterwards). */
  give(frame: Buffer): void {
    const ab = frame.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.#out.delete(ab)) return;
    if (this.#freeBytes + ab.byteLength > MAX_FREE_BYTES) return;
    let list = this.#free.get(ab.byteLength);
    if (!list) this.#free.set(ab.byteLength, (list = []));
    list.push(ab);
    this.#freeBytes += ab.byteLength;
  }

  /** Idle bytes held (tests, diagnostics). */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}
