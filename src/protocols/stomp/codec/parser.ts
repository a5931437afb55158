/**
 * Streaming STOMP 1.0/1.1/1.2 frame parser: bytes in (any split), frames out.
 *
 *   frame = command EOL *(header EOL) EOL body NUL *(EOL)        EOL = [CR] LF
 *
 * - EOLs between frames are heart-beats: skipped and counted (`heartbeats`), never frames.
 * - CRLF is accepted in every version (1.0/1.1 peers such as telnet users send it; ActiveMQ
 *   accepts it too); a lone CR between frames is skipped.
 * - Body: exactly `content-length` octets followed by a NUL when that header is present (bodies
 *   may then hold NULs), otherwise everything up to the first NUL.
 * - Header names and values are unescaped per `version` (set by the session once CONNECTED is
 *   sent); CONNECT/STOMP frames are never unescaped. Repeated headers are all kept, in order.
 *
 * Limits (all enforced before buffering past them, so a hostile peer costs at most the limit):
 * one line (command or header) `maxLineBytes`, `maxHeaders` headers, `maxHeaderBytes` for all
 * header lines of a frame, `maxBodyBytes` per body. A body is kept as the list of received
 * chunks and joined once at the NUL, so a 64 MiB body arriving in 64 KiB reads is copied once
 * (not a quadratic re-concatenation), and a `content-length` claim allocates nothing up front.
 *
 * Errors: only StompFrameError (MQ_ERR_PROTOCOL) is thrown. After one, the parser is dead: every
 * further push throws the same error (the session closes the connection anyway).
 */
import { StompFrameError } from './errors.js';
import { isUnescapedCommand, unescapeHeader, type StompFrame, type StompVersion } from './frame.js';

export interface StompParserLimits {
  maxLineBytes: number;
  maxHeaders: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

/** ActiveMQ's defaults are 1000 headers, 10 KiB per header and 100 MiB per body; ours allow a 64 KiB selector. */
export const DEFAULT_STOMP_LIMITS: StompParserLimits = Object.freeze({
  maxLineBytes: 64 * 1024,
  maxHeaders: 1000,
  maxHeaderBytes: 256 * 1024,
  maxBodyBytes: 64 * 1024 * 1024,
});

const LF = 10;
const CR = 13;
const NUL = 0;
const EMPTY = Buffer.alloc(0);
/** Commands are ASCII words; anything else (HTTP, TLS, binary) is rejected on the first line. */
const COMMAND_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MAX_COMMAND = 64;
/** Header positions whose pairs are remembered across frames, and the longest line remembered. */
const REMEMBERED_HEADERS = 16;
const MAX_REMEMBERED_LINE = 256;

/** b[from, to) holds exactly the characters of `s`, which is ASCII. */
function sameAscii(b: Buffer, from: number, to: number, s: string): boolean {
  if (to - from !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[from + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** ASCII without a backslash: bytes that decode to themselves in every STOMP version. */
function plainAscii(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c >= 0x80 || c === 0x5c) return false;
  }
  return true;
}

/**
 * Garbage shown in an error message: printable ASCII only, no backslash (an ERROR sent before
 * version negotiation is not escaped, and a 1.1/1.2 client would choke on a stray `\`).
 */
function printable(s: string): string {
  return s.slice(0, 40).replace(/[^\x20-\x5b\x5d-\x7e]/g, '.');
}

const enum S {
  Between,
  Command,
  Header,
  BodyLength,
  BodyNul,
  BodyScan,
}

export class StompParser {
  /** Version for header unescaping; the session sets it after negotiation. */
  version: StompVersion = '1.0';
  /** EOLs seen between frames (heart-beats). */
  heartbeats = 0;
  readonly limits: StompParserLimits;
  #state = S.Between;
  #line: Buffer[] = [];
  #lineLen = 0;
  #command = '';
  #headers: [string, string][] = [];
  #headerBytes = 0;
  #body: Buffer[] = [];
  #bodyLen = 0;
  #want = 0;
  #dead: StompFrameError | undefined;
  /** Escaping of the frame being parsed: `version`, or 1.0 for CONNECT/STOMP/CONNECTED. */
  #unescape: StompVersion = '1.0';
  #lastCommand = '';
  /** The header pairs of earlier frames by position (see #onHeader). */
  #seen: ([string, string] | undefined)[] = [];
  /** The last content-length text that passed the checks, and its value. */
  #lastLengthText: string | undefined;
  #lastLength = 0;

  constructor(limits: Partial<StompParserLimits> = {}) {
    this.limits = { ...DEFAULT_STOMP_LIMITS, ...limits };
  }

  /** True between frames (nothing partial buffered). */
  get idle(): boolean {
    return this.#state === S.Between;
  }

  /** Feeds bytes; calls `onFrame` for every complete frame, in order. */
  push(chunk: Uint8Array, onFrame: (f: StompFrame) => void): void {
    if (this.#dead) throw this.#dead;
    try {
      this.#push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), onFrame);
    } catch (e) {
      if (e instanceof StompFrameError) this.#dead = e;
      throw e;
    }
  }

  #push(buf: Buffer, onFrame: (f: StompFrame) => void): void {
    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      switch (this.#state) {
        case S.Between: {
          const b = buf[pos]!;
          if (b === LF) {
            this.heartbeats++;
            pos++;
          } else if (b === CR) pos++;
          else this.#state = S.Command;
          break;
        }
        case S.Command:
        case S.Header: {
          const lf = buf.indexOf(LF, pos);
          const end = lf < 0 ? n : lf;
          if (this.#state === S.Command) this.#checkCommandBytes(buf, pos, end);
          if (this.#lineLen + (end - pos) > this.limits.maxLineBytes) {
            throw new StompFrameError('limit', `a frame line is longer than ${this.limits.maxLineBytes} bytes`);
          }
          if (lf < 0) {
            if (end > pos) {
              this.#line.push(buf.subarray(pos, end));
              this.#lineLen += end - pos;
            }
            return;
          }
          // A line inside one chunk (the usual case) is read in place, without a view of it.
          let lb = buf;
          let ls = pos;
          let le = lf;
          if (this.#line.length > 0) {
            if (lf > pos) this.#line.push(buf.subarray(pos, lf));
            lb = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line, this.#lineLen + (lf - pos));
            ls = 0;
            le = lb.length;
            this.#line = [];
            this.#lineLen = 0;
          }
          pos = lf + 1;
          if (le > ls && lb[le - 1] === CR) le--;
          if (this.#state === S.Command) this.#onCommand(lb, ls, le);
          else if (le === ls) this.#endHeaders();
          else this.#onHeader(lb, ls, le);
          break;
        }
        case S.BodyLength: {
          const take = Math.min(this.#want - this.#bodyLen, n - pos);
          this.#body.push(buf.subarray(pos, pos + take));
          this.#bodyLen += take;
          pos += take;
          if (this.#bodyLen === this.#want) this.#state = S.BodyNul;
          break;
        }
        case S.BodyNul: {
          if (buf[pos] !== NUL) throw new StompFrameError('syntax', `the ${this.#command} body is longer than its content-length of ${this.#want} (no NUL after it)`);
          pos++;
          this.#emit(onFrame);
          break;
        }
        case S.BodyScan: {
          const z = buf.indexOf(NUL, pos);
          const end = z < 0 ? n : z;
          if (this.#bodyLen + (end - pos) > this.limits.maxBodyBytes) {
            throw new StompFrameError('limit', `a frame body is larger than ${this.limits.maxBodyBytes} bytes`);
          }
          if (end > pos) {
            this.#body.push(buf.subarray(pos, end));
            this.#bodyLen += end - pos;
          }
          if (z < 0) return;
          pos = z + 1;
          this.#emit(onFrame);
          break;
        }
      }
    }
  }

  /** Rejects a non-command first line as soon as its bytes arrive (TLS, HTTP bodies, binary). */
  #checkCommandBytes(buf: Buffer, from: number, to: number): void {
    if (this.#lineLen + (to - from) > MAX_COMMAND + 1) throw this.#badCommand(buf, from, to);
    for (let i = from; i < to; i++) {
      const b = buf[i]!;
      const ok = (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b === 95 || (b === CR && i === to - 1);
      if (!ok) throw this.#badCommand(buf, from, to);
    }
  }

  #badCommand(buf: Buffer, from: number, to: number): StompFrameError {
    const seen = Buffer.concat([...this.#line, buf.subarray(from, Math.min(to, from + 40))]).toString('latin1');
    return new StompFrameError('syntax', `"${printable(seen)}" is not a STOMP command`);
  }

  #onCommand(b: Buffer, from: number, to: number): void {
    // A client sends the same few commands over and over: the last one is reused when its bytes
    // match (it passed the check below when it was decoded).
    let cmd = this.#lastCommand;
    if (!sameAscii(b, from, to, cmd)) {
      cmd = b.toString('latin1', from, to);
      if (!COMMAND_RE.test(cmd)) throw new StompFrameError('syntax', `"${printable(cmd)}" is not a STOMP command`);
      this.#lastCommand = cmd;
    }
    this.#command = cmd;
    this.#unescape = isUnescapedCommand(cmd) ? '1.0' : this.version;
    this.#state = S.Header;
  }

  /**
   * One header line, b[from, to) without its EOL. The header at position i of a frame is compared
   * with the one at position i of the frames before it (a client repeats `destination`,
   * `persistent`, `content-length` frame after frame): on a match of its bytes, the earlier
   * [name, value] pair is reused, so a repeated header costs a byte comparison, not two strings
   * and an array (at 40,000 SENDs/s, ~240,000 short-lived objects a second fewer for the GC).
   * Only ASCII lines without a backslash are remembered: their bytes are their decoded value in
   * every version. The pairs are shared between frames, so they are never to be mutated.
   */
  #onHeader(b: Buffer, from: number, to: number): void {
    const i = this.#headers.length;
    if (i >= this.limits.maxHeaders) throw new StompFrameError('limit', `a frame has more than ${this.limits.maxHeaders} headers`);
    this.#headerBytes += to - from + 1;
    if (this.#headerBytes > this.limits.maxHeaderBytes) throw new StompFrameError('limit', `the headers of a frame are larger than ${this.limits.maxHeaderBytes} bytes`);
    let colon = -1;
    for (let j = from; j < to; j++) {
      if (b[j] === 58) {
        colon = j;
        break;
      }
    }
    if (colon < 0) throw new StompFrameError('syntax', `header line without a colon in a ${this.#command} frame`);
    const seen = i < REMEMBERED_HEADERS ? this.#seen[i] : undefined;
    if (seen !== undefined && sameAscii(b, from, colon, seen[0]) && sameAscii(b, colon + 1, to, seen[1])) {
      this.#headers.push(seen);
      return;
    }
    const v = this.#unescape;
    const pair: [string, string] = [unescapeHeader(b.toString('utf8', from, colon), v), unescapeHeader(b.toString('utf8', colon + 1, to), v)];
    if (i < REMEMBERED_HEADERS && to - from <= MAX_REMEMBERED_LINE && plainAscii(b, from, to)) this.#seen[i] = pair;
    this.#headers.push(pair);
  }

  #endHeaders(): void {
    let cl: string | undefined;
    for (const h of this.#headers) {
      if (h[0] === 'content-length') {
        cl = h[1];
        break;
      }
    }
    if (cl !== undefined && cl === this.#lastLengthText) {
      this.#want = this.#lastLength;
      this.#state = this.#want === 0 ? S.BodyNul : S.BodyLength;
    } else if (cl !== undefined && cl.trim() !== '') {
      const t = cl.trim();
      if (!/^\d{1,15}$/.test(t)) throw new StompFrameError('syntax', `content-length "${cl.slice(0, 40)}" is not a non-negative integer`);
      const len = Number(t);
      if (len > this.limits.maxBodyBytes) throw new StompFrameError('limit', `content-length ${len} is larger than the limit of ${this.limits.maxBodyBytes} bytes`);
      this.#lastLengthText = cl;
      this.#lastLength = len;
      this.#want = len;
      this.#state = len === 0 ? S.BodyNul : S.BodyLength;
    } else this.#state = S.BodyScan;
  }

  #emit(onFrame: (f: StompFrame) => void): void {
    const body = this.#body.length === 0 ? EMPTY : this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body, this.#bodyLen);
    const f: StompFrame = { command: this.#command, headers: this.#headers, body };
    this.#headers = [];
    this.#headerBytes = 0;
    this.#body = [];
    this.#bodyLen = 0;
    this.#want = 0;
    this.#command = '';
    this.#state = S.Between;
    onFrame(f);
  }
}
