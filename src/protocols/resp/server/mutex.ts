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

/**
 * Mutexes by key. A key's entry says whether it is held and who waits (FIFO). An uncontended run
 * costs one map lookup and no extra promise (a Mutex object and two nested async calls per run
 * were 17 % of the CPU of an LPUSH/RPOP loop).
 *
 * Entries of idle keys stay in the map until IDLE_KEPT of them have piled up, then all idle ones
 * go at once: a client hitting one key takes and releases its lock without a map insert and
 * delete every time (V8 reallocates a Map's table when it shrinks to empty and grows again; the
 * insert and delete were ~0.25 µs of each lone LPUSH), while a keyspace of millions of keys
 * still keeps at most IDLE_KEPT entries at rest.
 */
interface LockEntry {
  held: boolean;
  readonly waiters: (() => void)[];
}

const IDLE_KEPT = 256;

export class KeyLocks {
  readonly #m = new Map<string, LockEntry>();
  /** Entries in #m that are not held (and have no waiters). */
  #idle = 0;

  /** Whether an operation on `key` is running (or queued): run() would have to wait. */
  isLocked(key: string): boolean {
    const e = this.#m.get(key);
    return e !== undefined && e.held;
  }

  /** Keys with an entry (held or idle): for tests of the idle bound. */
  get size(): number {
    return this.#m.size;
  }

  run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const e = this.#m.get(key);
    if (e === undefined) {
      const fresh: LockEntry = { held: true, waiters: [] };
      this.#m.set(key, fresh);
      return this.#held(fresh, fn);
    }
    if (!e.held) {
      e.held = true;
      this.#idle--;
      return this.#held(e, fn);
    }
    return new Promise<void>((resolve) => e.waiters.push(resolve)).then(() => this.#held(e, fn));
  }

  #held<T>(e: LockEntry, fn: () => Promise<T> | T): Promise<T> {
    let r: Promise<T> | T;
    try {
      r = fn();
    } catch (err) {
      this.#release(e);
      return Promise.reject(err);
    }
    if (!(r instanceof Promise)) {
      this.#release(e);
      return Promise.resolve(r);
    }
    return r.then(
      (v) => {
        this.#release(e);
        return v;
      },
      (err: unknown) => {
        this.#release(e);
        throw err;
      },
    );
  }

  #release(e: LockEntry): void {
    const next = e.waiters.shift();
    // The lock passes straight to the next waiter (FIFO).
    if (next) {
      next();
      return;
    }
    e.held = false;
    if (++this.#idle > IDLE_KEPT) this.#sweep();
  }

  #sweep(): void {
    for (const [k, e] of this.#m) if (!e.held) this.#m.delete(k);
    this.#idle = 0;
  }

  /** Locks several keys (sorted, so two multi-key operations cannot deadlock). */
  async runMany<T>(keys: readonly string[], fn: () => Promise<T> | T): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const step = (i: number): Promise<T> => (i === sorted.length ? Promise.resolve(fn()) : this.run(sorted[i]!, () => step(i + 1)));
    return step(0);
  }
}
