/**
 * FileStorage: the storage SPI over a data directory. One directory per partition log
 * (`<dir>/<name>/`, e.g. `<dir>/topics/orders/0/`) holding segment files; see partition.ts for
 * the write/read/recovery design and ../segment-format.ts for the bytes.
 *
 * The engine owns: the directory lock (`<dir>/LOCK`, see lock.ts), the map of open partitions
 * (opening a name twice returns the same store), and the ChunkCache that bounds write/recent
 * buffers across all partitions (`cacheBytes`, default 64 MiB; older data is read through the
 * OS page cache), and the ReadPool of recycled read buffers behind PartitionStore.readLeased
 * (read-pool.ts: at most 16 idle 1 MiB slabs).
 *
 * Does NOT: share one file between partitions (a fan-out to N queues is N appends), limit open
 * file descriptors globally (each open partition keeps its active segment open plus up to 4 idle
 * sealed ones), or watch the directory for changes made by others.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { err } from '../../../core/errors.js';
import type { PartitionOptions, PartitionStore, StorageEngine } from '../types.js';
import { validateName } from '../segment-format.js';
import { INDEX_FILE_RE, LOG_FILE_RE, RESET_FILE_RE, unlinkIfExists } from './io.js';
import { lockDataDir } from './lock.js';
import type { DirLock } from './lock.js';
import { ChunkCache, FilePartition } from './partition.js';
import { ReadPool } from './read-pool.js';
import type { StorageLogger } from './partition.js';

export type { StorageLogger } from './partition.js';

export interface FileStorageOptions {
  /** Bytes of write/recent-data buffers kept in memory across all partitions; default 64 MiB. */
  cacheBytes?: number;
  /** Receives recovery events (truncated tails, deleted segments) and write failures. */
  logger?: StorageLogger;
  /**
   * Touch the whole write-buffer budget at open (see ChunkCache.prefault); default false. For a
   * long-running server: it trades tens of ms at start for no page faults in the first
   * `cacheBytes` of appends.
   */
  prefault?: boolean;
}

const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export class FileStorage implements StorageEngine {
  readonly kind = 'file' as const;
  readonly persistent = true;
  readonly copiesPayloads = true;
  readonly dir: string;
  private readonly cache: ChunkCache;
  /** @internal Exposed for tests and benchmarks (allocated / reused counts). */
  readonly readPool = new ReadPool();
  private readonly logger: StorageLogger | undefined;
  private readonly parts = new Map<string, Promise<FilePartition>>();
  private lock: DirLock | null = null;
  private locking: Promise<void> | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** Does no I/O; the directory is created and locked by `FileStorage.open(dir)` or the first `open(name)`. */
  constructor(dir: string, opts: FileStorageOptions = {}) {
    if (typeof dir !== 'string' || dir === '') throw err('MQ_ERR_INVALID_ARGUMENT', 'FileStorage needs a directory');
    const cacheBytes = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!(Number.isFinite(cacheBytes) && cacheBytes >= 0)) {
      throw err('MQ_ERR_INVALID_ARGUMENT', `cacheBytes must be a number >= 0, got ${String(cacheBytes)}`);
    }
    this.dir = path.resolve(dir);
    this.cache = new ChunkCache(cacheBytes);
    if (opts.prefault === true) this.cache.prefault();
    this.logger = opts.logger;
  }

  /**
   * Creates the directory if needed and takes its lock. Fails with MQ_ERR_STORAGE if the path is
   * not a writable directory or another live process holds the lock (a dead owner's lock is
   * taken over).
   */
  static async open(dir: string, opts: FileStorageOptions = {}): Promise<FileStorage> {
    const s = new FileStorage(dir, opts);
    await s.ready();
    return s;
  }

  /** Idempotent: locks the directory once. */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(err('MQ_ERR_CLOSED', 'storage is closed'));
    if (!this.locking) {
      this.locking = lockDataDir(this.dir).then((l) => {
        this.lock = l;
      });
      this.locking.catch(() => {
        this.locking = null; // allow a retry after e.g. the other process exits
      });
    }
    return this.locking;
  }

  async open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    validateName(name);
    await this.ready();
    if (this.closed) throw err('MQ_ERR_CLOSED', 'storage is closed');
    let p = this.parts.get(name);
    if (!p) {
      p = FilePartition.open(this.dir, name, opts, {
        cache: this.cache,
        readPool: this.readPool,
        logger: this.logger,
        onClose: (fp) => {
          const cur = this.parts.get(fp.name);
          if (cur) void cur.then((x) => x === fp && this.parts.get(fp.name) === cur && this.parts.delete(fp.name), () => undefined);
        },
      });
      this.parts.set(name, p);
      p.catch(() => {
        if (this.parts.get(name) === p) this.parts.delete(name);
      });
    }
    return p;
  }

  async list(prefix: string): Promise<string[]> {
    await this.ready();
    // Walk from the deepest directory the prefix names; a partition is a directory with a .log file.
    const slash = prefix.lastIndexOf('/');
    const startRel = slash >= 0 ? prefix.slice(0, slash) : '';
    if (startRel !== '' && startRel.split('/').some((s) => s === '..' || s === '.' || s === '')) return [];
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(path.join(this.dir, rel), { withFileTypes: true });
      } catch {
        return;
      }
      if (rel !== '' && entries.some((e) => e.isFile() && (LOG_FILE_RE.test(e.name) || RESET_FILE_RE.test(e.name)))) {
        if (rel.startsWith(prefix)) out.push(rel);
      }
      for (const e of entries) if (e.isDirectory()) await walk(rel === '' ? e.name : `${rel}/${e.name}`);
    };
    await walk(startRel);
    return out.sort();
  }

  async remove(name: string): Promise<void> {
    validateName(name);
    await this.ready();
    const p = this.parts.get(name);
    if (p) {
      this.parts.delete(name);
      const part = await p.catch(() => null);
      if (part) await part.close().catch(() => undefined);
    }
    const dir = path.join(this.dir, ...name.split('/'));
    let names: string[];
    try {
      names = await fs.promises.readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (LOG_FILE_RE.test(n) || INDEX_FILE_RE.test(n) || RESET_FILE_RE.test(n) || n.endsWith('.index.tmp')) {
        await unlinkIfExists(path.join(dir, n));
      }
    }
    // Remove now-empty directories up to the root; a non-empty one holds other partitions.
    let d = dir;
    while (d !== this.dir && d.startsWith(this.dir)) {
      try {
        await fs.promises.rmdir(d);
      } catch {
        break;
      }
      d = path.dirname(d);
    }
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    const errors: unknown[] = [];
    for (const p of [...this.parts.values()]) {
      const part = await p.catch(() => null);
      if (part) await part.close().catch((e: unknown) => errors.push(e));
    }
    this.parts.clear();
    if (this.locking) await this.locking.catch(() => undefined);
    if (this.lock) await this.lock.release();
    if (errors.length > 0) throw errors[0];
  }
}
