/**
 * ACK / NACK. Which header names the message depends on the version:
 *   1.2  `id` = the MESSAGE's `ack` header
 *   1.1  `message-id` + `subscription`
 *   1.0  `message-id`
 * Lookups fall back across these (stompit sends all three; some 1.2 clients send message-id), so
 * any of them works in any version. `client` mode settles cumulatively (every earlier unacked
 * message of that subscription too), `client-individual` one message. NACK returns the message
 * for redelivery with its attempt counted; after the configured maximum it goes to the
 * dead-letter queue (ActiveMQ's own STOMP NACK sends straight to the DLQ: see the docs).
 * Unknown ids are an ERROR (ActiveMQ: "Unexpected ACK received for message-id").
 */
import { header, type StompFrame } from '../codec/frame.js';
import type { StompConnection } from './connection.js';
import { StompError } from './errors.js';
import type { Pending } from './subscribe.js';

const noop = (): void => {};

function find(c: StompConnection, f: StompFrame): Pending | undefined {
  const id = header(f, 'id');
  const mid = header(f, 'message-id');
  const subId = header(f, 'subscription');
  if (id !== undefined) {
    const p = c.byAck.get(id);
    if (p) return p;
  }
  const key = mid ?? id;
  if (key === undefined) return undefined;
  if (subId !== undefined) {
    const s = c.subs.get(subId);
    if (s) return s.unacked.get(key);
  }
  for (const s of c.subs.values()) {
    const p = s.unacked.get(key);
    if (p) return p;
  }
  return undefined;
}

export function handleAck(c: StompConnection, f: StompFrame, nack: boolean): void {
  const p = find(c, f);
  if (!p) {
    const shown = header(f, 'id') ?? header(f, 'message-id') ?? '';
    if (shown === '') throw new StompError(`${f.command} without ${c.version === '1.2' ? 'an id' : 'a message-id'} header`);
    throw new StompError(`Unexpected ${f.command} received for message-id [${shown}]`, 'no unacknowledged message with that id on this connection');
  }
  const txId = header(f, 'transaction');
  const tx = txId === undefined ? undefined : c.txs.get(txId);
  if (txId !== undefined && !tx) throw new StompError(`Invalid transaction id: ${txId}`);
  const list = p.sub.ackMode === 'client' ? p.sub.takeUpTo(p) : [p];
  if (p.sub.ackMode !== 'client') c.forget(p);
  for (const x of list) {
    if (tx) (nack ? tx.nacks : tx.acks).push(x);
    else if (nack) x.d.nack().catch(noop);
    else x.d.ack().catch(noop);
  }
}
