import { RespCommandParser, isProtocolError } from '../../../src/protocols/resp/index.js';
import type { CommandParserOptions } from '../../../src/protocols/resp/index.js';

/** Outcome of feeding a byte stream: commands (as strings, binary-safe via latin1) + final state. */
export interface Outcome {
  commands: string[][];
  error: string | null;
  /** True when the stream ended in the middle of a request. */
  incomplete: boolean;
}

/** Feed `chunks` to a fresh parser, draining after every push as the session does. */
export function feed(chunks: readonly Buffer[], options?: CommandParserOptions): Outcome {
  const p = new RespCommandParser(options);
  const commands: string[][] = [];
  let error: string | null = null;
  for (const chunk of chunks) {
    p.push(chunk);
    for (;;) {
      const c = p.next();
      if (c === undefined) break;
      if (isProtocolError(c)) {
        error = c.error;
        break;
      }
      commands.push(c.map((a) => a.toString('latin1')));
    }
    if (error !== null) break;
  }
  return { commands, error, incomplete: error === null && p.bufferedBytes > 0 };
}

export function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const sorted = [...new Set(cuts.map((c) => Math.max(0, Math.min(buf.length, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

export function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A multibulk request exactly as client libraries encode it. */
export function mbulk(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [bytes(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(bytes(`$${b.length}\r\n`), b, bytes('\r\n'));
  }
  return Buffer.concat(parts);
}
