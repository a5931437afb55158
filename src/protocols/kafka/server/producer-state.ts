/**
 * Idempotent producers: producer id allocation (InitProducerId) and per-(producer, partition)
 * sequence checks on Produce, as Kafka's ProducerStateManager does them.
 *
 * - Ids never repeat, across restarts too: they are handed out from blocks of 1000 whose upper
 *   bound is written durably (engine committed-offset table, a reserved group) before the first id
 *   of the block is used. A restart skips the rest of the current block (≤ 1000 ids lost per
 *   restart out of 2^63).
 * - Per partition and producer we keep the epoch and the last 5 appended batches (Kafka's
 *   max.in.flight limit for idempotence): a batch equal to one of them is a retry and is
 *   acknowledged with its original offset without being appended again; an older one gets
 *   DUPLICATE_SEQUENCE_NUMBER; a gap gets OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch
 *   INVALID_PRODUCER_EPOCH (Kafka's answer to a fenced producer on Produce).
 * - After a restart the state of a partition is rebuilt on first use by scanning its tail (the
 *   last 10,000 offsets, at most 16 MiB), like Kafka's producer-state recovery from the log
 *   (Kafka snapshots it; we rescan). A producer whose batches are all older than that window is
 *   unknown, and an unknown producer may start at any sequence (as Kafka ≥ 2.5 allows).
 *
 * Transactions (the coordinator, markers, read_committed) are txn-coordinator.ts; this keeps the
 * transactional id → (producer id, epoch) mapping it uses.
 *
 * What it does not do: producer-id expiry (state for a partition lives until the topic is
 * deleted or the process restarts; ~100 bytes per producer and partition).
 */
import type { Engine } from '../../../engine/engine.js';
import { FORMAT_KAFKA } from '../../../engine/record.js';
import { readBatchHeader, type BatchHeader } from './batch-header.js';
import { KafkaError } from './error-codes.js';

const ID_GROUP = '__omnibus.kafka.producer-ids';
const BLOCK = 1000;
const CACHED_BATCHES = 5;
const SCAN_OFFSETS = 10_000;
const SCAN_BYTES = 16 * 1024 * 1024;

interface CachedBatch {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

interface PartitionProducer {
  epoch: number;
  batches: CachedBatch[];
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'error'; code: number; message: string };

function lastSeqOf(h: BatchHeader): number {
  // Sequences wrap at 2^31 - 1 (Kafka's DefaultRecordBatch.incrementSequence).
  return (h.baseSequence + h.lastOffsetDelta) % 2147483648;
}

function nextSeq(seq: number): number {
  return seq === 2147483647 ? 0 : seq + 1;
}

export class ProducerState {
  readonly #engine: Engine;
  #next = 0;
  #blockEnd = 0;
  #allocating: Promise<void> | undefined;
  /** "topic\0partition" → producerId → state. */
  readonly #partitions = new Map<string, Map<number, PartitionProducer>>();
  readonly #loading = new Map<string, Promise<Map<number, PartitionProducer>>>();
  /** transactionalId → [producerId, epoch]: InitProducerId with a transactional id bumps the epoch. */
  readonly #transactional = new Map<string, [number, number]>();

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  async init(): Promise<void> {
    const stored = this.#engine.committedOffset(ID_GROUP, 'block', 0);
    // Start after the last block ever reserved; a fresh store starts at 1000 so id 0 is unused.
    this.#next = this.#blockEnd = Math.max(stored?.offset ?? 0, BLOCK);
  }

  /** A new producer id (durably never handed out again). */
  async allocate(): Promise<number> {
    while (this.#next >= this.#blockEnd) {
      this.#allocating ??= (async () => {
        const end = this.#blockEnd + BLOCK;
        await this.#engine.commitOffset(ID_GROUP, 'block', 0, end);
        this.#blockEnd = end;
      })().finally(() => (this.#allocating = undefined));
      await this.#allocating;
    }
    return this.#next++;
  }

  /** InitProducerId: a fresh id (epoch 0), or for a transactional id the same id with epoch + 1. */
  async initProducer(transactionalId: string | null): Promise<{ producerId: number; producerEpoch: number }> {
    if (transactionalId === null || transactionalId === '') return { producerId: await this.allocate(), producerEpoch: 0 };
    const cur = this.#transactional.get(transactionalId);
    if (cur && cur[1] < 32766) {
      const next: [number, number] = [cur[0], cur[1] + 1];
      this.#transactional.set(transactionalId, next);
      return { producerId: next[0], producerEpoch: next[1] };
    }
    const id = await this.allocate();
    this.#transactional.set(transactionalId, [id, 0]);
    return { producerId: id, producerEpoch: 0 };
  }

  /** Restores a transactional id's producer id and epoch from the coordinator's durable state (txn-coordinator.ts). */
  restoreTransactional(transactionalId: string, producerId: number, epoch: number): void {
    this.#transactional.set(transactionalId, [producerId, epoch]);
  }

  /** Bumps a transactional id's epoch (a timed-out transaction fences its producer); the new epoch. */
  bumpEpoch(transactionalId: string): number | undefined {
    const cur = this.#transactional.get(transactionalId);
    if (!cur || cur[1] >= 32766) return undefined;
    this.#transactional.set(transactionalId, [cur[0], cur[1] + 1]);
    return cur[1] + 1;
  }

  async #state(topic: string, partition: number): Promise<Map<number, PartitionProducer>> {
    const key = `${topic}\0${partition}`;
    const have = this.#partitions.get(key);
    if (have) return have;
    let p = this.#loading.get(key);
    if (!p) {
      p = this.#scan(topic, partition)
        .then((m) => {
          this.#partitions.set(key, m);
          return m;
        })
        .finally(() => this.#loading.delete(key));
      this.#loading.set(key, p);
    }
    return p;
  }

  /** Rebuilds producer state from the tail of a partition. */
  async #scan(topic: string, partition: number): Promise<Map<number, PartitionProducer>> {
    const m = new Map<number, PartitionProducer>();
    let bounds: { start: number; end: number };
    try {
      bounds = this.#engine.logBounds(topic, partition);
    } catch {
      return m;
    }
    let off = Math.max(bounds.start, bounds.end - SCAN_OFFSETS);
    let bytes = 0;
    while (off < bounds.end && bytes < SCAN_BYTES) {
      const batches = await this.#engine.readLog(topic, partition, off, 1 << 20);
      if (batches.length === 0) break;
      for (const b of batches) {
        off = b.baseOffset + b.count;
        bytes += b.payload.length;
        if (b.format !== FORMAT_KAFKA) continue;
        const h = readBatchHeader(b.payload);
        if (!h || h.magic !== 2 || h.producerId < 0 || h.baseSequence < 0) continue;
        this.#remember(m, h, b.baseOffset);
      }
    }
    return m;
  }

  #remember(m: Map<number, PartitionProducer>, h: BatchHeader, baseOffset: number): void {
    let s = m.get(h.producerId);
    if (!s || h.producerEpoch > s.epoch) m.set(h.producerId, (s = { epoch: h.producerEpoch, batches: [] }));
    s.batches.push({ firstSeq: h.baseSequence, lastSeq: lastSeqOf(h), baseOffset });
    if (s.batches.length > CACHED_BATCHES) s.batches.shift();
  }

  /**
   * Checks a produced batch against the producer's state for this partition. Call only for
   * batches with producerId >= 0 and baseSequence >= 0; the caller appends on 'append' and then
   * calls appended(). Per partition, check → append → appended must not interleave with another
   * batch of the same producer (the session processes a connection's requests in order).
   */
  async check(topic: string, partition: number, h: BatchHeader): Promise<SequenceCheck> {
    const m = await this.#state(topic, partition);
    const s = m.get(h.producerId);
    if (!s) return { kind: 'append' };
    if (h.producerEpoch < s.epoch) {
      return { kind: 'error', code: KafkaError.INVALID_PRODUCER_EPOCH, message: `producer epoch ${h.producerEpoch} is older than ${s.epoch}` };
    }
    if (h.producerEpoch > s.epoch) {
      if (h.baseSequence !== 0) {
        return { kind: 'error', code: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `new epoch ${h.producerEpoch} must start at sequence 0, got ${h.baseSequence}` };
      }
      return { kind: 'append' };
    }
    const last = lastSeqOf(h);
    for (const b of s.batches) if (b.firstSeq === h.baseSequence && b.lastSeq === last) return { kind: 'duplicate', baseOffset: b.baseOffset };
    const tail = s.batches[s.batches.length - 1];
    if (!tail) return { kind: 'append' };
    const expected = nextSeq(tail.lastSeq);
    if (h.baseSequence === expected) return { kind: 'append' };
    const first = s.batches[0]!;
    if (h.baseSequence < expected && h.baseSequence >= 0 && expected - h.baseSequence < 1 << 30 && h.baseSequence < first.firstSeq) {
      return { kind: 'error', code: KafkaError.DUPLICATE_SEQUENCE_NUMBER, message: `sequence ${h.baseSequence} was appended before` };
    }
    return { kind: 'error', code: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `expected sequence ${expected}, got ${h.baseSequence}` };
  }

  /** Records an appended batch (state is already loaded by check()). */
  appended(topic: string, partition: number, h: BatchHeader, baseOffset: number): void {
    const key = `${topic}\0${partition}`;
    let m = this.#partitions.get(key);
    if (!m) this.#partitions.set(key, (m = new Map()));
    this.#remember(m, h, baseOffset);
  }

  /** Drops all state of a topic (deleted or recreated). */
  forgetTopic(topic: string): void {
    const prefix = `${topic}\0`;
    for (const k of [...this.#partitions.keys()]) if (k.startsWith(prefix)) this.#partitions.delete(k);
  }
}
