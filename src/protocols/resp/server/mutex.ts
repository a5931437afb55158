/**
 * A FIFO async mutex per key: list rewrites and stream id assignment must not interleave with
 * other operations on the same key, while operations on different keys run concurrently.
 * Uncontended acquire costs one resolved promise; waiters are served in arrival order.
 */
export class Mutex {
  #locked = false;
  #queue: (() => void)[] = [];

  get locked(): boolean {
    return this.#locked;
  }

  lock(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  unlock(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#locked = false;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.lock();
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }
}

/** Mutexes by key, dropped when idle so a keyspace of millions of keys costs nothing at rest. */
export class KeyLocks {
  readonly #m = new Map<string, { mutex: Mutex; users: number }>();

  async run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    let e = this.#m.get(key);
    if (!e) this.#m.set(key, (e = { mutex: new Mutex(), users: 0 }));
    e.users++;
    try {
      return await e.mutex.run(fn);
    } finally {
      if (--e.users === 0) this.#m.delete(key);
    }
  }

  /** Locks several keys (sorted, so two multi-key operations cannot deadlock). */
  async runMany<T>(keys: readonly string[], fn: () => Promise<T> | T): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const step = (i: number): Promise<T> => (i === sorted.length ? Promise.resolve(fn()) : this.run(sorted[i]!, () => step(i + 1)));
    return step(0);
  }
}
