/**
 * Resource limits of `omnibus serve` in RabbitMQ's vocabulary (rabbitmq.conf
 * `vm_memory_high_watermark.relative` / `.absolute` and `disk_free_limit.absolute`), parsed once
 * here so the CLI can refuse a bad value with a usage error and a listener reads the same syntax:
 *
 * - memory high watermark: a fraction of the machine's RAM ("0.4", RabbitMQ's default), an
 *   absolute size ("512MiB", "2GB", "1073741824") or "off";
 * - disk free limit: an absolute size ("50MB", RabbitMQ's default) or "off".
 *
 * Sizes: B, kB/KB (10^3), KiB, MB (10^6), MiB, GB (10^9), GiB, TB, TiB; no unit = bytes.
 */

export type MemoryWatermark = { kind: 'relative'; fraction: number } | { kind: 'absolute'; bytes: number } | { kind: 'off' };

/** RabbitMQ's defaults (3.10): 0.4 of RAM and 50 MB free on the data directory's disk. */
export const DEFAULT_MEMORY_HIGH_WATERMARK: MemoryWatermark = { kind: 'relative', fraction: 0.4 };
export const DEFAULT_DISK_FREE_LIMIT_BYTES = 50_000_000;

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  kib: 2 ** 10,
  mb: 1e6,
  mib: 2 ** 20,
  gb: 1e9,
  gib: 2 ** 30,
  tb: 1e12,
  tib: 2 ** 40,
};

/** "50MB" → 50_000_000; undefined when it is not a size. */
export function parseByteSize(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const v = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Throws an Error whose message names the accepted forms. */
export function parseMemoryHighWatermark(raw: string): MemoryWatermark {
  const s = raw.trim().toLowerCase();
  if (s === 'off' || s === 'none') return { kind: 'off' };
  // A bare number up to 1 is a fraction of RAM (RabbitMQ's .relative); anything else a size.
  if (/^\d*\.?\d+$/.test(s) && Number(s) <= 1) {
    const f = Number(s);
    if (f > 0) return { kind: 'relative', fraction: f };
  }
  const bytes = parseByteSize(s);
  if (bytes !== undefined && bytes > 1) return { kind: 'absolute', bytes };
  throw new Error(`memory high watermark must be a fraction of RAM (0 < f <= 1, e.g. 0.4), a size (e.g. 512MiB, 2GB) or "off", got "${raw}"`);
}

/** Bytes, or undefined for "off". Throws an Error on a bad value. */
export function parseDiskFreeLimit(raw: string): number | undefined {
  const s = raw.trim().toLowerCase();
  if (s === 'off' || s === 'none') return undefined;
  const bytes = parseByteSize(s);
  if (bytes === undefined) throw new Error(`disk free limit must be a size (e.g. 50MB, 1GiB) or "off", got "${raw}"`);
  return bytes;
}

/** The watermark in bytes for a machine with `totalMemBytes` of RAM; undefined when off. */
export function watermarkBytes(w: MemoryWatermark, totalMemBytes: number): number | undefined {
  if (w.kind === 'off') return undefined;
  return w.kind === 'absolute' ? w.bytes : Math.floor(w.fraction * totalMemBytes);
}
