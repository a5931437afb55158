/**
 * What a per-API handler (server/handlers/<api>.ts) sees, and the table of API versions the
 * server serves (and advertises in ApiVersions).
 *
 * Version policy: every version the three target clients use (see docs/protocols/kafka.md), up to
 * the first one that needs something the server does not implement (topic ids in Fetch v13+ and
 * Metadata v10+, KIP-848 groups, tiered storage offsets). Flexible (tagged-field) versions are
 * served where the codec has them and the semantics are unchanged.
 */
import type { RequestByKey, ResponseByKey } from '../generated/api-keys.js';
import type { KafkaBroker } from './broker.js';

export type ApiKeyNum = keyof RequestByKey & keyof ResponseByKey;

export interface SessionView {
  readonly id: number;
  /** Kafka's "client host" form: "/127.0.0.1". */
  readonly clientHost: string;
  /** Host and port to advertise to this client (Metadata, FindCoordinator). */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  authenticated: boolean;
  user: string | undefined;
  /** Set by SaslHandshake v0: the next frame is a raw SASL token, not a Kafka request. */
  rawSaslNext: boolean;
  saslMechanism: string | undefined;
  /** Ask the session to close the connection once this request's response is written. */
  closeAfterResponse(): void;
}

export interface RequestContext {
  readonly broker: KafkaBroker;
  readonly session: SessionView;
  readonly apiVersion: number;
  readonly clientId: string | null;
  /** Aborted when the connection closes or the server shuts down. */
  readonly signal: AbortSignal;
  /**
   * Lets the session start the connection's next request while this one finishes (responses are
   * still written in request order). A handler calls it once everything order-sensitive is done —
   * Produce: every append has been issued and only durability is awaited. Optional; calling it
   * more than once is harmless. Not calling it keeps Kafka's one-request-at-a-time model.
   */
  readonly release: () => void;
  /**
   * The handler keeps no view of the request's bytes and, once its promise resolves, no work of
   * it reads them any more: the session may then recycle the frame's buffer (server/frame-pool.ts).
   * Produce calls it when every append succeeded into a storage that copies payloads. Not calling
   * it leaves the buffer to the GC — always safe.
   */
  readonly requestBytesFree: () => void;
}

/** A handler returns the response body, or null for "no response" (Produce with acks=0). */
export type ApiHandler<K extends ApiKeyNum> = (ctx: RequestContext, req: RequestByKey[K]) => Promise<ResponseByKey[K] | null> | ResponseByKey[K] | null;

/** [min, max] version served per api key. */
export const SUPPORTED_VERSIONS: ReadonlyMap<number, readonly [number, number]> = new Map([
  [0, [0, 8]], // Produce: v0-2 carry magic 0/1 message sets (converted); v9+ flexible not needed by any target client
  [1, [0, 11]], // Fetch: v0-3 get down-converted magic 0/1 message sets; v12+ fetch sessions/flexible, v13+ topic ids
  [2, [0, 5]], // ListOffsets
  [3, [0, 8]], // Metadata: v10+ topic ids
  [8, [0, 7]], // OffsetCommit
  [9, [0, 7]], // OffsetFetch: v8+ batches groups
  [10, [0, 4]], // FindCoordinator: v4 batches keys
  [11, [0, 9]], // JoinGroup
  [12, [0, 4]], // Heartbeat
  [13, [0, 5]], // LeaveGroup
  [14, [0, 5]], // SyncGroup
  [15, [0, 5]], // DescribeGroups
  [16, [0, 4]], // ListGroups
  [17, [0, 1]], // SaslHandshake
  [18, [0, 3]], // ApiVersions: a higher version gets UNSUPPORTED_VERSION and our list (v0 body)
  [19, [0, 5]], // CreateTopics
  [20, [0, 5]], // DeleteTopics: v6 addresses topics by id
  [21, [0, 2]], // DeleteRecords
  [22, [0, 4]], // InitProducerId
  [23, [0, 4]], // OffsetForLeaderEpoch
  [24, [0, 3]], // AddPartitionsToTxn: v4+ is broker to broker
  [25, [0, 3]], // AddOffsetsToTxn
  [26, [0, 3]], // EndTxn
  [28, [0, 3]], // TxnOffsetCommit
  [32, [0, 4]], // DescribeConfigs
  [33, [0, 2]], // AlterConfigs
  [36, [0, 2]], // SaslAuthenticate
  [37, [0, 3]], // CreatePartitions
  [42, [0, 2]], // DeleteGroups
  [60, [0, 1]], // DescribeCluster
]);
