/** CreatePartitions (37): grows a topic (engine.setPartitions); INVALID_PARTITIONS unless the count grows, INVALID_REPLICA_ASSIGNMENT for replicas other than this node. */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { kafkaCodeOf } from './util.js';

export const handleCreatePartitions: ApiHandler<37> = async (ctx, req) => {
  const { broker } = ctx;
  const results = [];
  for (const t of req.topics) {
    const current = broker.partitions(t.name);
    let errorCode: number = KafkaError.NONE;
    let errorMessage: string | null = null;
    if (current === undefined) {
      errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      errorMessage = `The topic '${t.name}' does not exist.`;
    } else if (t.count <= current || t.count > 10_000) {
      errorCode = KafkaError.INVALID_PARTITIONS;
      errorMessage = t.count === current ? `Topic already has ${current} partitions.` : `Topic currently has ${current} partitions, which is higher than the requested ${t.count}.`;
    } else if (t.assignments && (t.assignments.length !== t.count - current || t.assignments.some((a) => a.brokerIds.some((b) => b !== broker.nodeId)))) {
      errorCode = KafkaError.INVALID_REPLICA_ASSIGNMENT;
      errorMessage = `every replica must be broker ${broker.nodeId}, one assignment per new partition`;
    } else if (!req.validateOnly) {
      try {
        await broker.engine.setPartitions(t.name, t.count);
      } catch (e) {
        errorCode = kafkaCodeOf(e);
        errorMessage = (e as Error).message;
      }
    }
    results.push({ name: t.name, errorCode, errorMessage });
  }
  return { throttleTimeMs: 0, results };
};
