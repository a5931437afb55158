/**
 * Kafka topic configs ⇄ engine TopicConfig, for CreateTopics, AlterConfigs and DescribeConfigs.
 *
 * Enforced (mapped onto the engine): retention.ms, retention.bytes, max.message.bytes (the largest
 * batch a producer may send; the engine also applies it to single bodies from other protocols),
 * cleanup.policy (compact: the engine's log compaction keeps the latest record per key; compact
 * alone also turns off deletion by retention, as in Kafka) and delete.retention.ms (how long
 * compaction keeps a tombstone). Those two are also kept with the stored configs so
 * DescribeConfigs reports them as set. Accepted, stored and reported but NOT enforced:
 * segment.*, min.insync.replicas, min.cleanable.dirty.ratio and the other settings listed in
 * STORED_ONLY. Any other name is INVALID_CONFIG, as in Kafka.
 *
 * retention.ms = -1 (keep forever) is stored as a very large retention rather than "no retention",
 * because an engine topic without retention is trimmed once every queue group has settled it —
 * queue semantics a Kafka topic must not get by surprise.
 */
import type { TopicConfig } from '../../../engine/topic.js';

const FOREVER = 2 ** 52;

export const ENFORCED = new Set(['retention.ms', 'retention.bytes', 'max.message.bytes']);

export const STORED_ONLY = new Set([
  'cleanup.policy',
  'compression.type',
  'delete.retention.ms',
  'file.delete.delay.ms',
  'flush.messages',
  'flush.ms',
  'follower.replication.throttled.replicas',
  'index.interval.bytes',
  'leader.replication.throttled.replicas',
  'local.retention.bytes',
  'local.retention.ms',
  'max.compaction.lag.ms',
  'message.downconversion.enable',
  'message.format.version',
  'message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms',
  'message.timestamp.difference.max.ms',
  'message.timestamp.type',
  'min.cleanable.dirty.ratio',
  'min.compaction.lag.ms',
  'min.insync.replicas',
  'preallocate',
  'remote.storage.enable',
  'segment.bytes',
  'segment.index.bytes',
  'segment.jitter.ms',
  'segment.ms',
  'unclean.leader.election.enable',
]);

/** Defaults reported for stored-only configs that were never set. */
export const STORED_DEFAULTS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
  'min.insync.replicas': '1',
  'message.timestamp.type': 'CreateTime',
  'segment.bytes': String(64 * 1024 * 1024),
  'segment.ms': '604800000',
  'unclean.leader.election.enable': 'false',
  'min.cleanable.dirty.ratio': '0.5',
  'delete.retention.ms': '86400000',
};

export interface ParsedConfigs {
  engine: Partial<Pick<TopicConfig, 'retentionMs' | 'retentionBytes' | 'maxMessageBytes' | 'cleanupPolicy' | 'deleteRetentionMs'>>;
  stored: Record<string, string>;
}

/** Validates and splits configs; returns an error message for INVALID_CONFIG. */
export function parseConfigs(configs: readonly { name: string; value: string | null }[], defaultRetentionMs: number): ParsedConfigs | string {
  const out: ParsedConfigs = { engine: {}, stored: {} };
  for (const { name, value } of configs) {
    if (ENFORCED.has(name)) {
      const n = value === null ? NaN : Number(value);
      if (value === null || !Number.isInteger(n) || n < -1) return `invalid value ${value} for ${name}`;
      if (name === 'retention.ms') out.engine.retentionMs = n === -1 ? FOREVER : n;
      else if (name === 'retention.bytes') out.engine.retentionBytes = n === -1 ? undefined : n;
      else {
        if (n < 0) return `invalid value ${value} for ${name}`;
        out.engine.maxMessageBytes = n;
      }
    } else if (STORED_ONLY.has(name)) {
      if (value === null) continue;
      if (name === 'cleanup.policy') {
        if (!/^(delete|compact)(\s*,\s*(delete|compact))?$/.test(value)) return `invalid value ${value} for cleanup.policy`;
        const set = new Set(value.split(',').map((v) => v.trim()));
        out.engine.cleanupPolicy = set.has('compact') ? (set.has('delete') ? 'compact,delete' : 'compact') : 'delete';
      } else if (name === 'delete.retention.ms') {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) return `invalid value ${value} for delete.retention.ms`;
        out.engine.deleteRetentionMs = n;
      }
      out.stored[name] = value;
    } else return `unknown topic config ${name}`;
  }
  if (!('retentionMs' in out.engine)) out.engine.retentionMs = defaultRetentionMs >= 0 ? defaultRetentionMs : FOREVER;
  return out;
}

export interface ConfigEntry {
  name: string;
  value: string;
  isDefault: boolean;
  /** Kafka ConfigSource: 1 DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG. */
  source: number;
  /** Kafka ConfigType: 2 STRING, 3 INT, 5 LONG, 7 LIST. */
  type: number;
}

/** Every config of a topic as DescribeConfigs reports it. */
export function describeTopicConfigs(config: TopicConfig, stored: Readonly<Record<string, string>>, defaults: { retentionMs: number; maxMessageBytes: number }): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  const retention = config.retentionMs === undefined || config.retentionMs >= FOREVER ? -1 : config.retentionMs;
  entries.push({ name: 'retention.ms', value: String(retention), isDefault: retention === defaults.retentionMs, source: retention === defaults.retentionMs ? 5 : 1, type: 5 });
  const bytes = config.retentionBytes ?? -1;
  entries.push({ name: 'retention.bytes', value: String(bytes), isDefault: bytes === -1, source: bytes === -1 ? 5 : 1, type: 5 });
  const max = config.maxMessageBytes ?? defaults.maxMessageBytes;
  entries.push({ name: 'max.message.bytes', value: String(max), isDefault: config.maxMessageBytes === undefined, source: config.maxMessageBytes === undefined ? 5 : 1, type: 3 });
  const names = new Set([...Object.keys(STORED_DEFAULTS), ...Object.keys(stored)]);
  for (const name of [...names].sort()) {
    const set = stored[name];
    entries.push({ name, value: set ?? STORED_DEFAULTS[name]!, isDefault: set === undefined, source: set === undefined ? 5 : 1, type: name === 'cleanup.policy' ? 7 : 2 });
  }
  return entries;
}
