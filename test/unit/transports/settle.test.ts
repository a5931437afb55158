/**
 * The consume path shared by the transports to real brokers (src/transports/common.ts): the
 * buffer between push() and next(), a settlement that is complete on return (SETTLED) freeing
 * its prefetch slot at once, a lease starting at the time the transport read for its batch, and
 * a message id kept as bytes until read. An in-process NetTransport stands in for the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { OutgoingMessage, SubscribeOptions } from '../../../src/core/types.js';
import { NetDelivery, NetSubscription, NetTransport, SETTLED, type NetCapabilities, type SettleOps } from '../../../src/transports/common.js';

class LocalSubscription extends NetSubscription {
  credits = 0;
  expired: string[] = [];
  /** What ack() hands back: SETTLED (done on return) or a promise of broker work. */
  ackResult: () => Promise<void> = () => SETTLED;
  readonly ops: SettleOps = {
    ack: () => this.ackResult(),
    nack: async () => undefined,
    reject: async () => undefined,
    expired: (d) => void this.expired.push(d.id),
  };
  protected start(): void {}
  protected async release(): Promise<void> {}
  protected async stop(): Promise<void> {}
  protected override onCredit(): void {
    this.credits++;
  }
  deliver(id: string | Uint8Array, now?: number): NetDelivery {
    const d = new NetDelivery({ id, topic: this.topic, key: undefined, headers: {}, body: new Uint8Array(0), timestamp: 0, priority: 0, attempt: 1 }, this, this.ops, now);
    this.push(d);
    return d;
  }
}

class LocalTransport extends NetTransport {
  readonly scheme = 'local';
  readonly capabilities: NetCapabilities = {
    persistent: false,
    consumerGroups: true,
    ordering: 'partition',
    replay: false,
    nativeDelay: false,
    nativeDeadLetter: false,
    priorities: false,
    leases: true,
    exactlyOnce: false,
    maxPayload: 1024,
    emulated: ['leases'],
  };
  constructor(readonly clock: ManualClock) {
    super();
  }
  protected async doPublish(_topic: string, _messages: readonly OutgoingMessage[]): Promise<void> {}
  protected createSubscription(topic: string, opts: SubscribeOptions): NetSubscription {
    return new LocalSubscription(this, topic, opts, this.clock);
  }
  protected async disconnect(): Promise<void> {}
}

function setup(prefetch: number, leaseMs = 1000): { clock: ManualClock; sub: LocalSubscription } {
  const clock = new ManualClock();
  const t = new LocalTransport(clock);
  return { clock, sub: t.subscribe('t', { prefetch, leaseMs }) as LocalSubscription };
}

test('next() hands out pushed deliveries in order across refills larger than the buffer compaction point', async () => {
  const { sub } = setup(10_000);
  const seen: string[] = [];
  let pushed = 0;
  // Take fewer than are pushed each round, so the buffer never empties and has to compact.
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 1500; i++) sub.deliver(String(pushed++));
    for (let i = 0; i < 1000; i++) {
      const r = await sub.next();
      assert.equal(r.done, false);
      seen.push(r.value!.id);
      await r.value!.ack();
    }
  }
  while (seen.length < pushed) seen.push((await sub.next()).value!.id);
  assert.deepEqual(seen, Array.from({ length: pushed }, (_, i) => String(i)));
  await sub.close();
});

test('an ack whose transport work is done on return (SETTLED) frees its prefetch slot before ack() returns', async () => {
  const { sub } = setup(2);
  sub.deliver('a');
  sub.deliver('b');
  assert.equal(sub.credit(), 0);
  const a = (await sub.next()).value!;
  const p = a.ack();
  assert.equal(p, SETTLED);
  assert.equal(sub.credit(), 1);
  assert.equal(sub.credits, 1);
  await sub.close();
});

test('an ack with broker work in flight frees its slot only when that work ends, one onCredit for acks sharing it', async () => {
  const { sub } = setup(3);
  let finish!: () => void;
  const work = new Promise<void>((r) => (finish = r));
  sub.ackResult = () => work;
  for (const id of ['a', 'b', 'c']) sub.deliver(id);
  const ds = [(await sub.next()).value!, (await sub.next()).value!, (await sub.next()).value!];
  for (const d of ds) void d.ack();
  assert.equal(sub.credit(), 0);
  finish();
  await work;
  await Promise.resolve();
  assert.equal(sub.credit(), 3);
  assert.equal(sub.credits, 1);
  await sub.close();
});

test('a lease starts at the time the transport read for its batch, not at construction', () => {
  const { clock, sub } = setup(10, 100);
  const batchRead = clock.now();
  clock.advance(40);
  sub.deliver('late', batchRead);
  clock.advance(59);
  assert.deepEqual(sub.expired, []);
  clock.advance(1);
  assert.deepEqual(sub.expired, ['late']);
});

test('a message id given as bytes reads as its UTF-8 string, the same string every time', async () => {
  const { sub } = setup(10);
  const d = sub.deliver(Buffer.from('ab12-é', 'utf8'));
  assert.equal(d.id, 'ab12-é');
  assert.equal(d.id, d.id);
  await sub.close();
});
