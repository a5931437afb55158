/**
 * Hostile input on raw sockets (only that connection closes), ApiVersions negotiation, SASL/PLAIN,
 * the cross-protocol mapping (Kafka topic = engine topic: kafkajs ⇄ embedded API), and state that
 * must survive a restart on file storage (committed offsets, idempotent producer ids/sequences).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { EmbeddedTransport } from '../../../src/transports/embedded.js';
import { connect } from '../../../src/index.js';
import { encodeRequest, decodeResponse } from '../../../src/protocols/kafka/index.js';
import { startBroker, waitFor, type Broker } from './helpers.js';

/** A raw client: sends bytes, reads size-prefixed frames, reports close. */
class Raw {
  readonly s: net.Socket;
  #buf = Buffer.alloc(0);
  #waiters: ((f: Buffer) => void)[] = [];
  #frames: Buffer[] = [];
  closed: Promise<void>;
  constructor(port: number) {
    this.s = net.connect(port, '127.0.0.1');
    this.closed = new Promise((r) => this.s.on('close', () => r()));
    this.s.on('error', () => {});
    this.s.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 4 && this.#buf.length >= 4 + this.#buf.readInt32BE(0)) {
        const n = this.#buf.readInt32BE(0);
        const f = this.#buf.subarray(4, 4 + n);
        this.#buf = this.#buf.subarray(4 + n);
        const w = this.#waiters.shift();
        if (w) w(f);
        else this.#frames.push(f);
      }
    });
  }
  ready(): Promise<void> {
    return new Promise((r) => (this.s.readyState === 'open' ? r() : this.s.once('connect', () => r())));
  }
  frame(): Promise<Buffer> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    return new Promise((r) => this.#waiters.push(r));
  }
}

async function stillWorks(b: Broker): Promise<void> {
  const admin = b.kafka().admin();
  await admin.connect();
  await admin.listTopics();
  await admin.disconnect();
}

test('bad input closes only that connection: garbage, oversize frame, unknown api key, truncated body', async () => {
  const b = await startBroker();
  try {
    const admin = b.kafka().admin();
    await admin.connect(); // a connection that must survive all of this
    for (const bytes of [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), // size prefix "GET " = 1.2 GB > 100 MiB
      Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]), // 2 GiB frame announced
      Buffer.from([0xff, 0xff, 0xff, 0xfe]), // negative size
      Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from([0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0])]), // api key 999
      Buffer.concat([Buffer.from([0, 0, 0, 12]), Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5])]), // Metadata v1 body cut short
      Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from([0, 1, 0, 99, 0, 0, 0, 1, 0, 0])]), // Fetch v99
      Buffer.from([0, 0, 0, 3, 1, 2, 3]), // frame shorter than a header
    ]) {
      const r = new Raw(b.server.port);
      await r.ready();
      r.s.write(bytes);
      await r.closed;
    }
    assert.ok((await admin.listTopics()) !== undefined, 'the existing connection still works');
    await admin.disconnect();
    await stillWorks(b);
  } finally {
    await b.close();
  }
});

test('ApiVersions above our max gets UNSUPPORTED_VERSION (v0 body) with our versions; v3 works', async () => {
  const b = await startBroker();
  try {
    const r = new Raw(b.server.port);
    await r.ready();
    r.s.write(encodeRequest(18, 3, 7, 'raw', { clientSoftwareName: 'x', clientSoftwareVersion: '1' }).subarray(0));
    const ok = decodeResponse(18, 3, await r.frame());
    assert.equal(ok.correlationId, 7);
    assert.equal(ok.body.errorCode, 0);
    assert.ok(ok.body.apiKeys.some((k) => k.apiKey === 1 && k.minVersion === 0 && k.maxVersion === 11), 'Fetch 0-11 (v0-3 down-converted)');
    assert.ok(ok.body.apiKeys.some((k) => k.apiKey === 0 && k.minVersion === 0 && k.maxVersion === 8), 'Produce 0-8 (v0-2 message sets)');
    // Version 9 of ApiVersions: the frame is answered at v0.
    const req = encodeRequest(18, 3, 8, 'raw', { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    req.writeInt16BE(9, 6);
    r.s.write(req);
    const bad = decodeResponse(18, 0, await r.frame());
    assert.equal(bad.correlationId, 8);
    assert.equal(bad.body.errorCode, 35);
    assert.ok(bad.body.apiKeys.length > 20);
    r.s.destroy();
  } finally {
    await b.close();
  }
});

test('SASL/PLAIN: kafkajs authenticates; wrong password fails; unauthenticated requests close the connection', async () => {
  const b = await startBroker({ users: new Map([['alice', 's3cret']]) });
  try {
    const good = b.kafka({ sasl: { mechanism: 'plain', username: 'alice', password: 's3cret' } }).admin();
    await good.connect();
    await good.createTopics({ topics: [{ topic: 'sasl-t' }] });
    await good.disconnect();
    const bad = b.kafka({ sasl: { mechanism: 'plain', username: 'alice', password: 'nope' }, retry: { retries: 0 } }).admin();
    await assert.rejects(bad.connect(), /SASL|auth/i);
    const r = new Raw(b.server.port);
    await r.ready();
    r.s.write(encodeRequest(3, 1, 1, 'raw', { topics: null }));
    await r.closed;
  } finally {
    await b.close();
  }
});

test('cross-protocol: kafkajs records reach engine queue consumers with key and headers; embedded publishes are fetched by kafkajs', async () => {
  const transport = (await connect('memory://')) as EmbeddedTransport;
  const b = await startBroker({ engine: transport.engine });
  try {
    const kafka = b.kafka();
    const p = kafka.producer();
    await p.connect();
    await p.send({ topic: 'xt', messages: [{ key: 'order-1', value: 'from-kafka', headers: { trace: 'abc' } }] });
    await p.send({ topic: 'xt', compression: 1, messages: [{ value: 'gzipped' }] });
    const g = await transport.engine.group('xt', 'default');
    const d1 = await waitFor(() => g.get(), 3000, 'a delivery');
    assert.equal(d1.body.toString(), 'from-kafka');
    assert.equal(d1.key, 'order-1');
    assert.equal(d1.headers['trace'], 'abc');
    await d1.ack();
    const d2 = await waitFor(() => g.get(), 3000, 'the gzip record');
    assert.equal(d2.body.toString(), 'gzipped');
    await d2.ack();

    await transport.publish('xt', [{ body: 'from-embedded', key: 'k2', headers: { h: 'v' } }]);
    const c = kafka.consumer({ groupId: 'xt-g' });
    await c.connect();
    await c.subscribe({ topic: 'xt', fromBeginning: true });
    const got: { value: string; key: string | undefined; h: string | undefined; offset: string }[] = [];
    await new Promise<void>((resolve) => {
      void c.run({
        eachMessage: async ({ message }) => {
          got.push({ value: message.value!.toString(), key: message.key?.toString(), h: message.headers?.['h']?.toString(), offset: message.offset });
          if (got.length === 3) resolve();
        },
      });
    });
    assert.deepEqual(got.map((m) => m.value), ['from-kafka', 'gzipped', 'from-embedded']);
    assert.deepEqual(got.map((m) => m.offset), ['0', '1', '2']);
    assert.equal(got[2]!.key, 'k2');
    assert.equal(got[2]!.h, 'v');
    await c.disconnect();
    await p.disconnect();
  } finally {
    await b.close();
    await transport.close();
  }
});

test('restart on file storage: committed offsets, data and idempotent producer state survive', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'omnibus-kafka-'));
  try {
    const open = async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' });
    let b = await startBroker({ engine: await open() });
    let kafka = b.kafka();
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    for (let i = 0; i < 5; i++) await p.send({ topic: 'dur', acks: -1, messages: [{ value: `d${i}` }] });
    const last = (await b.engine.readLog('dur', 0, 4, 1 << 20)).at(-1)!;
    const retry = Buffer.from(last.payload);
    const firstPid = retry.readInt32BE(43) * 2 ** 32 + retry.readUInt32BE(47);
    const c = kafka.consumer({ groupId: 'dur-g' });
    await c.connect();
    await c.subscribe({ topic: 'dur', fromBeginning: true });
    let n = 0;
    await new Promise<void>((resolve) => {
      void c.run({ eachMessage: async () => void (++n === 3 && resolve()) });
    });
    await c.disconnect();
    await p.disconnect();
    const committed = b.engine.committedOffset('dur-g', 'dur', 0)!.offset;
    assert.ok(committed >= 3);
    await b.close();
    await b.engine.close();

    b = await startBroker({ engine: await open() });
    try {
      kafka = b.kafka();
      // The producer's last batch resent after the restart is recognised as a duplicate.
      const r = new Raw(b.server.port);
      await r.ready();
      r.s.write(encodeRequest(0, 7, 1, 'retry', { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'dur', partitionData: [{ index: 0, records: retry }] }] }));
      const resp = decodeResponse(0, 7, await r.frame()).body.responses[0]!.partitionResponses[0]!;
      assert.equal(resp.errorCode, 0);
      assert.equal(resp.baseOffset, 4);
      assert.equal(b.engine.logBounds('dur', 0).end, 5);
      r.s.destroy();
      // New producer ids are never reused.
      const p2 = kafka.producer({ idempotent: true });
      await p2.connect();
      await p2.send({ topic: 'dur', messages: [{ value: 'd5' }] });
      const b5 = (await b.engine.readLog('dur', 0, 5, 1 << 20)).at(-1)!.payload;
      assert.ok(b5.readInt32BE(43) * 2 ** 32 + b5.readUInt32BE(47) > firstPid);
      await p2.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      assert.equal((await admin.fetchOffsets({ groupId: 'dur-g', topics: ['dur'] }))[0]!.partitions[0]!.offset, String(committed));
      await admin.disconnect();
      const c2 = kafka.consumer({ groupId: 'dur-g' });
      await c2.connect();
      await c2.subscribe({ topic: 'dur', fromBeginning: true });
      const rest: string[] = [];
      await new Promise<void>((resolve) => {
        void c2.run({ eachMessage: async ({ message }) => void (rest.push(message.value!.toString()), rest.includes('d5') && resolve()) });
      });
      assert.equal(rest[0], `d${committed}`, 'resumes at the committed offset');
      await c2.disconnect();
    } finally {
      await b.close();
      await b.engine.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('error codes on the wire: Produce, Fetch, ListOffsets, OffsetCommit, Heartbeat, DeleteGroups', async () => {
  const b = await startBroker({ autoCreateTopics: false });
  try {
    await b.engine.topic('ec', { partitions: 1, maxMessageBytes: 200 });
    const { buildRecordBatch } = await import('../../../src/protocols/kafka/records/index.js');
    const r = new Raw(b.server.port);
    await r.ready();
    let corr = 0;
    const call = async <K extends 0 | 1 | 2 | 8 | 12 | 42>(key: K, v: number, body: Parameters<typeof encodeRequest<K>>[4]) => {
      r.s.write(encodeRequest(key, v, ++corr, 'raw', body));
      const res = decodeResponse(key, v, await r.frame());
      assert.equal(res.correlationId, corr, 'responses in request order');
      return res.body;
    };
    const produce = (topic: string, partition: number, records: Buffer) =>
      call(0, 7, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] }).then(
        (x) => (x as { responses: { partitionResponses: { errorCode: number; baseOffset: number }[] }[] }).responses[0]!.partitionResponses[0]!,
      );
    const ok = buildRecordBatch([{ value: Buffer.from('x') }]);
    assert.equal((await produce('ec', 0, ok)).errorCode, 0);
    assert.equal((await produce('nope', 0, ok)).errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.equal((await produce('ec', 5, ok)).errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION (partition)');
    assert.equal((await produce('ec', 0, buildRecordBatch([{ value: Buffer.alloc(500) }]))).errorCode, 10, 'MESSAGE_TOO_LARGE');
    const bad = Buffer.from(ok);
    bad[bad.length - 1] ^= 0xff;
    assert.equal((await produce('ec', 0, bad)).errorCode, 2, 'CORRUPT_MESSAGE (CRC)');
    const fetch = (offset: number) =>
      call(1, 11, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 'ec', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '' }).then(
        (x) => (x as { responses: { partitions: { errorCode: number; highWatermark: number }[] }[] }).responses[0]!.partitions[0]!,
      );
    assert.equal((await fetch(0)).errorCode, 0);
    const oor = await fetch(7);
    assert.equal(oor.errorCode, 1, 'OFFSET_OUT_OF_RANGE');
    assert.equal(oor.highWatermark, 1);
    const lo = (await call(2, 1, { replicaId: -1, topics: [{ name: 'ec', partitions: [{ partitionIndex: 0, timestamp: -1 }] }, { name: 'nope', partitions: [{ partitionIndex: 0, timestamp: -2 }] }] })) as {
      topics: { partitions: { errorCode: number; offset?: number }[] }[];
    };
    assert.equal(lo.topics[0]!.partitions[0]!.offset, 1);
    assert.equal(lo.topics[1]!.partitions[0]!.errorCode, 3);
    const oc = (await call(8, 2, { groupId: 'nogroup', generationIdOrMemberEpoch: 3, memberId: 'm', retentionTimeMs: -1, topics: [{ name: 'ec', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] })) as {
      topics: { partitions: { errorCode: number }[] }[];
    };
    assert.equal(oc.topics[0]!.partitions[0]!.errorCode, 22, 'ILLEGAL_GENERATION for an unknown group with a generation');
    const hb = (await call(12, 1, { groupId: 'nogroup', generationId: 1, memberId: 'm' })) as { errorCode: number };
    assert.equal(hb.errorCode, 25, 'UNKNOWN_MEMBER_ID');
    const dg = (await call(42, 1, { groupsNames: ['nogroup'] })) as { results: { errorCode: number }[] };
    assert.equal(dg.results[0]!.errorCode, 69, 'GROUP_ID_NOT_FOUND');
    // acks=0: no response; the next request's response comes next in order.
    r.s.write(encodeRequest(0, 7, ++corr, 'raw', { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'ec', partitionData: [{ index: 0, records: ok }] }] }));
    assert.equal((await fetch(0)).highWatermark, 2);
    r.s.destroy();
  } finally {
    await b.close();
  }
});
