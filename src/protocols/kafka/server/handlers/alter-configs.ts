/**
 * AlterConfigs (33): replaces a topic's configs (Kafka's non-incremental semantics: a config not
 * in the request returns to its default). Enforced ones go to engine.alterTopic, the others are
 * stored (topic-settings.ts). Unknown names or bad values: INVALID_CONFIG, nothing changed.
 * Broker configs are static here: INVALID_CONFIG.
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { parseConfigs } from '../topic-configs.js';
import { kafkaCodeOf } from './util.js';

export const handleAlterConfigs: ApiHandler<33> = async (ctx, req) => {
  const { broker } = ctx;
  const responses = [];
  for (const r of req.resources) {
    const res = { errorCode: KafkaError.NONE as number, errorMessage: null as string | null, resourceType: r.resourceType, resourceName: r.resourceName };
    responses.push(res);
    if (r.resourceType !== 2) {
      res.errorCode = r.resourceType === 4 ? KafkaError.INVALID_CONFIG : KafkaError.INVALID_REQUEST;
      res.errorMessage = r.resourceType === 4 ? 'broker configs cannot be changed at runtime' : `resource type ${r.resourceType} is not supported`;
      continue;
    }
    if (!broker.engine.getTopic(r.resourceName)) {
      res.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      res.errorMessage = `Topic '${r.resourceName}' does not exist.`;
      continue;
    }
    const parsed = parseConfigs(r.configs, broker.logRetentionMs);
    if (typeof parsed === 'string') {
      res.errorCode = KafkaError.INVALID_CONFIG;
      res.errorMessage = parsed;
      continue;
    }
    if (req.validateOnly) continue;
    try {
      await broker.engine.alterTopic(r.resourceName, {
        retentionMs: parsed.engine.retentionMs,
        retentionBytes: parsed.engine.retentionBytes,
        maxMessageBytes: parsed.engine.maxMessageBytes,
        cleanupPolicy: parsed.engine.cleanupPolicy,
        deleteRetentionMs: parsed.engine.deleteRetentionMs,
      });
      await broker.settings.setConfigs(r.resourceName, parsed.stored);
    } catch (e) {
      res.errorCode = kafkaCodeOf(e);
      res.errorMessage = (e as Error).message;
    }
  }
  return { throttleTimeMs: 0, responses };
};
