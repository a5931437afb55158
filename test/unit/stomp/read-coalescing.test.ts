/**
 * Read coalescing of a STOMP connection (session/connection.ts): a connection streaming SENDs
 * without receipts stops reading for a millisecond of the engine clock after each read; a frame
 * with a receipt, any other command, or a lone SEND never causes a pause, and a pause always
 * ends. Driven over an in-process transport and a ManualClock: no sockets, no sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { header } from '../../../src/protocols/stomp/codec/index.js';
import { sends, settle, setup } from './harness.js';

test('a lone SEND, a few SENDs, and a stream whose last frame asks for a receipt are read without a pause', async () => {
  const h = await setup();
  try {
    h.conn.onData(sends(1));
    assert.ok(h.reading());
    h.conn.onData(sends(20));
    assert.ok(h.reading());
    h.conn.onData(sends(100, 'r1'));
    assert.ok(h.reading(), 'the read ended with a receipt request: the client may be waiting for it');
    await settle();
    assert.ok(h.out.some((f) => f.command === 'RECEIPT' && header(f, 'receipt-id') === 'r1'));
  } finally {
    await h.close();
  }
});

test('a stream of SENDs without receipts pauses reading for 1 ms of the engine clock, then reads again', async () => {
  const h = await setup();
  try {
    h.conn.onData(sends(40));
    assert.equal(h.reading(), false, '40 SENDs in a row without a receipt: coalesce the next ones');
    h.clock.advance(0.5);
    assert.equal(h.reading(), false);
    h.clock.advance(0.5);
    assert.ok(h.reading(), 'the pause ends after 1 ms');
    // The frame that was waiting (here: the receipt request) is read and answered.
    h.conn.onData(sends(1, 'after-pause'));
    assert.ok(h.reading());
    await settle();
    assert.ok(h.out.some((f) => f.command === 'RECEIPT' && header(f, 'receipt-id') === 'after-pause'));
  } finally {
    await h.close();
  }
});

test('SENDs of 2 KiB or more, and reads of 32 KiB or more, are never followed by a pause', async () => {
  const h = await setup();
  try {
    const big = 'x'.repeat(4096);
    const frames: string[] = [];
    for (let i = 0; i < 40; i++) frames.push(`SEND\ndestination:/queue/c\ncontent-length:${big.length}\n\n${big}\x00\n`);
    h.conn.onData(Buffer.from(frames.join('')));
    assert.ok(h.reading(), 'big bodies: their reads carry many bytes already');
    await settle();
    // 40 small SENDs in one read, padded with heart-beat EOLs to 32 KiB: a big read, no pause.
    h.conn.onData(Buffer.concat([sends(40), Buffer.alloc(32 * 1024, 10)]));
    assert.ok(h.reading(), 'a stream that fills 32 KiB per read would outgrow the receive window in a pause');
    h.conn.onData(sends(10));
    assert.equal(h.reading(), false, 'the next small read of the same streak pauses');
    h.clock.advance(1);
    assert.ok(h.reading());
  } finally {
    await h.close();
  }
});

test('any other command ends the streak: SENDs interleaved with ACK-like frames never pause', async () => {
  const h = await setup();
  try {
    for (let i = 0; i < 10; i++) {
      h.conn.onData(Buffer.concat([sends(20), Buffer.from('BEGIN\ntransaction:t' + i + '\n\n\x00ABORT\ntransaction:t' + i + '\n\n\x00')]));
      await settle();
      assert.ok(h.reading(), `round ${i}`);
    }
  } finally {
    await h.close();
  }
});

test('a connection closed during a pause is not read again when the pause ends', async () => {
  const h = await setup();
  try {
    h.conn.onData(sends(40));
    assert.equal(h.reading(), false);
    await h.conn.close(false);
    h.clock.advance(1);
    assert.equal(h.reading(), false, 'a closed connection is not read again');
  } finally {
    await h.close();
  }
});
