/**
 * Transactions: a unit of publishes and settlements that commits or rolls back as one
 * (AMQP tx.select/commit/rollback, STOMP BEGIN/COMMIT/ABORT, RocketMQ half messages).
 *
 * Publishes and acks are staged in memory until commit. Commit applies every staged append
 * synchronously — storage assigns offsets in the same event-loop turn, so no other publisher
 * interleaves and consumers see all of the transaction's messages or none — then settles the
 * staged deliveries and waits for durability of every lane it touched.
 *
 * Crash atomicity: with fsync 'always' a commit resolves only after every touched lane is
 * fsynced, so a committed transaction is never lost. A crash *during* commit (after some lanes'
 * fsync and before others') can leave a partial transaction on disk; closing that window needs a
 * transaction log with a commit marker and is not done yet (see ARCHITECTURE.md, "Transactions").
 * Rolled-back and never-committed transactions leave nothing behind.
 */
import { err } from '../core/errors.js';
import type { DeliveryImpl } from './group.js';
import type { RecordInput } from './record.js';

export interface TxHost {
  publishStaged(staged: readonly { topic: string; records: readonly RecordInput[] }[]): Promise<void>;
}

type TxState = 'open' | 'committing' | 'committed' | 'rolled-back';

export class Transaction {
  #publishes: { topic: string; records: RecordInput[] }[] = [];
  #acks: DeliveryImpl[] = [];
  #nacks: DeliveryImpl[] = [];
  #state: TxState = 'open';

  constructor(readonly host: TxHost) {}

  get state(): TxState {
    return this.#state;
  }

  #check(): void {
    if (this.#state !== 'open') throw err('MQ_ERR_TX', `the transaction is ${this.#state}`);
  }

  /** Stages records for `topic`; nothing is visible before commit. */
  publish(topic: string, records: readonly RecordInput[]): void {
    this.#check();
    const last = this.#publishes[this.#publishes.length - 1];
    if (last && last.topic === topic) last.records.push(...records);
    else this.#publishes.push({ topic, records: [...records] });
  }

  /** Stages an ack; the delivery stays leased (and its lease keeps running) until commit. */
  ack(d: DeliveryImpl): void {
    this.#check();
    this.#acks.push(d);
  }

  /** Stages a nack (requeue); on rollback the delivery stays leased as if never settled. */
  nack(d: DeliveryImpl): void {
    this.#check();
    this.#nacks.push(d);
  }

  get pendingPublishes(): number {
    let n = 0;
    for (const p of this.#publishes) n += p.records.length;
    return n;
  }

  async commit(): Promise<void> {
    this.#check();
    this.#state = 'committing';
    const publishes = this.#publishes;
    const acks = this.#acks;
    const nacks = this.#nacks;
    this.#publishes = [];
    this.#acks = [];
    this.#nacks = [];
    try {
      await this.host.publishStaged(publishes);
      // A delivery whose lease was lost meanwhile rejects with MQ_ERR_LEASE_LOST; that is the
      // AMQP behaviour too (the ack of a requeued message is an unknown delivery tag).
      await Promise.all([...acks.map((d) => d.ack()), ...nacks.map((d) => d.nack())]);
    } finally {
      this.#state = 'committed';
    }
  }

  /** Drops staged publishes and forgets staged settlements. Idempotent on a finished transaction. */
  rollback(): void {
    if (this.#state !== 'open') return;
    this.#publishes = [];
    this.#acks = [];
    this.#nacks = [];
    this.#state = 'rolled-back';
  }
}
