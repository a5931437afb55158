/**
 * State shared by every RESP connection on one engine: the list and stream models, the pub/sub
 * hub, the meta/resp log, the client registry (CLIENT LIST, INFO clients) and the key-type view
 * (TYPE, KEYS, WRONGTYPE). One Broker per engine, however many listeners serve it.
 *
 * Key types: a key is a stream if meta/resp says XADD/XGROUP MKSTREAM created it; any other
 * topic is a list (a queue declared through AMQP is a Redis list of the same name). A list
 * exists while it has ready messages, as in Redis an empty list is no key. Strings, hashes, sets
 * and sorted sets are not provided (see docs/protocols/resp.md).
 */
import type { Engine } from '../../../engine/engine.js';
import { DEFAULT_GROUP } from '../../../engine/topic.js';
import { Lists } from './lists.js';
import { RespMeta } from './meta.js';
import { PubSubHub } from './pubsub.js';
import { Streams } from './streams.js';

export type KeyType = 'list' | 'stream' | 'none';

export interface SessionInfo {
  readonly id: number;
  describe(): string;
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

  private constructor(
    readonly engine: Engine,
    readonly meta: RespMeta,
    readonly onError: (e: unknown) => void,
  ) {
    this.lists = new Lists(engine, meta, onError);
    this.streams = new Streams(engine, meta);
  }

  static #byEngine = new WeakMap<Engine, Promise<Broker>>();

  /** The broker of `engine`, created (and meta/resp replayed) on first use. */
  static for(engine: Engine, onError: (e: unknown) => void): Promise<Broker> {
    let p = Broker.#byEngine.get(engine);
    if (!p) {
      p = RespMeta.open(engine, onError).then((m) => new Broker(engine, m, onError));
      Broker.#byEngine.set(engine, p);
      p.catch(() => Broker.#byEngine.delete(engine));
    }
    return p;
  }

  keyType(key: string): KeyType {
    if (this.streams.isStream(key)) return 'stream';
    return this.lists.length(key) > 0 ? 'list' : 'none';
  }

  /** Every existing key (non-empty lists and streams). */
  keys(): string[] {
    const out: string[] = [];
    for (const name of this.engine.topicNames()) if (this.keyType(name) !== 'none') out.push(name);
    for (const k of this.meta.streams.keys()) if (!this.engine.getTopic(k)) out.push(k);
    return out;
  }

  /** DEL: a stream is deleted with its topic; a list is emptied (the queue itself stays declared). */
  async deleteKey(key: string): Promise<boolean> {
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
    for (const name of this.engine.topicNames()) await this.engine.deleteTopic(name);
    await this.meta.write({ t: 'flush' }, true);
    this.streams.forgetAll();
  }
}
