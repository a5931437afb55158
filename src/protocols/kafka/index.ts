/**
 * Kafka wire codec: bytes ⇄ requests/responses (generated from Kafka's JSON message definitions in
 * spec/kafka/ by scripts/gen-kafka.ts) and record batches. No sockets, no engine state: the
 * session (server/) sits on top of this.
 *
 * Layout:
 *   codec/reader.ts, codec/writer.ts   primitives (bounds-checked reads, zero-copy record views)
 *   codec/frame.ts                     size-prefixed frame splitter
 *   codec/request-header.ts            request/response headers, whole-frame decode/encode
 *   codec/errors.ts                    KafkaCodecError (typed, with Kafka error code), error code table
 *   generated/*                        one file per API: interfaces + decode/encode for every version
 *   records/*                          RecordBatch v2, MessageSet v0/v1, CRC-32C, decompression
 */
export * from './codec/errors.js';
export { Reader } from './codec/reader.js';
export { Writer } from './codec/writer.js';
export type { RecordsValue } from './codec/writer.js';
export { FrameSplitter, DEFAULT_MAX_FRAME_SIZE } from './codec/frame.js';
export * from './codec/request-header.js';
export { EMPTY, ZERO_UUID } from './codec/generated-support.js';
export * from './generated/index.js';
export * from './records/index.js';
