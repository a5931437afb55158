/**
 * A set of non-negative integers stored as sorted, merged, inclusive ranges.
 *
 * Used for "settled above the low-water mark": acks arrive mostly in order, so a backlog of ten
 * million acked offsets behind one stuck unacked message is a single range (16 bytes), where a
 * Set<number> would hold ten million entries (~400 MB). Inserting out of order costs a binary
 * search plus an array splice (O(ranges)); in-order inserts extend the last range in O(1).
 */
export class RangeSet {
  /** Flattened [lo0, hi0, lo1, hi1, ...], sorted, non-overlapping, non-adjacent. */
  #r: number[] = [];

  get rangeCount(): number {
    return this.#r.length / 2;
  }

  /** Number of integers in the set. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.#r.length; i += 2) n += this.#r[i + 1]! - this.#r[i]! + 1;
    return n;
  }

  /** Index of the first range whose hi >= x (in pairs), or rangeCount. */
  #find(x: number): number {
    let lo = 0;
    let hi = this.#r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#r[mid * 2 + 1]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(x: number): boolean {
    const i = this.#find(x);
    return i < this.#r.length / 2 && this.#r[i * 2]! <= x;
  }

  add(x: number): void {
    this.addRange(x, x);
  }

  /** Adds [lo, hi] inclusive. */
  addRange(lo: number, hi: number): void {
    const r = this.#r;
    const n = r.length;
    // Fast path: extends or follows the last range.
    if (n === 0 || lo > r[n - 1]! + 1) {
      r.push(lo, hi);
      return;
    }
    if (lo >= r[n - 2]! && lo <= r[n - 1]! + 1) {
      if (hi > r[n - 1]!) r[n - 1] = hi;
      return;
    }
    // General case: find ranges overlapping or adjacent to [lo-1, hi+1] and merge them.
    let i = this.#find(lo - 1);
    let j = i;
    let newLo = lo;
    let newHi = hi;
    while (j < r.length / 2 && r[j * 2]! <= hi + 1) {
      newLo = Math.min(newLo, r[j * 2]!);
      newHi = Math.max(newHi, r[j * 2 + 1]!);
      j++;
    }
    r.splice(i * 2, (j - i) * 2, newLo, newHi);
  }

  /**
   * If `x` is in the set, removes the range starting at x... More precisely: returns the end+1 of
   * the range that contains `x` and deletes every integer <= that end; returns x if x is absent.
   * Used to advance a low-water mark: `low = settled.advance(low)`.
   */
  advance(x: number): number {
    const r = this.#r;
    if (r.length === 0) return x;
    // Drop ranges entirely below x: they are already behind the low-water mark.
    let drop = 0;
    while (drop < r.length && r[drop + 1]! < x) drop += 2;
    let out = x;
    if (drop < r.length && r[drop]! <= x) {
      out = r[drop + 1]! + 1;
      drop += 2;
    }
    if (drop > 0) r.splice(0, drop);
    return out;
  }

  /** How many integers of [lo, hi] are in the set: O(log ranges + ranges counted). */
  countIn(lo: number, hi: number): number {
    const r = this.#r;
    const n = r.length;
    if (hi < lo || n === 0 || r[n - 1]! < lo || r[0]! > hi) return 0;
    let total = 0;
    for (let i = this.#find(lo); i < n / 2 && r[i * 2]! <= hi; i++) total += Math.min(hi, r[i * 2 + 1]!) - Math.max(lo, r[i * 2]!) + 1;
    return total;
  }

  /** The largest integer <= x that is not in the set (x itself when absent): O(log ranges). */
  below(x: number): number {
    const r = this.#r;
    const i = this.#find(x);
    return i < r.length / 2 && r[i * 2]! <= x ? r[i * 2]! - 1 : x;
  }

  /** Removes everything below x. */
  dropBelow(x: number): void {
    const r = this.#r;
    let drop = 0;
    while (drop < r.length && r[drop + 1]! < x) drop += 2;
    if (drop > 0) r.splice(0, drop);
    if (r.length > 0 && r[0]! < x) r[0] = x;
  }

  toArray(): number[] {
    return this.#r.slice();
  }

  static fromArray(a: readonly number[]): RangeSet {
    const s = new RangeSet();
    for (let i = 0; i + 1 < a.length; i += 2) s.addRange(a[i]!, a[i + 1]!);
    return s;
  }
}
