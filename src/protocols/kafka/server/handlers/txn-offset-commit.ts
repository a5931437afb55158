/**
 * TxnOffsetCommit (28): offsets consumed in a transaction, staged with it and stored when it
 * commits (txn-coordinator.ts). Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION, metadata over
 * 4096 bytes OFFSET_METADATA_TOO_LARGE, as OffsetCommit.
 */
import type { TxnOffsetCommitResponseTopic } from '../../generated/txn-offset-commit.js';
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

const MAX_METADATA = 4096;

export const handleTxnOffsetCommit: ApiHandler<28> = async (ctx, req) => {
  const { broker } = ctx;
  const topics: TxnOffsetCommitResponseTopic[] = [];
  const staged: { topic: string; partition: number; offset: number; metadata: string }[] = [];
  const ok: { partitionIndex: number; errorCode: number }[] = [];
  for (const t of req.topics) {
    const out: TxnOffsetCommitResponseTopic = { name: t.name, partitions: [] };
    topics.push(out);
    for (const p of t.partitions) {
      const entry = { partitionIndex: p.partitionIndex, errorCode: KafkaError.NONE as number };
      out.partitions.push(entry);
      const metadata = p.committedMetadata ?? '';
      if (!broker.hasPartition(t.name, p.partitionIndex)) entry.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      else if (Buffer.byteLength(metadata) > MAX_METADATA) entry.errorCode = KafkaError.OFFSET_METADATA_TOO_LARGE;
      else {
        staged.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata });
        ok.push(entry);
      }
    }
  }
  const code = await broker.txns.stageOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, staged);
  for (const e of ok) e.errorCode = code;
  return { throttleTimeMs: 0, topics };
};
