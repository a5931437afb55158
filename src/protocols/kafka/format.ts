/**
 * Cross-protocol reading of Kafka batches: registers the FORMAT_KAFKA batch decoder with the
 * engine, so queue consumers of a topic (AMQP queues, Redis lists, STOMP, embedded subscribe)
 * receive records produced over Kafka: value → body, key → key (UTF-8), headers → string headers
 * (UTF-8; a null header value becomes ''), the record timestamp, priority 0.
 *
 * A batch that cannot be decoded — zstd (no decompressor in Node 20), or corrupt — and control
 * batches and batches of Kafka transactions yield no records (the group skips those offsets), as
 * documented in
 * docs/protocols/kafka.md. The decoder is pure and runs once per batch read by each group.
 */
import { registerBatchFormat } from '../../engine/formats.js';
import { FORMAT_KAFKA, type RecordInput } from '../../engine/record.js';
import { decodeRecordBatch } from './records/index.js';
import './compaction.js'; // registers the FORMAT_KAFKA compactor with the engine's compaction pass

const EMPTY = Buffer.alloc(0);

export function decodeKafkaBatch(payload: Buffer, baseOffset: number, count: number): (RecordInput | undefined)[] {
  const out: (RecordInput | undefined)[] = new Array<RecordInput | undefined>(count).fill(undefined);
  let d;
  try {
    d = decodeRecordBatch(payload);
  } catch {
    return out;
  }
  // Control batches (transaction markers) and transactional batches (their outcome is not known
  // here, and may not be yet) are never delivered to queue consumers: see txn-coordinator.ts.
  if (d.header.isControl || d.header.isTransactional) return out;
  for (const r of d.records) {
    const i = r.offset - d.header.baseOffset;
    if (i < 0 || i >= count) continue;
    let headers: Record<string, string> | undefined;
    if (r.headers.length > 0) {
      headers = {};
      for (const h of r.headers) headers[h.key] = h.value === null ? '' : h.value.toString('utf8');
    }
    out[i] = { body: r.value ?? EMPTY, key: r.key === null ? undefined : r.key.toString('utf8'), headers, timestamp: r.timestamp, priority: 0 };
  }
  void baseOffset;
  return out;
}

registerBatchFormat(FORMAT_KAFKA, { decode: decodeKafkaBatch });
