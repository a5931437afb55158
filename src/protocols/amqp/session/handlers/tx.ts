/**
 * tx.select / tx.commit / tx.rollback over engine.transaction(): publishes and settlements of the
 * channel are staged and applied together at commit (commit-ok after they are durable). Rollback
 * discards staged publishes and leaves staged acks unacked (they may be acked again), as in
 * RabbitMQ. tx and confirms exclude each other (406).
 */
import { txCommitOk, txRollbackOk, txSelectOk } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError } from '../util.js';

export function txSelect(ch: Channel): void {
  if (ch.confirming) throw amqpError(406, 'cannot switch from confirm to tx mode', 90, 10);
  ch.tx ??= ch.conn.broker.engine.transaction();
  ch.conn.sendMethod(ch.id, txSelectOk());
}

export async function txCommit(ch: Channel): Promise<void> {
  const tx = ch.tx;
  if (!tx) throw amqpError(406, 'channel is not transactional', 90, 20);
  const rejects = ch.txRejects;
  const staged = ch.txStaged;
  const streams = ch.txStreams;
  ch.txRejects = [];
  ch.txStaged = [];
  ch.txStreams = new Set();
  ch.tx = ch.conn.broker.engine.transaction();
  await ch.conn.publishBarrier();
  try {
    await tx.commit();
  } catch (e) {
    // A staged ack whose lease was lost meanwhile: the message is redelivered; not an error.
    if ((e as { code?: string }).code !== 'MQ_ERR_LEASE_LOST') throw e;
  }
  await Promise.all(rejects.map((d) => d.reject().catch(() => {})));
  for (const [, u] of staged) if (u.kind === 'queue') u.consumer?.settled();
  for (const s of streams) ch.conn.broker.notifyStream(s);
  if (ch.state === 'open') ch.conn.sendMethod(ch.id, txCommitOk());
}

export function txRollback(ch: Channel): void {
  const tx = ch.tx;
  if (!tx) throw amqpError(406, 'channel is not transactional', 90, 30);
  tx.rollback();
  for (const [tag, u] of ch.txStaged) ch.unacked.set(tag, u);
  if (ch.txStaged.length > 0) ch.unackedSorted = false;
  ch.txStaged = [];
  ch.txRejects = [];
  ch.txStreams = new Set();
  ch.tx = ch.conn.broker.engine.transaction();
  ch.conn.sendMethod(ch.id, txRollbackOk());
}
