/**
 * A consumer with `pinsBodies` gets deliveries whose bodies may live in recycled file-read slabs:
 * a body written to a socket by reference and pinned with holdBody() until the write's callback
 * reaches the reader intact, even when the delivery is acked before the socket wrote it and the
 * reader drains slowly; slabs are reused once those writes complete.
 *
 * OMNIBUS_TEST_UNPINNED=1 runs the same consumer without holdBody(): then the slabs are reused
 * while the socket still queues views of them, and ~600 of the 1,500 bodies arrive with another
 * message's bytes (the assertion this test exists for). A delivery returned unacked keeps its
 * slab for ever (escaped): without that, the second test's returned messages come back with the
 * bytes another group's read put there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { ConsumerSink, DeliveryImpl } from '../../src/engine/group.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import type { ReadLease } from '../../src/engine/storage/types.js';

const KiB = 1024;
const N = 1500;
const PIN = process.env.OMNIBUS_TEST_UNPINNED === undefined;
const SIZE = 10 * KiB;

function body(i: number): Buffer {
  const b = Buffer.alloc(SIZE, 0x21 + (i % 90));
  b.writeUInt32BE(i, 0);
  return b;
}

/** Writes each body by reference to `sock` and acks at once (before the write completes), pinning the body if `pin`. */
class SocketSink implements ConsumerSink {
  readonly pinsBodies = true;
  readonly prefetch = 64;
  pushed = 0;
  constructor(
    readonly sock: net.Socket,
    readonly pin: boolean,
  ) {}
  push(d: DeliveryImpl): void {
    this.pushed++;
    if (this.pin) this.sock.write(d.body, d.holdBody());
    else this.sock.write(d.body);
    void d.ack();
  }
}

/**
 * Publishes bodies 0..n-1 to topic `q` in `dir`, then reopens the engine, so the backlog is read
 * back from the segment files (a small write cache) through the pool.
 */
async function seeded(dir: string, n: number): Promise<{ storage: FileStorage; engine: Engine }> {
  const first = await Engine.open({ storage: new FileStorage(dir, { cacheBytes: 256 * KiB }), fsync: 'never' });
  await first.topic('q', { partitions: 1 });
  for (let i = 0; i < n; i += 100) {
    const recs = [];
    for (let j = i; j < i + 100; j++) recs.push({ body: body(j), timestamp: 1, priority: 0 });
    await first.publish('q', recs);
  }
  await first.close();
  const storage = new FileStorage(dir, { cacheBytes: 256 * KiB });
  return { storage, engine: await Engine.open({ storage, fsync: 'never' }) };
}

async function run(pin: boolean): Promise<{ received: Buffer; reused: number; heldInSocket: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-pinned-'));
  const { storage, engine } = await seeded(dir, N);

  // The slow reader: a real TCP peer that does not read until every delivery was acked.
  const chunks: Buffer[] = [];
  let resumeReader!: () => void;
  const server = net.createServer((s) => {
    s.pause();
    resumeReader = () => s.resume();
    s.on('data', (c: Buffer) => chunks.push(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', r));
  try {
    const g = await engine.group('q', 'g');
    const sink = new SocketSink(sock, pin);
    const consumer = g.addConsumer(sink);
    // Paused while the first 40 % go out (several MiB of views wait in the socket, their
    // deliveries acked), then the reader drains while the rest is delivered.
    while (sink.pushed < N * 0.4) await new Promise((r) => setTimeout(r, 5));
    const heldInSocket = sock.writableLength;
    resumeReader();
    while (sink.pushed < N) await new Promise((r) => setTimeout(r, 5));
    await new Promise<void>((r) => sock.end(r));
    while (chunks.reduce((n, c) => n + c.length, 0) < N * SIZE) await new Promise((r) => setTimeout(r, 5));
    g.removeConsumer(consumer);
    return { received: Buffer.concat(chunks), reused: storage.readPool.reused, heldInSocket };
  } finally {
    sock.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('bodies pinned until their socket write completes reach a slow reader intact, and the slabs are reused afterwards', async () => {
  const { received, reused, heldInSocket } = await run(PIN);
  assert.ok(heldInSocket > 1024 * KiB, `the socket held ${heldInSocket} bytes of acked deliveries' views when the reader resumed`);
  assert.equal(received.length, N * SIZE);
  for (let i = 0; i < N; i++) {
    const got = received.subarray(i * SIZE, (i + 1) * SIZE);
    assert.ok(got.equals(body(i)), `message ${i} arrived with its own bytes (got message ${got.readUInt32BE(0)}'s header)`);
  }
  assert.ok(reused > 0, 'read slabs were recycled once their writes completed');
});

test('deliveries returned by a closed pinning consumer keep their bytes while other readers recycle slabs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-pinned-return-'));
  const n = 600;
  try {
    const { storage, engine } = await seeded(dir, n);
    const until = async (f: () => boolean): Promise<void> => {
      while (!f()) await new Promise((r) => setTimeout(r, 2));
    };

    // Group g: a pinning consumer takes the first batch (100 messages, one read) and closes
    // without acking: the messages return to g's queue holding views of that read's slab.
    const g = await engine.group('q', 'g');
    const held: DeliveryImpl[] = [];
    const a = g.addConsumer({ pinsBodies: true, prefetch: 100, push: (d: DeliveryImpl) => void held.push(d) });
    await until(() => held.length === 100);
    await g.whenIdle();
    g.removeConsumer(a);

    // Group h drains the whole topic through the pool, acking: its reads reuse every free slab.
    const h = await engine.group('q', 'h');
    let hGot = 0;
    h.addConsumer({ pinsBodies: true, prefetch: 64, push: (d: DeliveryImpl) => void (hGot++, d.ack()) });
    await until(() => hGot === n);
    assert.ok(storage.readPool.reused > 0, 'h reused slabs');

    // g's returned messages come back with their own bytes.
    const wrong: string[] = [];
    let again = 0;
    g.addConsumer({
      pinsBodies: true,
      prefetch: 64,
      push(d: DeliveryImpl): void {
        if (d.redelivered) {
          again++;
          if (!d.body.equals(body(d.offset))) wrong.push(`message ${d.offset} came back as ${d.body.readUInt32BE(0)}`);
        }
        void d.ack();
      },
    });
    await until(() => again === 100);
    assert.deepEqual(wrong, []);
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ranges from takeBodies stay intact until their leases are released, across reads that recycle slabs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-takebodies-'));
  try {
    const { storage, engine } = await seeded(dir, N);
    const g = await engine.group('q', 'g');
    let next = 0;
    for (let round = 0; round < 3; round++) {
      // 500 × 10 KiB is ~10 pooled 512 KiB reads: the ranges of the first must survive the rest.
      const ranges: [Buffer, number, number][] = [];
      const holds: ReadLease[] = [];
      const n = await g.takeBodies(500, (b, s, e) => void ranges.push([b, s, e]), holds);
      assert.equal(n, 500);
      assert.ok(holds.length > 1, `pooled reads held: ${holds.length}`);
      // Another group reads meanwhile: it may take only slabs nobody holds.
      const other = await engine.group('q', `other-${round}`, { from: 'earliest' });
      await other.takeBatch(300);
      for (const [b, s, e] of ranges) assert.ok(b.subarray(s, e).equals(body(next++)), `body ${next - 1} intact`);
      for (const l of holds) l.release();
    }
    assert.equal(next, N);
    assert.ok(storage.readPool.reused > 0, 'slabs were reused once released');
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
