/** The handler of every served API, by api key (one file per API, named after it). */
import type { ApiHandler, ApiKeyNum } from '../handler.js';
import { handleProduce } from './produce.js';
import { handleFetch } from './fetch.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleOffsetCommit } from './offset-commit.js';
import { handleOffsetFetch } from './offset-fetch.js';
import { handleFindCoordinator } from './find-coordinator.js';
import { handleJoinGroup } from './join-group.js';
import { handleHeartbeat } from './heartbeat.js';
import { handleLeaveGroup } from './leave-group.js';
import { handleSyncGroup } from './sync-group.js';
import { handleDescribeGroups } from './describe-groups.js';
import { handleListGroups } from './list-groups.js';
import { handleSaslHandshake } from './sasl-handshake.js';
import { handleApiVersions } from './api-versions.js';
import { handleCreateTopics } from './create-topics.js';
import { handleDeleteTopics } from './delete-topics.js';
import { handleDeleteRecords } from './delete-records.js';
import { handleInitProducerId } from './init-producer-id.js';
import { handleOffsetForLeaderEpoch } from './offset-for-leader-epoch.js';
import { handleDescribeConfigs } from './describe-configs.js';
import { handleAlterConfigs } from './alter-configs.js';
import { handleSaslAuthenticate } from './sasl-authenticate.js';
import { handleCreatePartitions } from './create-partitions.js';
import { handleDeleteGroups } from './delete-groups.js';
import { handleDescribeCluster } from './describe-cluster.js';
import { handleAddPartitionsToTxn } from './add-partitions-to-txn.js';
import { handleAddOffsetsToTxn } from './add-offsets-to-txn.js';
import { handleEndTxn } from './end-txn.js';
import { handleTxnOffsetCommit } from './txn-offset-commit.js';

type AnyHandler = ApiHandler<ApiKeyNum>;
const h = <K extends ApiKeyNum>(x: ApiHandler<K>): AnyHandler => x as unknown as AnyHandler;

export const HANDLERS: ReadonlyMap<number, AnyHandler> = new Map<number, AnyHandler>([
  [0, h(handleProduce)],
  [1, h(handleFetch)],
  [2, h(handleListOffsets)],
  [3, h(handleMetadata)],
  [8, h(handleOffsetCommit)],
  [9, h(handleOffsetFetch)],
  [10, h(handleFindCoordinator)],
  [11, h(handleJoinGroup)],
  [12, h(handleHeartbeat)],
  [13, h(handleLeaveGroup)],
  [14, h(handleSyncGroup)],
  [15, h(handleDescribeGroups)],
  [16, h(handleListGroups)],
  [17, h(handleSaslHandshake)],
  [18, h(handleApiVersions)],
  [19, h(handleCreateTopics)],
  [20, h(handleDeleteTopics)],
  [21, h(handleDeleteRecords)],
  [22, h(handleInitProducerId)],
  [23, h(handleOffsetForLeaderEpoch)],
  [24, h(handleAddPartitionsToTxn)],
  [25, h(handleAddOffsetsToTxn)],
  [26, h(handleEndTxn)],
  [28, h(handleTxnOffsetCommit)],
  [32, h(handleDescribeConfigs)],
  [33, h(handleAlterConfigs)],
  [36, h(handleSaslAuthenticate)],
  [37, h(handleCreatePartitions)],
  [42, h(handleDeleteGroups)],
  [60, h(handleDescribeCluster)],
]);
