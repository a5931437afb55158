/**
 * AddPartitionsToTxn (24), v0-3: adds partitions to the producer's ongoing transaction
 * (txn-coordinator.ts). v4+ (batched, broker to broker) is not served.
 */
import type { AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult } from '../../generated/add-partitions-to-txn.js';
import type { ApiHandler } from '../handler.js';

export const handleAddPartitionsToTxn: ApiHandler<24> = async (ctx, req) => {
  const parts: { topic: string; partition: number }[] = [];
  for (const t of req.v3AndBelowTopics ?? []) for (const p of t.partitions) parts.push({ topic: t.name, partition: p });
  const codes = await ctx.broker.txns.addPartitions(req.v3AndBelowTransactionalId ?? '', req.v3AndBelowProducerId ?? -1, req.v3AndBelowProducerEpoch ?? -1, parts);
  const results: AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] = [];
  let i = 0;
  for (const t of req.v3AndBelowTopics ?? []) {
    results.push({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: codes[i++]! })) });
  }
  return { throttleTimeMs: 0, resultsByTopicV3AndBelow: results };
};
