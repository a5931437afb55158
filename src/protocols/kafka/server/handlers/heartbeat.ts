/** Heartbeat (12): REBALANCE_IN_PROGRESS tells a member to rejoin; see group-coordinator.ts for the rest. */
import type { ApiHandler } from '../handler.js';

export const handleHeartbeat: ApiHandler<12> = (ctx, req) => ({
  throttleTimeMs: 0,
  errorCode: ctx.broker.coordinator.heartbeat({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 3 ? (req.groupInstanceId ?? null) : null,
  }),
});
