#!/usr/bin/env node
// A NULL BROKER — a measuring instrument, not a broker. It speaks just enough of the Kafka
// protocol (ApiVersions, Metadata, ListOffsets, Produce, Fetch; Omnibus's own codecs from dist/)
// for librdkafka/kcat to produce and consume one partition, and does as little as possible:
//
//   Produce  acknowledged at once (acks=1/-1; acks=0 gets no response) with a running base
//            offset; the records are neither validated, CRC-checked nor stored.
//   Fetch    answered from ONE pre-built RecordBatch of `--batch-records` records of `--size` bytes
//            (the seed payload scheme: a 10-digit sequence number, then filler), repeated up to the
//            partition's max bytes with increasing base offsets (only the 8-byte base offset of
//            each copy is patched: the CRC-32C does not cover it). The high watermark is 2^53-1,
//            so a consumer reads until it has what it asked for (kcat -c N).
//   ListOffsets  earliest = 0, latest = the Produce counter.
//   Metadata every requested topic exists with `--partitions` partitions led by this node.
//
// What it is for: the client's own ceiling on this machine. What kcat reaches against it is the
// most that client can do here when the broker costs ~nothing; a real broker can only be slower.
// Run it alone (`node bench/kafka-null-broker.mjs --port 19092 --size 128`) or through
// bench/kafka-ceiling.mjs, which runs kcat against it, Omnibus and librdkafka's mock cluster
// in the same run. It prints "listening on HOST:PORT" once ready.
//
// The sequence numbers of fetched records repeat every `--batch-records` records (the same batch
// is served again): a verifier counting unique sequence numbers does not apply; count records.
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist/protocols/kafka', p));
const { FrameSplitter } = await dist('codec/frame.js');
const { Reader } = await dist('codec/reader.js');
const { decodeRequestHeader, encodeResponse } = await dist('codec/request-header.js');
const { API_CODECS } = await dist('generated/api-keys.js');
const { buildRecordBatch } = await dist('records/record-batch.js');
const { SUPPORTED_VERSIONS } = await dist('server/handler.js');
const { FramePool } = await dist('server/frame-pool.js');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    size: { type: 'string', default: '128' },
    'batch-records': { type: 'string', default: '' },
    partitions: { type: 'string', default: '1' },
  },
});
const size = Number(args.size);
const partitions = Number(args.partitions);
// ~64 KiB batches unless told: big enough that per-batch cost is noise, small enough that a
// fetch of max bytes gets many copies (librdkafka's default batch is up to 1 MB on produce).
const perBatch = Number(args['batch-records']) || Math.max(1, Math.floor(65536 / (size + 8)));
const SERVED = new Set([0, 1, 2, 3, 18]);
const HW = Number.MAX_SAFE_INTEGER;

const filler = Buffer.alloc(Math.max(0, size - 10), 'abcdefghijklmnopqrstuvwxyz');
const batch = buildRecordBatch(
  Array.from({ length: perBatch }, (_, i) => ({ key: null, value: Buffer.concat([Buffer.from(String(i).padStart(10, '0')), filler]).subarray(0, size) })),
  { baseTimestamp: Date.now() },
);

/**
 * A Fetch response's records: `copies` batches back to back in one buffer whose base offsets are
 * patched per response. A block is reused only after the socket has written it (write callback),
 * so a patch never races a pending write; blocks of the same length are pooled.
 */
const pools = new Map();
function takeBlock(copies) {
  const pool = pools.get(copies) ?? [];
  pools.set(copies, pool);
  const b = pool.pop();
  if (b) return b;
  const block = Buffer.allocUnsafe(copies * batch.length);
  for (let i = 0; i < copies; i++) batch.copy(block, i * batch.length);
  return block;
}
const giveBlock = (copies, block) => pools.get(copies).push(block);

let produced = 0;

function handle(apiKey, version, body) {
  switch (apiKey) {
    case 18:
      return {
        errorCode: 0,
        apiKeys: [...SUPPORTED_VERSIONS].filter(([k]) => SERVED.has(k)).map(([apiKey, [minVersion, maxVersion]]) => ({ apiKey, minVersion, maxVersion })),
        throttleTimeMs: 0,
        supportedFeatures: [],
        finalizedFeaturesEpoch: -1,
        finalizedFeatures: [],
        zkMigrationReady: false,
      };
    case 3: {
      const names = (body.topics ?? []).map((t) => t.name ?? '');
      return {
        throttleTimeMs: 0,
        brokers: [{ nodeId: 1, host: args.host, port: server.address().port, rack: null }],
        clusterId: 'null-broker',
        controllerId: 1,
        topics: names.map((name) => ({
          errorCode: 0,
          name,
          isInternal: false,
          // leaderEpoch -1: no epoch, so the client does no OffsetForLeaderEpoch validation.
          partitions: Array.from({ length: partitions }, (_, p) => ({ errorCode: 0, partitionIndex: p, leaderId: 1, leaderEpoch: -1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] })),
          topicAuthorizedOperations: -2147483648,
        })),
        clusterAuthorizedOperations: -2147483648,
      };
    }
    case 2:
      return {
        throttleTimeMs: 0,
        topics: body.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => {
            const off = p.timestamp === -2 ? 0 : produced;
            return version === 0 ? { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [off] } : { partitionIndex: p.partitionIndex, errorCode: 0, timestamp: -1, offset: off, leaderEpoch: -1 };
          }),
        })),
      };
    case 0: {
      const responses = body.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => {
          // The record count sits at byte 57 of a v2 batch header; only the first batch of the
          // request is looked at (librdkafka sends one batch per partition per request).
          const n = p.records && p.records.length >= 61 ? p.records.readInt32BE(57) : 0;
          const base = produced;
          produced += n;
          return { index: p.index, errorCode: 0, baseOffset: base, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null };
        }),
      }));
      return body.acks === 0 ? null : { responses, throttleTimeMs: 0 };
    }
    default:
      return undefined;
  }
}

function fetchResponse(body, pending, version) {
  const limit = version >= 3 && body.maxBytes > 0 ? body.maxBytes : 0x7fffffff;
  let total = 0;
  const responses = body.topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => {
      const room = Math.min(p.partitionMaxBytes, limit - total);
      const copies = Math.max(1, Math.floor(room / batch.length));
      const block = takeBlock(copies);
      for (let i = 0; i < copies; i++) {
        const at = i * batch.length;
        block.writeBigInt64BE(BigInt(p.fetchOffset + i * perBatch), at);
      }
      total += block.length;
      pending.push(() => giveBlock(copies, block));
      return { partitionIndex: p.partition, errorCode: 0, highWatermark: HW, lastStableOffset: HW, logStartOffset: 0, abortedTransactions: [], preferredReadReplica: -1, records: block };
    }),
  }));
  return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses };
}
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  // Produce frames spread over socket reads are assembled in recycled buffers (as Omnibus does):
  // fresh memory costs a page fault per 4 KiB here, which is not the client's cost.
  const pool = new FramePool();
  const splitter = new FrameSplitter(undefined, (n) => pool.take(n));
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    socket.cork();
    try {
      splitter.push(chunk, (frame) => {
        const r = new Reader(frame);
        const h = decodeRequestHeader(r);
        const codec = API_CODECS.get(h.apiKey);
        const range = SUPPORTED_VERSIONS.get(h.apiKey);
        if (!codec || !range || !SERVED.has(h.apiKey) || h.apiVersion < range[0] || h.apiVersion > range[1]) throw new Error(`api ${h.apiKey} v${h.apiVersion} is not served by the null broker`);
        const body = codec.decodeRequest(r, h.apiVersion);
        const pending = [];
        const res = h.apiKey === 1 ? fetchResponse(body, pending, h.apiVersion) : handle(h.apiKey, h.apiVersion, body);
        pool.give(frame); // nothing above kept a view of it
        if (res === null) return;
        const chunks = encodeResponse(h.apiKey, h.apiVersion, h.correlationId, res);
        for (let i = 0; i < chunks.length; i++) {
          const last = i === chunks.length - 1 && pending.length > 0;
          socket.write(chunks[i], last ? () => pending.forEach((f) => f()) : undefined);
        }
      });
    } catch (e) {
      process.stderr.write(`null broker: closing a connection: ${e.message}\n`);
      socket.destroy();
    } finally {
      socket.uncork();
    }
  });
});
server.listen(Number(args.port), args.host, () => {
  const a = server.address();
  process.stdout.write(`null broker listening on ${a.address}:${a.port} (records of ${size} B, ${perBatch} per served batch)\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
