/**
 * Transactions: a unit of publishes and settlements that commits or rolls back as one
 * (AMQP tx.select/commit/rollback, STOMP BEGIN/COMMIT/ABORT, RocketMQ half messages).
 *
 * Publishes and acks are staged in memory until commit; rollback drops them and leaves nothing
 * behind. Commit (Engine.commitTx) is atomic for consumers and for crashes:
 *
 *   - Consumers: every staged append happens in one synchronous turn, so no other publisher
 *     interleaves inside it and a consumer sees all of the transaction's messages or none.
 *   - Crashes (persistent storage, any fsync policy; kill -9 at any moment): the transaction is
 *     either entirely present after reopen — every publish in its lanes, every ack settled — or
 *     entirely absent. Before anything touches a lane, one *commit record* holding the whole
 *     transaction (payloads, the exact offsets the batches will take, the acks) is appended to
 *     the transaction log (`meta/txlog`, tx-log.ts) and made durable; a frame is all-or-nothing
 *     on disk, so that record is the commit marker. Open replays committed records whose lanes or
 *     group state may not have reached the disk, idempotently (a part is present iff its lane
 *     reaches its recorded offsets). A commit whose promise resolved is present after a crash.
 *     Memory storage needs none of this: nothing survives, and one turn is all-or-nothing.
 *
 * Why a redo log of the payloads rather than a marker after the data: lanes are separate files
 * synced independently, so data appended before a marker can reach the disk without it, and an
 * append cannot be taken back out of the middle of a log other writers share. Writing the intent
 * first costs one extra fsync (concurrent commits share it) and the payload bytes once more;
 * lanes a commit is applying to are reserved for that fsync (plain appends to them wait, in order;
 * other commits stack behind and apply in order), which is what makes the recorded offsets exact. Numbers: engine.ts `commitTx` and test/engine/transaction.test.ts.
 *
 * Staged nacks are not logged: after a crash every unacked message is redelivered anyway.
 */
import { err } from '../core/errors.js';
import type { DeliveryImpl } from './group.js';
import type { RecordInput } from './record.js';

/** What a commit hands to the engine. */
export interface StagedTx {
  publishes: readonly { topic: string; records: readonly RecordInput[] }[];
  acks: readonly DeliveryImpl[];
  nacks: readonly DeliveryImpl[];
}

export interface TxHost {
  commitTx(tx: StagedTx): Promise<void>;
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
      // A delivery whose lease was lost before the commit rejects it with MQ_ERR_LEASE_LOST after
      // everything else applied; that is the AMQP behaviour too (the ack of a requeued message is
      // an unknown delivery tag).
      await this.host.commitTx({ publishes, acks, nacks });
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
