/**
 * The classic Kafka consumer-group coordinator (JoinGroup / SyncGroup / Heartbeat / LeaveGroup /
 * DescribeGroups / ListGroups / DeleteGroups) as a pure state machine: no sockets, no codec, time
 * from an injected Clock (tests drive it with a ManualClock and never sleep).
 *
 * It follows Kafka's GroupCoordinator (core/src/main/scala/kafka/coordinator/group/) closely,
 * because clients encode its exact behaviour in their retry logic:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
 *     ▲                    ▲      ▲                                               │ leader's SyncGroup
 *     │ last member gone   │      └──────────── join / leave / session expiry ────┤
 *     └────────────────────┴──────────────────────────────────────────────── Stable ◀┘
 *   Dead: after DeleteGroups (the group object is dropped; a later join starts a new Empty group).
 *
 * - The server never runs an assignor: it picks the protocol (assignor name) every member supports
 *   (votes by preference order, as Kafka does), hands the leader every member's metadata for it,
 *   and distributes the leader's opaque assignment bytes. So range / roundrobin / sticky /
 *   cooperative-sticky (which is just repeated eager-looking rebalances at this layer) all work.
 * - JoinGroup v4+ first joins get MEMBER_ID_REQUIRED with a fresh member id (KIP-394); the
 *   member is "pending" until it rejoins with it or its session timeout passes.
 * - Static membership (KIP-345, group.instance.id): a rejoin with an unknown member id replaces
 *   the old member id; in Stable with an unchanged selected protocol it gets the current
 *   generation and its old assignment without a rebalance. A request carrying an instance id
 *   whose current member id differs gets FENCED_INSTANCE_ID.
 * - Session timeouts remove members (and rebalance); a member with a JoinGroup in flight is kept
 *   alive until the rebalance timeout instead. Members that do not rejoin within the rebalance
 *   timeout are removed (dynamic ones; static ones keep their slot, as in Kafka). Members that
 *   never send SyncGroup after a completed join are removed after the rebalance timeout too.
 *
 * What it does not do: persist group membership (Kafka writes it to __consumer_offsets). After a
 * broker restart members get UNKNOWN_MEMBER_ID on their next heartbeat and rejoin — one extra
 * rebalance, no lost offsets (committed offsets are durable in the engine). Committed offsets
 * themselves are stored by the OffsetCommit handler; this module only validates the
 * (generation, member) a commit carries: see validateCommit().
 *
 * Cost: per group O(members) objects; one clock timer per member (re-armed lazily, not on every
 * heartbeat) plus at most two per group (join deadline, sync deadline).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../core/clock.js';
import { KafkaError } from './error-codes.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinProtocol {
  name: string;
  metadata: Uint8Array;
}

export interface JoinGroupRequest {
  groupId: string;
  /** Session timeout (ms). */
  sessionTimeoutMs: number;
  /** Rebalance timeout (ms); v0 requests have none: pass the session timeout. */
  rebalanceTimeoutMs: number;
  /** '' for a first join. */
  memberId: string;
  groupInstanceId?: string | null | undefined;
  protocolType: string;
  protocols: readonly JoinProtocol[];
  clientId: string;
  clientHost: string;
  /** True for JoinGroup v4+: a first join is answered MEMBER_ID_REQUIRED (KIP-394). */
  requireKnownMemberId: boolean;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Uint8Array;
}

export interface JoinGroupResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** Every member's metadata for the selected protocol; only for the leader. */
  members: JoinGroupMember[];
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null | undefined;
  /** v5+: checked against the group when given. */
  protocolType?: string | null | undefined;
  protocolName?: string | null | undefined;
  /** Only the leader sends assignments. */
  assignments: readonly { memberId: string; assignment: Uint8Array }[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Uint8Array;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null | undefined;
}

export interface LeaveMember {
  memberId: string;
  groupInstanceId?: string | null | undefined;
}

export interface LeaveGroupResult {
  /** Top-level error (group-wide problems). */
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface DescribedMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Metadata for the selected protocol; empty unless the group is Stable (as in Kafka). */
  metadata: Uint8Array;
  /** Empty unless the group is Stable. */
  assignment: Uint8Array;
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  state: GroupState;
  protocolType: string;
  /** Selected protocol, '' unless Stable. */
  protocolData: string;
  members: DescribedMember[];
}

export interface GroupCoordinatorOptions {
  clock: Clock;
  /** Kafka's group.min.session.timeout.ms (default 6000). */
  minSessionTimeoutMs?: number;
  /** Kafka's group.max.session.timeout.ms (default 1800000). */
  maxSessionTimeoutMs?: number;
  /**
   * Kafka's group.initial.rebalance.delay.ms: how long the first rebalance of an empty group
   * waits for more members. Kafka defaults to 3000; we default to 0 — on a single broker used by
   * tests and small deployments a 3 s wait on every fresh group costs more than the extra
   * rebalance it saves when consumers start a few ms apart.
   */
  initialRebalanceDelayMs?: number;
  /** Kafka's group.max.size (default unlimited). */
  maxGroupSize?: number;
}

const EMPTY = new Uint8Array(0);

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: JoinProtocol[];
  assignment: Uint8Array;
  joinWaiter: ((r: JoinGroupResult) => void) | undefined;
  syncWaiter: ((r: SyncGroupResult) => void) | undefined;
  /** Session deadline; the timer re-arms itself when a heartbeat moved it. */
  deadline: number;
  cancelTimer: (() => void) | undefined;
  isNew: boolean;
}

class GroupData {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** groupInstanceId → memberId */
  readonly staticMembers = new Map<string, string>();
  /** MEMBER_ID_REQUIRED ids handed out and not yet used: memberId → cancel its expiry timer. */
  readonly pending = new Map<string, () => void>();
  /** Members that got a JoinGroup response for this generation but have not sent SyncGroup. */
  readonly pendingSync = new Set<string>();
  cancelJoinTimer: (() => void) | undefined;
  cancelSyncTimer: (() => void) | undefined;
  /** Initial delayed join: the rebalance completes no earlier than this (ms); 0 = no delay. */
  delayUntil = 0;
  joinDeadline = 0;
  constructor(readonly groupId: string) {}
}

function sameProtocols(a: readonly JoinProtocol[], b: readonly JoinProtocol[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name || !Buffer.from(x.metadata).equals(Buffer.from(y.metadata))) return false;
  }
  return true;
}

function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
}

function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class GroupCoordinator {
  readonly #clock: Clock;
  readonly #minSession: number;
  readonly #maxSession: number;
  readonly #initialDelay: number;
  readonly #maxSize: number;
  readonly #groups = new Map<string, GroupData>();
  /**
   * Group ids that have (or had) committed offsets without ever joining (simple consumers,
   * kafka-python's manual assign + commit): listed and deletable like Kafka lists them (Empty).
   */
  readonly #offsetOnly = new Set<string>();
  #closed = false;

  constructor(opts: GroupCoordinatorOptions) {
    this.#clock = opts.clock;
    this.#minSession = opts.minSessionTimeoutMs ?? 6000;
    this.#maxSession = opts.maxSessionTimeoutMs ?? 1_800_000;
    this.#initialDelay = opts.initialRebalanceDelayMs ?? 0;
    this.#maxSize = opts.maxGroupSize ?? Number.MAX_SAFE_INTEGER;
  }

  // ---------------------------------------------------------------------------------------------
  // JoinGroup
  // ---------------------------------------------------------------------------------------------

  joinGroup(req: JoinGroupRequest): Promise<JoinGroupResult> {
    const instanceId = req.groupInstanceId ?? null;
    if (this.#closed) return Promise.resolve(joinError(req.memberId, KafkaError.COORDINATOR_NOT_AVAILABLE));
    if (req.groupId === '') return Promise.resolve(joinError(req.memberId, KafkaError.INVALID_GROUP_ID));
    if (req.sessionTimeoutMs < this.#minSession || req.sessionTimeoutMs > this.#maxSession) {
      return Promise.resolve(joinError(req.memberId, KafkaError.INVALID_SESSION_TIMEOUT));
    }
    let g = this.#groups.get(req.groupId);
    if (!g) {
      // A known member id for a group we do not have: the group was deleted or the broker
      // restarted. Kafka answers UNKNOWN_MEMBER_ID so the client resets its id and rejoins.
      if (req.memberId !== '' && instanceId === null) return Promise.resolve(joinError(req.memberId, KafkaError.UNKNOWN_MEMBER_ID));
      g = new GroupData(req.groupId);
      this.#groups.set(req.groupId, g);
    }
    if (!this.#supportsProtocols(g, req.protocolType, req.protocols)) {
      return Promise.resolve(joinError(req.memberId, KafkaError.INCONSISTENT_GROUP_PROTOCOL));
    }
    return new Promise<JoinGroupResult>((resolve) => {
      if (req.memberId === '') this.#joinUnknown(g, req, instanceId, resolve);
      else this.#joinKnown(g, req, instanceId, resolve);
    });
  }

  #supportsProtocols(g: GroupData, protocolType: string, protocols: readonly JoinProtocol[]): boolean {
    if (g.members.size === 0) return protocolType !== '' && protocols.length > 0;
    if (g.protocolType !== protocolType) return false;
    const candidates = this.#candidates(g);
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Protocol names every current member supports. */
  #candidates(g: GroupData): Set<string> {
    let set: Set<string> | undefined;
    for (const m of g.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      if (!set) set = names;
      else for (const n of set) if (!names.has(n)) set.delete(n);
    }
    return set ?? new Set();
  }

  /** Kafka's selectProtocol: each member votes for its most preferred candidate; most votes wins. */
  #selectProtocol(g: GroupData): string | null {
    const candidates = this.#candidates(g);
    const votes = new Map<string, number>();
    for (const m of g.members.values()) {
      const pick = m.protocols.find((p) => candidates.has(p.name));
      if (pick) votes.set(pick.name, (votes.get(pick.name) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  #joinUnknown(g: GroupData, req: JoinGroupRequest, instanceId: string | null, resolve: (r: JoinGroupResult) => void): void {
    if (g.state === 'Dead') {
      resolve(joinError('', KafkaError.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    const newId = `${instanceId ?? req.clientId}-${randomUUID()}`;
    if (instanceId !== null) {
      const oldId = g.staticMembers.get(instanceId);
      if (oldId !== undefined && g.members.has(oldId)) {
        this.#replaceStaticMember(g, req, instanceId, oldId, newId, resolve);
        return;
      }
      // A new static member: no MEMBER_ID_REQUIRED round trip (KIP-394 exempts static members).
      this.#addMemberAndRebalance(g, req, newId, instanceId, resolve);
      return;
    }
    if (g.members.size + g.pending.size >= this.#maxSize) {
      resolve(joinError('', KafkaError.GROUP_MAX_SIZE_REACHED));
      return;
    }
    if (req.requireKnownMemberId) {
      // KIP-394: hand out the id first so a client that times out and retries does not leave a
      // ghost member behind that blocks every rebalance until its session expires.
      const cancel = this.#clock.setTimer(req.sessionTimeoutMs, () => {
        if (g.pending.delete(newId) && g.state === 'PreparingRebalance') this.#maybeCompleteJoin(g);
      });
      g.pending.set(newId, cancel);
      resolve(joinError(newId, KafkaError.MEMBER_ID_REQUIRED));
      return;
    }
    this.#addMemberAndRebalance(g, req, newId, null, resolve);
  }

  #joinKnown(g: GroupData, req: JoinGroupRequest, instanceId: string | null, resolve: (r: JoinGroupResult) => void): void {
    const id = req.memberId;
    if (g.state === 'Dead') {
      resolve(joinError(id, KafkaError.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    const pendingCancel = g.pending.get(id);
    if (pendingCancel) {
      pendingCancel();
      g.pending.delete(id);
      this.#addMemberAndRebalance(g, req, id, instanceId, resolve);
      return;
    }
    if (this.#fenced(g, id, instanceId)) {
      resolve(joinError(id, KafkaError.FENCED_INSTANCE_ID));
      return;
    }
    const m = g.members.get(id);
    if (!m) {
      resolve(joinError(id, KafkaError.UNKNOWN_MEMBER_ID));
      return;
    }
    switch (g.state) {
      case 'PreparingRebalance':
        this.#updateMemberAndRebalance(g, m, req, resolve);
        return;
      case 'CompletingRebalance':
        if (sameProtocols(m.protocols, req.protocols)) {
          // The member lost our JoinGroup response: answer it again for the current generation.
          this.#touch(g, m);
          resolve(this.#joinResult(g, m));
        } else this.#updateMemberAndRebalance(g, m, req, resolve);
        return;
      case 'Stable':
        if (g.leaderId === id || !sameProtocols(m.protocols, req.protocols)) {
          // The leader rejoining means "my view of the topics changed": always rebalance.
          this.#updateMemberAndRebalance(g, m, req, resolve);
        } else {
          this.#touch(g, m);
          resolve({ ...this.#joinResult(g, m), members: [] });
        }
        return;
      case 'Empty':
        // A member id we know in an Empty group cannot exist (Empty means no members).
        resolve(joinError(id, KafkaError.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  /** True when the request carries an instance id now owned by a different member id. */
  #fenced(g: GroupData, memberId: string, instanceId: string | null): boolean {
    if (instanceId === null) return false;
    const current = g.staticMembers.get(instanceId);
    return current !== undefined && current !== memberId;
  }

  #replaceStaticMember(g: GroupData, req: JoinGroupRequest, instanceId: string, oldId: string, newId: string, resolve: (r: JoinGroupResult) => void): void {
    const m = g.members.get(oldId)!;
    const oldLeader = g.leaderId;
    // The old incarnation is fenced: answer its outstanding requests so it learns it.
    const jw = m.joinWaiter;
    const sw = m.syncWaiter;
    m.joinWaiter = undefined;
    m.syncWaiter = undefined;
    jw?.(joinError(oldId, KafkaError.FENCED_INSTANCE_ID));
    sw?.(syncError(KafkaError.FENCED_INSTANCE_ID));
    g.members.delete(oldId);
    m.memberId = newId;
    g.members.set(newId, m);
    g.staticMembers.set(instanceId, newId);
    if (g.leaderId === oldId) g.leaderId = newId;
    if (g.pendingSync.delete(oldId)) g.pendingSync.add(newId);
    m.clientId = req.clientId;
    m.clientHost = req.clientHost;
    m.sessionTimeoutMs = req.sessionTimeoutMs;
    m.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    m.protocols = [...req.protocols];
    this.#touch(g, m);
    switch (g.state) {
      case 'Stable':
        if (this.#selectProtocol(g) === g.protocolName) {
          // No rebalance: the member keeps its assignment. The old leader id is returned so a
          // restarted leader does not compute an assignment a Stable group would never send.
          resolve({ ...this.#joinResult(g, m), leader: oldLeader ?? '', members: [] });
        } else {
          m.joinWaiter = resolve;
          this.#prepareRebalance(g);
        }
        return;
      case 'CompletingRebalance':
        // The leader may already be assigning with the old member id: start over.
        m.joinWaiter = resolve;
        this.#prepareRebalance(g);
        return;
      default:
        m.joinWaiter = resolve;
        this.#maybeCompleteJoin(g);
    }
  }

  #addMemberAndRebalance(g: GroupData, req: JoinGroupRequest, memberId: string, instanceId: string | null, resolve: (r: JoinGroupResult) => void): void {
    const m: Member = {
      memberId,
      groupInstanceId: instanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: [...req.protocols],
      assignment: EMPTY,
      joinWaiter: resolve,
      syncWaiter: undefined,
      deadline: 0,
      cancelTimer: undefined,
      isNew: true,
    };
    if (g.members.size === 0) g.protocolType = req.protocolType;
    g.members.set(memberId, m);
    if (instanceId !== null) g.staticMembers.set(instanceId, memberId);
    if (g.leaderId === null) g.leaderId = memberId;
    this.#touch(g, m);
    if (g.state === 'PreparingRebalance') {
      if (g.delayUntil > 0) this.#extendInitialDelay(g);
      this.#maybeCompleteJoin(g);
    } else this.#prepareRebalance(g);
  }

  #updateMemberAndRebalance(g: GroupData, m: Member, req: JoinGroupRequest, resolve: (r: JoinGroupResult) => void): void {
    m.protocols = [...req.protocols];
    m.sessionTimeoutMs = req.sessionTimeoutMs;
    m.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    m.clientId = req.clientId;
    m.clientHost = req.clientHost;
    const old = m.joinWaiter;
    m.joinWaiter = resolve;
    // A duplicate JoinGroup (the client retried): the earlier request's connection is most likely
    // gone; answering it REBALANCE_IN_PROGRESS makes a live one simply join again.
    old?.(joinError(m.memberId, KafkaError.REBALANCE_IN_PROGRESS));
    this.#touch(g, m);
    if (g.state === 'PreparingRebalance') this.#maybeCompleteJoin(g);
    else this.#prepareRebalance(g);
  }

  #joinResult(g: GroupData, m: Member): JoinGroupResult {
    const isLeader = g.leaderId === m.memberId;
    const members: JoinGroupMember[] = [];
    if (isLeader) {
      for (const x of g.members.values()) {
        const p = x.protocols.find((q) => q.name === g.protocolName);
        members.push({ memberId: x.memberId, groupInstanceId: x.groupInstanceId, metadata: p?.metadata ?? EMPTY });
      }
    }
    return {
      errorCode: KafkaError.NONE,
      generationId: g.generationId,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leader: g.leaderId ?? '',
      memberId: m.memberId,
      members,
    };
  }

  #prepareRebalance(g: GroupData): void {
    if (g.state === 'CompletingRebalance') {
      // The assignment being computed is void: tell the members waiting in SyncGroup.
      for (const m of g.members.values()) {
        m.assignment = EMPTY;
        const w = m.syncWaiter;
        m.syncWaiter = undefined;
        w?.(syncError(KafkaError.REBALANCE_IN_PROGRESS));
      }
    }
    g.cancelSyncTimer?.();
    g.cancelSyncTimer = undefined;
    g.pendingSync.clear();
    const wasEmpty = g.state === 'Empty';
    g.state = 'PreparingRebalance';
    let timeout = 0;
    for (const m of g.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs);
    const now = this.#clock.now();
    g.joinDeadline = now + timeout;
    g.cancelJoinTimer?.();
    if (wasEmpty && this.#initialDelay > 0) {
      g.delayUntil = Math.min(now + this.#initialDelay, g.joinDeadline);
      g.cancelJoinTimer = this.#clock.setTimer(g.delayUntil - now, () => this.#onJoinTimer(g));
    } else {
      g.delayUntil = 0;
      g.cancelJoinTimer = this.#clock.setTimer(timeout, () => this.#onJoinTimer(g));
    }
    this.#maybeCompleteJoin(g);
  }

  #extendInitialDelay(g: GroupData): void {
    const now = this.#clock.now();
    const next = Math.min(now + this.#initialDelay, g.joinDeadline);
    if (next <= g.delayUntil) return;
    g.delayUntil = next;
    g.cancelJoinTimer?.();
    g.cancelJoinTimer = this.#clock.setTimer(next - now, () => this.#onJoinTimer(g));
  }

  #onJoinTimer(g: GroupData): void {
    g.cancelJoinTimer = undefined;
    if (g.state !== 'PreparingRebalance' || this.#groups.get(g.groupId) !== g) return;
    const now = this.#clock.now();
    if (g.delayUntil > 0 && now < g.joinDeadline) {
      // The initial delay is over: complete now if everyone is in, else wait for the stragglers
      // up to the rebalance timeout.
      g.delayUntil = 0;
      if (this.#allJoined(g)) {
        this.#completeJoin(g);
        return;
      }
      g.cancelJoinTimer = this.#clock.setTimer(g.joinDeadline - now, () => this.#onJoinTimer(g));
      return;
    }
    g.delayUntil = 0;
    this.#completeJoin(g);
  }

  #allJoined(g: GroupData): boolean {
    if (g.pending.size > 0) return false;
    for (const m of g.members.values()) if (!m.joinWaiter) return false;
    return true;
  }

  #maybeCompleteJoin(g: GroupData): void {
    if (g.state !== 'PreparingRebalance' || g.delayUntil > 0) return;
    if (this.#allJoined(g)) this.#completeJoin(g);
  }

  #completeJoin(g: GroupData): void {
    g.cancelJoinTimer?.();
    g.cancelJoinTimer = undefined;
    // Dynamic members that did not rejoin in time are gone; static ones keep their slot (Kafka).
    for (const m of [...g.members.values()]) {
      if (!m.joinWaiter && m.groupInstanceId === null) this.#dropMember(g, m);
    }
    if (g.leaderId === null || !g.members.get(g.leaderId)?.joinWaiter) {
      g.leaderId = null;
      for (const m of g.members.values()) {
        if (m.joinWaiter) {
          g.leaderId = m.memberId;
          break;
        }
      }
      if (g.leaderId === null) g.leaderId = g.members.keys().next().value ?? null;
    }
    g.generationId++;
    if (g.members.size === 0) {
      g.state = 'Empty';
      g.protocolName = null;
      g.protocolType = null;
      g.leaderId = null;
      return;
    }
    g.protocolName = this.#selectProtocol(g);
    g.state = 'CompletingRebalance';
    let syncTimeout = 0;
    for (const m of g.members.values()) {
      m.isNew = false;
      syncTimeout = Math.max(syncTimeout, m.rebalanceTimeoutMs);
      const w = m.joinWaiter;
      m.joinWaiter = undefined;
      this.#touch(g, m);
      if (w) {
        g.pendingSync.add(m.memberId);
        w(this.#joinResult(g, m));
      }
    }
    const gen = g.generationId;
    g.cancelSyncTimer = this.#clock.setTimer(syncTimeout, () => {
      g.cancelSyncTimer = undefined;
      // KIP-814-style pending-sync expiry (Kafka 3.2+): members that got their JoinGroup response
      // but never synced are removed so the others are not stuck waiting for the leader.
      if (g.generationId !== gen || g.pendingSync.size === 0) return;
      if (g.state !== 'CompletingRebalance' && g.state !== 'Stable') return;
      for (const id of [...g.pendingSync]) {
        const m = g.members.get(id);
        if (m) this.#dropMember(g, m);
      }
      g.pendingSync.clear();
      this.#afterRemoval(g);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // SyncGroup
  // ---------------------------------------------------------------------------------------------

  syncGroup(req: SyncGroupRequest): Promise<SyncGroupResult> {
    const g = this.#groups.get(req.groupId);
    if (this.#closed) return Promise.resolve(syncError(KafkaError.COORDINATOR_NOT_AVAILABLE));
    if (!g) return Promise.resolve(syncError(KafkaError.UNKNOWN_MEMBER_ID));
    if (g.state === 'Dead') return Promise.resolve(syncError(KafkaError.COORDINATOR_NOT_AVAILABLE));
    const instanceId = req.groupInstanceId ?? null;
    if (this.#fenced(g, req.memberId, instanceId)) return Promise.resolve(syncError(KafkaError.FENCED_INSTANCE_ID));
    const m = g.members.get(req.memberId);
    if (!m) return Promise.resolve(syncError(KafkaError.UNKNOWN_MEMBER_ID));
    if (req.generationId !== g.generationId) return Promise.resolve(syncError(KafkaError.ILLEGAL_GENERATION));
    if ((req.protocolType != null && req.protocolType !== g.protocolType) || (req.protocolName != null && req.protocolName !== g.protocolName)) {
      return Promise.resolve(syncError(KafkaError.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (g.state) {
      case 'Empty':
        return Promise.resolve(syncError(KafkaError.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(KafkaError.REBALANCE_IN_PROGRESS));
      case 'Stable':
        g.pendingSync.delete(m.memberId);
        this.#touch(g, m);
        return Promise.resolve(this.#syncResult(g, m));
      case 'CompletingRebalance':
        break;
    }
    g.pendingSync.delete(m.memberId);
    this.#touch(g, m);
    return new Promise<SyncGroupResult>((resolve) => {
      const old = m.syncWaiter;
      m.syncWaiter = resolve;
      old?.(syncError(KafkaError.REBALANCE_IN_PROGRESS));
      if (g.leaderId !== m.memberId) return;
      const byId = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
      for (const x of g.members.values()) x.assignment = byId.get(x.memberId) ?? EMPTY;
      g.state = 'Stable';
      for (const x of g.members.values()) {
        const w = x.syncWaiter;
        x.syncWaiter = undefined;
        w?.(this.#syncResult(g, x));
      }
    });
  }

  #syncResult(g: GroupData, m: Member): SyncGroupResult {
    return { errorCode: KafkaError.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment };
  }

  // ---------------------------------------------------------------------------------------------
  // Heartbeat
  // ---------------------------------------------------------------------------------------------

  heartbeat(req: HeartbeatRequest): number {
    if (this.#closed) return KafkaError.COORDINATOR_NOT_AVAILABLE;
    const g = this.#groups.get(req.groupId);
    if (!g) return KafkaError.UNKNOWN_MEMBER_ID;
    if (g.state === 'Dead') return KafkaError.COORDINATOR_NOT_AVAILABLE;
    if (this.#fenced(g, req.memberId, req.groupInstanceId ?? null)) return KafkaError.FENCED_INSTANCE_ID;
    const m = g.members.get(req.memberId);
    if (!m) return KafkaError.UNKNOWN_MEMBER_ID;
    if (req.generationId !== g.generationId) return KafkaError.ILLEGAL_GENERATION;
    switch (g.state) {
      case 'Empty':
        return KafkaError.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.#touch(g, m);
        return KafkaError.REBALANCE_IN_PROGRESS;
      default:
        this.#touch(g, m);
        return KafkaError.NONE;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // LeaveGroup
  // ---------------------------------------------------------------------------------------------

  leaveGroup(groupId: string, leaving: readonly LeaveMember[]): LeaveGroupResult {
    if (this.#closed) return { errorCode: KafkaError.COORDINATOR_NOT_AVAILABLE, members: [] };
    const g = this.#groups.get(groupId);
    const out: LeaveGroupResult = { errorCode: KafkaError.NONE, members: [] };
    if (!g || g.state === 'Dead') {
      for (const l of leaving) out.members.push({ memberId: l.memberId, groupInstanceId: l.groupInstanceId ?? null, errorCode: KafkaError.UNKNOWN_MEMBER_ID });
      return out;
    }
    let removed = false;
    for (const l of leaving) {
      const instanceId = l.groupInstanceId ?? null;
      let code: number = KafkaError.NONE;
      if (instanceId !== null) {
        const current = g.staticMembers.get(instanceId);
        if (current === undefined || !g.members.has(current)) code = KafkaError.UNKNOWN_MEMBER_ID;
        else if (l.memberId !== '' && l.memberId !== current) code = KafkaError.FENCED_INSTANCE_ID;
        else {
          this.#dropMember(g, g.members.get(current)!);
          removed = true;
        }
      } else {
        const cancel = g.pending.get(l.memberId);
        const m = g.members.get(l.memberId);
        if (cancel) {
          cancel();
          g.pending.delete(l.memberId);
          removed = true;
        } else if (!m) code = KafkaError.UNKNOWN_MEMBER_ID;
        else {
          this.#dropMember(g, m);
          removed = true;
        }
      }
      out.members.push({ memberId: l.memberId, groupInstanceId: instanceId, errorCode: code });
    }
    if (removed) this.#afterRemoval(g);
    return out;
  }

  /** Removes a member's state; the caller decides about the rebalance (see #afterRemoval). */
  #dropMember(g: GroupData, m: Member): void {
    m.cancelTimer?.();
    m.cancelTimer = undefined;
    g.members.delete(m.memberId);
    g.pendingSync.delete(m.memberId);
    if (m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === m.memberId) g.staticMembers.delete(m.groupInstanceId);
    if (g.leaderId === m.memberId) g.leaderId = null;
    const jw = m.joinWaiter;
    const sw = m.syncWaiter;
    m.joinWaiter = undefined;
    m.syncWaiter = undefined;
    jw?.(joinError(m.memberId, KafkaError.UNKNOWN_MEMBER_ID));
    sw?.(syncError(KafkaError.UNKNOWN_MEMBER_ID));
  }

  #afterRemoval(g: GroupData): void {
    switch (g.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.#prepareRebalance(g);
        return;
      case 'PreparingRebalance':
        this.#maybeCompleteJoin(g);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Session timeouts
  // ---------------------------------------------------------------------------------------------

  /** Pushes a member's session deadline out (any request from it counts as a heartbeat). */
  #touch(g: GroupData, m: Member): void {
    m.deadline = this.#clock.now() + m.sessionTimeoutMs;
    if (m.cancelTimer) return;
    this.#armSession(g, m);
  }

  #armSession(g: GroupData, m: Member): void {
    const wait = Math.max(0, m.deadline - this.#clock.now());
    m.cancelTimer = this.#clock.setTimer(wait, () => {
      m.cancelTimer = undefined;
      if (g.members.get(m.memberId) !== m || this.#groups.get(g.groupId) !== g) return;
      const now = this.#clock.now();
      if (now < m.deadline) {
        this.#armSession(g, m);
        return;
      }
      if (m.joinWaiter) {
        // Kafka keeps a member waiting in JoinGroup alive: the rebalance timeout governs it.
        m.deadline = now + m.sessionTimeoutMs;
        this.#armSession(g, m);
        return;
      }
      this.#dropMember(g, m);
      this.#afterRemoval(g);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets, describe, list, delete
  // ---------------------------------------------------------------------------------------------

  /**
   * Kafka's checks before an OffsetCommit (GroupCoordinator.doCommitOffsets): returns the error
   * code for every partition of the request, NONE when the commit may be stored. A commit with
   * generation < 0 to a group without members is a "simple" commit (no group management).
   */
  validateCommit(groupId: string, generationId: number, memberId: string, groupInstanceId?: string | null): number {
    if (this.#closed) return KafkaError.COORDINATOR_NOT_AVAILABLE;
    if (groupId === '') return KafkaError.INVALID_GROUP_ID;
    const g = this.#groups.get(groupId);
    if (!g) {
      if (generationId < 0) {
        this.#offsetOnly.add(groupId);
        return KafkaError.NONE;
      }
      return KafkaError.ILLEGAL_GENERATION;
    }
    if (g.state === 'Dead') return KafkaError.COORDINATOR_NOT_AVAILABLE;
    if (this.#fenced(g, memberId, groupInstanceId ?? null)) return KafkaError.FENCED_INSTANCE_ID;
    if (generationId < 0 && g.state === 'Empty') {
      this.#offsetOnly.add(groupId);
      return KafkaError.NONE;
    }
    if (g.state === 'CompletingRebalance') return KafkaError.REBALANCE_IN_PROGRESS;
    const m = g.members.get(memberId);
    if (!m) return KafkaError.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generationId) return KafkaError.ILLEGAL_GENERATION;
    this.#touch(g, m);
    return KafkaError.NONE;
  }

  /** Records that a group has committed offsets (e.g. found on startup) so it is listed. */
  noteOffsetGroup(groupId: string): void {
    if (groupId !== '') this.#offsetOnly.add(groupId);
  }

  describeGroup(groupId: string): DescribedGroup {
    const g = this.#groups.get(groupId);
    if (!g) {
      if (this.#offsetOnly.has(groupId)) return { errorCode: KafkaError.NONE, groupId, state: 'Empty', protocolType: '', protocolData: '', members: [] };
      return { errorCode: KafkaError.NONE, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    }
    const stable = g.state === 'Stable';
    const members: DescribedMember[] = [];
    for (const m of g.members.values()) {
      members.push({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? (m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? EMPTY) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      });
    }
    return {
      errorCode: KafkaError.NONE,
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? (g.protocolName ?? '') : '',
      members,
    };
  }

  /** Every group (with members or committed offsets), optionally filtered by state name. */
  listGroups(states?: readonly string[]): { groupId: string; protocolType: string; state: GroupState }[] {
    const out: { groupId: string; protocolType: string; state: GroupState }[] = [];
    const want = states && states.length > 0 ? new Set(states.map((s) => s.toLowerCase())) : undefined;
    for (const g of this.#groups.values()) {
      if (!want || want.has(g.state.toLowerCase())) out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    }
    for (const id of this.#offsetOnly) {
      if (this.#groups.has(id)) continue;
      if (!want || want.has('empty')) out.push({ groupId: id, protocolType: '', state: 'Empty' });
    }
    return out;
  }

  /**
   * DeleteGroups for one group: GROUP_ID_NOT_FOUND if unknown, NON_EMPTY_GROUP while it has
   * members. The caller deletes the committed offsets when this returns NONE.
   */
  deleteGroup(groupId: string): number {
    if (this.#closed) return KafkaError.COORDINATOR_NOT_AVAILABLE;
    if (groupId === '') return KafkaError.INVALID_GROUP_ID;
    const g = this.#groups.get(groupId);
    if (!g) return this.#offsetOnly.delete(groupId) ? KafkaError.NONE : KafkaError.GROUP_ID_NOT_FOUND;
    if (g.state === 'Dead') return KafkaError.GROUP_ID_NOT_FOUND;
    if (g.state !== 'Empty' || g.members.size > 0) return KafkaError.NON_EMPTY_GROUP;
    this.#kill(g);
    this.#offsetOnly.delete(groupId);
    return KafkaError.NONE;
  }

  #kill(g: GroupData): void {
    g.state = 'Dead';
    g.cancelJoinTimer?.();
    g.cancelSyncTimer?.();
    for (const cancel of g.pending.values()) cancel();
    g.pending.clear();
    for (const m of [...g.members.values()]) this.#dropMember(g, m);
    this.#groups.delete(g.groupId);
  }

  /** Current state of a group ('Dead' if unknown); for tests and metrics. */
  stateOf(groupId: string): GroupState {
    return this.#groups.get(groupId)?.state ?? (this.#offsetOnly.has(groupId) ? 'Empty' : 'Dead');
  }

  generationOf(groupId: string): number {
    return this.#groups.get(groupId)?.generationId ?? -1;
  }

  /** Answers every waiting request COORDINATOR_NOT_AVAILABLE and cancels every timer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const g of [...this.#groups.values()]) {
      for (const m of g.members.values()) {
        const jw = m.joinWaiter;
        const sw = m.syncWaiter;
        m.joinWaiter = undefined;
        m.syncWaiter = undefined;
        jw?.(joinError(m.memberId, KafkaError.COORDINATOR_NOT_AVAILABLE));
        sw?.(syncError(KafkaError.COORDINATOR_NOT_AVAILABLE));
      }
      this.#kill(g);
    }
  }
}
