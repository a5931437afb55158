/**
 * Resource alarms, as RabbitMQ raises them (vm_memory_monitor and rabbit_disk_monitor): a memory
 * alarm while the process's resident set is above the high watermark, a disk alarm while the
 * free space of the data directory's file system is below the limit. While any alarm is on, the
 * broker is blocked: publishing connections get connection.blocked ("low on memory", "low on
 * disk" or "low on memory & disk", RabbitMQ's texts) and are no longer read; connection.unblocked
 * follows when every alarm has cleared.
 *
 * Sampling is on the injected clock: memory every `memoryIntervalMs` (default 1 s; RabbitMQ
 * checks every 2.5 s, but a Node heap can grow faster than the Erlang VM's), disk every
 * `diskIntervalMs` (default 5 s; one statfs, ~10 µs). The sampler is injectable too, so a test
 * sets a watermark, moves a ManualClock and never sleeps.
 *
 * Trade-off: the check is periodic, so memory can overshoot the watermark by what arrives within
 * one interval (bounded per connection by the MAX_OUTSTANDING_BYTES flow control).
 */
import { statfs } from 'node:fs/promises';
import type { Clock } from '../../../core/clock.js';

export interface ResourceSampler {
  /** Resident set size of this process, bytes. */
  memoryBytes(): number;
  /** Bytes available to this (unprivileged) process on the file system holding `dir`. */
  diskFreeBytes(dir: string): Promise<number>;
}

export const processSampler: ResourceSampler = {
  memoryBytes: () => process.memoryUsage.rss(),
  async diskFreeBytes(dir) {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  },
};

export interface ResourceAlarmOptions {
  /** Memory alarm above this many bytes of RSS; undefined = no memory alarm. */
  memoryHighWatermarkBytes?: number | undefined;
  /** Disk alarm below this many free bytes on `dataDir`'s disk; undefined = no disk alarm. */
  diskFreeLimitBytes?: number | undefined;
  /** The directory whose file system is watched (the engine's data directory); none in memory. */
  dataDir?: string | undefined;
  memoryIntervalMs?: number;
  diskIntervalMs?: number;
  sampler?: ResourceSampler;
  /** Defaults to the engine's clock. */
  clock?: Clock;
}

export type AlarmResource = 'memory' | 'disk';

export class ResourceAlarms {
  readonly #on = new Set<AlarmResource>();
  readonly #sampler: ResourceSampler;
  #memTimer: (() => void) | undefined;
  #diskTimer: (() => void) | undefined;
  #stopped = false;
  /** Last samples, for logs and tests. */
  lastMemoryBytes: number | undefined;
  lastDiskFreeBytes: number | undefined;

  constructor(
    readonly opts: ResourceAlarmOptions & { clock: Clock },
    /** Called with the blocked reason whenever the set of alarms changes (undefined = none). */
    private readonly onChange: (reason: string | undefined, resource: AlarmResource, on: boolean) => void,
  ) {
    this.#sampler = opts.sampler ?? processSampler;
  }

  get active(): ReadonlySet<AlarmResource> {
    return this.#on;
  }

  /** RabbitMQ's connection.blocked reason for the alarms now on, or undefined. */
  get reason(): string | undefined {
    if (this.#on.size === 0) return undefined;
    return 'low on ' + (['memory', 'disk'] as const).filter((r) => this.#on.has(r)).join(' & ');
  }

  /** Takes a first sample of each resource at once, then keeps sampling on the clock. */
  async start(): Promise<void> {
    if (this.opts.memoryHighWatermarkBytes !== undefined) {
      this.checkMemory();
      this.#armMemory();
    }
    if (this.opts.diskFreeLimitBytes !== undefined && this.opts.dataDir !== undefined) {
      await this.checkDisk();
      this.#armDisk();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#memTimer?.();
    this.#diskTimer?.();
    this.#memTimer = this.#diskTimer = undefined;
  }

  checkMemory(): void {
    const limit = this.opts.memoryHighWatermarkBytes;
    if (limit === undefined) return;
    const used = this.#sampler.memoryBytes();
    this.lastMemoryBytes = used;
    this.#set('memory', used > limit);
  }

  async checkDisk(): Promise<void> {
    const limit = this.opts.diskFreeLimitBytes;
    const dir = this.opts.dataDir;
    if (limit === undefined || dir === undefined) return;
    let free: number;
    try {
      free = await this.#sampler.diskFreeBytes(dir);
    } catch {
      // RabbitMQ keeps the last state when the disk cannot be queried; so do we.
      return;
    }
    if (this.#stopped) return;
    this.lastDiskFreeBytes = free;
    this.#set('disk', free < limit);
  }

  #set(r: AlarmResource, on: boolean): void {
    if (on === this.#on.has(r)) return;
    if (on) this.#on.add(r);
    else this.#on.delete(r);
    this.onChange(this.reason, r, on);
  }

  #armMemory(): void {
    if (this.#stopped) return;
    this.#memTimer = this.opts.clock.setTimer(this.opts.memoryIntervalMs ?? 1000, () => {
      this.checkMemory();
      this.#armMemory();
    });
  }

  #armDisk(): void {
    if (this.#stopped) return;
    this.#diskTimer = this.opts.clock.setTimer(this.opts.diskIntervalMs ?? 5000, () => {
      this.checkDisk().then(
        () => this.#armDisk(),
        () => this.#armDisk(),
      );
    });
  }
}
