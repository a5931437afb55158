/**
 * The Omnibus Transport API as a bench driver: publish batches to a topic, then subscribe with a
 * fresh group (which starts at the earliest retained message, so the whole backlog is drained)
 * and ack every delivery. This is the path the embedded-engine figures come from, so its dequeue
 * loop is kept as lean as the harness's original one (no per-message clock reads or allocations
 * beyond the ack promise).
 */
import type { Delivery, OutgoingMessage, Transport } from '../../core/types.js';
import type { BenchDriver, DequeueSink } from '../driver.js';

export interface TransportDriverOptions {
  group: string;
  /** Subscriber prefetch (unsettled deliveries in flight). */
  prefetch: number;
  /**
   * 'bulk': ack() every delivery without awaiting; settle the outstanding acks every `ackBatch`
   * deliveries and at each settle point. 'each': await every ack (a round trip per message on
   * networked transports).
   */
  ack: 'bulk' | 'each';
  ackBatch: number;
  /**
   * 'each' (default): `for await (const d of sub)`, one `next()` per delivery. 'batches':
   * `for await (const batch of sub.batches())`, one step per batch of what has arrived; the same
   * acks and settle points either way.
   */
  read?: 'each' | 'batches';
}

export function transportDriver(transport: Transport, opts: TransportDriverOptions): BenchDriver {
  return {
    name: `transport ${transport.scheme}`,
    maxPayload: transport.capabilities.maxPayload,
    // Topics exist once published to, and the harness uses a fresh one per size. A transport
    // whose groups see only messages published after they exist (amqp://: a queue bound to the
    // topic's exchange) gets its group created first, else the backlog would go nowhere.
    setup: async (topic: string) => {
      if (transport.capabilities.replay) return;
      await transport.subscribe(topic, { group: opts.group, prefetch: opts.prefetch }).close();
      // subscribe() is effective for the next publish(): a no-op publish waits for its setup.
      await transport.publish(topic, []);
    },
    teardown: async () => {},
    enqueue: (topic: string, batch: readonly OutgoingMessage[]) => transport.publish(topic, batch),
    dequeue: (topic: string, sink: DequeueSink) => drain(transport, topic, sink, opts),
    // The transport belongs to the caller (the CLI opens and closes it).
    close: async () => {},
  };
}

async function drain(transport: Transport, topic: string, sink: DequeueSink, opts: TransportDriverOptions): Promise<void> {
  const sub = transport.subscribe(topic, { group: opts.group, prefetch: opts.prefetch, signal: sink.signal });
  // Transports that ignore the signal still end: close() is idempotent and ends the iteration.
  const onAbort = (): void => void sub.close().then(noop, noop);
  sink.signal.addEventListener('abort', onAbort, { once: true });
  let pending: Promise<void>[] = [];
  // Acks not yet awaited. A transport that settles several acks with one command may hand them
  // one shared promise (redis:// batches the acks of an event-loop turn into one XACK): it is
  // awaited once, like the raw client awaits one XACK per reply.
  let unawaited = 0;
  let last: Promise<void> | undefined;
  const onAckError = (e: unknown): void => sink.ackFailed(e);
  const flush = async (): Promise<void> => {
    const p = pending;
    pending = [];
    unawaited = 0;
    last = undefined;
    await Promise.all(p);
  };
  /** Takes and acks one delivery; a promise when the loop must wait (an awaited ack, a flush). */
  const step = (d: Delivery): Promise<void> | undefined => {
    const settle = sink.take(d.body);
    if (opts.ack === 'each') {
      const p = d.ack().then(noop, onAckError);
      return settle ? p.then(settleAll) : p;
    }
    // The rejection handler is attached at once so a failed ack is counted, never unhandled.
    const p = d.ack();
    if (p !== last) {
      last = p;
      pending.push(p.then(noop, onAckError));
    }
    if (settle) return settleAll();
    if (++unawaited >= opts.ackBatch) return flush();
    return undefined;
  };
  const settleAll = async (): Promise<void> => {
    await flush();
    sink.settled();
  };
  try {
    if (sink.done) return;
    // Leaving either loop closes the subscription, which returns unsettled deliveries to the
    // group: every ack is settled before that (the flush after the loop).
    if (opts.read === 'batches') {
      outer: for await (const batch of sub.batches()) {
        for (const d of batch) {
          const w = step(d);
          if (w) await w;
          if (sink.done) break outer;
        }
      }
    } else {
      for await (const d of sub) {
        const w = step(d);
        if (w) await w;
        if (sink.done) break;
      }
    }
    await flush();
  } finally {
    sink.signal.removeEventListener('abort', onAbort);
    await sub.close();
  }
}

function noop(): void {}
