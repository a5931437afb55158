/**
 * OffsetFetch (9), v0-7 (one group per request): committed offset and metadata per partition, -1
 * when none. A null topic list (v2+) means every partition the group has committed offsets for —
 * found by probing every topic's partitions, because the engine has no per-group listing
 * (O(topics × partitions) map lookups).
 */
import type { OffsetFetchResponseTopic } from '../../generated/offset-fetch.js';
import type { Engine } from '../../../../engine/engine.js';
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { isReservedTopic } from './util.js';

/** A group's committed offsets as [topic, partition] pairs (deleted ones, offset < 0, excluded). */
export function committedPartitions(engine: Engine, group: string): [string, number][] {
  const out: [string, number][] = [];
  for (const c of engine.committedOffsets(group)) {
    if (c.offset >= 0 && !isReservedTopic(c.topic) && engine.getTopic(c.topic)) out.push([c.topic, c.partition]);
  }
  return out;
}

export const handleOffsetFetch: ApiHandler<9> = (ctx, req) => {
  const engine = ctx.broker.engine;
  const group = req.groupId ?? '';
  let wanted: { name: string; partitionIndexes: number[] }[];
  if (req.topics === null || req.topics === undefined) {
    const byTopic = new Map<string, number[]>();
    for (const [t, p] of committedPartitions(engine, group)) {
      let l = byTopic.get(t);
      if (!l) byTopic.set(t, (l = []));
      l.push(p);
    }
    wanted = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  } else wanted = req.topics;
  const topics: OffsetFetchResponseTopic[] = wanted.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((p) => {
      const c = engine.committedOffset(group, t.name, p);
      const has = c !== undefined && c.offset >= 0;
      return {
        partitionIndex: p,
        committedOffset: has ? c.offset : -1,
        committedLeaderEpoch: -1,
        metadata: has ? c.metadata : '',
        errorCode: KafkaError.NONE,
      };
    }),
  }));
  return { throttleTimeMs: 0, topics, errorCode: KafkaError.NONE };
};
