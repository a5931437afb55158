/** DescribeCluster (60): this node is the whole cluster and its controller. */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

export const handleDescribeCluster: ApiHandler<60> = (ctx) => ({
  throttleTimeMs: 0,
  errorCode: KafkaError.NONE,
  errorMessage: null,
  ...(ctx.apiVersion >= 1 ? { endpointType: 1 } : {}),
  clusterId: ctx.broker.clusterId,
  controllerId: ctx.broker.nodeId,
  brokers: [{ brokerId: ctx.broker.nodeId, host: ctx.session.advertisedHost, port: ctx.session.advertisedPort, rack: null }],
  clusterAuthorizedOperations: -2147483648,
});
