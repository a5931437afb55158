/**
 * CreateTopics (19): Kafka's validation order and codes — INVALID_TOPIC_EXCEPTION (name),
 * TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS (< 1 or > 10000; -1 = broker default),
 * INVALID_REPLICATION_FACTOR (anything but -1 or 1: there is one broker), INVALID_REPLICA_ASSIGNMENT
 * (a replica other than this node), INVALID_CONFIG, INVALID_REQUEST (a name twice in one request).
 * validate_only checks without creating.
 */
import type { CreateTopicsResponseCreatableTopicResult } from '../../generated/create-topics.js';
import type { ApiHandler } from '../handler.js';
import { validTopicName } from '../broker.js';
import { KafkaError } from '../error-codes.js';
import { describeTopicConfigs, parseConfigs } from '../topic-configs.js';
import { kafkaCodeOf } from './util.js';

export const handleCreateTopics: ApiHandler<19> = async (ctx, req) => {
  const { broker } = ctx;
  const engine = broker.engine;
  const counts = new Map<string, number>();
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  const topics: CreateTopicsResponseCreatableTopicResult[] = [];
  for (const t of req.topics) {
    const res: CreateTopicsResponseCreatableTopicResult = { name: t.name, errorCode: KafkaError.NONE, errorMessage: null, topicConfigErrorCode: 0, numPartitions: -1, replicationFactor: -1, configs: [] };
    topics.push(res);
    const fail = (code: number, msg: string) => {
      res.errorCode = code;
      res.errorMessage = msg;
    };
    if ((counts.get(t.name) ?? 0) > 1) {
      fail(KafkaError.INVALID_REQUEST, `Create topics request from client contains multiple entries for topic ${t.name}`);
      continue;
    }
    if (!validTopicName(t.name)) {
      fail(KafkaError.INVALID_TOPIC_EXCEPTION, `Topic name "${t.name}" is illegal`);
      continue;
    }
    if (engine.getTopic(t.name)) {
      fail(KafkaError.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
      continue;
    }
    let partitions: number;
    if (t.assignments.length > 0) {
      if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
        fail(KafkaError.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set');
        continue;
      }
      if (t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.nodeId)) {
        fail(KafkaError.INVALID_REPLICA_ASSIGNMENT, `every replica must be broker ${broker.nodeId}`);
        continue;
      }
      partitions = t.assignments.length;
    } else {
      partitions = t.numPartitions === -1 ? broker.defaultPartitions : t.numPartitions;
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
        fail(KafkaError.INVALID_PARTITIONS, `Number of partitions must be between 1 and 10000, got ${t.numPartitions}`);
        continue;
      }
      if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
        fail(KafkaError.INVALID_REPLICATION_FACTOR, t.replicationFactor < 1 ? 'Replication factor must be larger than 0' : `Replication factor: ${t.replicationFactor} larger than available brokers: 1.`);
        continue;
      }
    }
    const parsed = parseConfigs(t.configs, broker.logRetentionMs);
    if (typeof parsed === 'string') {
      fail(KafkaError.INVALID_CONFIG, parsed);
      continue;
    }
    res.numPartitions = partitions;
    res.replicationFactor = 1;
    if (req.validateOnly) continue;
    try {
      await broker.createTopic(t.name, partitions, parsed.engine);
      if (Object.keys(parsed.stored).length > 0) await broker.settings.setConfigs(t.name, parsed.stored);
      broker.producers.forgetTopic(t.name);
      const cfg = engine.getTopic(t.name)!.config;
      res.configs = describeTopicConfigs(cfg, parsed.stored, { retentionMs: broker.logRetentionMs, maxMessageBytes: engine.maxMessageBytes }).map((e) => ({
        name: e.name,
        value: e.value,
        readOnly: false,
        configSource: e.source,
        isSensitive: false,
      }));
    } catch (e) {
      fail(kafkaCodeOf(e), (e as Error).message);
    }
  }
  return { throttleTimeMs: 0, topics };
};
