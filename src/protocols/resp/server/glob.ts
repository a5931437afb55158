/**
 * Redis's glob matcher (util.c stringmatchlen) for KEYS/SCAN MATCH, PSUBSCRIBE and PUBSUB
 * CHANNELS: `*`, `?`, `[abc]`, `[^a-z]`, and `\x` escapes, over bytes (latin1 strings here, so
 * one character = one byte, as in Redis). Case-sensitive. Recursion on `*` is bounded the way
 * Redis bounds it (a nesting limit), so a hostile pattern like `*a*a*a*…b` costs O(n·m) at worst
 * per call instead of exponential time.
 */
export function globMatch(pattern: string, str: string): boolean {
  return match(pattern, 0, str, 0, 0) === 1;
}

/** 1 = match, 0 = no match, -1 = no match and no later `*` can help (Redis's skipLongerMatches). */
function match(p: string, pi: number, s: string, si: number, nesting: number): number {
  if (nesting > 1000) return 0;
  const plen = p.length;
  const slen = s.length;
  while (pi < plen && si < slen) {
    const c = p.charCodeAt(pi);
    if (c === 42 /* * */) {
      while (pi + 1 < plen && p.charCodeAt(pi + 1) === 42) pi++;
      if (pi + 1 === plen) return 1;
      for (let k = si; k < slen; k++) {
        const r = match(p, pi + 1, s, k, nesting + 1);
        if (r === 1) return 1;
        if (r === -1) return -1;
      }
      return -1;
    } else if (c === 63 /* ? */) {
      si++;
    } else if (c === 91 /* [ */) {
      pi++;
      const not = p.charCodeAt(pi) === 94; /* ^ */
      if (not) pi++;
      let hit = false;
      const ch = s.charCodeAt(si);
      for (;;) {
        if (pi >= plen) {
          pi--;
          break;
        }
        const pc = p.charCodeAt(pi);
        if (pc === 93 /* ] */) break;
        if (pc === 92 /* \ */ && pi + 1 < plen) {
          pi++;
          if (p.charCodeAt(pi) === ch) hit = true;
        } else if (pi + 2 < plen && p.charCodeAt(pi + 1) === 45 /* - */) {
          let lo = pc;
          let hi = p.charCodeAt(pi + 2);
          if (lo > hi) [lo, hi] = [hi, lo];
          pi += 2;
          if (ch >= lo && ch <= hi) hit = true;
        } else if (pc === ch) hit = true;
        pi++;
      }
      if (not) hit = !hit;
      if (!hit) return 0;
      si++;
    } else {
      if (c === 92 /* \ */ && pi + 1 < plen) pi++;
      if (p.charCodeAt(pi) !== s.charCodeAt(si)) return 0;
      si++;
    }
    pi++;
    if (si === slen) {
      while (pi < plen && p.charCodeAt(pi) === 42) pi++;
      break;
    }
  }
  return pi === plen && si === slen ? 1 : 0;
}
