/**
 * A minimal in-test Kafka "broker" built only on the codec: it answers ApiVersions, Metadata,
 * Produce and InitProducerId well enough for kafkajs / librdkafka producers to finish, and records
 * every request frame byte-for-byte. Used to capture real client bytes and to check that real
 * clients accept our encodings. No storage, one partition per topic.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  API_KEYS,
  ApiKey,
  FrameSplitter,
  ZERO_UUID,
  decodeRequest,
  encodeResponse,
  isRequest,
  peekRequestHeader,
} from '../../../src/protocols/kafka/index.js';
import type { DecodedRequest } from '../../../src/protocols/kafka/index.js';

export interface Recorded {
  frame: Buffer;
  decoded?: DecodedRequest;
  error?: unknown;
}

export class FakeBroker {
  server: Server;
  port = 0;
  frames: Recorded[] = [];
  sockets = new Set<Socket>();
  topics = new Set<string>(['rec-topic']);
  /** When true, nothing is answered (raw recording). */
  silent = false;
  maxVersions = new Map<number, number>();

  constructor() {
    this.server = createServer((s) => this.#conn(s));
  }

  async start(): Promise<number> {
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', res));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }

  of(apiKey: number): Recorded[] {
    return this.frames.filter((f) => f.frame.length >= 2 && f.frame.readInt16BE(0) === apiKey);
  }

  #conn(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => {});
    const split = new FrameSplitter();
    s.on('data', (chunk: Buffer) => {
      try {
        split.push(chunk, (frame) => this.#frame(s, Buffer.from(frame)));
      } catch {
        s.destroy();
      }
    });
  }

  #frame(s: Socket, frame: Buffer): void {
    const rec: Recorded = { frame };
    this.frames.push(rec);
    if (this.silent) return;
    const peek = peekRequestHeader(frame)!;
    if (peek.apiKey === ApiKey.ApiVersions && peek.apiVersion > 4) {
      s.write(Buffer.concat(encodeResponse(ApiKey.ApiVersions, 0, peek.correlationId, { errorCode: 35, apiKeys: this.#apiKeys() })));
      return;
    }
    try {
      rec.decoded = decodeRequest(frame);
    } catch (e) {
      rec.error = e;
      s.destroy();
      return;
    }
    const d = rec.decoded;
    const { apiVersion: v, correlationId: c } = d.header;
    const send = (chunks: Buffer[]): void => {
      s.write(Buffer.concat(chunks));
    };
    if (isRequest(d, ApiKey.ApiVersions)) {
      send(encodeResponse(ApiKey.ApiVersions, v, c, { errorCode: 0, apiKeys: this.#apiKeys(), throttleTimeMs: 0 }));
    } else if (isRequest(d, ApiKey.Metadata)) {
      const names = d.body.topics === null || (v === 0 && d.body.topics.length === 0) ? [...this.topics] : d.body.topics.map((t) => t.name ?? '');
      for (const n of names) this.topics.add(n);
      send(
        encodeResponse(ApiKey.Metadata, v, c, {
          brokers: [{ nodeId: 1, host: '127.0.0.1', port: this.port, rack: null }],
          clusterId: 'fake-cluster',
          controllerId: 1,
          topics: names.map((name) => ({
            errorCode: 0,
            name,
            topicId: ZERO_UUID,
            isInternal: false,
            partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
          })),
        }),
      );
    } else if (isRequest(d, ApiKey.Produce)) {
      if (d.body.acks === 0) return;
      send(
        encodeResponse(ApiKey.Produce, v, c, {
          responses: d.body.topicData.map((t) => ({
            name: t.name,
            partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: 0, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0 })),
          })),
        }),
      );
    } else if (isRequest(d, ApiKey.InitProducerId)) {
      send(encodeResponse(ApiKey.InitProducerId, v, c, { errorCode: 0, producerId: 1000, producerEpoch: 0 }));
    } else {
      s.destroy();
    }
  }

  #apiKeys(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return API_KEYS.map((k) => ({ apiKey: k.apiKey, minVersion: k.minVersion, maxVersion: Math.min(k.maxVersion, this.maxVersions.get(k.apiKey) ?? Infinity) }));
  }
}
