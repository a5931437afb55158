/** Argument parsing helpers with Redis's exact error messages. */
import { NOT_INTEGER, RespError } from './errors.js';

export function str(b: Buffer): string {
  return b.toString('utf8');
}

/** Lower-case ASCII keyword (command names, options). */
export function kw(b: Buffer): string {
  return b.toString('latin1').toLowerCase();
}

const INT_RE = /^-?\d+$/;

/** A signed integer argument (Redis string2ll). */
export function int(b: Buffer, message = NOT_INTEGER): number {
  const s = b.toString('latin1');
  if (!INT_RE.test(s) || s.length > 20) throw new RespError(message);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new RespError(message);
  return n;
}

/** A non-negative count ("ERR value is out of range, must be positive" as Redis words it). */
export function positive(b: Buffer): number {
  const n = int(b);
  if (n < 0) throw new RespError('ERR value is out of range, must be positive');
  return n;
}

/** A blocking timeout in seconds (float) → ms; 0 = forever. */
export function timeoutSeconds(b: Buffer): number {
  const s = b.toString('latin1');
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new RespError('ERR timeout is not a float or out of range');
  if (n < 0) throw new RespError('ERR timeout is negative');
  return Math.round(n * 1000);
}

/**
 * Writes that may be in flight together (a pipeline's, or inside EXEC) are classed by what they
 * append to: two of different classes are never in flight on one key (each checks the key's type
 * when it starts).
 */
export const C_LIST = 1;
export const C_STREAM = 2;

/** An XADD argument list naming NOMKSTREAM (any case): such an XADD depends on whether the stream exists yet. */
export function hasNoMkStream(a: readonly Buffer[]): boolean {
  for (let i = 2; i < a.length; i++) if (a[i]!.length === 10 && kw(a[i]!) === 'nomkstream') return true;
  return false;
}
