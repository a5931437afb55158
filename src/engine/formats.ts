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
import type { RecordInput } from './record.js';

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
