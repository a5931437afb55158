/** FindCoordinator (10): this node coordinates every group and transactional id; v4+ batches keys. */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

export const handleFindCoordinator: ApiHandler<10> = (ctx, req) => {
  const { broker, session } = ctx;
  const host = session.advertisedHost;
  const port = session.advertisedPort;
  const nodeId = broker.nodeId;
  const keys = ctx.apiVersion >= 4 ? (req.coordinatorKeys ?? []) : [req.key ?? ''];
  if (ctx.apiVersion >= 4) {
    return {
      throttleTimeMs: 0,
      coordinators: keys.map((key) => ({ key, nodeId, host, port, errorCode: KafkaError.NONE, errorMessage: null })),
    };
  }
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, errorMessage: null, nodeId, host, port };
};
