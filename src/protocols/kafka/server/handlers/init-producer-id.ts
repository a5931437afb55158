/**
 * InitProducerId (22): a new producer id (epoch 0) for idempotent producers, never reused across
 * restarts (producer-state.ts). v3+ with a known id and epoch bumps the epoch (KIP-360); a
 * transactional id keeps its producer id and bumps the epoch, which fences the previous producer
 * and aborts a transaction it left open (txn-coordinator.ts); transaction_timeout_ms above 15
 * minutes is INVALID_TRANSACTION_TIMEOUT.
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

export const handleInitProducerId: ApiHandler<22> = async (ctx, req) => {
  const ps = ctx.broker.producers;
  if (ctx.apiVersion >= 3 && req.transactionalId === null && (req.producerId ?? -1) >= 0 && (req.producerEpoch ?? -1) >= 0 && req.producerEpoch! < 32766) {
    return { throttleTimeMs: 0, errorCode: KafkaError.NONE, producerId: req.producerId!, producerEpoch: req.producerEpoch! + 1 };
  }
  if (req.transactionalId !== null && req.transactionalId !== '') {
    const t = await ctx.broker.txns.initProducer(req.transactionalId, req.transactionTimeoutMs);
    return { throttleTimeMs: 0, errorCode: t.errorCode, producerId: t.producerId, producerEpoch: t.producerEpoch };
  }
  const r = await ps.initProducer(req.transactionalId);
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, producerId: r.producerId, producerEpoch: r.producerEpoch };
};
