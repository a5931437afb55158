/**
 * Produce (0): record batches appended byte-for-byte (engine.appendRaw, FORMAT_KAFKA); the engine
 * assigns offsets and the base offset is patched only when the batch is served (Fetch).
 *
 * Per partition: the RECORDS are validated without decompressing (framing, magic 2, CRC-32C,
 * counts; records/validateRecordBatches) — CORRUPT_MESSAGE on failure, nothing appended; each
 * batch must fit the topic's max.message.bytes (MESSAGE_TOO_LARGE); a compacted topic refuses a
 * batch holding a record without a key (INVALID_RECORD, as Kafka; decoded for that); idempotent batches
 * (producerId ≥ 0) pass the sequence checks of producer-state.ts. Magic 0/1 message sets (Produce
 * v0-2, old clients) are converted to one uncompressed RecordBatch v2 first — the only case in
 * which the stored bytes are not the produced bytes.
 *
 * acks: 1 and -1 answer once the append is durable per the topic's fsync policy (one node: every
 * replica is in sync); 0 appends the same way and sends no response at all (Kafka's contract).
 *
 * Pipelining: a request of plain (non-idempotent) batches releases the connection (ctx.release)
 * as soon as its appends are issued, so the next request on the connection is appended while this
 * one waits for durability; responses still go out in request order. Idempotent batches and
 * auto-created topics keep the one-at-a-time model (their checks await state).
 * Other values get INVALID_REQUIRED_ACKS.
 *
 * Unknown topics are auto-created when the broker allows it (clients normally create them via
 * Metadata first); an unknown partition is UNKNOWN_TOPIC_OR_PARTITION.
 */
import { FORMAT_KAFKA } from '../../../../engine/record.js';
import { isKafkaCodecError } from '../../codec/errors.js';
import { messageSetToRecordBatch, recordsMagic, validateRecordBatches, type BatchView } from '../../records/index.js';
import type { ProduceResponsePartitionProduceResponse, ProduceResponseTopicProduceResponse } from '../../generated/produce.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { validTopicName } from '../broker.js';
import { readBatchHeader } from '../batch-header.js';
import { KafkaError } from '../error-codes.js';
import { kafkaCodeOf } from './util.js';
import { hasKeylessRecord } from '../../compaction.js';

function result(index: number, errorCode: number, baseOffset = -1, logStartOffset = -1, errorMessage: string | null = null): ProduceResponsePartitionProduceResponse {
  return { index, errorCode, baseOffset, logAppendTimeMs: -1, logStartOffset, recordErrors: [], errorMessage };
}

/**
 * `issued` is called once the partition's appends have been issued and only durability remains
 * (plain batches); for idempotent batches and early returns the caller learns it from the promise.
 */
async function producePartition(ctx: RequestContext, topic: string, partition: number, records: Buffer | null, issued: () => void): Promise<ProduceResponsePartitionProduceResponse> {
  const { broker } = ctx;
  const engine = broker.engine;
  if (broker.partitions(topic) === undefined) {
    if (!broker.autoCreateTopics || !validTopicName(topic)) return result(partition, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
    await broker.createTopic(topic, broker.defaultPartitions);
  }
  if (!broker.hasPartition(topic, partition)) return result(partition, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  if (records === null || records.length === 0) return result(partition, KafkaError.CORRUPT_MESSAGE, -1, -1, 'no records');
  let batches: BatchView[];
  try {
    const magic = recordsMagic(records);
    if (magic === 0 || magic === 1) {
      const conv = messageSetToRecordBatch(records, broker.clock.now());
      if (!conv) return result(partition, KafkaError.CORRUPT_MESSAGE, -1, -1, 'empty message set');
      batches = validateRecordBatches(conv.batch, { checkCrc: false });
    } else batches = validateRecordBatches(records);
  } catch (e) {
    const code = isKafkaCodecError(e) ? e.kafkaCode : KafkaError.CORRUPT_MESSAGE;
    return result(partition, code, -1, -1, (e as Error).message);
  }
  const t = engine.getTopic(topic)!;
  const limit = t.config.maxMessageBytes ?? engine.maxMessageBytes;
  const compacted = t.config.cleanupPolicy === 'compact' || t.config.cleanupPolicy === 'compact,delete';
  for (const b of batches) {
    if (b.bytes.length > limit) return result(partition, KafkaError.MESSAGE_TOO_LARGE, -1, -1, `batch of ${b.bytes.length} bytes exceeds max.message.bytes ${limit}`);
    if (compacted && hasKeylessRecord(b.bytes)) return result(partition, KafkaError.INVALID_RECORD, -1, -1, `Compacted topic cannot accept message without key in topic partition ${topic}-${partition}.`);
    // Markers are the coordinator's; a transactional batch must be idempotent (txn-coordinator.ts).
    if (b.isControl || (b.isTransactional && (b.producerId < 0 || b.baseSequence < 0))) return result(partition, KafkaError.INVALID_RECORD, -1, -1, 'control or non-idempotent transactional batch');
  }
  let first = -1;
  try {
    if (batches.every((b) => !b.isTransactional && (b.producerId < 0 || b.baseSequence < 0))) {
      // Plain batches: issue every append now (offsets are assigned synchronously inside
      // appendRaw), tell the caller the order-sensitive part is done, then await durability.
      const pending = batches.map((b) =>
        engine.appendRaw(topic, partition, { count: b.recordCount, timestamp: b.maxTimestamp >= 0 ? b.maxTimestamp : broker.clock.now(), format: FORMAT_KAFKA, payload: b.bytes }),
      );
      issued();
      const bases = await Promise.all(pending);
      first = bases[0] ?? -1;
    } else {
      // Idempotent batches: the next batch's sequence check needs this one's recorded state, so
      // the appends stay sequential and the request is released only when all are recorded.
      for (const b of batches) {
        const idempotent = b.producerId >= 0 && b.baseSequence >= 0;
        const h = idempotent ? readBatchHeader(b.bytes)! : undefined;
        if (h) {
          const check = await broker.producers.check(topic, partition, h);
          if (check.kind === 'duplicate') {
            // A retry of a batch we already have: acknowledge it with its original offset.
            if (first < 0) first = check.baseOffset;
            continue;
          }
          if (check.kind === 'error') return result(partition, check.code, -1, -1, check.message);
          if (b.isTransactional) {
            const code = await broker.txns.checkProduce(topic, partition, h);
            if (code !== KafkaError.NONE) return result(partition, code, -1, -1, 'no ongoing transaction of this producer holds the partition');
          }
        }
        const ts = b.maxTimestamp >= 0 ? b.maxTimestamp : broker.clock.now();
        // Open in the partition's index before the bytes are readable, so read_committed never sees them early.
        if (h && b.isTransactional) broker.txns.appending(topic, partition, h);
        // The offset is assigned synchronously inside appendRaw; the await is for durability.
        const base = await engine.appendRaw(topic, partition, { count: b.recordCount, timestamp: ts, format: FORMAT_KAFKA, payload: b.bytes });
        if (h) broker.producers.appended(topic, partition, h, base);
        if (first < 0) first = base;
      }
    }
  } catch (e) {
    return result(partition, kafkaCodeOf(e), -1, -1, (e as Error).message);
  }
  const start = Math.max(engine.logBounds(topic, partition).start, broker.settings.logStart(topic, partition));
  return result(partition, KafkaError.NONE, first, start);
}

export const handleProduce: ApiHandler<0> = async (ctx, req) => {
  const acks = req.acks;
  const responses: ProduceResponseTopicProduceResponse[] = [];
  const invalidAcks = acks !== 0 && acks !== 1 && acks !== -1;
  const jobs: Promise<void>[] = [];
  // The session may start the connection's next request once every partition has issued its
  // appends: with one request in flight per connection, each produce round trip otherwise waits
  // for the previous write to complete (measured: the broker ~80 % idle under kcat at 1 KiB).
  let waiting = 0;
  let started = false;
  const issued = (): void => {
    if (--waiting === 0 && started) ctx.release();
  };
  for (const t of req.topicData) {
    const out: ProduceResponseTopicProduceResponse = { name: t.name, partitionResponses: [] };
    responses.push(out);
    for (const p of t.partitionData) {
      const slot = out.partitionResponses.length;
      out.partitionResponses.push(result(p.index, KafkaError.INVALID_REQUIRED_ACKS));
      if (invalidAcks) continue;
      // Partitions are independent: append them concurrently (each awaits its own durability).
      waiting++;
      let once = false;
      const done = (): void => {
        if (once) return;
        once = true;
        issued();
      };
      jobs.push(
        producePartition(ctx, t.name, p.index, p.records, done).then((r) => {
          out.partitionResponses[slot] = r;
          done();
        }),
      );
    }
  }
  started = true;
  if (waiting === 0) ctx.release();
  await Promise.all(jobs);
  // Every append finished and was copied by the storage: the request buffer may be recycled. After
  // a failed partition an append of another batch might still be pending (gated): leave it to GC.
  if (!invalidAcks && ctx.broker.engine.storage.copiesPayloads === true && responses.every((t) => t.partitionResponses.every((p) => p.errorCode === KafkaError.NONE))) ctx.requestBytesFree();
  if (acks === 0) return null;
  return { responses, throttleTimeMs: 0 };
};
