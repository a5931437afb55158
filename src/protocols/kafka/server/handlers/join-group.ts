/**
 * JoinGroup (11): the coordinator's state machine (group-coordinator.ts). v0 has no rebalance
 * timeout (the session timeout is used, as Kafka does); v4+ first joins get MEMBER_ID_REQUIRED;
 * v5+ carries group.instance.id (static membership). The response waits until the rebalance
 * completes (all members rejoined or the rebalance timeout).
 */
import type { ApiHandler } from '../handler.js';

export const handleJoinGroup: ApiHandler<11> = async (ctx, req) => {
  const v = ctx.apiVersion;
  const rebalanceTimeoutMs = v >= 1 && req.rebalanceTimeoutMs !== undefined && req.rebalanceTimeoutMs >= 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs;
  const r = await ctx.broker.coordinator.joinGroup({
    groupId: req.groupId,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId: req.memberId,
    groupInstanceId: v >= 5 ? (req.groupInstanceId ?? null) : null,
    protocolType: req.protocolType,
    protocols: req.protocols,
    clientId: ctx.clientId ?? '',
    clientHost: ctx.session.clientHost,
    requireKnownMemberId: v >= 4,
  });
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    // Before v7 the protocol name is a non-nullable string.
    protocolName: v >= 7 ? r.protocolName : (r.protocolName ?? ''),
    leader: r.leader,
    skipAssignment: false,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: Buffer.from(m.metadata.buffer, m.metadata.byteOffset, m.metadata.byteLength) })),
  };
};
