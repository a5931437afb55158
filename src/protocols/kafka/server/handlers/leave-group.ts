/** LeaveGroup (13): v0-2 one member (its error is the top-level error), v3+ a batch of members (by member id or group.instance.id). */
import type { ApiHandler } from '../handler.js';

export const handleLeaveGroup: ApiHandler<13> = (ctx, req) => {
  const batch = ctx.apiVersion >= 3;
  const leaving = batch ? (req.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: req.memberId ?? '' }];
  const r = ctx.broker.coordinator.leaveGroup(req.groupId, leaving);
  if (batch) return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
  return { throttleTimeMs: 0, errorCode: r.errorCode !== 0 ? r.errorCode : (r.members[0]?.errorCode ?? 0) };
};
