/**
 * node:util parseArgs with the CLI's error convention: every parse problem becomes a one-line
 * UsageError naming the offending flag, instead of Node's long TypeError text.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export type Values = Record<string, string | boolean | undefined>;

export function parseFlags(command: string, argv: readonly string[], options: Options): Values {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(command, describeParseError(e));
  }
  const extra = parsed.positionals[0];
  if (extra !== undefined) throw new UsageError(command, `unexpected argument "${extra}"`);
  return parsed.values as Values;
}

function describeParseError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  let m: RegExpExecArray | null;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && (m = /Unknown option '([^']+)'/.exec(msg))) return `unknown flag ${m[1]}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && (m = /^Option '(?:-\w, )?(--?[\w-]+)/.exec(msg))) {
    if (/does not take an argument/.test(msg)) return `${m[1]} does not take a value`;
    return `${m[1]} needs a value`;
  }
  // Fall back to Node's first sentence: still one line.
  return (msg.split('\n')[0] ?? msg).replace(/\. To specify a positional.*$/, '');
}

/** Parses a non-negative integer flag value; accepts 1_000_000, 1,000,000, 1e6 and 1M/1k. */
export function parseCount(command: string, flag: string, raw: string, min = 0): number {
  const s = raw.trim().replace(/[_,]/g, '');
  let n: number;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s);
  if (m) n = Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6);
  else if (/^\d+(\.\d+)?e\d+$/i.test(s)) n = Number(s);
  else n = NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(command, `${flag} must be an integer >= ${min}, got "${raw}"`);
  }
  return n;
}

/** A TCP port, or "off" (returns undefined) to disable. 0 lets the OS choose. */
export function parsePort(command: string, flag: string, raw: string | number): number | undefined {
  const s = String(raw).trim();
  if (/^(off|no|false|disabled?)$/i.test(s)) return undefined;
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(command, `${flag} must be a port 0-65535 or "off", got "${s}"`);
  return n;
}

export const FSYNC_POLICIES = ['always', 'interval', 'never'] as const;
export type Fsync = (typeof FSYNC_POLICIES)[number];

export function parseFsync(command: string, flag: string, raw: string): Fsync {
  const s = raw.trim().toLowerCase();
  if ((FSYNC_POLICIES as readonly string[]).includes(s)) return s as Fsync;
  throw new UsageError(command, `${flag} must be one of ${FSYNC_POLICIES.join('|')}, got "${raw}"`);
}
