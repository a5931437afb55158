/**
 * DeleteRecords (21): moves a partition's log start offset (offset -1 = the high watermark).
 * Logical, see topic-settings.ts: Kafka readers no longer see the records below it; the bytes are
 * freed when retention drops their segment. OFFSET_OUT_OF_RANGE beyond the high watermark.
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { kafkaCodeOf } from './util.js';

export const handleDeleteRecords: ApiHandler<21> = async (ctx, req) => {
  const { broker } = ctx;
  const topics = [];
  for (const t of req.topics) {
    const partitions = [];
    for (const p of t.partitions) {
      if (!broker.hasPartition(t.name, p.partitionIndex)) {
        partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION });
        continue;
      }
      try {
        const b = broker.engine.logBounds(t.name, p.partitionIndex);
        const current = Math.max(b.start, broker.settings.logStart(t.name, p.partitionIndex));
        const target = p.offset === -1 ? b.end : p.offset;
        if (target < 0 || target > b.end) {
          partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: KafkaError.OFFSET_OUT_OF_RANGE });
          continue;
        }
        if (target > current) await broker.settings.setLogStart(t.name, p.partitionIndex, target);
        partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: Math.max(current, target), errorCode: KafkaError.NONE });
      } catch (e) {
        partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: kafkaCodeOf(e) });
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
};
