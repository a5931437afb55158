/**
 * OffsetForLeaderEpoch (23): there is one leader epoch (0) for the life of a partition, so epoch 0
 * ends at the log end offset and any later epoch is unknown (-1/-1, Kafka's UNDEFINED answer).
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { LEADER_EPOCH } from '../log-view.js';

export const handleOffsetForLeaderEpoch: ApiHandler<23> = (ctx, req) => {
  const { broker } = ctx;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        if (!broker.hasPartition(t.topic, p.partition)) return { errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
        if ((p.currentLeaderEpoch ?? -1) > LEADER_EPOCH) return { errorCode: KafkaError.UNKNOWN_LEADER_EPOCH, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
        if (p.leaderEpoch > LEADER_EPOCH || p.leaderEpoch < 0) return { errorCode: KafkaError.NONE, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
        return { errorCode: KafkaError.NONE, partition: p.partition, leaderEpoch: LEADER_EPOCH, endOffset: broker.engine.logBounds(t.topic, p.partition).end };
      }),
    })),
  };
};
