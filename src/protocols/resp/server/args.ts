/** Argument parsing helpers with Redis's exact error messages. */
import { NOT_INTEGER, RespError } from './errors.js';

/** Buffer's own UTF-8 decoder, without toString's encoding dispatch and range checks. */
type Utf8Slicer = { utf8Slice(start: number, end: number): string };

/** An argument as text (a key, a field): UTF-8, as Redis clients send them. */
export function str(b: Buffer): string {
  // utf8Slice is what toString('utf8') calls after its checks: ~0.2 µs less per key.
  return (b as unknown as Utf8Slicer).utf8Slice(0, b.length);
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
