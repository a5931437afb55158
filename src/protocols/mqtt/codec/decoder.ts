/**
 * Streaming decoder: socket chunks in, whole packets out, whatever the chunking (one byte at a
 * time or many packets per chunk).
 *
 * Memory: a packet that arrives in one chunk is decoded from a view of that chunk (no copy); a
 * packet split across chunks is copied once, when its last byte arrives — chunks are kept in a
 * list until then, so a 10 MiB packet in 64 KiB chunks costs one copy, not 160. A packet whose
 * header announces more than `maxPacketSize` bytes is refused (0x95) before its body is buffered.
 *
 * Errors: `push` throws only MqttCodecError; after one, the decoder is unusable (the connection
 * closes: MQTT has no resynchronisation).
 */
import { MqttCodecError, malformed, RC_PACKET_TOO_LARGE } from './errors.js';
import { decodeBody } from './decode.js';
import type { Packet, ProtocolVersion } from './packets.js';

export interface DecoderOptions {
  /** Largest whole packet (fixed header included) accepted, in bytes. Default 268,435,460. */
  maxPacketSize?: number;
  /** Protocol level for packets after CONNECT; set it once CONNECT is decoded. Default 4. */
  version?: ProtocolVersion;
}

export class MqttDecoder {
  version: ProtocolVersion;
  maxPacketSize: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Total size of the packet being assembled, or -1 when its fixed header is incomplete. */
  #need = -1;
  #first = 0;
  #headerLen = 0;
  #failed = false;
  /**
   * Optional fast path for the hottest inbound packet of a subscriber: a success PUBACK
   * (`40 02 id id`, any protocol level) in an unsplit chunk is handed over as its packet id
   * without building a Packet object. Returns false to have it decoded and emitted as usual.
   * A 1000-message window of 1 KiB deliveries brings ~60 PUBACKs per socket read.
   */
  onPuback: ((packetId: number) => boolean) | undefined;

  constructor(opts: DecoderOptions = {}) {
    this.version = opts.version ?? 4;
    this.maxPacketSize = opts.maxPacketSize ?? 268_435_460;
  }

  /** Bytes received but not yet decoded. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Feeds bytes; returns the packets completed by them, in order. `onPacket`, when given, receives
   * each packet as soon as it is decoded (so a CONNECT can set `version` before the next packet of
   * the same chunk is decoded) and nothing is returned.
   */
  push(chunk: Buffer, onPacket?: (p: Packet) => void): Packet[] {
    if (this.#failed) throw malformed('decoder used after an error');
    const out: Packet[] = [];
    const emit = onPacket ?? ((p: Packet) => void out.push(p));
    if (chunk.length === 0) return out;
    try {
      // Fast path: nothing buffered, decode straight from the chunk.
      let pos = 0;
      if (this.#buffered === 0) {
        const hook = this.onPuback;
        while (pos < chunk.length) {
          if (hook !== undefined && chunk[pos] === 0x40 && chunk[pos + 1] === 2 && pos + 4 <= chunk.length) {
            const id = (chunk[pos + 2]! << 8) | chunk[pos + 3]!;
            if (id !== 0 && hook(id)) {
              pos += 4;
              continue;
            }
          }
          const h = this.#header(chunk, pos, chunk.length - pos);
          if (h === undefined || pos + h > chunk.length) break;
          const p = decodeBody(this.#first, chunk, pos + this.#headerLen, pos + h, this.version);
          this.#need = -1;
          pos += h;
          emit(p);
        }
        if (pos === chunk.length) return out;
        chunk = chunk.subarray(pos);
      }
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      for (;;) {
        if (this.#need < 0) {
          const head = this.#peek(Math.min(5, this.#buffered));
          const h = this.#header(head, 0, head.length);
          if (h === undefined) return out;
        }
        if (this.#buffered < this.#need) return out;
        const whole = this.#take(this.#need);
        const p = decodeBody(this.#first, whole, this.#headerLen, whole.length, this.version);
        this.#need = -1;
        emit(p);
        if (this.#buffered === 0) return out;
      }
    } catch (e) {
      this.#failed = true;
      this.#chunks = [];
      this.#buffered = 0;
      if (e instanceof MqttCodecError) throw e;
      // Defensive: a RangeError from Buffer methods would be a reader bug; report it as malformed.
      throw malformed(e instanceof Error ? e.message : String(e));
    }
  }

  /**
   * Parses the fixed header at buf[pos, pos+avail). Returns the whole packet size (and sets
   * #first/#headerLen/#need), or undefined if more bytes are needed.
   */
  #header(buf: Buffer, pos: number, avail: number): number | undefined {
    if (avail < 2) return undefined;
    let len = 0;
    let mul = 1;
    let i = 1;
    for (;; i++) {
      if (i > 4) throw malformed('remaining length is longer than 4 bytes');
      if (i >= avail) return undefined;
      const b = buf[pos + i]!;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
    }
    const total = 1 + i + len;
    if (total > this.maxPacketSize) {
      throw new MqttCodecError(RC_PACKET_TOO_LARGE, `packet of ${total} bytes exceeds the maximum of ${this.maxPacketSize}`);
    }
    this.#first = buf[pos]!;
    this.#headerLen = 1 + i;
    this.#need = total;
    return total;
  }

  /** The first n buffered bytes (n ≤ 5), copied only if they span chunks. */
  #peek(n: number): Buffer {
    const c0 = this.#chunks[0]!;
    if (c0.length >= n) return c0.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let p = 0;
    for (const c of this.#chunks) {
      const k = Math.min(c.length, n - p);
      c.copy(out, p, 0, k);
      p += k;
      if (p === n) break;
    }
    return out;
  }

  /** Removes and returns the first n buffered bytes (a view when they are in one chunk). */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const c0 = this.#chunks[0]!;
    if (c0.length >= n) {
      if (c0.length === n) this.#chunks.shift();
      else this.#chunks[0] = c0.subarray(n);
      return c0.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let p = 0;
    while (p < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.length, n - p);
      c.copy(out, p, 0, k);
      p += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    return out;
  }
}
