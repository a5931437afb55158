/**
 * The storage SPI: an offset-addressed, append-only log of *batches*, one per partition.
 *
 * Storage knows nothing about what is inside a batch: it assigns `count` consecutive offsets to
 * each appended batch, keeps the payload bytes exactly as given (a Kafka RecordBatch stays
 * byte-for-byte), and finds batches again by offset or timestamp. Records, headers, acks and
 * queue state are encoded by the engine above it (see ../record.ts). Queue state logs (acks,
 * nacks, committed offsets) and the catalogue are themselves partition logs with small batches.
 *
 * Implementations: MemoryStorage (memory.ts, segments are in-heap Buffers) and FileStorage
 * (file/, segments are files). Both pass test/storage/storage-suite.ts.
 *
 * Not thread-safe and not multi-process: one process owns a data directory (FileStorage takes a
 * lock file).
 */

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface PartitionOptions {
  /**
   * When `durable()` resolves. `always`: after an fdatasync covering the data (group commit: one
   * fsync releases every append made before it started). `interval`: after the data is written to
   * the OS; an fsync runs every `fsyncIntervalMs`. `never`: after the write; the OS decides.
   * MemoryStorage ignores it.
   */
  fsync: FsyncPolicy;
  /** For `interval`; default 200 ms. */
  fsyncIntervalMs?: number;
  /** Maximum bytes of a segment before a new one is rolled; default 64 MiB. */
  segmentBytes?: number;
}

/** What the engine hands to storage: one batch of `count` records, opaque `payload` bytes. */
export interface BatchInput {
  /** Records in the batch; the batch takes offsets [base, base + count). Must be >= 1. */
  count: number;
  /** Largest record timestamp in the batch (ms); used by the time index. */
  timestamp: number;
  /** Payload format tag; 0 = Omnibus native records (engine/record.ts), 1 = Kafka RecordBatch v2. 0..255. */
  format: number;
  payload: Uint8Array;
}

/** A batch for PartitionStore.appendEncoded: `size` payload bytes that `write` puts at `buf[pos…]`. */
export interface EncodedBatchInput {
  count: number;
  timestamp: number;
  format: number;
  size: number;
  write(buf: Buffer, pos: number): void;
}

/** A batch as read back. `payload` may be a view into a shared buffer: copy it to keep it. */
export interface StoredBatch {
  baseOffset: number;
  count: number;
  timestamp: number;
  format: number;
  payload: Buffer;
}

/**
 * A hold on the buffer behind a leased read's payloads (PartitionStore.readLeased). The buffer is
 * reused for another read once every holder has released it, unless it escaped: a view of it is
 * valid only while its holder holds a reference.
 */
export interface ReadLease {
  /** One more holder (e.g. a delivery that keeps a payload view, a socket write in flight). */
  retain(): void;
  /** One holder fewer; at zero the buffer may be overwritten by a later read. Extra calls are ignored. */
  release(): void;
  /** A view went where nobody will release it: the buffer is never reused (left to the GC). */
  escape(): void;
}

/** What readLeased returns: read()'s batches, and the lease on their buffer (held once by the caller). */
export interface LeasedRead {
  batches: StoredBatch[];
  /** Undefined when no payload lives in a pooled buffer (nothing to release). */
  lease: ReadLease | undefined;
}

/** Options of PartitionStore.truncateBefore(). */
export interface TruncateOptions {
  /**
   * Roll away a fully settled active segment only if it holds at least this many bytes; a smaller
   * one stays (its records remain readable below the caller's offset, and startOffset does not
   * move past them). For housekeeping that runs whenever a queue drains: without it a queue that
   * empties after every message rolls, creates and deletes a segment file per message. A store
   * for which a roll costs no I/O may ignore it. Default 0: always roll.
   */
  readonly minRollBytes?: number;
}

export interface PartitionStore {
  /** First offset still retained (== endOffset when empty). */
  readonly startOffset: number;
  /** The offset the next appended record will get. */
  readonly endOffset: number;
  /** Bytes retained (all segments, including framing). */
  readonly sizeBytes: number;

  /**
   * Appends batches in order and returns the base offset of the first. The store may keep a
   * reference to a payload instead of copying it (MemoryStorage does, for large ones): callers
   * must not modify a payload after appending it. Offsets are assigned
   * synchronously, so two appends never interleave. The data is readable at once; call
   * `durable()` to learn when it is safe (per the fsync policy).
   * Throws MQ_ERR_CLOSED after close, MQ_ERR_STORAGE after an I/O failure.
   */
  append(batches: readonly BatchInput[]): number;

  /**
   * Optional: appends one batch whose payload `write` encodes straight into the store's write
   * buffer at `buf[pos, pos + batch.size)`, instead of the caller encoding it elsewhere and
   * append() copying it in (FilePartition: a 10 KiB record is then copied once on its way from a
   * socket to the file). If `write` throws, nothing is appended and the error propagates.
   * Returns the base offset, as append().
   */
  appendEncoded?(batch: EncodedBatchInput): number;

  /**
   * Resolves when everything appended before this call is durable per the partition's fsync
   * policy. Cheap to call per publish: concurrent callers share one write + one fsync (group
   * commit). Rejects with MQ_ERR_STORAGE if the write or fsync failed.
   */
  durable(): Promise<void>;

  /**
   * Batches holding offsets >= `offset`, in order, stopping once `maxBytes` of payload have been
   * collected (at least one batch is returned if any exists, however large). The first batch may
   * start before `offset` (batches are not split). Returns [] at the end of the log.
   * An offset below startOffset reads from startOffset. Never returns a batch that failed its
   * checksum: it throws MQ_ERR_CORRUPT instead.
   */
  read(offset: number, maxBytes: number): Promise<StoredBatch[]>;

  /**
   * Optional: read(), except that bytes read from the file land in a recycled buffer instead of a
   * fresh one (FilePartition: the engine-wide ReadPool). The caller holds the lease once and must
   * release() it when it no longer needs any of the payloads, retain() for every further holder,
   * or escape() it when a view goes to code that will not release. Payloads served from memory
   * (write chunks) are plain views, valid for ever, as read()'s.
   */
  readLeased?(offset: number, maxBytes: number): Promise<LeasedRead>;

  /** The first offset whose batch timestamp is >= `timestamp`, or endOffset if none. */
  offsetForTimestamp(timestamp: number): Promise<number>;

  /**
   * Deletes whole segments whose every offset is < `offset` (the active segment is never deleted
   * unless `offset` >= endOffset and it has data: then it is rolled first). startOffset moves to
   * the first retained batch. Used for settled-queue cleanup and for retention.
   */
  truncateBefore(offset: number, opts?: TruncateOptions): Promise<void>;

  /**
   * Retention: deletes oldest whole segments while the retained size exceeds `maxBytes`, or while
   * a segment's newest timestamp is older than `now - maxAgeMs`. The active segment stays.
   * The segments leave the log (startOffset moves) before the call returns; their files may be
   * deleted later. A read already on one of them may then return [] (the engine wakes its groups).
   */
  enforceRetention(opts: { maxBytes?: number; maxAgeMs?: number; now: number }): Promise<void>;

  /**
   * Log compaction, step 1: the sealed segments as offset ranges [base, end), oldest first. The
   * active segment (the one appends go to) is never listed, nor is a segment whose seal (fsync)
   * is still pending. Compaction (../compaction.ts) rewrites only these.
   */
  sealedSegments(): { base: number; end: number }[];

  /**
   * Log compaction, step 2: replaces the sealed segment [base, end) by `batches`, which must take
   * exactly the same offsets (their counts add up to end - base; a batch may hold fewer records
   * than offsets — the format inside decides). Readers see the old or the new segment, never a
   * mix; a crash at any point leaves one or the other (FileStorage writes `<base>.log.compact`,
   * fsyncs it and renames it over the segment). Resolves false, changing nothing, when that
   * segment is no longer a sealed segment with that range (retention deleted it meanwhile).
   * Throws MQ_ERR_INVALID_ARGUMENT if the counts do not cover the range.
   */
  rewriteSegment(base: number, end: number, batches: readonly BatchInput[]): Promise<boolean>;

  /** Deletes everything and restarts at `nextOffset` (e.g. Kafka DeleteRecords past the end, queue purge). */
  reset(nextOffset: number): Promise<void>;

  /** Flushes, fsyncs (if not `never`) and closes. Idempotent. */
  close(): Promise<void>;
}

export interface StorageEngine {
  /** 'memory' or 'file'. */
  readonly kind: 'memory' | 'file';
  /** True when data survives a process restart. */
  readonly persistent: boolean;
  /**
   * True when append() copies every payload before returning, so the caller may reuse the
   * payload buffer at once (FileStorage). MemoryStorage keeps large payloads by reference.
   */
  readonly copiesPayloads?: boolean;
  /**
   * Opens (creating if needed) the partition log `name`. Names are engine-chosen paths such as
   * `topics/orders/0` or `state/orders/acks`: segments of `[A-Za-z0-9._-]` joined by `/`.
   * Opening a name that is already open returns the same store.
   */
  open(name: string, opts: PartitionOptions): Promise<PartitionStore>;
  /** Names of every stored partition log under `prefix` (exists on disk or in memory). */
  list(prefix: string): Promise<string[]>;
  /** Closes (if open) and deletes the log. */
  remove(name: string): Promise<void>;
  /** Closes every open store; idempotent. */
  close(): Promise<void>;
}
