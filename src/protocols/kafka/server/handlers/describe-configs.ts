/**
 * DescribeConfigs (32): topic resources (type 2) list every enforced and stored config with its
 * value and whether it is a default (never an empty list: admin tools read defaults from here);
 * broker resources (type 4) list the few broker settings that exist. Names may be filtered.
 */
import type { DescribeConfigsResponseDescribeConfigsResult } from '../../generated/describe-configs.js';
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { describeTopicConfigs, type ConfigEntry } from '../topic-configs.js';

export const handleDescribeConfigs: ApiHandler<32> = (ctx, req) => {
  const { broker, apiVersion: v } = ctx;
  const engine = broker.engine;
  const results: DescribeConfigsResponseDescribeConfigsResult[] = [];
  for (const r of req.resources) {
    const res: DescribeConfigsResponseDescribeConfigsResult = { errorCode: KafkaError.NONE, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] };
    results.push(res);
    let entries: ConfigEntry[];
    if (r.resourceType === 2) {
      const t = engine.getTopic(r.resourceName);
      if (!t) {
        res.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
        res.errorMessage = `Topic '${r.resourceName}' does not exist.`;
        continue;
      }
      entries = describeTopicConfigs(t.config, broker.settings.get(r.resourceName).configs ?? {}, { retentionMs: broker.logRetentionMs, maxMessageBytes: engine.maxMessageBytes });
    } else if (r.resourceType === 4) {
      if (r.resourceName !== '' && r.resourceName !== String(broker.nodeId)) {
        res.errorCode = KafkaError.INVALID_REQUEST;
        res.errorMessage = `unknown broker ${r.resourceName}`;
        continue;
      }
      const e = (name: string, value: string, type: number): ConfigEntry => ({ name, value, isDefault: false, source: 4, type });
      entries = [
        e('broker.id', String(broker.nodeId), 3),
        e('num.partitions', String(broker.defaultPartitions), 3),
        e('auto.create.topics.enable', String(broker.autoCreateTopics), 1),
        e('log.retention.ms', String(broker.logRetentionMs), 5),
        e('message.max.bytes', String(engine.maxMessageBytes), 3),
        e('default.replication.factor', '1', 3),
        e('offsets.topic.replication.factor', '1', 4),
      ];
    } else {
      res.errorCode = KafkaError.INVALID_REQUEST;
      res.errorMessage = `resource type ${r.resourceType} is not supported`;
      continue;
    }
    const want = r.configurationKeys === null || r.configurationKeys.length === 0 ? undefined : new Set(r.configurationKeys);
    res.configs = entries
      .filter((x) => !want || want.has(x.name))
      .map((x) => ({
        name: x.name,
        value: x.value,
        readOnly: r.resourceType === 4,
        ...(v === 0 ? { isDefault: x.isDefault } : { configSource: x.source }),
        isSensitive: false,
        synonyms: v >= 1 && req.includeSynonyms ? [{ name: x.name, value: x.value, source: x.source }] : [],
        configType: x.type,
        documentation: null,
      }));
  }
  return { throttleTimeMs: 0, results };
};
