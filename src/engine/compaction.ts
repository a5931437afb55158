/**
 * Log compaction (Kafka's cleanup.policy=compact): keep only the latest record per key.
 *
 * One pass over a partition log, run by the engine's retention timer for compacted topics and
 * callable directly (`engine.compact()`):
 *
 * 1. Key map: read every *sealed* segment (storage's `sealedSegments()`: never the active one,
 *    nor one whose seal is pending) and note, per key, the offset of its latest record. Keys in
 *    the active segment are not counted (as in Kafka): the active segment may still lose its
 *    unsynced tail in a crash, and a newer value there must not have cost the older durable one.
 * 2. Rewrite: for each sealed segment that loses at least one record, build its new batches and
 *    hand them to `store.rewriteSegment()` (an atomic, crash-safe swap in both storages). A
 *    record is dropped when its key has a later record in the key map, or when it is a tombstone
 *    (a Kafka record with a null value) whose own timestamp is older than `deleteRetentionMs`.
 *    Records without a key, and batches no compactor can read, are kept as they are.
 *
 * Offsets never change: a batch keeps its base offset and its offset count. A partly compacted
 * batch is re-encoded by its format's compactor (a Kafka batch with gaps in its offset deltas
 * and its original lastOffsetDelta; native records split into runs); offsets left with no
 * record at all become FORMAT_GAP frames (no payload; consecutive ones merged into one), which
 * every reader skips: queue groups settle them (no decoder), Kafka Fetch serves them as an
 * empty RecordBatch spanning the gap, other log readers skip unknown formats. Committed
 * offsets and group cursors therefore stay valid; a consumer simply never sees removed records.
 * If the last segment before the active one holds the log's last batch (the active segment is
 * empty), it is left alone too, so the last batch is never touched.
 *
 * Costs and limits: the key map holds one entry per distinct key of the sealed data (a JS
 * string + number, ~50–100 bytes each; Kafka bounds its map with log.cleaner.dedupe.buffer.size
 * and compacts in several passes instead). Every pass reads all sealed data twice and rewrites
 * the segments that changed; sealed segments are not merged, so a fully compacted segment still
 * costs one small file. Tombstone age is the record's timestamp, not Kafka's per-segment delete
 * horizon. Transactional and control Kafka batches are neither compacted nor counted in the key
 * map (an aborted transaction must not shadow a committed value).
 */
import type { BatchInput, PartitionStore, StoredBatch } from './storage/types.js';
import { decodeRecordAt, FORMAT_NATIVE } from './record.js';

/** Storage format tag of a filler frame: offsets whose records were compacted away (no payload). */
export const FORMAT_GAP = 2;

/** Kafka's default delete.retention.ms: how long a tombstone outlives the records it shadowed. */
export const DEFAULT_DELETE_RETENTION_MS = 24 * 60 * 60 * 1000;

/** One record of a batch, as compaction sees it. */
export interface CompactionRecord {
  offset: number;
  /** Key identity (undefined: no key, never compacted). */
  key: string | undefined;
  /** A deletion marker (Kafka: null value). */
  tombstone: boolean;
  timestamp: number;
  /** Byte range of the record in the payload, for formats that copy records verbatim. */
  start: number;
  end: number;
}

/** How compaction reads and re-encodes the batches of one storage format. */
export interface BatchCompactor {
  /** The batch's records, or undefined when the batch must be kept untouched (and its keys ignored). */
  records(b: StoredBatch): CompactionRecord[] | undefined;
  /**
   * Re-encodes `b` with only `keep` (a non-empty, strict subset of records(b), in order). The
   * result must take exactly the offsets [b.baseOffset, b.baseOffset + b.count): FORMAT_GAP
   * batches may fill offsets the format cannot span.
   */
  rebuild(b: StoredBatch, keep: readonly CompactionRecord[]): BatchInput[];
}

const compactors = new Map<number, BatchCompactor>();

/** Registers the compactor of a foreign batch format (the Kafka protocol registers FORMAT_KAFKA). */
export function registerBatchCompactor(format: number, c: BatchCompactor): void {
  compactors.set(format, c);
}

const EMPTY = Buffer.alloc(0);

/**
 * A copy of a read view: MemoryStorage keeps large payloads by reference, and a view would pin
 * the whole old segment buffer (or read buffer) it points into.
 */
function own(b: Buffer): Buffer {
  return Buffer.from(b);
}

export function gapBatch(count: number, timestamp: number): BatchInput {
  return { count, timestamp, format: FORMAT_GAP, payload: EMPTY };
}

/** Native records (record.ts): key = the record key; there are no tombstones. */
const nativeCompactor: BatchCompactor = {
  records(b) {
    const out: CompactionRecord[] = [];
    let pos = 0;
    for (let i = 0; i < b.count; i++) {
      const r = decodeRecordAt(b.payload, pos, b.baseOffset + i);
      out.push({ offset: r.offset, key: r.key, tombstone: false, timestamp: r.timestamp, start: pos, end: pos + r.size });
      pos += r.size;
    }
    return out;
  },
  rebuild(b, keep) {
    // Runs of consecutive kept records stay native batches (their bytes copied as they are);
    // the offsets between them become gaps.
    const out: BatchInput[] = [];
    let next = b.baseOffset;
    let i = 0;
    while (i < keep.length) {
      const first = keep[i]!;
      if (first.offset > next) out.push(gapBatch(first.offset - next, b.timestamp));
      let j = i + 1;
      while (j < keep.length && keep[j]!.offset === keep[j - 1]!.offset + 1) j++;
      const last = keep[j - 1]!;
      let ts = -Infinity;
      for (let k = i; k < j; k++) ts = Math.max(ts, keep[k]!.timestamp);
      out.push({ count: j - i, timestamp: ts, format: FORMAT_NATIVE, payload: own(b.payload.subarray(first.start, last.end)) });
      next = last.offset + 1;
      i = j;
    }
    const end = b.baseOffset + b.count;
    if (end > next) out.push(gapBatch(end - next, b.timestamp));
    return out;
  },
};
compactors.set(FORMAT_NATIVE, nativeCompactor);

export interface CompactionOptions {
  /** Current time (the engine's clock), for tombstone expiry. */
  now: number;
  /** Tombstones older than this are removed; default DEFAULT_DELETE_RETENTION_MS. */
  deleteRetentionMs?: number;
}

export interface CompactionStats {
  /** End of the sealed data the pass looked at (a later pass with the same end has nothing new, until a tombstone expires). */
  sealedEnd: number;
  /** When the oldest tombstone kept by this pass becomes removable (Infinity: none). */
  nextTombstoneExpiry: number;
  segmentsRewritten: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

const READ_BYTES = 1024 * 1024;

/** Calls `each` for every batch starting in [from, to), in order. */
async function scan(store: PartitionStore, from: number, to: number, each: (b: StoredBatch) => void): Promise<void> {
  let off = from;
  while (off < to) {
    const page = await store.read(off, READ_BYTES);
    if (page.length === 0) return;
    for (const b of page) {
      if (b.baseOffset >= to) return;
      if (b.baseOffset + b.count > off) each(b);
      off = b.baseOffset + b.count;
    }
  }
}

/** One compaction pass over one partition log; see the module comment. */
export async function compactPartition(store: PartitionStore, opts: CompactionOptions): Promise<CompactionStats> {
  const stats: CompactionStats = { sealedEnd: -1, nextTombstoneExpiry: Infinity, segmentsRewritten: 0, recordsRemoved: 0, tombstonesRemoved: 0, bytesBefore: store.sizeBytes, bytesAfter: store.sizeBytes };
  const sealed = store.sealedSegments();
  if (sealed.length > 0) stats.sealedEnd = sealed[sealed.length - 1]!.end;
  // The log's last batch is never touched: when the active segment is empty it is in the last
  // sealed segment (whose keys still count).
  const segs = sealed.length > 0 && sealed[sealed.length - 1]!.end >= store.endOffset ? sealed.slice(0, -1) : sealed;
  if (segs.length === 0) return stats;
  const retention = opts.deleteRetentionMs ?? DEFAULT_DELETE_RETENTION_MS;
  const horizon = opts.now - retention;

  const latest = new Map<string, number>();
  for (const s of sealed) {
    await scan(store, s.base, s.end, (b) => {
      const recs = compactors.get(b.format)?.records(b);
      if (recs) for (const r of recs) if (r.key !== undefined) latest.set(r.key, r.offset);
    });
  }

  for (const s of segs) {
    const out: BatchInput[] = [];
    let changed = false;
    let removed = 0;
    let tombstones = 0;
    const push = (b: BatchInput): void => {
      const prev = out[out.length - 1];
      if (b.format === FORMAT_GAP && prev !== undefined && prev.format === FORMAT_GAP) {
        out[out.length - 1] = gapBatch(prev.count + b.count, Math.max(prev.timestamp, b.timestamp));
      } else out.push(b);
    };
    await scan(store, s.base, s.end, (b) => {
      const c = compactors.get(b.format);
      const recs = c?.records(b);
      const asIs = (): void => push({ count: b.count, timestamp: b.timestamp, format: b.format, payload: own(b.payload) });
      if (!c || !recs) return asIs();
      const keep: CompactionRecord[] = [];
      for (const r of recs) {
        if (r.key === undefined) keep.push(r);
        else if (latest.get(r.key) !== r.offset) removed++;
        else if (r.tombstone && r.timestamp < horizon) {
          removed++;
          tombstones++;
        } else {
          if (r.tombstone) stats.nextTombstoneExpiry = Math.min(stats.nextTombstoneExpiry, r.timestamp + retention);
          keep.push(r);
        }
      }
      if (keep.length === recs.length) return asIs();
      changed = true;
      if (keep.length === 0) push(gapBatch(b.count, b.timestamp));
      else for (const x of c.rebuild(b, keep)) push(x);
    });
    if (!changed) continue;
    if (await store.rewriteSegment(s.base, s.end, out)) {
      stats.segmentsRewritten++;
      stats.recordsRemoved += removed;
      stats.tombstonesRemoved += tombstones;
    }
  }
  stats.bytesAfter = store.sizeBytes;
  return stats;
}
