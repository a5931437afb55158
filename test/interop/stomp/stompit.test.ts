/**
 * stompit 1.0 against the STOMP listener: queues with client-individual acks, activemq.prefetchSize
 * (at most N unacked messages in flight per subscriber), and a sender that streams without receipts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startBroker, sleep, waitFor } from './helpers.js';

const require = createRequire(import.meta.url);
// stompit ships no types; the few calls used here are typed locally.
interface StompitMessage {
  headers: Record<string, string>;
  readString(enc: string, cb: (e: Error | null, body?: string) => void): void;
}
interface StompitClient {
  send(headers: Record<string, string>): { write(s: string): void; end(): void };
  subscribe(headers: Record<string, string>, cb: (e: Error | null, m: StompitMessage) => void): { unsubscribe(): void };
  ack(m: StompitMessage): void;
  nack(m: StompitMessage): void;
  disconnect(cb?: (e?: Error) => void): void;
  on(ev: string, cb: (e: Error) => void): void;
}
const stompit = require('stompit') as { connect(opts: unknown, cb: (e: Error | null, c: StompitClient) => void): void };

function connect(port: number): Promise<StompitClient> {
  return new Promise((resolve, reject) =>
    stompit.connect({ host: '127.0.0.1', port, connectHeaders: { host: '/', 'heart-beat': '0,0' } }, (e, c) => {
      if (e) reject(e);
      else {
        c.on('error', () => {});
        resolve(c);
      }
    }),
  );
}

function body(m: StompitMessage): Promise<string> {
  return new Promise((resolve, reject) => m.readString('utf8', (e, s) => (e ? reject(e) : resolve(s!))));
}

test('stompit: client-individual acks with prefetch 1 deliver one message at a time', async () => {
  const b = await startBroker();
  const c = await connect(b.port);
  try {
    for (let i = 0; i < 5; i++) {
      const f = c.send({ destination: '/queue/pf', 'content-type': 'text/plain' });
      f.write(`m${i}`);
      f.end();
    }
    const got: StompitMessage[] = [];
    const bodies: string[] = [];
    c.subscribe({ destination: '/queue/pf', ack: 'client-individual', 'activemq.prefetchSize': '1' }, (e, m) => {
      if (e) return;
      got.push(m);
      body(m).then((s) => bodies.push(s), () => {});
    });
    await waitFor(() => got.length === 1);
    await sleep(150);
    assert.equal(got.length, 1, 'prefetch 1: nothing more until the ack');
    for (let i = 1; i < 5; i++) {
      c.ack(got[i - 1]!);
      await waitFor(() => got.length === i + 1);
      await sleep(30);
      assert.equal(got.length, i + 1);
    }
    c.ack(got[4]!);
    await waitFor(() => bodies.length === 5);
    assert.deepEqual(bodies, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const g = await b.engine.group('pf', 'default');
    await waitFor(() => g.leasedCount === 0 && g.readyCount === 0);
  } finally {
    await new Promise<void>((r) => c.disconnect(() => r()));
    await b.close();
  }
});

test('stompit: two competing consumers share a queue; acks out of order are individual', async () => {
  const b = await startBroker();
  const c1 = await connect(b.port);
  const c2 = await connect(b.port);
  try {
    const seen: Record<string, string[]> = { a: [], b: [] };
    const held: [StompitClient, StompitMessage][] = [];
    for (const [c, name] of [
      [c1, 'a'],
      [c2, 'b'],
    ] as const) {
      c.subscribe({ destination: '/queue/compete', ack: 'client-individual', 'activemq.prefetchSize': '2' }, (e, m) => {
        if (e) return;
        held.push([c, m]);
        body(m).then((s) => seen[name]!.push(s), () => {});
      });
    }
    await sleep(100);
    for (let i = 0; i < 4; i++) {
      const f = c1.send({ destination: '/queue/compete' });
      f.write(String(i));
      f.end();
    }
    await waitFor(() => seen['a']!.length + seen['b']!.length === 4);
    assert.equal(seen['a']!.length, 2);
    assert.equal(seen['b']!.length, 2);
    // Ack in reverse order; every message settles exactly once.
    for (const [c, m] of [...held].reverse()) c.ack(m);
    const g = await b.engine.group('compete', 'default');
    await waitFor(() => g.leasedCount === 0 && g.readyCount === 0);
  } finally {
    await new Promise<void>((r) => c1.disconnect(() => r()));
    await new Promise<void>((r) => c2.disconnect(() => r()));
    await b.close();
  }
});
