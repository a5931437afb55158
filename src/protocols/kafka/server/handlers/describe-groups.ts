/** DescribeGroups (15): state, protocol and members (metadata and assignment only when Stable, as Kafka). Unknown groups are reported Dead with no error. */
import type { ApiHandler } from '../handler.js';
import { committedPartitions } from './offset-fetch.js';

const toBuf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export const handleDescribeGroups: ApiHandler<15> = (ctx, req) => ({
  throttleTimeMs: 0,
  groups: req.groups.map((id) => {
    const d = ctx.broker.coordinator.describeGroup(id);
    // A group known only by its committed offsets (e.g. after a restart) is Empty, not Dead.
    const state = d.state === 'Dead' && committedPartitions(ctx.broker.engine, id).length > 0 ? 'Empty' : d.state;
    return {
      errorCode: d.errorCode,
      groupId: id,
      groupState: state,
      protocolType: d.protocolType,
      protocolData: d.protocolData,
      members: d.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: toBuf(m.metadata),
        memberAssignment: toBuf(m.assignment),
      })),
      ...(ctx.apiVersion >= 3 ? { authorizedOperations: -2147483648 } : {}),
    };
  }),
});
