/**
 * The Kafka error codes the server returns: the codec's table (numbers from Kafka's
 * `Errors.java`), under the name the handlers use, so a grep for `KafkaError.<NAME>` finds every
 * place that returns a code.
 */
import { KafkaErrorCode as Codes } from '../codec/errors.js';

export const KafkaError = Codes;

export type KafkaErrorCode = (typeof KafkaError)[keyof typeof KafkaError];
