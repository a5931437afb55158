/**
 * Frame encoder: one Buffer per frame (command, escaped headers, blank line, body, NUL), written
 * with one socket write. Headers are escaped for `version` except on CONNECTED (never escaped).
 * The encoder adds nothing on its own: callers that need `content-length` (MESSAGE, ERROR with a
 * body) put it in the header list, so a frame is exactly what the caller asked for.
 */
import { escapeHeader, isUnescapedCommand, type StompVersion } from './frame.js';

export type HeaderList = readonly (readonly [string, string])[];

export function encodeFrame(command: string, headers: HeaderList, body: Uint8Array | undefined, version: StompVersion): Buffer {
  const v: StompVersion = isUnescapedCommand(command) ? '1.0' : version;
  let head = command + '\n';
  if (isUnescapedCommand(command)) {
    // Never escaped, but a raw LF would still break the frame: drop CR/LF as 1.0 does.
    for (const [k, val] of headers) head += escapeHeader(k, '1.0') + ':' + escapeHeader(val, '1.0') + '\n';
  } else for (const [k, val] of headers) head += escapeHeader(k, v) + ':' + escapeHeader(val, v) + '\n';
  head += '\n';
  const headLen = Buffer.byteLength(head);
  const bodyLen = body ? body.byteLength : 0;
  const out = Buffer.allocUnsafe(headLen + bodyLen + 1);
  out.write(head, 0, 'utf8');
  if (body && bodyLen > 0) out.set(body, headLen);
  out[headLen + bodyLen] = 0;
  return out;
}

/** A heart-beat: one EOL. */
export const HEARTBEAT = Buffer.from('\n');
