/**
 * Batch format plug-ins: how queue consumers read batches stored in a protocol's own format.
 *
 * Storage keeps a format tag per batch (record.ts: FORMAT_NATIVE, FORMAT_KAFKA). The log view
 * serves every batch untouched; a *queue* consumer (a group) needs records, so a protocol that
 * stores foreign batches registers a decoder here (the Kafka session registers one for
 * FORMAT_KAFKA that decompresses and parses RecordBatch v2). A group meeting a format with no
 * decoder settles those records (skips them) — documented in ARCHITECTURE.md.
 *
 * Decoders run on the delivery path, once per batch read by each group; they must be pure.
 */
import { encodeBatch, FORMAT_NATIVE, type RecordInput } from './record.js';
import type { StoredBatch } from './storage/types.js';

export interface BatchDecoder {
  /**
   * Records of the batch, in offset order: one per offset in [baseOffset, baseOffset + count).
   * A record that no longer exists (compacted away) may be undefined.
   */
  decode(payload: Buffer, baseOffset: number, count: number): (RecordInput | undefined)[];
}

const decoders = new Map<number, BatchDecoder>();

export function registerBatchFormat(format: number, decoder: BatchDecoder): void {
  decoders.set(format, decoder);
}

export function batchDecoder(format: number): BatchDecoder | undefined {
  return decoders.get(format);
}

/**
 * Re-encodes a foreign batch (e.g. Kafka) as a native one through its registered decoder, so the
 * delivery path has one record format. An offset whose record no longer exists (compaction) gets
 * a placeholder record with the GONE_HEADER, which the cursor settles instead of delivering.
 */
export function nativeFromForeign(b: StoredBatch): StoredBatch | undefined {
  const dec = batchDecoder(b.format);
  if (!dec) return undefined;
  const recs = dec.decode(b.payload, b.baseOffset, b.count);
  const filled: RecordInput[] = [];
  for (let i = 0; i < b.count; i++) filled.push(recs[i] ?? { body: EMPTY, timestamp: b.timestamp, priority: 0, headers: GONE });
  return { baseOffset: b.baseOffset, count: b.count, timestamp: b.timestamp, format: FORMAT_NATIVE, payload: encodeBatch(filled) };
}

const EMPTY = Buffer.alloc(0);
/** Header marking a placeholder for an offset whose foreign record no longer exists. */
export const GONE_HEADER = 'x-omnibus-gone';
const GONE: Record<string, string> = { [GONE_HEADER]: '1' };

