/**
 * A topic is a named log: P partitions, each split into priority *lanes*. A lane is one storage
 * partition log (`topics/<topic>/<partition>` for priority 0, `.../<partition>.p<N>` for N > 0).
 *
 * Priority lanes are created lazily, on the first message with that priority, so a topic that
 * never sees priorities costs exactly one storage log per partition. Readers that want the log
 * view (Kafka Fetch, Redis XRANGE, AMQP streams) read lane `<partition>` (priority 0); queue
 * groups read every lane, highest priority first.
 *
 * This module does not know about consumers or acks (group.ts) or routing (routing/).
 */
import type { FsyncPolicy, PartitionStore } from './storage/types.js';

/**
 * The group every protocol's *queue* consumers share: an AMQP queue `q`, a Redis list `q`, a
 * STOMP `/queue/q` and `subscribe('q')` without a group are all topic `q`, group `default` — so a
 * message published through one protocol is consumed through another.
 */
export const DEFAULT_GROUP = 'default';

export interface TopicConfig {
  partitions: number;
  /** false: the topic (and its data) is deleted when the engine restarts (AMQP non-durable queues). Default true. */
  durable?: boolean | undefined;
  /** Retention for the log view; absent = keep until every group has settled (queue semantics). */
  retentionMs?: number | undefined;
  retentionBytes?: number | undefined;
  /** Per-queue message TTL (AMQP x-message-ttl), applied at delivery time. */
  messageTtlMs?: number | undefined;
  /** Largest accepted body. */
  maxMessageBytes?: number | undefined;
  /**
   * What happens to old data (Kafka's cleanup.policy): 'delete' (default) trims by retention;
   * 'compact' keeps the latest record per key and never deletes by retention; 'compact,delete'
   * does both (compaction.ts).
   */
  cleanupPolicy?: 'delete' | 'compact' | 'compact,delete' | undefined;
  /** With compaction: how long a tombstone is kept (Kafka delete.retention.ms); default 24 h. */
  deleteRetentionMs?: number | undefined;
  /** fsync policy of this topic's data; default the engine's. */
  fsync?: FsyncPolicy | undefined;
  /**
   * Protocol-level settings the engine stores but does not interpret (e.g. Kafka's
   * cleanup.policy, min.insync.replicas), so DescribeConfigs returns what AlterConfigs set.
   */
  configs?: Readonly<Record<string, string>> | undefined;
}

export class Lane {
  /**
   * Logical start of the log (Kafka DeleteRecords, Redis XTRIM): records below it are gone for
   * every reader even while their segment still exists (storage deletes whole segments only).
   */
  logStart = 0;
  constructor(
    readonly key: string,
    readonly partition: number,
    readonly priority: number,
    readonly store: PartitionStore,
  ) {}
  /** First readable offset: the larger of the logical start and the storage start. */
  get start(): number {
    return Math.min(Math.max(this.logStart, this.store.startOffset), this.store.endOffset);
  }
}

export function laneKey(partition: number, priority: number): string {
  return priority === 0 ? String(partition) : `${partition}.p${priority}`;
}

export function parseLaneKey(key: string): { partition: number; priority: number } | undefined {
  const m = /^(\d+)(?:\.p(\d+))?$/.exec(key);
  if (!m) return undefined;
  return { partition: Number(m[1]), priority: m[2] === undefined ? 0 : Number(m[2]) };
}

/** Storage-safe encoding of a user-chosen name: [A-Za-z0-9.-] kept, everything else as _HH. */
export function encodeName(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9-]/.test(c) || (c === '.' && out.length > 0) ? c : '_' + b.toString(16).padStart(2, '0');
  }
  if (out.length === 0) return '_';
  return out;
}

export function decodeName(encoded: string): string {
  if (encoded === '_') return '';
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded[i]!;
    if (c === '_') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}
