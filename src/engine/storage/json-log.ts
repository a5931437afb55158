/**
 * Small JSON record logs on top of a PartitionStore: the engine's catalogue, committed offsets,
 * exchange declarations, group state and the protocols' metadata logs are all one JSON document
 * per single-record batch. Not for data: messages use the binary record format (record.ts).
 */
import type { PartitionStore } from './types.js';

/** Appends `v` as one record; returns its offset. Durability follows the log's fsync policy. */
export function appendJson(log: PartitionStore, v: unknown): number {
  return log.append([{ count: 1, timestamp: Date.now(), format: 0, payload: Buffer.from(JSON.stringify(v)) }]);
}

/** Every record of the log, from its start, parsed. */
export async function readJson<T>(log: PartitionStore): Promise<T[]> {
  const out: T[] = [];
  for (let off = log.startOffset; off < log.endOffset; ) {
    const batches = await log.read(off, 1 << 20);
    if (batches.length === 0) break;
    for (const b of batches) {
      if (b.baseOffset >= off) out.push(JSON.parse(b.payload.toString('utf8')) as T);
      off = b.baseOffset + b.count;
    }
  }
  return out;
}
