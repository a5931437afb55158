import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { storageSuite } from './storage-suite.js';

storageSuite('memory', async () => ({
  engine: new MemoryStorage(),
  cleanup: async () => {},
}));

test('memory: a segment rolled by large batches starts small instead of taking the whole segment size', async () => {
  const storage = new MemoryStorage();
  const segmentBytes = 1024 * 1024;
  const p = await storage.open('big', { fsync: 'never', segmentBytes });
  const big = Buffer.alloc(300 * 1024, 1);
  // Four 300 KiB batches pass 1 MiB: the fourth rolls the segment. Their payloads are kept by
  // reference, so the new segment's own buffer holds only frame headers.
  for (let i = 0; i < 4; i++) p.append([{ count: 1, timestamp: i, format: 0, payload: big }]);
  const at = p.append([{ count: 1, timestamp: 9, format: 0, payload: Buffer.from('small') }]);
  const [batch] = await p.read(at, 1);
  assert.equal(Buffer.from(batch!.payload).toString(), 'small');
  // The small frame is a view into the active segment's buffer.
  assert.ok(batch!.payload.buffer.byteLength < 64 * 1024, `segment buffer is ${batch!.payload.buffer.byteLength} bytes`);
  await storage.close();
});
