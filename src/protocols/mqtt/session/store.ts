/**
 * Session store: what a persistent MQTT session must keep across broker restarts, as JSON records
 * in one engine storage log (`mqtt/sessions`, beside the engine's own catalogue):
 *
 *   {t:'s', c, exp, v}          session c is persistent; expiry interval (s), protocol level
 *   {t:'sub', c, f, o}          subscription (filter f, options o)    {t:'unsub', c, f}
 *   {t:'q2i', c, id}            inbound QoS 2 id PUBRECed, PUBREL awaited   {t:'q2i-', c, id}
 *   {t:'q2o', c, id, k}         outbound QoS 2 id sent for message k (topic NUL offset), PUBREC
 *                               awaited ({t:'q2o-', c, id}: dropped; a 'rel' for id ends it too)
 *   {t:'rel', c, id}            outbound QoS 2 id PUBRECed, PUBCOMP awaited {t:'rel-', c, id}
 *   {t:'disc', c, at}           disconnected at (ms) — the session-expiry clock
 *   {t:'x', c}                  session ended
 *
 * Subscriptions of clean sessions are recorded too (without 's'): their queues are transient, but
 * their bindings on the durable `amq.topic` are persisted by the engine, so after a crash the
 * listener finds these records and removes the stale bindings (see broker.ts, recover()).
 *
 * The message queue itself is not here: it is the session's engine topic. Records are written
 * when the state changes (a subscribe, a QoS 2 step), never per QoS 0/1 message. A 'q2o' record is
 * appended as the PUBLISH is sent, not awaited: a crash before it reaches the disk (with fsync
 * always, the next group commit, a few ms) still resends that message with a new packet id. The log is
 * rewritten as one snapshot when it passes 1 MiB, so its size stays proportional to live state.
 * Memory storage keeps the same log in memory (sessions survive takeovers, not restarts).
 */
import { FORMAT_NATIVE } from '../../../engine/record.js';
import type { PartitionStore, StorageEngine } from '../../../engine/storage/types.js';
import { readJson } from '../../../engine/storage/json-log.js';

export interface SubOptions {
  qos: 0 | 1 | 2;
  nl?: boolean;
  rap?: boolean;
  rh?: 0 | 1 | 2;
  id?: number;
}

export type StoreRecord =
  | { t: 's'; c: string; exp: number; v: number }
  | { t: 'sub'; c: string; f: string; o: SubOptions }
  | { t: 'unsub'; c: string; f: string }
  | { t: 'q2i' | 'q2i-' | 'q2o-' | 'rel' | 'rel-'; c: string; id: number }
  | { t: 'q2o'; c: string; id: number; k: string }
  | { t: 'disc'; c: string; at: number }
  | { t: 'x'; c: string };

export interface StoredSession {
  clientId: string;
  persistent: boolean;
  expiry: number;
  version: number;
  subs: Map<string, SubOptions>;
  q2in: Set<number>;
  rel: Set<number>;
  /** Outbound QoS 2 ids sent and not yet PUBRECed → the message (topic NUL offset). */
  q2out: Map<number, string>;
  disconnectedAt: number;
}

const SNAPSHOT_BYTES = 1024 * 1024;

export class SessionStore {
  #log!: PartitionStore;
  readonly state = new Map<string, StoredSession>();
  #compacting = false;

  static async open(storage: StorageEngine, fsync: 'always' | 'interval' | 'never'): Promise<SessionStore> {
    const s = new SessionStore();
    s.#log = await storage.open('mqtt/sessions', { fsync, segmentBytes: 1024 * 1024 });
    for (const r of await readJson<StoreRecord>(s.#log)) s.#apply(r);
    return s;
  }

  #get(c: string): StoredSession {
    let s = this.state.get(c);
    if (!s) {
      s = { clientId: c, persistent: false, expiry: 0, version: 4, subs: new Map(), q2in: new Set(), rel: new Set(), q2out: new Map(), disconnectedAt: 0 };
      this.state.set(c, s);
    }
    return s;
  }

  #apply(r: StoreRecord): void {
    if (r.t === 'x') {
      this.state.delete(r.c);
      return;
    }
    const s = this.#get(r.c);
    switch (r.t) {
      case 's':
        s.persistent = true;
        s.expiry = r.exp;
        s.version = r.v;
        break;
      case 'sub':
        s.subs.set(r.f, r.o);
        break;
      case 'unsub':
        s.subs.delete(r.f);
        break;
      case 'q2i':
        s.q2in.add(r.id);
        break;
      case 'q2i-':
        s.q2in.delete(r.id);
        break;
      case 'q2o':
        s.q2out.set(r.id, r.k);
        break;
      case 'q2o-':
        s.q2out.delete(r.id);
        break;
      case 'rel':
        s.q2out.delete(r.id);
        s.rel.add(r.id);
        break;
      case 'rel-':
        s.rel.delete(r.id);
        break;
      case 'disc':
        s.disconnectedAt = r.at;
        break;
    }
  }

  /** Appends a record (applied to `state` at once); `durable()` says when it is on disk. */
  write(r: StoreRecord): void {
    this.#apply(r);
    this.#log.append([{ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload: Buffer.from(JSON.stringify(r)) }]);
    if (this.#log.sizeBytes > SNAPSHOT_BYTES && !this.#compacting) {
      this.#compacting = true;
      // Compaction failures are not fatal: the old records are still valid, only larger.
      this.#compact().then(
        () => (this.#compacting = false),
        () => (this.#compacting = false),
      );
    }
  }

  durable(): Promise<void> {
    return this.#log.durable();
  }

  async #compact(): Promise<void> {
    const recs: StoreRecord[] = [];
    for (const s of this.state.values()) {
      if (s.persistent) recs.push({ t: 's', c: s.clientId, exp: s.expiry, v: s.version });
      for (const [f, o] of s.subs) recs.push({ t: 'sub', c: s.clientId, f, o });
      for (const id of s.q2in) recs.push({ t: 'q2i', c: s.clientId, id });
      for (const [id, k] of s.q2out) recs.push({ t: 'q2o', c: s.clientId, id, k });
      for (const id of s.rel) recs.push({ t: 'rel', c: s.clientId, id });
      if (s.disconnectedAt) recs.push({ t: 'disc', c: s.clientId, at: s.disconnectedAt });
    }
    const at = this.#log.endOffset;
    if (recs.length > 0) {
      this.#log.append(recs.map((r) => ({ count: 1, timestamp: Date.now(), format: FORMAT_NATIVE, payload: Buffer.from(JSON.stringify(r)) })));
    }
    await this.#log.durable();
    await this.#log.truncateBefore(at);
  }
}
