/** AddOffsetsToTxn (25): the group's offsets join the producer's transaction (txn-coordinator.ts). */
import type { ApiHandler } from '../handler.js';

export const handleAddOffsetsToTxn: ApiHandler<25> = async (ctx, req) => ({
  throttleTimeMs: 0,
  errorCode: await ctx.broker.txns.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId),
});
