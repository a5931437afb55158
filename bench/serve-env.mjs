/**
 * The environment `omnibus serve` gets from its launcher (bin/omnibus): glibc's allocator tuned as
 * in bin/glibc-tunables, unless GLIBC_TUNABLES is set already (GLIBC_TUNABLES= for glibc's
 * defaults). The bench scripts start `node bin/omnibus.js serve` directly (so --cpu-prof and
 * OMNIBUS_BIN work) and pass this, so they measure the server as installed.
 */
import { readFileSync } from 'node:fs';

const TUNABLES = readFileSync(new URL('../bin/glibc-tunables', import.meta.url), 'utf8').trim();

export function serveEnv(base = process.env) {
  return base.GLIBC_TUNABLES !== undefined ? { ...base } : { ...base, GLIBC_TUNABLES: TUNABLES };
}
