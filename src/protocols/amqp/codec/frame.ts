/**
 * AMQP 0-9-1 framing: a streaming parser (bytes → frames) and frame writers (frames → bytes).
 *
 * Wire layout (spec §4.2.3): type u8, channel u16, size u32, payload[size], frame-end 0xCE.
 * A connection starts with the 8-byte protocol header `AMQP\x00\x00\x09\x01` (client → server).
 *
 * What the parser does:
 * - Detects the protocol header (optional) and reports a mismatch as a `protocol-header` frame
 *   with `ok: false` (the session then writes PROTOCOL_HEADER and closes, like RabbitMQ). It
 *   reports as soon as one of the first four bytes differs from "AMQP" (HTTP or TLS garbage is
 *   rejected after one byte), otherwise after all 8.
 * - Frames: method payloads are decoded to `{classId, methodId, name, args}`; content headers to
 *   `{classId, weight, bodySize, properties, rawProperties}`; body payloads are Buffer views;
 *   heartbeats are a shared constant frame.
 * - Enforces a configurable max frame size as soon as the 7-byte frame header is in (so a peer
 *   announcing a 4 GB frame is rejected before any of it is buffered), and checks frame-end.
 * - Optionally (default on) tracks per-channel content sequencing: after a content-carrying method
 *   (basic.publish …) the next frames on that channel must be one content header of the same class
 *   and then body frames summing exactly to bodySize. Anything else is 505 UNEXPECTED_FRAME.
 * - Checks the connection class is used on channel 0 only and other classes never on 0 (503).
 *
 * What it does NOT do: negotiate anything, reassemble bodies into one Buffer (the session does,
 * often zero-copy for single-frame bodies), check method direction (a client sending
 * basic.deliver is a session-level 503/540 decision), enforce channel_max, or handle heartbeat
 * timing. It keeps no state beyond framing and the content sequence per channel.
 *
 * Memory: bytes the parser copies are at most one partial frame (≤ maxFrameSize) plus a 7-byte
 * staging area; a frame that arrives whole inside a chunk is parsed in place, and its body/longstr
 * payloads are views of that chunk (they keep the chunk alive: copy with Buffer.from if a message
 * is retained for long and the chunk is large). A frame split across chunks is copied once into
 * an exact-size buffer (O(n), not the O(n²) of re-concatenating per chunk).
 * Callers must drain (iterate until done) after each push; if they push again without draining,
 * the undrained remainder is concatenated with the new chunk (held, not copied twice).
 *
 * Errors: everything thrown while reading input is an `AmqpError` with a reply code. `fatal`
 * errors (framing lost: 501 for bad frame-end, unknown frame type, oversize) stop the parser; it
 * then ignores further input. Non-fatal ones (502/503/505/540 and 501 for malformed heartbeat or
 * too-short method frames) consume the offending frame; parsing can continue after them so the
 * session can still see connection.close-ok.
 */
import { Reader, Writer } from './buffer-io.js';
import { AmqpError, CodecReplyCode, encodeError } from './errors.js';
import type { AmqpMethod, BasicProperties } from '../generated/methods.js';
import {
  BASIC_PROPERTY_MASK,
  CLASS_BASIC,
  CLASS_CONNECTION,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  basicPropertyFlags,
  decodeBasicProperties,
  decodeMethod,
  encodeBasicProperties,
  encodeMethodArgs,
  methodHasContent,
  sizeBasicProperties,
  sizeMethodArgs,
} from '../generated/methods.js';

/** What a client sends first; also what the server replies with on a mismatch. */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
/** type + channel + size. */
export const FRAME_HEADER_SIZE = 7;
/** Header plus frame-end octet: the per-frame overhead, so a body frame carries ≤ frameMax − 8. */
export const FRAME_OVERHEAD = 8;
/** RabbitMQ's and amqplib's default frame_max. */
export const DEFAULT_FRAME_MAX = 131072;

export interface MethodFrame {
  readonly type: typeof FRAME_METHOD;
  readonly channel: number;
  readonly payload: AmqpMethod;
}

export interface ContentHeader {
  readonly classId: number;
  /** Always 0 in 0-9-1 (checked by the parser). */
  readonly weight: number;
  readonly bodySize: number;
  readonly properties: BasicProperties;
  /**
   * The property flag word(s) and property bytes exactly as received (a view). A broker can pass
   * this to encodeContent/encodeMessage instead of `properties` to forward them byte-for-byte,
   * skipping re-encoding (and keeping the publisher's field-table tags).
   */
  readonly rawProperties: Buffer;
}

export interface HeaderFrame {
  readonly type: typeof FRAME_HEADER;
  readonly channel: number;
  readonly payload: ContentHeader;
}

export interface BodyFrame {
  readonly type: typeof FRAME_BODY;
  readonly channel: number;
  /** A view into the received bytes. */
  readonly payload: Buffer;
}

export interface HeartbeatFrame {
  readonly type: typeof FRAME_HEARTBEAT;
  readonly channel: 0;
  readonly payload: null;
}

export interface ProtocolHeaderFrame {
  readonly type: 'protocol-header';
  readonly channel: 0;
  readonly payload: {
    /** True if the peer sent exactly `AMQP\x00\x00\x09\x01`. */
    readonly ok: boolean;
    /** The bytes received (1 to 8 of them), for logging. */
    readonly received: Buffer;
  };
}

export type Frame = MethodFrame | HeaderFrame | BodyFrame | HeartbeatFrame | ProtocolHeaderFrame;

const HEARTBEAT: HeartbeatFrame = Object.freeze({ type: FRAME_HEARTBEAT, channel: 0, payload: null });

export interface FrameParserOptions {
  /** Largest acceptable frame including header and frame-end (frame_max). Default 131072. */
  maxFrameSize?: number;
  /** Expect the 8-byte protocol header before the first frame (server side). Default true. */
  expectProtocolHeader?: boolean;
  /** Enforce method → header → body sequencing per channel. Default true. */
  trackContent?: boolean;
}

/** Per-channel content expectation. */
interface ContentState {
  classId: number;
  /** 0 = awaiting header, 1 = awaiting body bytes. */
  phase: 0 | 1;
  remaining: number;
}

const EMPTY = Buffer.alloc(0);

export class FrameParser implements IterableIterator<Frame> {
  private maxFrame: number;
  private readonly trackContent: boolean;
  private awaitingProtocolHeader: boolean;
  private failed = false;

  /** Current input chunk and read position. */
  private chunk: Buffer = EMPTY;
  private pos = 0;
  /** Staging for a frame header (or protocol header) split across chunks. */
  private readonly head = Buffer.alloc(8);
  private headLen = 0;
  /** Exact-size buffer of a frame split across chunks, and how much of it is filled. */
  private partial: Buffer | null = null;
  private partialLen = 0;

  private readonly reader = new Reader();
  private readonly content = new Map<number, ContentState>();

  constructor(opts: FrameParserOptions = {}) {
    this.maxFrame = checkFrameMax(opts.maxFrameSize ?? DEFAULT_FRAME_MAX);
    this.awaitingProtocolHeader = opts.expectProtocolHeader ?? true;
    this.trackContent = opts.trackContent ?? true;
  }

  /** Current frame_max. */
  get maxFrameSize(): number {
    return this.maxFrame;
  }

  /** Change frame_max (after connection.tune-ok). Applies to frames not yet started. */
  setMaxFrameSize(n: number): void {
    this.maxFrame = checkFrameMax(n);
  }

  /** True after a fatal error or a protocol-header mismatch: further input is ignored. */
  get isFailed(): boolean {
    return this.failed;
  }

  /** Bytes held by the parser: undrained input plus the copied partial frame / staging. */
  get bufferedBytes(): number {
    return this.chunk.length - this.pos + (this.partial === null ? 0 : this.partialLen) + this.headLen;
  }

  /** Forget the content state of a channel (call when the channel closes or is reopened). */
  resetChannel(channel: number): void {
    this.content.delete(channel);
  }

  /** Is the channel in the middle of a content sequence (header or body frames still due)? */
  isAwaitingContent(channel: number): boolean {
    return this.content.has(channel);
  }

  /**
   * Queue a chunk; then iterate the parser (`for (const f of parser.push(chunk))`) or call
   * `read()` until it returns undefined. The chunk is not copied unless a frame straddles it,
   * and returned payloads may be views of it: do not reuse or overwrite a pushed Buffer (sockets
   * hand out fresh ones, so this only matters for callers with their own read buffers).
   */
  push(chunk: Buffer): this {
    if (this.failed) return this;
    if (this.pos < this.chunk.length) {
      this.chunk = Buffer.concat([this.chunk.subarray(this.pos), chunk]);
    } else {
      this.chunk = chunk;
    }
    this.pos = 0;
    return this;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Frame, undefined> {
    const f = this.read();
    return f === undefined ? { done: true, value: undefined } : { done: false, value: f };
  }

  /** Next complete frame, or undefined if more input is needed. Throws AmqpError. */
  read(): Frame | undefined {
    if (this.failed) return undefined;
    if (this.awaitingProtocolHeader) return this.readProtocolHeader();
    const chunk = this.chunk;

    if (this.partial !== null) return this.continuePartial();

    if (this.headLen > 0) {
      // Complete the 7-byte frame header from the new chunk, then switch to a partial frame.
      const take = Math.min(FRAME_HEADER_SIZE - this.headLen, chunk.length - this.pos);
      chunk.copy(this.head, this.headLen, this.pos, this.pos + take);
      this.headLen += take;
      this.pos += take;
      if (this.headLen < FRAME_HEADER_SIZE) return undefined;
      const head = this.head;
      const size = this.checkHeader(head, 0);
      const frame = Buffer.allocUnsafe(size + FRAME_OVERHEAD);
      head.copy(frame, 0, 0, FRAME_HEADER_SIZE);
      this.headLen = 0;
      this.partial = frame;
      this.partialLen = FRAME_HEADER_SIZE;
      return this.continuePartial();
    }

    const pos = this.pos;
    const avail = chunk.length - pos;
    if (avail === 0) return undefined;
    if (avail < FRAME_HEADER_SIZE) {
      chunk.copy(this.head, 0, pos, chunk.length);
      this.headLen = avail;
      this.pos = chunk.length;
      return undefined;
    }
    const size = this.checkHeader(chunk, pos);
    const total = size + FRAME_OVERHEAD;
    if (avail >= total) {
      this.pos = pos + total;
      return this.parseFrame(chunk, pos, size);
    }
    const frame = Buffer.allocUnsafe(total);
    chunk.copy(frame, 0, pos, chunk.length);
    this.partial = frame;
    this.partialLen = avail;
    this.pos = chunk.length;
    return undefined;
  }

  private continuePartial(): Frame | undefined {
    const frame = this.partial!;
    const chunk = this.chunk;
    const take = Math.min(frame.length - this.partialLen, chunk.length - this.pos);
    chunk.copy(frame, this.partialLen, this.pos, this.pos + take);
    this.partialLen += take;
    this.pos += take;
    if (this.partialLen < frame.length) return undefined;
    this.partial = null;
    this.partialLen = 0;
    return this.parseFrame(frame, 0, frame.length - FRAME_OVERHEAD);
  }

  private readProtocolHeader(): Frame | undefined {
    const chunk = this.chunk;
    while (this.headLen < 8 && this.pos < chunk.length) {
      const b = chunk[this.pos++]!;
      this.head[this.headLen++] = b;
      if (this.headLen <= 4 && b !== PROTOCOL_HEADER[this.headLen - 1]) {
        return this.protocolHeaderResult(false);
      }
    }
    if (this.headLen < 8) return undefined;
    return this.protocolHeaderResult(this.head.equals(PROTOCOL_HEADER));
  }

  private protocolHeaderResult(ok: boolean): ProtocolHeaderFrame {
    const received = Buffer.from(this.head.subarray(0, this.headLen));
    this.headLen = 0;
    this.awaitingProtocolHeader = false;
    if (!ok) this.fail();
    return { type: 'protocol-header', channel: 0, payload: { ok, received } };
  }

  private fail(): void {
    this.failed = true;
    this.chunk = EMPTY;
    this.pos = 0;
    this.partial = null;
    this.partialLen = 0;
    this.headLen = 0;
    this.content.clear();
  }

  private fatal(message: string, channel = 0): AmqpError {
    this.fail();
    return new AmqpError(CodecReplyCode.FRAME_ERROR, message, { channel, fatal: true });
  }

  /** Validates type and size of the frame header at `b[o..o+7)`; returns the payload size. */
  private checkHeader(b: Buffer, o: number): number {
    const type = b[o]!;
    const size = b[o + 3]! * 0x1000000 + ((b[o + 4]! << 16) | (b[o + 5]! << 8) | b[o + 6]!);
    if (type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY && type !== FRAME_HEARTBEAT) {
      throw this.fatal(`unknown frame type ${type}`, (b[o + 1]! << 8) | b[o + 2]!);
    }
    if (size + FRAME_OVERHEAD > this.maxFrame) {
      throw this.fatal(`frame of ${size + FRAME_OVERHEAD} bytes exceeds frame_max ${this.maxFrame}`, (b[o + 1]! << 8) | b[o + 2]!);
    }
    return size;
  }

  /** Parses the complete frame at b[o .. o+7+size+1). */
  private parseFrame(b: Buffer, o: number, size: number): Frame {
    const type = b[o]!;
    const channel = (b[o + 1]! << 8) | b[o + 2]!;
    const start = o + FRAME_HEADER_SIZE;
    const end = start + size;
    if (b[end] !== FRAME_END) {
      throw this.fatal(`bad frame-end octet 0x${b[end]!.toString(16)} (expected 0xce)`, channel);
    }
    switch (type) {
      case FRAME_METHOD:
        return this.parseMethod(b, start, end, channel);
      case FRAME_HEADER:
        return this.parseHeader(b, start, end, channel);
      case FRAME_BODY: {
        if (this.trackContent) {
          const st = this.content.get(channel);
          if (st === undefined || st.phase !== 1) {
            throw new AmqpError(CodecReplyCode.UNEXPECTED_FRAME, `body frame on channel ${channel} without a content header`, { channel });
          }
          if (size > st.remaining) {
            this.content.delete(channel);
            throw new AmqpError(CodecReplyCode.UNEXPECTED_FRAME, `body frames on channel ${channel} exceed the declared body size by ${size - st.remaining} bytes`, { channel });
          }
          st.remaining -= size;
          if (st.remaining === 0) this.content.delete(channel);
        }
        return { type: FRAME_BODY, channel, payload: b.subarray(start, end) };
      }
      default: // FRAME_HEARTBEAT (checkHeader admitted only the four types)
        if (channel !== 0 || size !== 0) {
          throw new AmqpError(CodecReplyCode.FRAME_ERROR, `heartbeat frame must be on channel 0 with no payload (channel ${channel}, ${size} bytes)`, { channel });
        }
        return HEARTBEAT;
    }
  }

  private parseMethod(b: Buffer, start: number, end: number, channel: number): MethodFrame {
    if (end - start < 4) {
      throw new AmqpError(CodecReplyCode.FRAME_ERROR, `method frame of ${end - start} bytes is too short`, { channel });
    }
    const classId = (b[start]! << 8) | b[start + 1]!;
    const methodId = (b[start + 2]! << 8) | b[start + 3]!;
    if (this.trackContent && this.content.size !== 0 && this.content.has(channel)) {
      this.content.delete(channel);
      throw new AmqpError(CodecReplyCode.UNEXPECTED_FRAME, `method ${classId}/${methodId} on channel ${channel} while content frames are due`, { channel, classId, methodId });
    }
    const key = (classId << 16) | methodId;
    const r = this.reader.reset(b, start + 4, end);
    let m: AmqpMethod | undefined;
    try {
      m = decodeMethod(key, r);
    } catch (e) {
      throw new AmqpError(
        CodecReplyCode.SYNTAX_ERROR,
        `malformed arguments of method ${classId}/${methodId}: ${e instanceof Error ? e.message : String(e)}`,
        { channel, classId, methodId },
      );
    }
    if (m === undefined) {
      throw new AmqpError(CodecReplyCode.NOT_IMPLEMENTED, `unknown method ${classId}/${methodId}`, { channel, classId, methodId });
    }
    if (r.pos !== end) {
      throw new AmqpError(CodecReplyCode.SYNTAX_ERROR, `${end - r.pos} trailing bytes after the arguments of ${m.name}`, { channel, classId, methodId });
    }
    if ((classId === CLASS_CONNECTION) !== (channel === 0)) {
      throw new AmqpError(
        CodecReplyCode.COMMAND_INVALID,
        classId === CLASS_CONNECTION ? `${m.name} on channel ${channel} (must be 0)` : `${m.name} on channel 0`,
        { channel, classId, methodId },
      );
    }
    if (this.trackContent && methodHasContent(key)) {
      this.content.set(channel, { classId, phase: 0, remaining: 0 });
    }
    return { type: FRAME_METHOD, channel, payload: m };
  }

  private parseHeader(b: Buffer, start: number, end: number, channel: number): HeaderFrame {
    let st: ContentState | undefined;
    if (this.trackContent) {
      st = this.content.get(channel);
      if (st === undefined || st.phase !== 0) {
        throw new AmqpError(CodecReplyCode.UNEXPECTED_FRAME, `content header on channel ${channel} without a content method`, { channel });
      }
    }
    const r = this.reader.reset(b, start, end);
    let header: ContentHeader;
    try {
      const classId = r.u16();
      const weight = r.u16();
      const bodySize = r.u64();
      const flagsAt = r.pos;
      let flags = r.u16();
      if (st !== undefined && classId !== st.classId) {
        this.content.delete(channel);
        throw new AmqpError(CodecReplyCode.UNEXPECTED_FRAME, `content header of class ${classId} after a method of class ${st.classId}`, { channel, classId });
      }
      if (classId !== CLASS_BASIC) {
        throw new AmqpError(CodecReplyCode.NOT_IMPLEMENTED, `content class ${classId} is not supported`, { channel, classId });
      }
      if (weight !== 0) throw new AmqpError(CodecReplyCode.SYNTAX_ERROR, `content header weight ${weight} (must be 0)`, { channel, classId });
      // Continuation flag words: the basic class needs none; accept empty ones, reject set bits.
      let first = flags;
      while ((flags & 1) !== 0) {
        flags = r.u16();
        if ((flags & ~1) !== 0) throw new AmqpError(CodecReplyCode.SYNTAX_ERROR, 'unknown content property flags in a continuation word', { channel, classId });
      }
      first &= ~1;
      if ((first & ~BASIC_PROPERTY_MASK) !== 0) {
        throw new AmqpError(CodecReplyCode.SYNTAX_ERROR, `unknown basic property flags 0x${(first & ~BASIC_PROPERTY_MASK).toString(16)}`, { channel, classId });
      }
      const properties = decodeBasicProperties(r, first);
      if (r.pos !== end) throw new AmqpError(CodecReplyCode.SYNTAX_ERROR, `${end - r.pos} trailing bytes after content properties`, { channel, classId });
      header = { classId, weight, bodySize, properties, rawProperties: b.subarray(flagsAt, end) };
    } catch (e) {
      if (st !== undefined) this.content.delete(channel);
      if (e instanceof AmqpError && e.channel === channel) throw e;
      throw new AmqpError(CodecReplyCode.SYNTAX_ERROR, `malformed content header: ${e instanceof Error ? e.message : String(e)}`, { channel, classId: CLASS_BASIC });
    }
    if (st !== undefined) {
      if (header.bodySize === 0) this.content.delete(channel);
      else {
        st.phase = 1;
        st.remaining = header.bodySize;
      }
    }
    return { type: FRAME_HEADER, channel, payload: header };
  }
}

function checkFrameMax(n: number): number {
  if (!Number.isInteger(n) || n < FRAME_MIN_SIZE || n > 0xffffffff) {
    throw encodeError(`maxFrameSize must be an integer in [${FRAME_MIN_SIZE}, 2^32-1], got ${n}`);
  }
  return n;
}

// ------------------------------------------------------------------------------------------------
// Writers. Each call sizes an upper bound, writes into one Buffer.allocUnsafe (pooled by Node
// below 4 KB) and returns it, or a view of it when the bound was not reached (strings are bounded
// at 3 bytes per UTF-16 unit, so e.g. an ASCII routing key over-reserves 2 bytes per char).

const W = new Writer();

function checkChannel(channel: number): void {
  if (!(channel >= 0 && channel <= 0xffff) || channel !== Math.floor(channel)) throw encodeError(`channel out of range: ${channel}`);
}

/** Properties as an object, or raw bytes (flag word + values) such as ContentHeader.rawProperties. */
export type PropertiesInput = BasicProperties | Uint8Array;

function propertiesSize(p: PropertiesInput): number {
  return p instanceof Uint8Array ? p.length : sizeBasicProperties(p);
}

function writeMethod(buf: Buffer, off: number, channel: number, m: AmqpMethod): number {
  buf[off] = FRAME_METHOD;
  buf[off + 1] = channel >>> 8;
  buf[off + 2] = channel;
  const w = W.reset(buf, off + FRAME_HEADER_SIZE);
  w.u16(m.classId);
  w.u16(m.methodId);
  encodeMethodArgs(w, m);
  const end = w.pos;
  buf.writeUInt32BE(end - off - FRAME_HEADER_SIZE, off + 3);
  buf[end] = FRAME_END;
  return end + 1;
}

/** Writes the content header frame for a body of `bodyLen` bytes; returns the end offset. */
function writeHeaderFrame(buf: Buffer, off: number, channel: number, classId: number, props: PropertiesInput, bodyLen: number): number {
  buf[off] = FRAME_HEADER;
  buf[off + 1] = channel >>> 8;
  buf[off + 2] = channel;
  const w = W.reset(buf, off + FRAME_HEADER_SIZE);
  w.u16(classId);
  w.u16(0);
  w.u64(bodyLen);
  if (props instanceof Uint8Array) {
    w.bytes(props);
  } else if (classId === CLASS_BASIC) {
    encodeBasicProperties(w, props);
  } else {
    if (basicPropertyFlags(props) !== 0) throw encodeError(`class ${classId} has no content properties`);
    w.u16(0);
  }
  const p = w.pos;
  buf.writeUInt32BE(p - off - FRAME_HEADER_SIZE, off + 3);
  buf[p] = FRAME_END;
  return p + 1;
}

/** Writes a body frame's 7-byte header (type, channel, size). */
function writeBodyFrameHeader(buf: Buffer, p: number, channel: number, len: number): void {
  buf[p] = FRAME_BODY;
  buf[p + 1] = channel >>> 8;
  buf[p + 2] = channel;
  buf[p + 3] = len >>> 24;
  buf[p + 4] = len >>> 16;
  buf[p + 5] = len >>> 8;
  buf[p + 6] = len;
}

function writeContent(buf: Buffer, off: number, channel: number, classId: number, props: PropertiesInput, body: Uint8Array, maxBody: number): number {
  let p = writeHeaderFrame(buf, off, channel, classId, props, body.length);
  const n = body.length;
  for (let at = 0; at < n; at += maxBody) {
    const len = Math.min(maxBody, n - at);
    writeBodyFrameHeader(buf, p, channel, len);
    p += FRAME_HEADER_SIZE;
    if (len < 64) {
      // A JS loop beats TypedArray.set's call overhead for tiny bodies.
      for (let i = 0; i < len; i++) buf[p + i] = body[at + i]!;
    } else {
      buf.set(len === n ? body : body.subarray(at, at + len), p);
    }
    p += len;
    buf[p++] = FRAME_END;
  }
  return p;
}

function maxBodyPerFrame(frameMax: number): number {
  if (frameMax === 0) return 0xffffffff; // 0 = "no limit" in connection.tune
  if (!Number.isInteger(frameMax) || frameMax <= FRAME_OVERHEAD || frameMax > 0xffffffff) throw encodeError(`invalid frameMax ${frameMax}`);
  return frameMax - FRAME_OVERHEAD;
}

function contentBound(props: PropertiesInput, bodyLen: number, maxBody: number): number {
  const frames = bodyLen === 0 ? 0 : Math.ceil(bodyLen / maxBody);
  return FRAME_OVERHEAD + 12 + propertiesSize(props) + frames * FRAME_OVERHEAD + bodyLen;
}

function finish(buf: Buffer, end: number): Buffer {
  return end === buf.length ? buf : buf.subarray(0, end);
}

/** One method frame. */
export function encodeMethodFrame(channel: number, method: AmqpMethod): Buffer {
  checkChannel(channel);
  const buf = Buffer.allocUnsafe(FRAME_OVERHEAD + 4 + sizeMethodArgs(method));
  return finish(buf, writeMethod(buf, 0, channel, method));
}

/**
 * A content header frame followed by the body split into frames of at most frameMax − 8 bytes
 * (no body frame for an empty body). frameMax 0 means unlimited (one body frame).
 */
export function encodeContent(channel: number, classId: number, properties: PropertiesInput, body: Uint8Array, frameMax: number): Buffer {
  checkChannel(channel);
  const maxBody = maxBodyPerFrame(frameMax);
  const buf = Buffer.allocUnsafe(contentBound(properties, body.length, maxBody));
  return finish(buf, writeContent(buf, 0, channel, classId, properties, body, maxBody));
}

/**
 * A content-carrying method (basic.deliver, basic.get-ok, basic.return, basic.publish) with its
 * header and body frames, in one Buffer: one allocation and one socket write per message, and
 * the frames of one message cannot interleave with other writes.
 */
export function encodeMessage(channel: number, method: AmqpMethod, properties: PropertiesInput, body: Uint8Array, frameMax: number): Buffer {
  checkChannel(channel);
  if (!methodHasContent((method.classId << 16) | method.methodId)) throw encodeError(`${method.name} does not carry content`);
  const maxBody = maxBodyPerFrame(frameMax);
  const buf = Buffer.allocUnsafe(FRAME_OVERHEAD + 4 + sizeMethodArgs(method) + contentBound(properties, body.length, maxBody));
  const p = writeMethod(buf, 0, channel, method);
  return finish(buf, writeContent(buf, p, channel, method.classId, properties, body, maxBody));
}

/** The frame-end octet on its own: the last piece of every message encodeMessageParts writes. */
const FRAME_END_PIECE: Buffer = Buffer.from([FRAME_END]);

/**
 * encodeMessage without copying the body: appends to `out` the pieces to write, in order — one
 * small buffer with the method frame, the content header frame and the first body frame's
 * header; then the body (or its frame-sized slices, each followed by an 8-byte frame-end + next
 * body frame header) by reference; then the frame-end octet. Returns the byte count appended.
 *
 * For large bodies copying into a send buffer costs more than the extra iovec entries: at
 * 10 KiB a copy is 10 KiB of memory bandwidth plus first-touch page faults when the buffer is
 * fresh, an iovec entry is 16 bytes. The pieces keep `body` alive until written, so it must not
 * be modified afterwards (stored records are immutable).
 */
export function encodeMessageParts(channel: number, method: AmqpMethod, properties: PropertiesInput, body: Buffer, frameMax: number, out: Buffer[]): number {
  checkChannel(channel);
  if (!methodHasContent((method.classId << 16) | method.methodId)) throw encodeError(`${method.name} does not carry content`);
  const maxBody = maxBodyPerFrame(frameMax);
  const n = body.length;
  const head = Buffer.allocUnsafe(FRAME_OVERHEAD + 4 + sizeMethodArgs(method) + FRAME_OVERHEAD + 12 + propertiesSize(properties) + FRAME_HEADER_SIZE);
  let p = writeMethod(head, 0, channel, method);
  p = writeHeaderFrame(head, p, channel, method.classId, properties, n);
  if (n === 0) {
    out.push(finish(head, p));
    return p;
  }
  let len = Math.min(maxBody, n);
  writeBodyFrameHeader(head, p, channel, len);
  p += FRAME_HEADER_SIZE;
  out.push(finish(head, p));
  let bytes = p;
  for (let at = 0; ; ) {
    out.push(len === n ? body : body.subarray(at, at + len));
    bytes += len;
    at += len;
    if (at >= n) break;
    len = Math.min(maxBody, n - at);
    const mid = Buffer.allocUnsafe(FRAME_OVERHEAD);
    mid[0] = FRAME_END;
    writeBodyFrameHeader(mid, 1, channel, len);
    out.push(mid);
    bytes += FRAME_OVERHEAD;
  }
  out.push(FRAME_END_PIECE);
  return bytes + 1;
}

const HEARTBEAT_BYTES = Buffer.from([FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);

/** A heartbeat frame (a fresh 8-byte Buffer, so callers may keep or mutate it). */
export function encodeHeartbeat(): Buffer {
  return Buffer.from(HEARTBEAT_BYTES);
}

/** Any frame from a raw payload (tests, tools, and frame types the typed writers don't cover). */
export function encodeRawFrame(type: number, channel: number, payload: Uint8Array): Buffer {
  checkChannel(channel);
  const buf = Buffer.allocUnsafe(payload.length + FRAME_OVERHEAD);
  buf[0] = type;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(payload.length, 3);
  buf.set(payload, FRAME_HEADER_SIZE);
  buf[payload.length + FRAME_HEADER_SIZE] = FRAME_END;
  return buf;
}
