/**
 * Retained messages: the last message per MQTT topic name, kept in memory and in one engine
 * storage log (`mqtt/retained`) of native records (key = topic name; an empty body deletes).
 *
 * Lookup on SUBSCRIBE scans every retained topic against the filter: O(retained topics) per
 * subscribe — fine for the thousands mosquitto-style deployments keep, not for millions (a reverse
 * trie would be the next step). Memory: every retained payload stays in the heap (bodies are
 * copied out of the socket chunk so a small message does not pin a 64 KiB read buffer).
 *
 * The log is rewritten (live records only) when it grows past twice the live size + 1 MiB.
 * A retained message with a Message Expiry Interval is dropped once it expires.
 */
import { decodeBatch, encodeBatch, FORMAT_NATIVE, type DecodedRecord, type RecordInput } from '../../../engine/record.js';
import type { PartitionStore, StorageEngine } from '../../../engine/storage/types.js';
import { TopicTrie } from '../../../engine/routing/topic-trie.js';

export interface RetainedEntry {
  topic: string;
  rec: RecordInput;
  size: number;
}

export class RetainedStore {
  #log!: PartitionStore;
  readonly #map = new Map<string, RetainedEntry>();
  #liveBytes = 0;
  #compacting = false;

  static async open(storage: StorageEngine, fsync: 'always' | 'interval' | 'never'): Promise<RetainedStore> {
    const s = new RetainedStore();
    s.#log = await storage.open('mqtt/retained', { fsync, segmentBytes: 4 * 1024 * 1024 });
    for (let off = s.#log.startOffset; off < s.#log.endOffset; ) {
      const batches = await s.#log.read(off, 1 << 20);
      if (batches.length === 0) break;
      for (const b of batches) {
        decodeBatch(b.payload, b.baseOffset, b.count, off, (r: DecodedRecord) => {
          if (r.key === undefined) return;
          if (r.body.length === 0) s.#delete(r.key);
          else s.#put(r.key, copyRecord(r));
        });
        off = b.baseOffset + b.count;
      }
    }
    return s;
  }

  get size(): number {
    return this.#map.size;
  }

  #put(topic: string, rec: RecordInput): void {
    const size = rec.body.length + (rec.props?.length ?? 0) + topic.length + 64;
    const old = this.#map.get(topic);
    if (old) this.#liveBytes -= old.size;
    this.#map.set(topic, { topic, rec, size });
    this.#liveBytes += size;
  }

  #delete(topic: string): void {
    const old = this.#map.get(topic);
    if (!old) return;
    this.#liveBytes -= old.size;
    this.#map.delete(topic);
  }

  /**
   * Stores (or, for an empty payload, deletes) the retained message of `topic`. The record's key
   * must be the MQTT topic name here (not the canonical routing key). Resolves when durable.
   */
  set(topic: string, rec: RecordInput): Promise<void> {
    const copy: RecordInput = { ...rec, key: topic, body: Buffer.from(rec.body), props: rec.props ? Buffer.from(rec.props) : undefined };
    if (copy.body.length === 0) {
      if (!this.#map.has(topic)) return Promise.resolve();
      this.#delete(topic);
    } else this.#put(topic, copy);
    this.#log.append([{ count: 1, timestamp: rec.timestamp, format: FORMAT_NATIVE, payload: encodeBatch([copy]) }]);
    if (this.#log.sizeBytes > this.#liveBytes * 2 + 1024 * 1024 && !this.#compacting) this.#compact();
    return this.#log.durable();
  }

  /** Live retained messages whose topic matches `filter` (MQTT syntax, `$` rule applied). */
  match(filter: string, now: number): RetainedEntry[] {
    const trie = new TopicTrie<number>({ syntax: 'mqtt' });
    trie.add(filter, 1);
    const out: RetainedEntry[] = [];
    for (const e of this.#map.values()) {
      if (e.rec.expiresAt !== undefined && e.rec.expiresAt <= now) {
        this.#delete(e.topic);
        continue;
      }
      if (trie.match(e.topic).length > 0) out.push(e);
    }
    return out;
  }

  #compact(): void {
    this.#compacting = true;
    const at = this.#log.endOffset;
    const live = [...this.#map.values()].map((e) => e.rec);
    for (let i = 0; i < live.length; i += 256) {
      const chunk = live.slice(i, i + 256);
      this.#log.append([{ count: chunk.length, timestamp: Date.now(), format: FORMAT_NATIVE, payload: encodeBatch(chunk) }]);
    }
    this.#log
      .durable()
      .then(() => this.#log.truncateBefore(at))
      .then(
        () => (this.#compacting = false),
        () => (this.#compacting = false),
      );
  }
}

function copyRecord(r: DecodedRecord): RecordInput {
  return {
    body: Buffer.from(r.body),
    key: r.key,
    headers: r.headers,
    timestamp: r.timestamp,
    priority: r.priority,
    expiresAt: r.expiresAt !== 0 ? r.expiresAt : undefined,
    props: r.props ? Buffer.from(r.props) : undefined,
    propsFormat: r.propsFormat,
  };
}
