/**
 * Metadata (3): one broker (this node, at the address the client connected to unless an
 * advertised host is configured), every topic with all partitions led by us.
 *
 * Auto-creation: a requested unknown topic is created (broker default partition count) when the
 * broker allows it and the request does (v4+ flag; always for v0-3), like Kafka's
 * auto.create.topics.enable; otherwise UNKNOWN_TOPIC_OR_PARTITION. Invalid names get
 * INVALID_TOPIC_EXCEPTION. Topics are visible as soon as they exist (Kafka may first answer
 * LEADER_NOT_AVAILABLE for a new topic; one node has nothing to elect).
 */
import type { MetadataResponseTopic } from '../../generated/metadata.js';
import type { ApiHandler } from '../handler.js';
import { validTopicName } from '../broker.js';
import { KafkaError } from '../error-codes.js';
import { isReservedTopic } from './util.js';

export const handleMetadata: ApiHandler<3> = async (ctx, req) => {
  const { broker, session, apiVersion } = ctx;
  const node = broker.nodeId;
  const describe = (name: string, errorCode: number): MetadataResponseTopic => {
    const n = errorCode === KafkaError.NONE ? (broker.partitions(name) ?? 0) : 0;
    const partitions = [];
    for (let p = 0; p < n; p++) {
      partitions.push({ errorCode: KafkaError.NONE, partitionIndex: p, leaderId: node, leaderEpoch: 0, replicaNodes: [node], isrNodes: [node], offlineReplicas: [] });
    }
    return { errorCode, name, isInternal: false, partitions, topicAuthorizedOperations: -2147483648 };
  };
  let names: string[];
  const all = req.topics === null || (apiVersion === 0 && req.topics.length === 0);
  if (all) names = broker.engine.topicNames().filter((n) => !isReservedTopic(n)).sort();
  else names = req.topics!.map((t) => t.name ?? '');
  const topics: MetadataResponseTopic[] = [];
  const allowCreate = broker.autoCreateTopics && (apiVersion < 4 || req.allowAutoTopicCreation !== false);
  for (const name of names) {
    if (broker.partitions(name) !== undefined) {
      topics.push(describe(name, KafkaError.NONE));
      continue;
    }
    if (all) continue;
    if (!validTopicName(name)) {
      topics.push(describe(name, KafkaError.INVALID_TOPIC_EXCEPTION));
      continue;
    }
    if (!allowCreate) {
      topics.push(describe(name, KafkaError.UNKNOWN_TOPIC_OR_PARTITION));
      continue;
    }
    try {
      await broker.createTopic(name, broker.defaultPartitions);
      topics.push(describe(name, KafkaError.NONE));
    } catch {
      topics.push(describe(name, KafkaError.LEADER_NOT_AVAILABLE));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: node, host: session.advertisedHost, port: session.advertisedPort, rack: null }],
    clusterId: broker.clusterId,
    controllerId: node,
    topics,
    clusterAuthorizedOperations: -2147483648,
  };
};
