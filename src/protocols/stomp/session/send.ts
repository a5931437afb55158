/**
 * SEND: one record per destination part (composite destinations get one copy each, with the same
 * message-id), appended to the queue's engine topic or routed through the exchange
 * (/topic/ → amq.topic). Inside a transaction the records are staged until COMMIT.
 * Consecutive SENDs to the same destination are batched by the connection into one engine append
 * (connection.ts, queuePublish).
 */
import type { RecordInput } from '../../../engine/record.js';
import type { StompFrame } from '../codec/frame.js';
import type { StompConnection } from './connection.js';
import { DestinationError, parseDestinations, rewriteReplyTo, type Destination } from './destination.js';
import { StompError } from './errors.js';
import { buildRecord, SendError } from './message.js';

export function resolveDestinations(c: StompConnection, text: string | undefined, subscribe: boolean): Destination[] {
  if (text === undefined || text === '') throw new StompError(`${subscribe ? 'SUBSCRIBE' : 'SEND'} received without a destination header`);
  try {
    return parseDestinations(text, c.destCtx, subscribe);
  } catch (e) {
    if (e instanceof DestinationError) throw new StompError(`Invalid destination: ${e.message}`);
    throw e;
  }
}

/**
 * A reply to another connection's temp queue after that connection closed: the queue is gone and
 * nobody can read it, so the message is dropped rather than re-creating the queue as a durable
 * topic nobody deletes (ActiveMQ answers such a SEND with an ERROR instead).
 */
export function isGoneTempQueue(c: StompConnection, dest: Destination): boolean {
  return dest.kind === 'queue' && !dest.temp && dest.name.startsWith('stomp-temp-queue:') && c.engine.getTopic(dest.name) === undefined;
}

/** Appends to a queue without waiting for durability: the connection asks at its next RECEIPT. */
const APPEND_ONLY = { awaitDurable: false } as const;

/**
 * Appends (or routes) records now. The promise of a queue append resolves once appended, and the
 * queue is noted in `c.undurable` for the next durability point (connection.ts, #syncPoint): a
 * SEND without a receipt is owed no fsync, so the flusher fsyncs for receipts, not after every
 * append (512 B SENDs with a receipt every 1000: in-process CPU per SEND 8.4 → 5.5 µs). Routed
 * publishes (topics, exchanges) still resolve once durable.
 */
export function publishNow(c: StompConnection, dest: Destination, recs: RecordInput[]): Promise<unknown> {
  const engine = c.engine;
  if (dest.kind === 'queue') {
    if (isGoneTempQueue(c, dest)) return Promise.resolve();
    c.undurable.add(dest.name);
    const ready = dest.temp ? c.ensureTempQueue(dest.name) : undefined;
    return ready ? ready.then(() => engine.publish(dest.name, recs, APPEND_ONLY)) : engine.publish(dest.name, recs, APPEND_ONLY);
  }
  return engine.exchanges.publish(dest.exchange, dest.key, recs);
}

/**
 * The destinations of a SEND's `destination` text, remembered per connection: a producer names
 * the same few destinations frame after frame, and parsing one (split, prefix scan, a new object
 * per part) cost ~1 µs per SEND. Mapping a name depends only on the text and the connection (temp
 * names), so a remembered result is the result; at most SEND_DESTINATIONS texts are kept, and
 * all are forgotten when a new one would pass that.
 */
const SEND_DESTINATIONS = 64;

function sendDestinations(c: StompConnection, text: string | undefined): Destination[] {
  if (text !== undefined) {
    const known = c.sendDestinations.get(text);
    if (known !== undefined) return known;
  }
  const dests = resolveDestinations(c, text, false);
  if (c.sendDestinations.size >= SEND_DESTINATIONS) c.sendDestinations.clear();
  c.sendDestinations.set(text!, dests);
  return dests;
}

export function handleSend(c: StompConnection, f: StompFrame): void {
  // One pass over the headers for the three the SEND path needs (first wins, as header() does).
  let destText: string | undefined;
  let txId: string | undefined;
  let rt: string | undefined;
  for (const h of f.headers) {
    const k = h[0];
    if (k === 'destination') destText ??= h[1];
    else if (k === 'transaction') txId ??= h[1];
    else if (k === 'reply-to') rt ??= h[1];
  }
  const dests = sendDestinations(c, destText);
  const tx = txId === undefined ? undefined : c.txs.get(txId);
  if (txId !== undefined && !tx) throw new StompError(`Invalid transaction id: ${txId}`, 'SEND names a transaction that was not begun (or already ended)');
  for (const d of dests) {
    if (d.kind === 'route' && !c.engine.exchanges.get(d.exchange)) throw new StompError(`no exchange "${d.exchange}"`);
  }
  const replyTo = rt === undefined ? undefined : rewriteReplyTo(rt, c.destCtx);
  const now = c.engine.clock.now();
  const messageId = c.nextMessageId();
  for (const d of dests) {
    let rec: RecordInput;
    try {
      rec = buildRecord({ headers: f.headers, body: f.body, now, messageId, destinationHeader: d.header, replyTo });
    } catch (e) {
      if (e instanceof SendError) throw new StompError(e.message);
      throw e;
    }
    if (tx) tx.sends.push({ dest: d, rec });
    else c.queuePublish(d, rec, f);
  }
}
