/**
 * URL scheme registry: `connect('file://./data')` finds the factory registered for `file:`.
 * Transports for other brokers register themselves lazily (their client libraries are optional
 * dependencies loaded only when their scheme is used).
 */
import { err } from './errors.js';
import type { Transport } from './types.js';

export type TransportFactory = (url: URL, options: ConnectOptions) => Promise<Transport>;

/** Options common to every transport; transports read their own extra keys. */
export interface ConnectOptions {
  [key: string]: unknown;
}

const factories = new Map<string, TransportFactory>();

/** Registers (or replaces) the factory for `scheme` (without the trailing colon). */
export function registerTransport(scheme: string, factory: TransportFactory): void {
  factories.set(scheme.toLowerCase().replace(/:$/, ''), factory);
}

export function registeredSchemes(): string[] {
  return [...factories.keys()].sort();
}

/**
 * Parses `url`, accepting the relative-path forms users type: `file://./data`, `file://data`,
 * and a multi-host authority (`redis://a:7000,b:7001/0`, as MongoDB and PostgreSQL URLs write a
 * cluster), which WHATWG URL rejects: it is parsed with its first host, and the whole list is
 * passed on in the `hosts` search parameter (`hosts=a:7000,b:7001`).
 */
export function parseConnectUrl(input: string | URL): URL {
  if (input instanceof URL) return input;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/.exec(input);
  if (!m) throw err('MQ_ERR_INVALID_URL', `"${input}" is not a URL of the form scheme://...`);
  try {
    return new URL(input);
  } catch (e) {
    const multi = /^([^/?#]*@)?([^/?#@]*,[^/?#@]*)([/?#].*)?$/.exec(m[2]!);
    if (multi) {
      const hosts = multi[2]!.split(',').filter((h) => h !== '');
      try {
        const u = new URL(`${m[1]}://${multi[1] ?? ''}${hosts[0] ?? ''}${multi[3] ?? ''}`);
        u.searchParams.set('hosts', hosts.join(','));
        return u;
      } catch {
        /* reported below */
      }
    }
    throw err('MQ_ERR_INVALID_URL', `"${input}" is not a valid URL`, e);
  }
}

export async function connect(url: string | URL = 'memory://', options: ConnectOptions = {}): Promise<Transport> {
  const u = parseConnectUrl(url);
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  const factory = factories.get(scheme);
  if (!factory) {
    const known = registeredSchemes();
    const guess = closest(scheme, known);
    throw err(
      'MQ_ERR_UNKNOWN_SCHEME',
      `No transport for "${scheme}:".` + (guess ? ` Did you mean "${guess}:"?` : '') + ` Known: ${known.map((k) => k + ':').join(', ')}`,
    );
  }
  return factory(u, options);
}

/** The known scheme within edit distance 2 (or a prefix match), for "did you mean". */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = c.startsWith(word) || word.startsWith(c) ? 1 : levenshtein(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
