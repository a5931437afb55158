/** Small helpers shared by the handlers. */
import { isOmnibusError } from '../../../../core/errors.js';
import { KafkaError } from '../error-codes.js';

/** Engine topics that are Omnibus internals, hidden from Kafka listings. */
export function isReservedTopic(name: string): boolean {
  return name.startsWith('__omnibus');
}

/** Maps an engine error to the closest Kafka error code. */
export function kafkaCodeOf(e: unknown): number {
  if (isOmnibusError(e)) {
    switch (e.code) {
      case 'MQ_ERR_NOT_FOUND':
        return KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      case 'MQ_ERR_OFFSET_OUT_OF_RANGE':
        return KafkaError.OFFSET_OUT_OF_RANGE;
      case 'MQ_ERR_PAYLOAD_TOO_LARGE':
        return KafkaError.MESSAGE_TOO_LARGE;
      case 'MQ_ERR_CORRUPT':
        return KafkaError.CORRUPT_MESSAGE;
      case 'MQ_ERR_INVALID_ARGUMENT':
        return KafkaError.INVALID_REQUEST;
      case 'MQ_ERR_STORAGE':
        return KafkaError.KAFKA_STORAGE_ERROR;
      case 'MQ_ERR_CLOSED':
        return KafkaError.NOT_LEADER_OR_FOLLOWER;
      default:
        return KafkaError.UNKNOWN_SERVER_ERROR;
    }
  }
  return KafkaError.UNKNOWN_SERVER_ERROR;
}

/** Groups items by a key, keeping first-seen order. */
export function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(it);
  }
  return m;
}
