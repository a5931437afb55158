/**
 * State shared by every RESP connection on one engine: the list and stream models, the pub/sub
 * hub, the meta/resp log, the client registry (CLIENT LIST, INFO clients) and the key-type view
 * (TYPE, KEYS, WRONGTYPE). One Broker per engine, however many listeners serve it.
 *
 * Key types: a key is a stream if meta/resp says XADD/XGROUP MKSTREAM created it; any other
 * topic is a list (a queue declared through AMQP is a Redis list of the same name). A list
 * exists while it has ready messages, as in Redis an empty list is no key. Strings, hashes, sets
 * and sorted sets live in the Keyspace (keyspace.ts); a key is looked up there first.
 *
 * WATCH: the broker keeps, per watched key, the sessions watching it, and `touch(key)` flags
 * them (Redis's watched_keys). Memory is O(watched keys), not O(all keys ever written).
 * Keyspace commands touch exactly the keys they change; list and stream commands touch the keys
 * they name whenever they are write commands (conservative: a no-op LREM aborts a watcher's
 * EXEC). Appends by other protocols do not touch (see docs/protocols/resp.md).
 */
import type { Engine } from '../../../engine/engine.js';
import { DEFAULT_GROUP } from '../../../engine/topic.js';
import { RespError, WRONGTYPE } from './errors.js';
import { DEFAULT_MAXMEMORY, Keyspace, type KvEntry, type KvType } from './keyspace.js';
import { Lists } from './lists.js';
import { RespMeta } from './meta.js';
import { PubSubHub } from './pubsub.js';
import { Streams } from './streams.js';

export type KeyType = KvType | 'list' | 'stream' | 'none';

export interface SessionInfo {
  readonly id: number;
  describe(): string;
}

/** A session watching keys (WATCH). */
export interface Watcher {
  watchDirty: boolean;
}

/** OMNIBUS_RESP_MAXMEMORY: bytes, or with a kb/mb/gb suffix as redis.conf ("64mb"). */
export function parseMemory(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const m = /^(\d+)\s*(b|k|kb|m|mb|g|gb)?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

export class Broker {
  readonly hub = new PubSubHub();
  readonly sessions = new Set<SessionInfo>();
  readonly startedAt = Date.now();
  nextClientId = 1;
  totalConnections = 0;
  totalCommands = 0;
  rejectedConnections = 0;
  readonly lists: Lists;
  readonly streams: Streams;
  readonly watchers = new Map<string, Set<Watcher>>();
  /**
   * Set while an EXEC runs a command that awaits (engine I/O): other sessions wait for it before
   * executing their next command, so a transaction is not interleaved with other clients'
   * commands (see transactions.ts).
   */
  execBarrier: Promise<void> | undefined;
  execOwner: unknown;

  private constructor(
    readonly engine: Engine,
    readonly meta: RespMeta,
    readonly kv: Keyspace,
    readonly onError: (e: unknown) => void,
  ) {
    this.lists = new Lists(engine, meta, onError);
    this.streams = new Streams(engine, meta);
    kv.onTouch = (k) => this.touch(k);
  }

  /** Flags every session watching `key` (its EXEC will be aborted). */
  touch(key: string): void {
    const set = this.watchers.get(key);
    if (set) for (const w of set) w.watchDirty = true;
  }

  watch(key: string, w: Watcher): void {
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(w);
  }

  unwatch(keys: Iterable<string>, w: Watcher): void {
    for (const k of keys) {
      const set = this.watchers.get(k);
      if (set?.delete(w) && set.size === 0) this.watchers.delete(k);
    }
  }

  /**
   * The keyspace entry of `key` if it holds `type`; undefined if no key of any type exists;
   * WRONGTYPE if the key holds another type (including a list or stream).
   */
  kvGet(key: string, type: KvType): KvEntry | undefined {
    const e = this.kv.get(key);
    if (e) {
      if (e.type !== type) throw new RespError(WRONGTYPE);
      return e;
    }
    if (this.streams.isStream(key) || this.lists.length(key) > 0) throw new RespError(WRONGTYPE);
    return undefined;
  }

  /** WRONGTYPE unless `key` is absent or a string/hash/set/zset (SET replaces those). */
  kvCheckReplace(key: string): void {
    if (this.kv.has(key)) return;
    if (this.streams.isStream(key) || this.lists.length(key) > 0) throw new RespError(WRONGTYPE);
  }

  static #byEngine = new WeakMap<Engine, Promise<Broker>>();

  /** The broker of `engine`, created (and meta/resp replayed) on first use. */
  static for(engine: Engine, onError: (e: unknown) => void): Promise<Broker> {
    let p = Broker.#byEngine.get(engine);
    if (!p) {
      const maxBytes = parseMemory(process.env.OMNIBUS_RESP_MAXMEMORY) ?? DEFAULT_MAXMEMORY;
      p = Promise.all([RespMeta.open(engine, onError), Keyspace.open(engine, { maxBytes, onError })]).then(([m, kv]) => new Broker(engine, m, kv, onError));
      Broker.#byEngine.set(engine, p);
      p.catch(() => Broker.#byEngine.delete(engine));
    }
    return p;
  }

  keyType(key: string): KeyType {
    const t = this.kv.typeOf(key);
    if (t) return t;
    if (this.streams.isStream(key)) return 'stream';
    return this.lists.length(key) > 0 ? 'list' : 'none';
  }

  /** Every existing key (non-empty lists and streams). */
  keys(): string[] {
    const out: string[] = [];
    for (const name of this.engine.topicNames()) if (!this.kv.has(name) && this.keyType(name) !== 'none') out.push(name);
    for (const k of this.meta.streams.keys()) if (!this.engine.getTopic(k)) out.push(k);
    for (const k of this.kv.keys()) out.push(k);
    return out;
  }

  /** DEL: a stream is deleted with its topic; a list is emptied (the queue itself stays declared). */
  async deleteKey(key: string): Promise<boolean> {
    if (this.kv.delete(key)) return true;
    const t = this.keyType(key);
    if (t === 'stream') {
      await this.streams.drop(key);
      return true;
    }
    if (t === 'list') {
      return this.lists.locks.run(key, async () => {
        const g = this.engine.getTopic(key)?.groups.get(DEFAULT_GROUP) ?? (await this.engine.group(key, DEFAULT_GROUP));
        return g.purge() > 0;
      });
    }
    return false;
  }

  /** FLUSHDB/FLUSHALL: deletes every topic (of every protocol) and the RESP metadata. */
  async flushAll(): Promise<void> {
    this.kv.flush();
    for (const name of this.engine.topicNames()) await this.engine.deleteTopic(name);
    await this.meta.write({ t: 'flush' }, true);
    this.streams.forgetAll();
  }
}
