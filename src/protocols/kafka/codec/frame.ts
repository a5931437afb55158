/**
 * Streaming splitter of size-prefixed Kafka frames (requests or responses):
 *
 *   Frame = Size:INT32 (bytes that follow, ≥ 0) Payload[Size]
 *
 * `push(chunk, onFrame)` calls onFrame with each complete payload (size prefix stripped), in order.
 * A payload that lies entirely inside one chunk is passed as a view of that chunk (no copy; the
 * common case for requests under the socket's 64 KiB read size); a payload spread over chunks is
 * assembled with exactly one copy into a buffer from the constructor's `alloc` once the last byte
 * arrives (never a quadratic re-concat; bytes after the payload stay views of their chunk). Partial payloads are kept as a list of chunks, so a peer announcing 100 MiB and
 * sending 10 bytes costs 10 bytes, not a 100 MiB allocation.
 *
 * A negative size or one above `maxFrameSize` (default 100 MiB, Kafka's socket.request.max.bytes
 * is 100 MiB too) throws a fatal KafkaCodecError: the stream cannot be resynchronised, so the
 * splitter refuses further input and the session must close the connection.
 *
 * It does not parse headers, bound the number of frames per chunk, or apply back-pressure: the
 * session pauses the socket if it has too many requests in flight.
 */
import { KafkaCodecError, KafkaErrorCode } from './errors.js';

export const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024;

export class FrameSplitter {
  readonly maxFrameSize: number;
  #parts: Buffer[] = [];
  #have = 0;
  /** Payload size of the frame being assembled, or -1 while its size prefix is incomplete. */
  #need = -1;
  #failed: KafkaCodecError | null = null;
  readonly #alloc: (size: number) => Buffer;

  /**
   * `alloc` provides the buffer a spread frame is assembled in (default Buffer.allocUnsafe); the
   * server passes a pool of recycled buffers (server/frame-pool.ts) to avoid touching fresh memory.
   */
  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE, alloc: (size: number) => Buffer = (n) => Buffer.allocUnsafe(n)) {
    this.maxFrameSize = maxFrameSize;
    this.#alloc = alloc;
  }

  /** Bytes buffered for an incomplete frame. */
  get pending(): number {
    return this.#have;
  }

  #check(size: number): void {
    if (size < 0 || size > this.maxFrameSize) {
      this.#failed = new KafkaCodecError(
        KafkaErrorCode.INVALID_REQUEST,
        size < 0 ? `negative frame size ${size}` : `frame of ${size} bytes exceeds the maximum of ${this.maxFrameSize}`,
        { fatal: true },
      );
      this.#parts = [];
      this.#have = 0;
      throw this.#failed;
    }
  }

  push(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    if (this.#failed) throw this.#failed;
    let off = 0;
    const len = chunk.length;
    // Fast path: nothing buffered, whole frames inside this chunk are emitted as views.
    while (this.#have === 0 && len - off >= 4) {
      const size = chunk.readInt32BE(off);
      this.#check(size);
      if (len - off - 4 < size) break;
      const payload = chunk.subarray(off + 4, off + 4 + size);
      off += 4 + size;
      onFrame(payload);
      if (this.#failed) return;
    }
    if (off === len) return;
    // Slow path: accumulate.
    this.#parts.push(off === 0 ? chunk : chunk.subarray(off));
    this.#have += len - off;
    for (;;) {
      if (this.#need < 0) {
        if (this.#have < 4) return;
        const head = this.#parts[0]!.length >= 4 ? this.#parts[0]! : Buffer.concat(this.#parts, 4);
        const size = head.readInt32BE(0);
        this.#check(size);
        this.#need = size;
      }
      if (this.#have < this.#need + 4) return;
      const need = this.#need;
      let payload: Buffer;
      let rest: Buffer[] | undefined;
      if (this.#parts[0]!.length >= need + 4) {
        const first = this.#parts[0]!;
        payload = first.subarray(4, 4 + need);
        rest = first.length > need + 4 ? [first.subarray(need + 4), ...this.#parts.slice(1)] : this.#parts.slice(1);
      } else {
        // Copy exactly the payload; the bytes after it stay views of their chunk (a concat of
        // everything buffered would copy the next frame's first bytes twice).
        payload = this.#alloc(need);
        const parts = this.#parts;
        let skip = 4;
        let at = 0;
        let i = 0;
        for (; i < parts.length; i++) {
          const part = parts[i]!;
          if (skip >= part.length) {
            skip -= part.length;
            continue;
          }
          const from = skip;
          skip = 0;
          const n = Math.min(part.length - from, need - at);
          if (n > 0) part.copy(payload, at, from, from + n);
          at += n;
          if (from + n < part.length) {
            rest = [part.subarray(from + n), ...parts.slice(i + 1)];
            break;
          }
          if (at === need) {
            i++;
            break;
          }
        }
        rest ??= this.#parts.slice(i);
      }
      this.#parts = rest;
      this.#have -= need + 4;
      this.#need = -1;
      onFrame(payload);
      if (this.#have === 0) return;
    }
  }
}
