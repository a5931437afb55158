/**
 * Kafka topic settings that the engine stores for Kafka:
 * - configs as set (those the engine does not enforce, like segment.bytes, and cleanup.policy /
 *   delete.retention.ms, which it also enforces as TopicConfig fields) live in the topic's own
 *   `TopicConfig.configs` (engine.alterTopic), so they survive a restart with the topic and
 *   vanish with it;
 * - DeleteRecords moves the partition's logical log start (engine.truncateLog): every reader of
 *   every protocol stops seeing the records below it, groups settle them, and whole segments
 *   below it are deleted.
 *
 * This module keeps no state of its own.
 */
import type { Engine } from '../../../engine/engine.js';

export interface KafkaTopicSettings {
  /** Kafka config name → value, for configs stored but not enforced by the engine. */
  configs?: Record<string, string>;
}

export class TopicSettings {
  readonly #engine: Engine;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  init(): void {}

  get(topic: string): KafkaTopicSettings {
    const c = this.#engine.getTopic(topic)?.config.configs;
    return c ? { configs: { ...c } } : {};
  }

  /** Nothing to forget: settings live and die with the engine topic. */
  async clear(_topic: string): Promise<void> {}

  async setConfigs(topic: string, configs: Record<string, string>): Promise<void> {
    await this.#engine.alterTopic(topic, { configs });
  }

  /** The logical log start (already part of engine.logBounds().start). */
  logStart(topic: string, partition: number): number {
    return this.#engine.logBounds(topic, partition).start;
  }

  async setLogStart(topic: string, partition: number, offset: number): Promise<void> {
    await this.#engine.truncateLog(topic, partition, offset);
  }
}
