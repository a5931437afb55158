/**
 * STOMP frame model and the per-version header escaping rules (STOMP 1.2 §"Value Encoding").
 *
 *   1.0       no escaping at all: a header value cannot hold LF (the encoder replaces CR/LF with
 *             a space rather than break the framing) and may hold ':' (split at the first one)
 *   1.1       \\ \n \c
 *   1.2       \\ \n \c \r
 *   CONNECT, STOMP and CONNECTED frames are never escaped, in any version (backward compatibility
 *   with 1.0 peers that have not negotiated yet).
 *
 * This module does no I/O; the parser (parser.ts) and encoder (encoder.ts) use it.
 */
import { StompFrameError } from './errors.js';

export type StompVersion = '1.0' | '1.1' | '1.2';

/** Header list in wire order. Repeated names are kept; `header()` returns the first (spec: first wins). */
export interface StompFrame {
  command: string;
  headers: [string, string][];
  body: Buffer;
}

/** The first value of header `name`, or undefined. */
export function header(f: StompFrame, name: string): string | undefined {
  for (const h of f.headers) if (h[0] === name) return h[1];
  return undefined;
}

/** Frames that are never escaped. */
export function isUnescapedCommand(command: string): boolean {
  return command === 'CONNECT' || command === 'STOMP' || command === 'CONNECTED';
}

/** Decodes one escaped header name or value. Throws StompFrameError on an undefined escape. */
export function unescapeHeader(s: string, version: StompVersion): string {
  if (version === '1.0' || s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    if (n === '\\') out += '\\';
    else if (n === 'n') out += '\n';
    else if (n === 'c') out += ':';
    else if (n === 'r' && version === '1.2') out += '\r';
    else throw new StompFrameError('syntax', `undefined escape sequence "\\${n ?? ''}" in a header (STOMP ${version})`);
  }
  return out;
}

const NEEDS_11 = /[\\\n:]/;
const NEEDS_12 = /[\\\r\n:]/;
const NEEDS_10 = /[\r\n]/;

/** Encodes one header name or value for `version` (see the module comment for 1.0). */
export function escapeHeader(s: string, version: StompVersion): string {
  if (version === '1.0') return NEEDS_10.test(s) ? s.replace(/[\r\n]/g, ' ') : s;
  if (!(version === '1.2' ? NEEDS_12 : NEEDS_11).test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === ':') out += '\\c';
    else if (c === '\r' && version === '1.2') out += '\\r';
    else out += c;
  }
  return out;
}
