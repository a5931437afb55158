/**
 * ListOffsets (2): timestamp -1 = latest (the high watermark; with isolation_level read_committed,
 * v2+, the last stable offset — the first offset of the oldest open transaction, txn-coordinator.ts),
 * -2 = earliest (log start, after DeleteRecords), otherwise the first record
 * whose timestamp is ≥ the given one (offset -1 / timestamp -1 when there is none). v0 answers in
 * old_style_offsets. -3 (max timestamp, v7+) is not served: the version table stops at v5.
 */
import type { ListOffsetsResponseListOffsetsPartitionResponse, ListOffsetsResponseListOffsetsTopicResponse } from '../../generated/list-offsets.js';
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { LEADER_EPOCH, offsetForTime } from '../log-view.js';
import { kafkaCodeOf } from './util.js';
import { TxnCoordinator } from '../txn-coordinator.js';

export const handleListOffsets: ApiHandler<2> = async (ctx, req) => {
  const { broker, apiVersion } = ctx;
  const topics: ListOffsetsResponseListOffsetsTopicResponse[] = [];
  for (const t of req.topics) {
    const partitions: ListOffsetsResponseListOffsetsPartitionResponse[] = [];
    topics.push({ name: t.name, partitions });
    for (const p of t.partitions) {
      // The codec refuses fields a version lacks: v0 has only old_style_offsets, v1+ offset and
      // timestamp, v4+ the leader epoch.
      const res = (errorCode: number, offset = -1, timestamp = -1): ListOffsetsResponseListOffsetsPartitionResponse => {
        if (apiVersion === 0) return { partitionIndex: p.partitionIndex, errorCode, oldStyleOffsets: offset >= 0 ? [offset] : [] };
        const r: ListOffsetsResponseListOffsetsPartitionResponse = { partitionIndex: p.partitionIndex, errorCode, timestamp, offset };
        if (apiVersion >= 4) r.leaderEpoch = offset >= 0 ? LEADER_EPOCH : -1;
        return r;
      };
      if (!broker.hasPartition(t.name, p.partitionIndex)) {
        partitions.push(res(KafkaError.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      if ((p.currentLeaderEpoch ?? -1) > LEADER_EPOCH) {
        partitions.push(res(KafkaError.UNKNOWN_LEADER_EPOCH));
        continue;
      }
      try {
        const b = broker.engine.logBounds(t.name, p.partitionIndex);
        const start = Math.max(b.start, broker.settings.logStart(t.name, p.partitionIndex));
        if (p.timestamp === -1) {
          const committed = apiVersion >= 2 && req.isolationLevel === 1;
          const lso = committed ? TxnCoordinator.lastStable(await broker.txns.readCommitted(t.name, p.partitionIndex), b.end) : b.end;
          partitions.push(res(KafkaError.NONE, lso));
        }
        else if (p.timestamp === -2) partitions.push(res(KafkaError.NONE, start));
        else if (p.timestamp < 0) partitions.push(res(apiVersion === 0 ? KafkaError.UNKNOWN_SERVER_ERROR : KafkaError.INVALID_REQUEST));
        else {
          const hit = await offsetForTime(broker.engine, t.name, p.partitionIndex, p.timestamp, start);
          partitions.push(hit ? res(KafkaError.NONE, hit.offset, hit.timestamp) : res(KafkaError.NONE));
        }
      } catch (e) {
        partitions.push(res(kafkaCodeOf(e)));
      }
    }
  }
  return { throttleTimeMs: 0, topics };
};
