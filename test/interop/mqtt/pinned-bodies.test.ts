/**
 * Deliveries of large messages from the file store: the broker writes a body of 2 KiB or more to
 * the socket by reference, and that body may live in a recycled file-read slab. A QoS 0 delivery
 * is settled as soon as it is written, before the socket has sent it; the slab must still not be
 * reused until the write completes, or a slow subscriber receives other messages' bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { startBroker, connect, end, rawSubscriber, waitFor } from './helpers.js';

const N = 1500;
const SIZE = 10 * 1024;

/** Message i: its index in the first 4 bytes, then a fill byte that differs from its neighbours'. */
function body(i: number): Buffer {
  const b = Buffer.alloc(SIZE, 0x21 + (i % 90));
  b.writeUInt32BE(i, 0);
  return b;
}

test('a slow QoS 0 subscriber on file storage receives every 10 KiB body intact, although each delivery is settled before the socket sent it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnibus-mqtt-pinned-'));
  // A small write cache: the subscriber's backlog is read back from the segment files.
  const engine = await Engine.open({ storage: new FileStorage(dir, { cacheBytes: 256 * 1024 }), fsync: 'never' });
  const b = await startBroker({ engine });
  try {
    const sub = await rawSubscriber(b.port, 4, { clientId: 'pinned', clean: true, keepalive: 60 }, 'pinned/t', 0);
    // Not reading: the broker's writes queue in its socket while their deliveries are settled.
    sub.s.pause();
    const pub = await connect(b, { protocolVersion: 4 });
    for (let i = 0; i < N; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => pub.publishAsync('pinned/t', body(i + k), { qos: 1 })));
    await end(pub);
    sub.s.resume();
    await waitFor(() => sub.publishes().length >= N, 30_000);
    const got = sub.publishes();
    assert.equal(got.length, N);
    let wrong = 0;
    for (let i = 0; i < N; i++) if (!got[i]!.payload.equals(body(i))) wrong++;
    assert.equal(wrong, 0, `${wrong} of ${N} bodies arrived with other bytes`);
    sub.s.end();
  } finally {
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
