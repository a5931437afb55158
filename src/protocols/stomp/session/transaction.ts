/**
 * BEGIN / COMMIT / ABORT. A STOMP transaction stages SENDs and ACK/NACKs in the connection; COMMIT
 * replays them into one engine transaction (all appends in one event-loop turn: consumers see all
 * of its messages or none), ABORT drops the SENDs and returns the ACKed/NACKed messages for
 * redelivery (JMS rollback semantics: they come back with redelivered:true). A connection that
 * closes with open transactions aborts them.
 */
import { isOmnibusError } from '../../../core/errors.js';
import type { RecordInput } from '../../../engine/record.js';
import { header, type StompFrame } from '../codec/frame.js';
import type { StompConnection } from './connection.js';
import type { Destination } from './destination.js';
import { StompError } from './errors.js';
import type { Pending } from './subscribe.js';
import { isGoneTempQueue } from './send.js';

export interface StompTx {
  id: string;
  sends: { dest: Destination; rec: RecordInput }[];
  acks: Pending[];
  nacks: Pending[];
}

function txId(f: StompFrame): string {
  const id = header(f, 'transaction');
  if (id === undefined || id === '') throw new StompError(`${f.command} without a transaction header`);
  return id;
}

function take(c: StompConnection, f: StompFrame): StompTx {
  const id = txId(f);
  const tx = c.txs.get(id);
  if (!tx) throw new StompError(`Invalid transaction id: ${id}`, `${f.command} names a transaction that was not begun (or already ended)`);
  c.txs.delete(id);
  return tx;
}

export function handleBegin(c: StompConnection, f: StompFrame): void {
  const id = txId(f);
  if (c.txs.has(id)) throw new StompError(`Transaction ${id} is already begun`);
  c.txs.set(id, { id, sends: [], acks: [], nacks: [] });
}

export async function handleCommit(c: StompConnection, f: StompFrame): Promise<void> {
  const tx = take(c, f);
  const engine = c.engine;
  for (const s of tx.sends) {
    if (s.dest.kind === 'queue' && s.dest.temp) await c.ensureTempQueue(s.dest.name);
  }
  const etx = engine.transaction();
  for (const s of tx.sends) {
    if (s.dest.kind === 'queue') {
      if (!isGoneTempQueue(c, s.dest)) etx.publish(s.dest.name, [s.rec]);
    }
    else for (const t of engine.exchanges.route(s.dest.exchange, s.dest.key).topics) etx.publish(t, [s.rec]);
  }
  for (const p of tx.acks) etx.ack(p.d);
  for (const p of tx.nacks) etx.nack(p.d);
  try {
    await etx.commit();
  } catch (e) {
    // The appends happened; a delivery whose lease ended meanwhile (its subscription closed) is
    // already back in its queue, which is what its ack would have prevented: nothing to undo.
    if (!isOmnibusError(e, 'MQ_ERR_LEASE_LOST')) throw e;
  }
}

export function handleAbort(c: StompConnection, f: StompFrame): void {
  const tx = take(c, f);
  for (const p of [...tx.acks, ...tx.nacks]) p.d.nack().catch(() => {});
}
