/**
 * An in-process NetTransport standing in for a broker in the unit tests of the consume path shared
 * by the transports to real brokers (src/transports/common.ts): deliveries are pushed by the test,
 * settlements are recorded, and time is a ManualClock, so no broker and no sleeps are needed.
 */
import { ManualClock } from '../../../src/core/clock.js';
import type { OutgoingMessage, SubscribeOptions } from '../../../src/core/types.js';
import { NetDelivery, NetSubscription, NetTransport, SETTLED, type NetCapabilities, type SettleOps } from '../../../src/transports/common.js';

export class LocalSubscription extends NetSubscription {
  /** Calls of onCredit (prefetch slots freed). */
  credits = 0;
  readonly expired: string[] = [];
  readonly acked: string[] = [];
  /** What ack() hands back: SETTLED (done on return) or a promise of broker work. */
  ackResult: () => Promise<void> = () => SETTLED;
  readonly ops: SettleOps = {
    ack: (d) => {
      this.acked.push(d.id);
      return this.ackResult();
    },
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

/** A subscription of a fresh local transport, with its clock. */
export function localSubscription(prefetch: number, leaseMs: number): { clock: ManualClock; sub: LocalSubscription } {
  const clock = new ManualClock();
  const t = new LocalTransport(clock);
  return { clock, sub: t.subscribe('t', { prefetch, leaseMs }) as LocalSubscription };
}
