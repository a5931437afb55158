/**
 * DeleteGroups (42): GROUP_ID_NOT_FOUND for an unknown group, NON_EMPTY_GROUP while it has
 * members; otherwise the group and its committed offsets go (engine.deleteCommittedOffsets).
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';
import { committedPartitions } from './offset-fetch.js';

export const handleDeleteGroups: ApiHandler<42> = async (ctx, req) => {
  const { broker } = ctx;
  const results = [];
  for (const groupId of req.groupsNames) {
    const offsets = committedPartitions(broker.engine, groupId);
    let code = broker.coordinator.deleteGroup(groupId);
    if (code === KafkaError.GROUP_ID_NOT_FOUND && offsets.length > 0) code = KafkaError.NONE;
    if (code === KafkaError.NONE) {
      await broker.engine.deleteCommittedOffsets(groupId);
    }
    results.push({ groupId, errorCode: code });
  }
  return { throttleTimeMs: 0, results };
};
