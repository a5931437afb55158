/**
 * SEND frame → engine record, and engine record → MESSAGE headers.
 *
 * Record layout chosen for STOMP (other protocols read the same fields):
 *   body        the frame body, byte for byte
 *   headers     every SEND header except the transport ones (destination, transaction, receipt,
 *               content-length), as the strings the client sent, plus `message-id` (generated,
 *               ActiveMQ style) and `destination` (where it was sent) — ~60 bytes per message
 *   priority    `priority` 0-9 as given (absent → 0, i.e. the topic's main lane; MESSAGE then
 *               shows the JMS default 4)
 *   expiresAt   `expires` (epoch ms, 0 = never)
 *   deliverAt   now + `AMQ_SCHEDULED_DELAY` ms
 *   key         `JMSXGroupID` (keeps a group in one partition of a partitioned topic)
 * No PROPS_STOMP props: every STOMP header is already a string in `headers`, so a STOMP→STOMP
 * round trip is exact except header order and repeated headers (first wins, as the spec says).
 */
import type { DecodedRecord, RecordInput } from '../../../engine/record.js';
import type { HeaderList } from '../codec/encoder.js';

const TRANSPORT = new Set(['destination', 'transaction', 'receipt', 'content-length']);
/** Headers the MESSAGE frame computes itself; stored copies are not repeated. */
const COMPUTED = new Set(['message-id', 'destination', 'subscription', 'ack', 'content-length', 'redelivered', 'timestamp', 'expires', 'priority', 'JMSXDeliveryCount', 'receipt', 'transaction']);

export class SendError extends Error {}

function intHeader(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v.trim());
  if (!Number.isFinite(n)) throw new SendError(`header ${name} must be a number, got "${v.slice(0, 40)}"`);
  return Math.trunc(n);
}

export interface SendInfo {
  headers: readonly (readonly [string, string])[];
  body: Buffer;
  now: number;
  messageId: string;
  destinationHeader: string;
  replyTo: string | undefined;
}

export function buildRecord(s: SendInfo): RecordInput {
  const h: Record<string, string> = {};
  for (const [k, v] of s.headers) if (!TRANSPORT.has(k) && !(k in h)) h[k] = v;
  h['message-id'] = s.messageId;
  h['destination'] = s.destinationHeader;
  if (s.replyTo !== undefined) h['reply-to'] = s.replyTo;
  let priority = intHeader(h['priority'], 'priority') ?? 0;
  priority = Math.max(0, Math.min(9, priority));
  const expires = intHeader(h['expires'], 'expires');
  const delay = intHeader(h['AMQ_SCHEDULED_DELAY'], 'AMQ_SCHEDULED_DELAY');
  const rec: RecordInput = { body: s.body, headers: h, timestamp: s.now, priority };
  if (expires !== undefined && expires > 0) rec.expiresAt = expires;
  if (delay !== undefined && delay > 0) rec.deliverAt = s.now + delay;
  const group = h['JMSXGroupID'];
  if (group !== undefined) rec.key = group;
  return rec;
}

/** JMS priority as a selector or MESSAGE header sees it (4 when the sender gave none). */
export function jmsPriority(rec: DecodedRecord): number {
  return rec.priority > 0 || rec.headers['priority'] !== undefined ? rec.priority : 4;
}

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Property lookup for JMS selectors: the JMS header names, then the message's own headers. */
export function selectorProps(rec: DecodedRecord): (name: string) => unknown {
  return (name) => {
    const h = rec.headers;
    switch (name) {
      case 'JMSPriority':
        return jmsPriority(rec);
      case 'JMSTimestamp':
        return rec.timestamp;
      case 'JMSCorrelationID':
        return h['correlation-id'] ?? null;
      case 'JMSType':
        return h['type'] ?? null;
      case 'JMSMessageID':
        return h['message-id'] ?? null;
      case 'JMSExpiration':
        return rec.expiresAt;
      case 'JMSDeliveryMode':
        return h['persistent'] === 'true' ? 'PERSISTENT' : 'NON_PERSISTENT';
      case 'JMSReplyTo':
        return h['reply-to'] ?? null;
      case 'JMSDestination':
        return h['destination'] ?? null;
      default:
        return has(h, name) ? h[name] : null;
    }
  };
}

export interface MessageInfo {
  rec: DecodedRecord;
  messageId: string;
  destination: string;
  subscription: string;
  ack: string | undefined;
  attempt: number;
  /** Set for a queue consumer receiving a message first sent elsewhere (DLQ, composite). */
  originalDestination: string | undefined;
}

export function messageHeaders(m: MessageInfo): HeaderList {
  const rec = m.rec;
  const out: [string, string][] = [
    ['message-id', m.messageId],
    ['destination', m.destination],
    ['subscription', m.subscription],
  ];
  if (m.ack !== undefined) out.push(['ack', m.ack]);
  out.push(
    ['redelivered', m.attempt > 1 ? 'true' : 'false'],
    ['JMSXDeliveryCount', String(m.attempt)],
    ['timestamp', String(Math.trunc(rec.timestamp))],
    ['expires', String(rec.expiresAt)],
    ['priority', String(jmsPriority(rec))],
  );
  if (m.originalDestination !== undefined && !has(rec.headers, 'original-destination')) out.push(['original-destination', m.originalDestination]);
  const h = rec.headers;
  for (const k in h) if (!COMPUTED.has(k)) out.push([k, h[k]!]);
  out.push(['content-length', String(rec.body.byteLength)]);
  return out;
}
