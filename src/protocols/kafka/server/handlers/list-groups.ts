/**
 * ListGroups (16): groups the coordinator knows: with members, or with committed offsets (those
 * from before a restart are found through engine.committedGroups at startup).
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

export const handleListGroups: ApiHandler<16> = (ctx, req) => ({
  throttleTimeMs: 0,
  errorCode: KafkaError.NONE,
  groups: ctx.broker.coordinator
    .listGroups(ctx.apiVersion >= 4 ? req.statesFilter : undefined)
    .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: 'classic' })),
});
