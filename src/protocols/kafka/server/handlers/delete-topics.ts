/** DeleteTopics (20), v0-5 (by name): the engine topic, its data and groups go; UNKNOWN_TOPIC_OR_PARTITION if absent. */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { kafkaCodeOf } from './util.js';

export const handleDeleteTopics: ApiHandler<20> = async (ctx, req) => {
  const { broker } = ctx;
  const names = req.topicNames ?? (req.topics ?? []).map((t) => t.name ?? '');
  const responses = [];
  for (const name of names) {
    let errorCode: number = KafkaError.NONE;
    let errorMessage: string | null = null;
    try {
      if (!(await broker.engine.deleteTopic(name))) {
        errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
        errorMessage = 'This server does not host this topic-partition.';
      } else {
        broker.producers.forgetTopic(name);
        broker.txns.forgetTopic(name);
        await broker.settings.clear(name);
      }
    } catch (e) {
      errorCode = kafkaCodeOf(e);
      errorMessage = (e as Error).message;
    }
    responses.push({ name, errorCode, errorMessage });
  }
  return { throttleTimeMs: 0, responses };
};
