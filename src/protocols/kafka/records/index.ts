/** Record formats: RecordBatch v2, legacy message sets, CRC-32C, decompression. */
export * from './crc32c.js';
export * from './record-batch.js';
export * from './message-set.js';
export * from './compression.js';
export { snappyDecompress, snappyDecompressRaw, isXerialSnappy, DEFAULT_MAX_DECOMPRESSED } from './snappy.js';
export { lz4FrameDecompress } from './lz4.js';
