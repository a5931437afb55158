/**
 * Fetch (1), v0-11: whole batches from each requested offset (the batch containing the offset
 * comes first; clients skip the records before their position), per-partition and response byte
 * limits (at least one batch is always returned so an oversized batch cannot wedge a consumer),
 * and long polling: when less than min_bytes is available the request waits — without polling —
 * on engine.waitForData for every requested partition, until data arrives, max_wait_ms passes
 * (one timer) or the connection closes.
 *
 * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (below the log start or
 * beyond the high watermark), UNKNOWN_LEADER_EPOCH for a leader epoch newer than ours (0). A
 * partition error answers at once, as Kafka does.
 *
 * Isolation: read_uncommitted serves up to the high watermark. read_committed (v4+) serves only
 * batches below the last stable offset — the first offset of the oldest open Kafka transaction in
 * the partition (txn-coordinator.ts) — and lists the aborted transactions overlapping what it
 * serves, so the client drops their records; a reader at the LSO long-polls until the log grows
 * (the marker that ends the transaction is an append). Fetch sessions
 * (KIP-227) are not kept: session_id 0 tells the client to send full requests.
 *
 * v0-3 (clients of Kafka < 0.11) read magic 0 (v0/v1) or magic 1 (v2/v3) message sets: the batches
 * read are down-converted (records/message-set.ts recordBatchesToMessageSet: uncompressed, headers
 * and transaction markers dropped); the byte limits apply to the converted bytes, at batch boundaries.
 */
import type { FetchResponseFetchableTopicResponse, FetchResponsePartitionData } from '../../generated/fetch.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { serveBatch } from '../log-view.js';
import { TxnCoordinator } from '../txn-coordinator.js';
import { kafkaCodeOf } from './util.js';
import { recordBatchesToMessageSet } from '../../records/message-set.js';

const NO_RECORDS = Buffer.alloc(0);

interface Wanted {
  topic: string;
  partition: number;
  offset: number;
  maxBytes: number;
  out: FetchResponsePartitionData;
  /** Where `out` goes in the response. */
  arr: FetchResponsePartitionData[];
  idx: number;
  readCommitted: boolean;
  /** Offset to long-poll beyond (the high watermark when held back by an open transaction). */
  waitAt: number;
  /** Fetch v0-3: the message format (magic 0 or 1) the batches are down-converted to. */
  downConvert: 0 | 1 | undefined;
}

function empty(partitionIndex: number, errorCode: number, hw = -1, logStart = -1): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: hw,
    lastStableOffset: hw,
    logStartOffset: logStart,
    abortedTransactions: [],
    preferredReadReplica: -1,
    // Empty, never null: librdkafka treats a null record set (size -1) as a protocol error.
    records: NO_RECORDS,
  };
}

/** One pass over every requested partition; returns the bytes collected and whether any partition failed. */
async function collect(ctx: RequestContext, wanted: Wanted[], maxBytes: number): Promise<{ bytes: number; failed: boolean; waitable: Wanted[] }> {
  const { broker } = ctx;
  const engine = broker.engine;
  let total = 0;
  let failed = false;
  const waitable: Wanted[] = [];
  for (const w of wanted) {
    if (!broker.hasPartition(w.topic, w.partition)) {
      w.out = empty(w.partition, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
      failed = true;
      continue;
    }
    const bounds = engine.logBounds(w.topic, w.partition);
    const start = Math.max(bounds.start, broker.settings.logStart(w.topic, w.partition));
    const hw = bounds.end;
    if (w.offset < start || w.offset > hw) {
      w.out = empty(w.partition, KafkaError.OFFSET_OUT_OF_RANGE, hw, start);
      failed = true;
      continue;
    }
    w.out = empty(w.partition, KafkaError.NONE, hw, start);
    w.waitAt = w.offset;
    let lso = hw;
    let txns;
    if (w.readCommitted) {
      const got = broker.txns.readCommitted(w.topic, w.partition);
      txns = got instanceof Promise ? await got : got;
      lso = TxnCoordinator.lastStable(txns, hw);
      w.out.lastStableOffset = lso;
    }
    if (w.offset >= lso) {
      w.waitAt = hw;
      waitable.push(w);
      continue;
    }
    const budget = Math.min(w.maxBytes, maxBytes - total);
    if (budget <= 0 && total > 0) continue;
    let batches;
    try {
      batches = await engine.readLog(w.topic, w.partition, w.offset, Math.max(budget, 1));
    } catch (e) {
      w.out = empty(w.partition, kafkaCodeOf(e), hw, start);
      failed = true;
      continue;
    }
    const chunks: Buffer[] = [];
    let got = 0;
    let servedEnd = w.offset;
    for (const b of batches) {
      if (b.baseOffset + b.count <= start) continue;
      if (b.baseOffset >= lso) break;
      // Always at least one batch per response (KIP-74), then only what fits.
      if (got > 0 && got + b.payload.length > budget) break;
      if (got === 0 && total > 0 && b.payload.length > budget) break;
      got += serveBatch(b, chunks);
      servedEnd = b.baseOffset + b.count;
    }
    if (txns) w.out.abortedTransactions = TxnCoordinator.abortedIn(txns, w.offset, servedEnd);
    if (got > 0 && w.downConvert !== undefined) {
      let conv: Buffer;
      try {
        conv = await downConvert(ctx, w, chunks, servedEnd, lso, Math.max(budget, 1));
      } catch (e) {
        w.out = empty(w.partition, kafkaCodeOf(e), hw, start);
        failed = true;
        continue;
      }
      chunks.length = 0;
      got = conv.length;
      if (got > 0) chunks.push(conv);
      // Only markers (or compaction gaps) up to the end: wait for data beyond them rather than
      // answer empty at once (the client would refetch in a busy loop).
      else w.waitAt = lso;
    }
    if (got > 0) {
      w.out.records = chunks;
      total += got;
    } else waitable.push(w);
  }
  return { bytes: total, failed, waitable };
}

/**
 * Fetch v0-3: the served batches as one magic 0/1 message set. A magic 0/1 set cannot tell the
 * client to skip offsets, so when what was read holds no message (transaction markers, compaction
 * gaps) the read goes on past it, up to `lso`, until a message is found.
 */
async function downConvert(ctx: RequestContext, w: Wanted, chunks: Buffer[], servedEnd: number, lso: number, budget: number): Promise<Buffer> {
  const magic = w.downConvert!;
  let conv = recordBatchesToMessageSet(chunks, magic, w.offset, budget);
  while (conv.length === 0 && servedEnd < lso) {
    const from = servedEnd;
    const more: Buffer[] = [];
    for (const b of await ctx.broker.engine.readLog(w.topic, w.partition, servedEnd, budget)) {
      if (b.baseOffset >= lso) break;
      serveBatch(b, more);
      servedEnd = b.baseOffset + b.count;
    }
    if (more.length === 0 || servedEnd === from) break;
    conv = recordBatchesToMessageSet(more, magic, w.offset, budget);
  }
  return conv;
}

export const handleFetch: ApiHandler<1> = async (ctx, req) => {
  const { broker, apiVersion } = ctx;
  const maxBytes = apiVersion >= 3 && req.maxBytes !== undefined && req.maxBytes > 0 ? req.maxBytes : 0x7fffffff;
  const wanted: Wanted[] = [];
  const responses: FetchResponseFetchableTopicResponse[] = [];
  let fenced = false;
  for (const t of req.topics) {
    const name = t.topic ?? '';
    const resp: FetchResponseFetchableTopicResponse = { topic: name, partitions: [] };
    responses.push(resp);
    for (const p of t.partitions) {
      const idx = resp.partitions.length;
      const w: Wanted = { topic: name, partition: p.partition, offset: p.fetchOffset, maxBytes: p.partitionMaxBytes, out: empty(p.partition, KafkaError.NONE), arr: resp.partitions, idx, readCommitted: apiVersion >= 4 && req.isolationLevel === 1, waitAt: p.fetchOffset, downConvert: apiVersion >= 4 ? undefined : apiVersion >= 2 ? 1 : 0 };
      if ((p.currentLeaderEpoch ?? -1) > 0) {
        w.out = empty(p.partition, KafkaError.UNKNOWN_LEADER_EPOCH);
        fenced = true;
      } else wanted.push(w);
      resp.partitions.push(w.out);
    }
  }
  const deadline = broker.clock.now() + Math.max(0, req.maxWaitMs);
  for (;;) {
    const r = await collect(ctx, wanted, maxBytes);
    const remaining = deadline - broker.clock.now();
    if (r.failed || fenced || r.bytes >= Math.max(1, req.minBytes) || remaining <= 0 || ctx.signal.aborted || r.waitable.length === 0) break;
    // Long poll: wake on new data in any requested partition, the timer, or the connection closing.
    const ac = new AbortController();
    const onClose = () => ac.abort();
    ctx.signal.addEventListener('abort', onClose, { once: true });
    const cancel = broker.clock.setTimer(remaining, () => ac.abort());
    try {
      await Promise.race(r.waitable.map((w) => broker.engine.waitForData(w.topic, w.partition, w.waitAt, ac.signal)));
    } finally {
      cancel();
      ac.abort();
      ctx.signal.removeEventListener('abort', onClose);
    }
    if (ctx.signal.aborted) return null;
    // A wake-up with less than min_bytes loops until the deadline; each loop costs one read pass.
    if (broker.clock.now() >= deadline) {
      await collect(ctx, wanted, maxBytes);
      break;
    }
  }
  for (const w of wanted) w.arr[w.idx] = w.out;
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses };
};
