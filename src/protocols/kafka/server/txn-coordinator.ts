/**
 * Kafka transactions: the transaction coordinator (this node coordinates every transactional id,
 * FindCoordinator key type 1) and the per-partition transaction index that Fetch's
 * read_committed isolation needs.
 *
 * Coordinator, per transactional id: producer id and epoch (InitProducerId, producer-state.ts
 * hands them out), state Empty → Ongoing (AddPartitionsToTxn / AddOffsetsToTxn) → Ending (EndTxn
 * writing markers) → Empty, the partitions and the group offsets (TxnOffsetCommit) of the
 * ongoing transaction, and its timeout timer (transaction.timeout.ms on the injected clock: a
 * transaction still open then is aborted and its producer fenced by an epoch bump, as Kafka does).
 * A request with an older epoch gets INVALID_PRODUCER_EPOCH (fenced); with an unknown id,
 * INVALID_PRODUCER_ID_MAPPING; during Ending, CONCURRENT_TRANSACTIONS (retriable).
 *
 * EndTxn writes a control batch (attributes transactional | control, one record: key = version 0,
 * type 0 abort / 1 commit; value = version 0, coordinator epoch 0) into every partition of the
 * transaction, then on commit stores the transaction's group offsets (engine.commitOffset).
 *
 * Durable coordinator state (Kafka's __transaction_state log): one entry per transactional id in
 * the engine's committed-offset table (reserved group STATE_GROUP, "topic" = the transactional id,
 * offset = producer id, metadata = JSON of epoch, timeout, state, partitions and staged group
 * offsets), rewritten — durably, per the fsync policy — before the answer of every request that
 * changes it: InitProducerId, AddPartitionsToTxn (new partitions), AddOffsetsToTxn,
 * TxnOffsetCommit, and EndTxn twice (the decision, "commit"/"abort", BEFORE the first marker; "empty"
 * once every marker and offset is written, not awaited — see #end). That is 2 sync waits per
 * transaction of one AddPartitionsToTxn, as in Kafka (AddPartitions and PrepareCommit records). A restart (recover(), before the listener serves) then:
 * - restores every transactional id's producer id and epoch: InitProducerId keeps the id and bumps
 *   the epoch, fencing the previous incarnation (INVALID_PRODUCER_EPOCH), as in Kafka;
 * - completes a decided transaction: all of its markers (again where already written: a second
 *   marker of a producer without an open transaction is ignored by clients and by the index) and,
 *   for a commit, its staged offsets — so a crash in the middle of EndTxn can no longer leave some
 *   partitions committed and others aborted, nor the output committed without the input offsets;
 * - aborts an ongoing (undecided) transaction after bumping its epoch, so its producer is fenced.
 *   Kafka instead lets it go on until its timeout; a producer here gets INVALID_PRODUCER_EPOCH
 *   and must re-initialise (the produce requests in flight at the crash were lost anyway).
 *
 * Partition index (Kafka's producer state + .txnindex): the first offset of each producer's open
 * transaction (the last stable offset, LSO, is the smallest, else the high watermark) and the
 * aborted transactions as (producerId, firstOffset, lastOffset = marker offset), which Fetch
 * returns so clients drop aborted records. It is built on first use by scanning the partition
 * from the first transactional offset it ever had — durably noted (engine committed-offset table,
 * a reserved group) before the first transactional append — so a partition that never saw a
 * transaction costs one map lookup. Transactions found open by that scan belong to a previous
 * process: those the recovered coordinator state is ending get their markers from it; any other
 * (data written before the state was durable) is aborted at once, so read_committed
 * readers never wait on a transaction nobody can finish. Aborted ranges are kept in memory (16
 * bytes each per partition); the scan is O(partition bytes since its first transaction), once per
 * partition per process.
 *
 * Not done: an ongoing transaction continuing across a restart (see above), queue consumers of
 * other protocols seeing committed transactional records (they skip every
 * transactional batch — see format.ts — so they never see aborted or uncommitted ones).
 */
import type { Engine } from '../../../engine/engine.js';
import { FORMAT_KAFKA } from '../../../engine/record.js';
import type { Clock } from '../../../core/clock.js';
import { buildControlBatch, controlRecordType, decodeRecordBatch } from '../records/index.js';
import { ATTR_CONTROL, ATTR_TRANSACTIONAL, readBatchHeader, type BatchHeader } from './batch-header.js';
import { KafkaError } from './error-codes.js';
import type { ProducerState } from './producer-state.js';

const FIRST_TXN_GROUP = '__omnibus.kafka.txn-first';
/** Committed-offset groups holding the server's own state: clients may not commit to them. */
export const RESERVED_GROUP_PREFIX = '__omnibus.';
/** Durable coordinator state, one entry per transactional id (see the header). */
const STATE_GROUP = '__omnibus.kafka.txn-state';

/** The JSON stored per transactional id. */
interface StoredTxn {
  /** Producer epoch. */
  e: number;
  /** transaction.timeout.ms */
  t: number;
  s: 'empty' | 'ongoing' | 'commit' | 'abort';
  /** Partitions ("topic\0partition"). */
  p: string[];
  /** Group → staged offsets [topic, partition, offset, metadata]. */
  g: [string, [string, number, number, string][]][];
}
/** Kafka's transaction.max.timeout.ms default. */
export const MAX_TXN_TIMEOUT_MS = 15 * 60 * 1000;

interface Txn {
  transactionalId: string;
  producerId: number;
  epoch: number;
  timeoutMs: number;
  state: 'empty' | 'ongoing' | 'ending';
  partitions: Set<string>;
  offsets: Map<string, Map<string, { topic: string; partition: number; offset: number; metadata: string }>>;
  cancelTimer: (() => void) | undefined;
}

interface PartitionIndex {
  /** producerId → [first offset of its open transaction, epoch]. */
  open: Map<number, [number, number]>;
  /** Aborted transactions in marker order. */
  aborted: { producerId: number; firstOffset: number; lastOffset: number }[];
}

export type TxnResult = { errorCode: number };

function key(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

function splitKey(k: string): [string, number] {
  const i = k.lastIndexOf('\0');
  return [k.slice(0, i), Number(k.slice(i + 1))];
}

export class TxnCoordinator {
  readonly #engine: Engine;
  readonly #clock: Clock;
  readonly #producers: ProducerState;
  readonly #log: (line: string) => void;
  readonly #txns = new Map<string, Txn>();
  /** producerId → its transactional id's state (Produce checks by producer id). */
  readonly #byProducer = new Map<number, Txn>();
  readonly #index = new Map<string, PartitionIndex>();
  readonly #loading = new Map<string, Promise<PartitionIndex>>();

  constructor(engine: Engine, clock: Clock, producers: ProducerState, log: (line: string) => void) {
    this.#engine = engine;
    this.#clock = clock;
    this.#producers = producers;
    this.#log = log;
    // A topic deleted through any protocol takes its partitions' indexes with it.
    this.#unsubscribe = engine.onTopicDeleted((name) => this.forgetTopic(name));
  }

  readonly #unsubscribe: () => void;

  /** Stops every transaction timer (open transactions stay open: a restart aborts them). */
  close(): void {
    this.#unsubscribe();
    for (const t of this.#txns.values()) {
      t.cancelTimer?.();
      t.cancelTimer = undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Coordinator
  // ---------------------------------------------------------------------------------------------

  /**
   * InitProducerId with a transactional id: a transaction left open by the previous incarnation
   * is aborted (with the new epoch, fencing the old producer), then the id starts Empty.
   */
  async initProducer(transactionalId: string, timeoutMs: number): Promise<{ errorCode: number; producerId: number; producerEpoch: number }> {
    if (!(timeoutMs > 0) || timeoutMs > MAX_TXN_TIMEOUT_MS) return { errorCode: KafkaError.INVALID_TRANSACTION_TIMEOUT, producerId: -1, producerEpoch: -1 };
    const old = this.#txns.get(transactionalId);
    if (old?.state === 'ending') return { errorCode: KafkaError.CONCURRENT_TRANSACTIONS, producerId: -1, producerEpoch: -1 };
    const r = await this.#producers.initProducer(transactionalId);
    if (old && old.state === 'ongoing') {
      old.epoch = r.producerEpoch;
      await this.#end(old, false);
    }
    old?.cancelTimer?.();
    if (old) this.#byProducer.delete(old.producerId);
    const fresh: Txn = {
      transactionalId,
      producerId: r.producerId,
      epoch: r.producerEpoch,
      timeoutMs,
      state: 'empty',
      partitions: new Set(),
      offsets: new Map(),
      cancelTimer: undefined,
    };
    this.#txns.set(transactionalId, fresh);
    this.#byProducer.set(r.producerId, fresh);
    await this.#persist(fresh, 'empty');
    return { errorCode: KafkaError.NONE, ...r };
  }

  /** Writes a transactional id's state durably (STATE_GROUP; see the header). */
  async #persist(t: Txn, s: StoredTxn['s']): Promise<void> {
    const g: StoredTxn['g'] = [];
    for (const [group, offs] of t.offsets) g.push([group, [...offs.values()].map((o) => [o.topic, o.partition, o.offset, o.metadata])]);
    const stored: StoredTxn = { e: t.epoch, t: t.timeoutMs, s, p: [...t.partitions], g };
    await this.#engine.commitOffset(STATE_GROUP, t.transactionalId, 0, t.producerId, JSON.stringify(stored));
  }

  /**
   * At startup, before the listener serves: restores every transactional id from STATE_GROUP,
   * completes the transactions whose outcome was decided and aborts (fencing their producer) those
   * still ongoing. A transaction whose recovery fails (storage error) stays Ending — its id
   * answers CONCURRENT_TRANSACTIONS — and is logged; the next restart tries again.
   */
  async recover(): Promise<void> {
    const pending: [Txn, boolean][] = [];
    for (const rec of this.#engine.committedOffsets(STATE_GROUP)) {
      let st: StoredTxn;
      try {
        st = JSON.parse(rec.metadata) as StoredTxn;
      } catch {
        this.#log(`kafka: unreadable transaction state of ${rec.topic}; ignored`);
        continue;
      }
      // An undecided transaction is aborted with a bumped epoch: its producer is fenced.
      const epoch = st.s === 'ongoing' ? Math.min(st.e + 1, 32767) : st.e;
      this.#producers.restoreTransactional(rec.topic, rec.offset, epoch);
      const offsets = new Map<string, Map<string, { topic: string; partition: number; offset: number; metadata: string }>>();
      for (const [group, list] of st.g) offsets.set(group, new Map(list.map(([topic, partition, offset, metadata]) => [key(topic, partition), { topic, partition, offset, metadata }])));
      const t: Txn = {
        transactionalId: rec.topic,
        producerId: rec.offset,
        epoch,
        timeoutMs: st.t,
        // Ending from now: the partition scan leaves these transactions' markers to us.
        state: st.s === 'empty' ? 'empty' : 'ending',
        partitions: new Set(st.p),
        offsets,
        cancelTimer: undefined,
      };
      this.#txns.set(t.transactionalId, t);
      this.#byProducer.set(t.producerId, t);
      if (st.s !== 'empty') pending.push([t, st.s === 'commit']);
    }
    for (const [t, commit] of pending) {
      try {
        await this.#end(t, commit);
        this.#log(`kafka: transaction ${t.transactionalId} left ${commit ? 'committing' : 'open'} by the previous run: ${commit ? 'committed' : 'aborted'}`);
      } catch (e) {
        t.state = 'ending';
        this.#log(`kafka: completing transaction ${t.transactionalId} after a restart failed: ${(e as Error).message}`);
      }
    }
  }

  #lookup(transactionalId: string, producerId: number, epoch: number): Txn | number {
    const t = this.#txns.get(transactionalId);
    if (!t || t.producerId !== producerId) return KafkaError.INVALID_PRODUCER_ID_MAPPING;
    if (epoch !== t.epoch) return KafkaError.INVALID_PRODUCER_EPOCH;
    if (t.state === 'ending') return KafkaError.CONCURRENT_TRANSACTIONS;
    return t;
  }

  #begin(t: Txn): void {
    if (t.state === 'ongoing') return;
    t.state = 'ongoing';
    t.cancelTimer = this.#clock.setTimer(t.timeoutMs, () => {
      t.cancelTimer = undefined;
      if (t.state !== 'ongoing' || this.#txns.get(t.transactionalId) !== t) return;
      // Timed out: fence the producer (epoch bump) and abort with the new epoch.
      t.epoch = this.#producers.bumpEpoch(t.transactionalId) ?? t.epoch + 1;
      this.#log(`kafka: transaction ${t.transactionalId} timed out after ${t.timeoutMs} ms; aborted`);
      this.#end(t, false).catch((e: unknown) => this.#log(`kafka: aborting timed-out transaction ${t.transactionalId} failed: ${(e as Error).message}`));
    });
  }

  /** AddPartitionsToTxn: error code per partition (all the same unless a topic is unknown). */
  async addPartitions(transactionalId: string, producerId: number, epoch: number, parts: { topic: string; partition: number }[]): Promise<number[]> {
    const t = this.#lookup(transactionalId, producerId, epoch);
    if (typeof t === 'number') return parts.map(() => t);
    const codes = parts.map(({ topic, partition }) => {
      const n = this.#engine.getTopic(topic)?.config.partitions;
      return n !== undefined && partition >= 0 && partition < n ? KafkaError.NONE : KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
    });
    // Kafka adds none when one fails: the others get OPERATION_NOT_ATTEMPTED.
    if (codes.some((c) => c !== KafkaError.NONE)) return codes.map((c) => (c === KafkaError.NONE ? KafkaError.OPERATION_NOT_ATTEMPTED : c));
    for (const { topic, partition } of parts) await this.#load(topic, partition);
    if (t.state === 'ending') return parts.map(() => KafkaError.CONCURRENT_TRANSACTIONS);
    const before = t.partitions.size;
    const wasOngoing = t.state === 'ongoing';
    for (const { topic, partition } of parts) t.partitions.add(key(topic, partition));
    this.#begin(t);
    // Durable before the producer may write to them: a restart must know where to put markers.
    if (t.partitions.size !== before || !wasOngoing) await this.#persist(t, 'ongoing');
    return codes;
  }

  /** AddOffsetsToTxn: the group's offsets will be committed with the transaction. */
  async addOffsets(transactionalId: string, producerId: number, epoch: number, groupId: string): Promise<number> {
    const t = this.#lookup(transactionalId, producerId, epoch);
    if (typeof t === 'number') return t;
    if (groupId.startsWith(RESERVED_GROUP_PREFIX)) return KafkaError.INVALID_GROUP_ID;
    const known = t.offsets.has(groupId) && t.state === 'ongoing';
    if (!t.offsets.has(groupId)) t.offsets.set(groupId, new Map());
    this.#begin(t);
    if (!known) await this.#persist(t, 'ongoing');
    return KafkaError.NONE;
  }

  /** TxnOffsetCommit: stages offsets, applied when the transaction commits. */
  async stageOffsets(transactionalId: string, producerId: number, epoch: number, groupId: string, offsets: { topic: string; partition: number; offset: number; metadata: string }[]): Promise<number> {
    const t = this.#lookup(transactionalId, producerId, epoch);
    if (typeof t === 'number') return t;
    const staged = t.offsets.get(groupId);
    if (!staged || t.state !== 'ongoing') return KafkaError.INVALID_TXN_STATE;
    for (const o of offsets) staged.set(key(o.topic, o.partition), o);
    // Durable with the transaction (Kafka writes them to __consumer_offsets as pending).
    await this.#persist(t, 'ongoing');
    return KafkaError.NONE;
  }

  /** EndTxn. */
  async endTxn(transactionalId: string, producerId: number, epoch: number, commit: boolean): Promise<number> {
    const t = this.#lookup(transactionalId, producerId, epoch);
    if (typeof t === 'number') return t;
    if (t.state === 'empty') return KafkaError.NONE; // nothing was added: nothing to end
    await this.#end(t, commit);
    return KafkaError.NONE;
  }

  async #end(t: Txn, commit: boolean): Promise<void> {
    t.state = 'ending';
    t.cancelTimer?.();
    t.cancelTimer = undefined;
    try {
      // The decision is durable before the first marker: a restart completes it (recover()).
      await this.#persist(t, commit ? 'commit' : 'abort');
      for (const k of t.partitions) {
        const [topic, partition] = splitKey(k);
        if (this.#engine.getTopic(topic) === undefined) continue; // deleted meanwhile
        await this.#writeMarker(topic, partition, t.producerId, t.epoch, commit);
      }
      if (commit) {
        for (const [group, offs] of t.offsets) {
          for (const o of offs.values()) await this.#engine.commitOffset(group, o.topic, o.partition, o.offset, o.metadata);
        }
      }
      t.partitions.clear();
      t.offsets.clear();
      // Only when complete: after a failure the decision stays, for the next start to finish.
      // Not awaited (Kafka, too, answers EndTxn before its CompleteCommit record): the entry is
      // appended to the offsets log now and is durable with the log's next sync. Lost in a crash,
      // the next start completes the transaction again — markers again (ignored) and the staged
      // offsets again, which cannot roll a group back: a later commit of the group is a later
      // entry of the same log, durable only if this one is. Saves one sync wait per transaction.
      this.#persist(t, 'empty').catch((e: unknown) => this.#log(`kafka: recording the end of transaction ${t.transactionalId} failed: ${(e as Error).message}`));
    } finally {
      t.partitions.clear();
      t.offsets.clear();
      t.state = 'empty';
    }
  }

  async #writeMarker(topic: string, partition: number, producerId: number, epoch: number, commit: boolean): Promise<void> {
    const idx = await this.#load(topic, partition);
    const now = this.#clock.now();
    const payload = buildControlBatch({ type: commit ? 1 : 0, producerId, producerEpoch: epoch, timestamp: now });
    const first = idx.open.get(producerId)?.[0];
    const at = await this.#engine.appendRaw(topic, partition, { count: 1, timestamp: now, format: FORMAT_KAFKA, payload });
    idx.open.delete(producerId);
    if (!commit && first !== undefined) {
      const list = idx.aborted;
      list.push({ producerId, firstOffset: first, lastOffset: at });
      // Kept sorted by marker offset (abortedIn searches it); concurrent ends may resolve out of order.
      if (list.length > 1 && list[list.length - 2]!.lastOffset > at) list.sort((a, b) => a.lastOffset - b.lastOffset);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Produce side
  // ---------------------------------------------------------------------------------------------

  /**
   * Before appending a transactional batch: the producer's transaction must be ongoing and hold
   * the partition (INVALID_TXN_STATE otherwise; an old epoch is INVALID_PRODUCER_EPOCH). Notes
   * the partition's first transactional offset durably the first time.
   */
  async checkProduce(topic: string, partition: number, h: BatchHeader): Promise<number> {
    const t = this.#byProducer.get(h.producerId);
    if (!t) return KafkaError.INVALID_PRODUCER_ID_MAPPING;
    if (h.producerEpoch !== t.epoch) return KafkaError.INVALID_PRODUCER_EPOCH;
    if (t.state !== 'ongoing' || !t.partitions.has(key(topic, partition))) return KafkaError.INVALID_TXN_STATE;
    await this.#load(topic, partition);
    const noted = this.#engine.committedOffset(FIRST_TXN_GROUP, topic, partition);
    const end = this.#engine.logBounds(topic, partition).end;
    // Past the end: a note left by a deleted topic of the same name (ends only grow otherwise).
    if (noted === undefined || noted.offset > end) await this.#engine.commitOffset(FIRST_TXN_GROUP, topic, partition, end);
    return KafkaError.NONE;
  }

  /**
   * Right before appending a transactional batch (after checkProduce): opens the producer's
   * transaction in the partition at the current end — the batch's offset, or below it if another
   * append slips in first, which only holds the last stable offset back a little.
   */
  appending(topic: string, partition: number, h: BatchHeader): void {
    const idx = this.#index.get(key(topic, partition));
    if (idx && !idx.open.has(h.producerId)) idx.open.set(h.producerId, [this.#engine.logBounds(topic, partition).end, h.producerEpoch]);
  }

  /** Forgets a deleted topic's index. */
  forgetTopic(topic: string): void {
    const prefix = `${topic}\0`;
    for (const k of [...this.#index.keys()]) if (k.startsWith(prefix)) this.#index.delete(k);
  }

  // ---------------------------------------------------------------------------------------------
  // Fetch side
  // ---------------------------------------------------------------------------------------------

  /**
   * The last stable offset of a partition (first offset of its oldest open transaction, else
   * `hw`) and the aborted transactions overlapping [from, to), for read_committed fetches.
   * Synchronous (no promise, no microtask on the fetch path) for a partition that never had a
   * transaction or whose index is loaded.
   */
  readCommitted(topic: string, partition: number): PartitionIndex | undefined | Promise<PartitionIndex> {
    const have = this.#index.get(key(topic, partition));
    if (have) return have;
    if (this.#engine.committedOffset(FIRST_TXN_GROUP, topic, partition) === undefined) return undefined;
    return this.#load(topic, partition);
  }

  static lastStable(idx: PartitionIndex | undefined, hw: number): number {
    let lso = hw;
    if (idx) for (const [first] of idx.open.values()) if (first < lso) lso = first;
    return lso;
  }

  static abortedIn(idx: PartitionIndex | undefined, from: number, to: number): { producerId: number; firstOffset: number }[] {
    if (!idx || idx.aborted.length === 0) return [];
    // Markers are appended in offset order, so lastOffset is sorted: skip the ones before `from`.
    const list = idx.aborted;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.lastOffset < from) lo = mid + 1;
      else hi = mid;
    }
    const out: { producerId: number; firstOffset: number }[] = [];
    for (let i = lo; i < list.length; i++) {
      const a = list[i]!;
      if (a.firstOffset < to) out.push({ producerId: a.producerId, firstOffset: a.firstOffset });
    }
    return out;
  }

  #load(topic: string, partition: number): Promise<PartitionIndex> {
    const k = key(topic, partition);
    const have = this.#index.get(k);
    if (have) return Promise.resolve(have);
    let p = this.#loading.get(k);
    if (!p) {
      p = this.#scan(topic, partition)
        .then((idx) => {
          this.#index.set(k, idx);
          return idx;
        })
        .finally(() => this.#loading.delete(k));
      this.#loading.set(k, p);
    }
    return p;
  }

  async #scan(topic: string, partition: number): Promise<PartitionIndex> {
    const idx: PartitionIndex = { open: new Map(), aborted: [] };
    const first = this.#engine.committedOffset(FIRST_TXN_GROUP, topic, partition);
    if (first === undefined) return idx;
    const bounds = this.#engine.logBounds(topic, partition);
    for (let off = Math.max(first.offset, bounds.start); off < bounds.end; ) {
      const batches = await this.#engine.readLog(topic, partition, off, 1 << 20);
      if (batches.length === 0) break;
      for (const b of batches) {
        off = b.baseOffset + b.count;
        if (b.format !== FORMAT_KAFKA) continue;
        const h = readBatchHeader(b.payload);
        if (!h || h.magic !== 2 || (h.attributes & ATTR_TRANSACTIONAL) === 0) continue;
        if ((h.attributes & ATTR_CONTROL) !== 0) {
          let type = -1;
          try {
            type = controlRecordType(decodeRecordBatch(b.payload).records[0]?.key ?? null);
          } catch {
            continue;
          }
          const open = idx.open.get(h.producerId);
          idx.open.delete(h.producerId);
          if (type === 0 && open) idx.aborted.push({ producerId: h.producerId, firstOffset: open[0], lastOffset: b.baseOffset });
        } else if (!idx.open.has(h.producerId)) idx.open.set(h.producerId, [b.baseOffset, h.producerEpoch]);
      }
    }
    // Open transactions of a previous process: those the recovered coordinator is ending get its
    // markers (recover()); nobody can finish the others: abort them now.
    for (const [producerId, [firstOffset, epoch]] of [...idx.open]) {
      const owner = this.#byProducer.get(producerId);
      if (owner?.state === 'ending' && owner.partitions.has(key(topic, partition))) continue;
      const now = this.#clock.now();
      const payload = buildControlBatch({ type: 0, producerId, producerEpoch: epoch, timestamp: now });
      const at = await this.#engine.appendRaw(topic, partition, { count: 1, timestamp: now, format: FORMAT_KAFKA, payload });
      idx.open.delete(producerId);
      idx.aborted.push({ producerId, firstOffset, lastOffset: at });
      this.#log(`kafka: aborted transaction of producer ${producerId} left open in ${topic}/${partition} at ${firstOffset}`);
    }
    return idx;
  }
}
