/**
 * The SEND path under a stream of frames: a publish the engine refuses ends the connection with
 * an ERROR that names the refused frame's receipt; SENDs whose headers change from frame to frame
 * (the parser reuses repeated header pairs, the connection remembers destination texts) store
 * exactly what each frame said.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { header } from '../../../src/protocols/stomp/codec/index.js';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { RawClient, startBroker, waitFor } from './helpers.js';

test('a SEND the engine refuses (queue full, reject-publish) gets an ERROR with its receipt id, then the close', async () => {
  const b = await startBroker();
  try {
    await b.engine.group('full', DEFAULT_GROUP, { maxLength: 1, overflow: 'reject-publish' });
    const c = await RawClient.connect(b.port);
    await c.receipt('SEND', [['destination', '/queue/full']], 'first');
    c.frame('SEND', [['destination', '/queue/full'], ['receipt', 'r-second']], 'second');
    const err = await c.next('ERROR');
    assert.equal(header(err, 'receipt-id'), 'r-second');
    assert.match(header(err, 'message')!, /full/);
    await waitFor(() => c.closed);
    assert.equal(c.frames.filter((f) => f.command === 'RECEIPT' && header(f, 'receipt-id') === 'r-second').length, 0);
  } finally {
    await b.close();
  }
});

test('SENDs whose destination and headers change from frame to frame store what each frame said', async () => {
  const b = await startBroker();
  try {
    const c = await RawClient.connect(b.port);
    const frames: Buffer[] = [];
    const sent: { q: string; color: string; body: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const q = i % 7 < 4 ? 'pa' : 'pb';
      const color = i % 3 === 0 ? 'red' : i % 3 === 1 ? 'blue\\cdark' : 'grün';
      const body = `m${i}`;
      sent.push({ q, color: color.replace('\\c', ':'), body });
      frames.push(Buffer.from(`SEND\ndestination:/queue/${q}\ncolor:${color}\ncontent-length:${body.length}\n${i === 59 ? 'receipt:done\n' : ''}\n${body}\x00\n`, 'utf8'));
    }
    // One write: the frames arrive in one or a few reads, as a pipelining client's do.
    c.socket.write(Buffer.concat(frames));
    const r = await c.next('RECEIPT');
    assert.equal(header(r, 'receipt-id'), 'done');
    for (const q of ['pa', 'pb']) {
      const g = await b.engine.group(q, DEFAULT_GROUP);
      const want = sent.filter((s) => s.q === q).map(({ color, body }) => ({ color, body }));
      const got: { color: string; body: string }[] = [];
      for (let d = await g.get(); d; d = await g.get()) {
        got.push({ color: d.headers['color']!, body: d.body.toString() });
        await d.ack();
      }
      assert.deepEqual(got, want);
    }
  } finally {
    await b.close();
  }
});
