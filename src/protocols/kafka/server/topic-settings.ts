/**
 * Kafka topic settings the engine's TopicConfig has no field for: configs that are accepted and
 * reported but not enforced (cleanup.policy, segment.bytes, …) and the logical log start offset
 * set by DeleteRecords.
 *
 * Persistence: the engine has no per-topic key/value store, so these ride on its durable
 * committed-offset table (engine.commitOffset) under a reserved group name, one entry per topic,
 * the JSON in the `metadata` string. Cheap (a few hundred bytes per topic that has any) and
 * durable per the engine's fsync policy; the entry is reset when the topic is (re)created or
 * deleted through Kafka. A topic deleted through another protocol leaves a stale entry that is
 * reset on the next Kafka create.
 *
 * DeleteRecords is logical: Fetch / ListOffsets / Metadata treat `max(storage start, logStart)`
 * as the log start offset; the bytes stay until retention removes their segment (the engine
 * cannot yet cut a segment in the middle; see docs/protocols/kafka.md).
 */
import type { Engine } from '../../../engine/engine.js';

export const SETTINGS_GROUP = '__omnibus.kafka.settings';

export interface KafkaTopicSettings {
  /** Kafka config name → value, for configs stored but not enforced by the engine. */
  configs?: Record<string, string>;
  /** partition → logical log start offset (DeleteRecords). */
  logStart?: Record<string, number>;
}

export class TopicSettings {
  readonly #engine: Engine;
  readonly #byTopic = new Map<string, KafkaTopicSettings>();

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  init(): void {
    for (const name of this.#engine.topicNames()) {
      const c = this.#engine.committedOffset(SETTINGS_GROUP, name, 0);
      if (!c || c.metadata === '' || c.metadata === '{}') continue;
      try {
        this.#byTopic.set(name, JSON.parse(c.metadata) as KafkaTopicSettings);
      } catch {
        // A damaged entry loses only unenforced settings: start from defaults.
      }
    }
  }

  get(topic: string): KafkaTopicSettings {
    return this.#byTopic.get(topic) ?? {};
  }

  async #store(topic: string, s: KafkaTopicSettings): Promise<void> {
    this.#byTopic.set(topic, s);
    await this.#engine.commitOffset(SETTINGS_GROUP, topic, 0, 0, JSON.stringify(s));
  }

  /** Forgets a topic's settings (create / delete), durably only if there was something. */
  async clear(topic: string): Promise<void> {
    const had = this.#byTopic.delete(topic);
    const stored = this.#engine.committedOffset(SETTINGS_GROUP, topic, 0);
    if (had || (stored !== undefined && stored.metadata !== '{}')) await this.#engine.commitOffset(SETTINGS_GROUP, topic, 0, 0, '{}');
  }

  async setConfigs(topic: string, configs: Record<string, string>): Promise<void> {
    await this.#store(topic, { ...this.get(topic), configs });
  }

  logStart(topic: string, partition: number): number {
    return this.#byTopic.get(topic)?.logStart?.[String(partition)] ?? 0;
  }

  async setLogStart(topic: string, partition: number, offset: number): Promise<void> {
    const s = this.get(topic);
    await this.#store(topic, { ...s, logStart: { ...s.logStart, [String(partition)]: offset } });
  }
}
