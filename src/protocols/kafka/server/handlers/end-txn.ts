/**
 * EndTxn (26): commits or aborts the producer's transaction — control batches into every partition
 * of it, then (commit) its group offsets (txn-coordinator.ts). Answers once the markers are durable.
 */
import type { ApiHandler } from '../handler.js';

export const handleEndTxn: ApiHandler<26> = async (ctx, req) => ({
  throttleTimeMs: 0,
  errorCode: await ctx.broker.txns.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed),
});
