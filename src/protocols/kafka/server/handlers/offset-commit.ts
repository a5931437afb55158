/**
 * OffsetCommit (8): the group's (generation, member) is checked by the coordinator (Kafka's
 * rules: "simple" commits with generation -1 to a group without members are allowed), then each
 * partition's offset and metadata string is stored durably with engine.commitOffset. Metadata over
 * 4096 bytes (Kafka's offset.metadata.max.bytes) gets OFFSET_METADATA_TOO_LARGE; an unknown topic
 * or partition UNKNOWN_TOPIC_OR_PARTITION; a group named "__omnibus.…" (the server's own state)
 * INVALID_GROUP_ID. retention_time_ms (v2-4) is ignored: committed offsets
 * are kept until the group is deleted.
 */
import type { OffsetCommitResponseTopic } from '../../generated/offset-commit.js';
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { kafkaCodeOf } from './util.js';
import { RESERVED_GROUP_PREFIX } from '../txn-coordinator.js';

const MAX_METADATA = 4096;

export const handleOffsetCommit: ApiHandler<8> = async (ctx, req) => {
  const { broker, apiVersion: v } = ctx;
  const generation = v >= 1 ? (req.generationIdOrMemberEpoch ?? -1) : -1;
  const memberId = v >= 1 ? (req.memberId ?? '') : '';
  // "__omnibus." groups hold the server's own durable Kafka state (producer ids, transactions).
  const groupCode = req.groupId.startsWith(RESERVED_GROUP_PREFIX) ? KafkaError.INVALID_GROUP_ID : broker.coordinator.validateCommit(req.groupId, generation, memberId, v >= 7 ? (req.groupInstanceId ?? null) : null);
  const topics: OffsetCommitResponseTopic[] = [];
  const jobs: Promise<void>[] = [];
  for (const t of req.topics) {
    const out: OffsetCommitResponseTopic = { name: t.name, partitions: [] };
    topics.push(out);
    for (const p of t.partitions) {
      const entry = { partitionIndex: p.partitionIndex, errorCode: groupCode };
      out.partitions.push(entry);
      if (groupCode !== KafkaError.NONE) continue;
      if (!broker.hasPartition(t.name, p.partitionIndex)) {
        entry.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
        continue;
      }
      const metadata = p.committedMetadata ?? '';
      if (Buffer.byteLength(metadata) > MAX_METADATA) {
        entry.errorCode = KafkaError.OFFSET_METADATA_TOO_LARGE;
        continue;
      }
      jobs.push(
        broker.engine.commitOffset(req.groupId, t.name, p.partitionIndex, p.committedOffset, metadata).catch((e: unknown) => {
          entry.errorCode = kafkaCodeOf(e);
        }),
      );
    }
  }
  await Promise.all(jobs);
  return { throttleTimeMs: 0, topics };
};
