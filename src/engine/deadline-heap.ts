/**
 * A binary min-heap keyed by deadline (ms). The engine keeps ONE heap per group for delayed
 * messages instead of one timer per message: 1,000,000 delayed messages cost ~1,000,000 small
 * objects (~50 MB) and one armed timer, not a million timers.
 */
export interface HeapItem {
  due: number;
}

export class DeadlineHeap<T extends HeapItem> {
  #a: T[] = [];

  get size(): number {
    return this.#a.length;
  }

  peek(): T | undefined {
    return this.#a[0];
  }

  push(item: T): void {
    const a = this.#a;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.due <= item.due) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r]!.due < a[l]!.due ? r : l;
        if (a[c]!.due >= last.due) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }

  /** Every item, in no particular order (for snapshots). */
  items(): readonly T[] {
    return this.#a;
  }

  clear(): void {
    this.#a = [];
  }
}
