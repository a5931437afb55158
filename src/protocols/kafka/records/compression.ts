/**
 * Decompression of record-batch payloads by Kafka codec id (RecordBatch attributes bits 0-2,
 * MessageSet attributes bits 0-2):
 *   0 none, 1 gzip (node:zlib), 2 snappy (snappy.ts: raw or xerial-framed),
 *   3 lz4 (lz4.ts: LZ4 frame format), 4 zstd (NOT supported: Node 20 has no zstd and a pure-JS
 *   zstd decoder is ~2k lines; throws UNSUPPORTED_COMPRESSION_TYPE).
 *
 * Only the record-view conversion needs this (queue consumers reading Kafka batches, old message
 * formats). Produce and Fetch never decompress: batches of every codec, zstd included, are stored
 * and served byte-for-byte. A zstd batch is therefore fully usable by Kafka clients; only the
 * cross-protocol view (AMQP/Redis consumers of the same topic) cannot read its records.
 *
 * Compression (for building batches) is gzip only; tests bring their own snappy/lz4 encoders.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { KafkaCodecError, KafkaErrorCode, corruptMessage } from '../codec/errors.js';
import { DEFAULT_MAX_DECOMPRESSED, snappyDecompress } from './snappy.js';
import { lz4FrameDecompress } from './lz4.js';

export const Compression = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

export function decompress(codec: number, data: Buffer, maxOutput = DEFAULT_MAX_DECOMPRESSED): Buffer {
  switch (codec) {
    case 0:
      return data;
    case 1:
      try {
        return gunzipSync(data, { maxOutputLength: maxOutput });
      } catch (e) {
        throw corruptMessage(`gzip: ${(e as Error).message}`);
      }
    case 2:
      return snappyDecompress(data, maxOutput);
    case 3:
      return lz4FrameDecompress(data, maxOutput);
    case 4:
      throw new KafkaCodecError(KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'zstd batches are stored and served but cannot be decompressed (no zstd in Node 20)');
    default:
      throw corruptMessage(`unknown compression codec ${codec}`);
  }
}

/** Compresses with gzip (codec 1) or returns data unchanged (codec 0). */
export function compress(codec: number, data: Buffer): Buffer {
  if (codec === 0) return data;
  if (codec === 1) return gzipSync(data);
  throw new KafkaCodecError(KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression ${COMPRESSION_NAMES[codec] ?? codec} is not implemented for building batches`);
}
