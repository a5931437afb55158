/** SyncGroup (14): the leader's assignments are distributed; followers wait for them (group-coordinator.ts). */
import type { ApiHandler } from '../handler.js';

export const handleSyncGroup: ApiHandler<14> = async (ctx, req) => {
  const v = ctx.apiVersion;
  const r = await ctx.broker.coordinator.syncGroup({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: v >= 3 ? (req.groupInstanceId ?? null) : null,
    protocolType: v >= 5 ? (req.protocolType ?? null) : null,
    protocolName: v >= 5 ? (req.protocolName ?? null) : null,
    assignments: req.assignments,
  });
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    protocolType: r.protocolType,
    protocolName: r.protocolName,
    assignment: Buffer.from(r.assignment.buffer, r.assignment.byteOffset, r.assignment.byteLength),
  };
};
