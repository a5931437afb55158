/** The consumer-group state machine with a ManualClock: transitions, timeouts and error codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { GroupCoordinator, type JoinGroupRequest, type JoinGroupResult } from '../../../src/protocols/kafka/server/group-coordinator.js';
import { KafkaError as E } from '../../../src/protocols/kafka/server/error-codes.js';

const meta = (s: string) => Buffer.from(s);

function req(over: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: meta('m') }],
    clientId: 'c',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    ...over,
  };
}

/** Lets resolved promises run. */
const tick = () => new Promise<void>((r) => setImmediate(r));

async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  let v: T | 'pending' = 'pending';
  void p.then((x) => (v = x));
  await tick();
  return v;
}

function setup(opts: Partial<ConstructorParameters<typeof GroupCoordinator>[0]> = {}) {
  const clock = new ManualClock();
  const gc = new GroupCoordinator({ clock, ...opts });
  return { clock, gc };
}

/** Joins and syncs two dynamic members; returns their ids and the generation. */
async function stableTwo(gc: GroupCoordinator) {
  const a = await gc.joinGroup(req({ clientId: 'a' }));
  assert.equal(a.errorCode, E.NONE);
  assert.equal(a.generationId, 1);
  await gc.syncGroup({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [{ memberId: a.memberId, assignment: meta('A1') }] });
  const pb = gc.joinGroup(req({ clientId: 'b' }));
  // a learns about the rebalance from its heartbeat, rejoins.
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }), E.REBALANCE_IN_PROGRESS);
  const pa = gc.joinGroup(req({ clientId: 'a', memberId: a.memberId }));
  const [a2, b2] = await Promise.all([pa, pb]);
  assert.equal(a2.generationId, 2);
  assert.equal(b2.generationId, 2);
  assert.equal(a2.leader, a.memberId);
  assert.equal(a2.members.length, 2);
  assert.equal(b2.members.length, 0);
  const sb = gc.syncGroup({ groupId: 'g', generationId: 2, memberId: b2.memberId, assignments: [] });
  assert.equal(await settled(sb), 'pending', 'followers wait for the leader');
  const sa = await gc.syncGroup({
    groupId: 'g',
    generationId: 2,
    memberId: a.memberId,
    assignments: [
      { memberId: a.memberId, assignment: meta('A') },
      { memberId: b2.memberId, assignment: meta('B') },
    ],
  });
  assert.equal(Buffer.from(sa.assignment).toString(), 'A');
  assert.equal(Buffer.from((await sb).assignment).toString(), 'B');
  assert.equal(gc.stateOf('g'), 'Stable');
  return { a: a.memberId, b: b2.memberId, gen: 2 };
}

test('first join: Empty → CompletingRebalance → Stable; the leader gets every member', async () => {
  const { gc } = setup();
  assert.equal(gc.stateOf('g'), 'Dead');
  const r = await gc.joinGroup(req());
  assert.equal(r.errorCode, E.NONE);
  assert.equal(r.leader, r.memberId);
  assert.equal(r.protocolName, 'range');
  assert.equal(r.protocolType, 'consumer');
  assert.deepEqual(r.members.map((m) => m.memberId), [r.memberId]);
  assert.match(r.memberId, /^c-[0-9a-f-]{36}$/);
  assert.equal(gc.stateOf('g'), 'CompletingRebalance');
  const s = await gc.syncGroup({ groupId: 'g', generationId: r.generationId, memberId: r.memberId, assignments: [{ memberId: r.memberId, assignment: meta('x') }] });
  assert.equal(s.errorCode, E.NONE);
  assert.equal(Buffer.from(s.assignment).toString(), 'x');
  assert.equal(gc.stateOf('g'), 'Stable');
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 1, memberId: r.memberId }), E.NONE);
});

test('a second member triggers a rebalance; followers wait in SyncGroup for the leader', async () => {
  const { gc } = setup();
  await stableTwo(gc);
});

test('v4+ first join: MEMBER_ID_REQUIRED with an id, then the rejoin with it succeeds', async () => {
  const { gc, clock } = setup();
  const r1 = await gc.joinGroup(req({ requireKnownMemberId: true }));
  assert.equal(r1.errorCode, E.MEMBER_ID_REQUIRED);
  assert.notEqual(r1.memberId, '');
  assert.equal(r1.generationId, -1);
  const r2 = await gc.joinGroup(req({ requireKnownMemberId: true, memberId: r1.memberId }));
  assert.equal(r2.errorCode, E.NONE);
  assert.equal(r2.memberId, r1.memberId);
  // A pending id that is never used expires after the session timeout.
  const r3 = await gc.joinGroup(req({ requireKnownMemberId: true, clientId: 'z' }));
  assert.equal(r3.errorCode, E.MEMBER_ID_REQUIRED);
  clock.advance(10_001);
  const r4 = await gc.joinGroup(req({ requireKnownMemberId: true, memberId: r3.memberId }));
  assert.equal(r4.errorCode, E.UNKNOWN_MEMBER_ID);
});

test('a pending MEMBER_ID_REQUIRED member holds the rebalance until it joins', async () => {
  const { gc } = setup();
  const { a, b } = await stableTwo(gc);
  const c1 = await gc.joinGroup(req({ requireKnownMemberId: true, clientId: 'c' }));
  assert.equal(c1.errorCode, E.MEMBER_ID_REQUIRED);
  assert.equal(gc.stateOf('g'), 'Stable', 'handing out an id does not rebalance');
  const pc = gc.joinGroup(req({ requireKnownMemberId: true, memberId: c1.memberId }));
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  const pa = gc.joinGroup(req({ memberId: a }));
  const pb = gc.joinGroup(req({ memberId: b }));
  const rs = await Promise.all([pa, pb, pc]);
  for (const r of rs) assert.equal(r.generationId, 3);
  assert.equal(rs[0].members.length, 3);
});

test('protocol selection: only protocols all members support; votes by preference', async () => {
  const { gc } = setup();
  const p = (...names: string[]) => names.map((name) => ({ name, metadata: meta(name) }));
  const a = await gc.joinGroup(req({ protocols: p('cooperative-sticky', 'range') }));
  assert.equal(a.protocolName, 'cooperative-sticky');
  const pb = gc.joinGroup(req({ protocols: p('range', 'roundrobin') }));
  const pa = gc.joinGroup(req({ memberId: a.memberId, protocols: p('cooperative-sticky', 'range') }));
  const [a2, b2] = await Promise.all([pa, pb]);
  assert.equal(a2.protocolName, 'range');
  assert.equal(b2.protocolName, 'range');
  assert.equal(Buffer.from(a2.members.find((m) => m.memberId === b2.memberId)!.metadata).toString(), 'range', 'the leader sees the metadata of the selected protocol');
  const bad = await gc.joinGroup(req({ protocols: p('roundrobin') }));
  assert.equal(bad.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  const badType = await gc.joinGroup(req({ protocolType: 'connect' }));
  assert.equal(badType.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  const { gc: gc2 } = setup();
  assert.equal((await gc2.joinGroup(req({ protocols: [] }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await gc2.joinGroup(req({ protocolType: '' }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
});

test('request validation: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT, UNKNOWN_MEMBER_ID', async () => {
  const { gc } = setup();
  assert.equal((await gc.joinGroup(req({ groupId: '' }))).errorCode, E.INVALID_GROUP_ID);
  assert.equal((await gc.joinGroup(req({ sessionTimeoutMs: 10 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  assert.equal((await gc.joinGroup(req({ sessionTimeoutMs: 2_000_000 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  assert.equal((await gc.joinGroup(req({ memberId: 'ghost' }))).errorCode, E.UNKNOWN_MEMBER_ID);
  const a = await gc.joinGroup(req());
  assert.equal((await gc.joinGroup(req({ memberId: 'ghost' }))).errorCode, E.UNKNOWN_MEMBER_ID);
  assert.equal((await gc.syncGroup({ groupId: 'g', generationId: 1, memberId: 'ghost', assignments: [] })).errorCode, E.UNKNOWN_MEMBER_ID);
  assert.equal((await gc.syncGroup({ groupId: 'nope', generationId: 1, memberId: a.memberId, assignments: [] })).errorCode, E.UNKNOWN_MEMBER_ID);
  assert.equal((await gc.syncGroup({ groupId: 'g', generationId: 7, memberId: a.memberId, assignments: [] })).errorCode, E.ILLEGAL_GENERATION);
  assert.equal((await gc.syncGroup({ groupId: 'g', generationId: 1, memberId: a.memberId, protocolType: 'x', assignments: [] })).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 1, memberId: 'ghost' }), E.UNKNOWN_MEMBER_ID);
  assert.equal(gc.heartbeat({ groupId: 'nope', generationId: 1, memberId: a.memberId }), E.UNKNOWN_MEMBER_ID);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 0, memberId: a.memberId }), E.ILLEGAL_GENERATION);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }), E.NONE, 'heartbeats in CompletingRebalance are fine');
});

test('SyncGroup during PreparingRebalance: REBALANCE_IN_PROGRESS; waiting followers are released with it', async () => {
  const { gc } = setup();
  const { a, b, gen } = await stableTwo(gc);
  // b rejoins with new metadata → rebalance; a's old-generation sync is refused.
  const pb = gc.joinGroup(req({ memberId: b, protocols: [{ name: 'range', metadata: meta('new') }] }));
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  assert.equal((await gc.syncGroup({ groupId: 'g', generationId: gen, memberId: a, assignments: [] })).errorCode, E.REBALANCE_IN_PROGRESS);
  const pa = gc.joinGroup(req({ memberId: a }));
  const [a3, b3] = await Promise.all([pa, pb]);
  assert.equal(a3.generationId, 3);
  // b waits for the leader; then c joins before the leader syncs: b gets REBALANCE_IN_PROGRESS.
  const sb = gc.syncGroup({ groupId: 'g', generationId: 3, memberId: b3.memberId, assignments: [] });
  const pc = gc.joinGroup(req({ clientId: 'c' }));
  assert.equal((await sb).errorCode, E.REBALANCE_IN_PROGRESS);
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  void pc;
});

test('OffsetCommit validation mirrors Kafka: simple commits, generations, rebalances', async () => {
  const { gc } = setup();
  assert.equal(gc.validateCommit('simple', -1, ''), E.NONE);
  assert.equal(gc.validateCommit('nogroup', 5, 'x'), E.ILLEGAL_GENERATION);
  assert.deepEqual(gc.listGroups().map((g) => [g.groupId, g.state]), [['simple', 'Empty']]);
  const a = await gc.joinGroup(req());
  assert.equal(gc.validateCommit('g', 1, a.memberId), E.REBALANCE_IN_PROGRESS, 'CompletingRebalance');
  await gc.syncGroup({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [] });
  assert.equal(gc.validateCommit('g', 1, a.memberId), E.NONE);
  assert.equal(gc.validateCommit('g', 0, a.memberId), E.ILLEGAL_GENERATION);
  assert.equal(gc.validateCommit('g', 1, 'ghost'), E.UNKNOWN_MEMBER_ID);
  assert.equal(gc.validateCommit('g', -1, ''), E.UNKNOWN_MEMBER_ID, 'a simple commit to a group with members');
  // During PreparingRebalance a member of the current generation may still commit.
  void gc.joinGroup(req({ clientId: 'b' }));
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  assert.equal(gc.validateCommit('g', 1, a.memberId), E.NONE);
});

test('session timeout: a silent member is removed and the group rebalances', async () => {
  const { gc, clock } = setup();
  const { a, b } = await stableTwo(gc);
  clock.advance(6000);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 2, memberId: a }), E.NONE);
  clock.advance(4500); // b silent for 10.5 s > 10 s
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 2, memberId: b }), E.UNKNOWN_MEMBER_ID);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 2, memberId: a }), E.REBALANCE_IN_PROGRESS);
  const a3 = await gc.joinGroup(req({ memberId: a }));
  assert.equal(a3.generationId, 3);
  assert.deepEqual(a3.members.map((m) => m.memberId), [a]);
  // The last member dying leaves the group Empty (with a new generation, as Kafka).
  await gc.syncGroup({ groupId: 'g', generationId: 3, memberId: a, assignments: [] });
  clock.advance(10_001);
  assert.equal(gc.stateOf('g'), 'Empty');
  assert.equal(gc.generationOf('g'), 4);
});

test('rebalance timeout: members that do not rejoin are dropped, the rest proceed', async () => {
  const { gc, clock } = setup();
  const { a, b } = await stableTwo(gc);
  const pa = gc.joinGroup(req({ memberId: a, rebalanceTimeoutMs: 20_000 }));
  // b keeps heartbeating (getting REBALANCE_IN_PROGRESS) but never rejoins; the group's rebalance
  // timeout is the largest of its members' (b's 30 s).
  for (let t = 0; t < 10; t++) {
    clock.advance(3000);
    gc.heartbeat({ groupId: 'g', generationId: 2, memberId: b });
  }
  const r = await pa;
  assert.equal(r.errorCode, E.NONE);
  assert.equal(r.generationId, 3);
  assert.deepEqual(r.members.map((m) => m.memberId), [a]);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 3, memberId: b }), E.UNKNOWN_MEMBER_ID);
});

test('a member waiting in JoinGroup is not expired by its session timeout', async () => {
  const { gc, clock } = setup();
  const { a, b } = await stableTwo(gc);
  const pa = gc.joinGroup(req({ memberId: a, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 60_000 }));
  for (let t = 0; t < 7; t++) {
    clock.advance(3000);
    assert.equal(gc.heartbeat({ groupId: 'g', generationId: 2, memberId: b }), E.REBALANCE_IN_PROGRESS);
  }
  assert.equal(await settled(pa), 'pending', 'a (6 s session) still waits after 21 s');
  const b3 = await gc.joinGroup(req({ memberId: b }));
  const a3 = await pa;
  assert.equal(a3.generationId, 3);
  assert.equal(b3.generationId, 3);
  assert.equal(a3.members.length, 2);
});

test('leader leaving: LeaveGroup rebalances and a new leader is chosen', async () => {
  const { gc } = setup();
  const { a, b } = await stableTwo(gc);
  const res = gc.leaveGroup('g', [{ memberId: a }]);
  assert.equal(res.errorCode, E.NONE);
  assert.deepEqual(res.members.map((m) => m.errorCode), [E.NONE]);
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  const b3 = await gc.joinGroup(req({ memberId: b }));
  assert.equal(b3.leader, b);
  assert.equal(b3.generationId, 3);
  assert.deepEqual(gc.leaveGroup('g', [{ memberId: 'ghost' }]).members.map((m) => m.errorCode), [E.UNKNOWN_MEMBER_ID]);
  assert.deepEqual(gc.leaveGroup('nope', [{ memberId: b }]).members.map((m) => m.errorCode), [E.UNKNOWN_MEMBER_ID]);
});

test('LeaveGroup v3+ batch: several members at once, per-member errors', async () => {
  const { gc } = setup();
  const { a, b } = await stableTwo(gc);
  const res = gc.leaveGroup('g', [{ memberId: a }, { memberId: 'ghost' }, { memberId: b }]);
  assert.deepEqual(res.members.map((m) => m.errorCode), [E.NONE, E.UNKNOWN_MEMBER_ID, E.NONE]);
  assert.equal(gc.stateOf('g'), 'Empty');
  assert.equal(gc.generationOf('g'), 3);
});

test('a leaving member waiting in JoinGroup lets the rebalance complete for the others', async () => {
  const { gc } = setup();
  const { a, b } = await stableTwo(gc);
  const pa = gc.joinGroup(req({ memberId: a }));
  assert.equal(await settled(pa), 'pending');
  gc.leaveGroup('g', [{ memberId: b }]);
  const r = await pa;
  assert.equal(r.generationId, 3);
  assert.deepEqual(r.members.map((m) => m.memberId), [a]);
});

test('Stable: a follower rejoining with the same metadata gets the current generation, no rebalance', async () => {
  const { gc } = setup();
  const { a, b, gen } = await stableTwo(gc);
  const r = await gc.joinGroup(req({ memberId: b }));
  assert.equal(r.generationId, gen);
  assert.equal(r.leader, a);
  assert.equal(gc.stateOf('g'), 'Stable');
  const s = await gc.syncGroup({ groupId: 'g', generationId: gen, memberId: b, assignments: [] });
  assert.equal(Buffer.from(s.assignment).toString(), 'B');
  // The leader rejoining always rebalances (topic metadata may have changed).
  void gc.joinGroup(req({ memberId: a }));
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
});

test('CompletingRebalance: a duplicate JoinGroup with the same metadata is answered again', async () => {
  const { gc } = setup();
  const a = await gc.joinGroup(req());
  const again = await gc.joinGroup(req({ memberId: a.memberId }));
  assert.equal(again.generationId, a.generationId);
  assert.equal(again.members.length, 1, 'the leader gets the members again');
  assert.equal(gc.stateOf('g'), 'CompletingRebalance');
});

test('static membership: rejoin with a new member id replaces the old one without a rebalance', async () => {
  const { gc } = setup();
  const s1 = await gc.joinGroup(req({ groupInstanceId: 'i1', requireKnownMemberId: true }));
  assert.equal(s1.errorCode, E.NONE, 'static members skip MEMBER_ID_REQUIRED');
  assert.match(s1.memberId, /^i1-/);
  const s2p = gc.joinGroup(req({ groupInstanceId: 'i2', clientId: 'x' }));
  const s1p = gc.joinGroup(req({ groupInstanceId: 'i1', memberId: s1.memberId }));
  const [s1b, s2] = await Promise.all([s1p, s2p]);
  const gen = s1b.generationId;
  await Promise.all([
    gc.syncGroup({ groupId: 'g', generationId: gen, memberId: s1.memberId, groupInstanceId: 'i1', assignments: [
      { memberId: s1.memberId, assignment: meta('P1') },
      { memberId: s2.memberId, assignment: meta('P2') },
    ] }),
    gc.syncGroup({ groupId: 'g', generationId: gen, memberId: s2.memberId, groupInstanceId: 'i2', assignments: [] }),
  ]);
  // i2 restarts: joins with no member id.
  const r = await gc.joinGroup(req({ groupInstanceId: 'i2', clientId: 'x' }));
  assert.equal(r.errorCode, E.NONE);
  assert.notEqual(r.memberId, s2.memberId);
  assert.equal(r.generationId, gen, 'no rebalance');
  assert.equal(r.leader, s1.memberId);
  assert.equal(gc.stateOf('g'), 'Stable');
  const sync = await gc.syncGroup({ groupId: 'g', generationId: gen, memberId: r.memberId, groupInstanceId: 'i2', assignments: [] });
  assert.equal(Buffer.from(sync.assignment).toString(), 'P2', 'keeps its assignment');
  // The old incarnation is fenced everywhere.
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: gen, memberId: s2.memberId, groupInstanceId: 'i2' }), E.FENCED_INSTANCE_ID);
  assert.equal((await gc.syncGroup({ groupId: 'g', generationId: gen, memberId: s2.memberId, groupInstanceId: 'i2', assignments: [] })).errorCode, E.FENCED_INSTANCE_ID);
  assert.equal((await gc.joinGroup(req({ groupInstanceId: 'i2', memberId: s2.memberId }))).errorCode, E.FENCED_INSTANCE_ID);
  assert.equal(gc.validateCommit('g', gen, s2.memberId, 'i2'), E.FENCED_INSTANCE_ID);
  assert.deepEqual(gc.leaveGroup('g', [{ memberId: s2.memberId, groupInstanceId: 'i2' }]).members.map((m) => m.errorCode), [E.FENCED_INSTANCE_ID]);
  // A static rejoin that changes the selected protocol does rebalance.
  void gc.joinGroup(req({ groupInstanceId: 'i2', protocols: [{ name: 'roundrobin', metadata: meta('') }, { name: 'range', metadata: meta('') }] }));
  assert.equal(gc.stateOf('g'), 'Stable', 'range is still the common choice (votes tie → first)');
  // Leave by instance id (v3+).
  assert.deepEqual(gc.leaveGroup('g', [{ memberId: '', groupInstanceId: 'i1' }]).members.map((m) => m.errorCode), [E.NONE]);
  assert.equal(gc.stateOf('g'), 'PreparingRebalance');
  assert.deepEqual(gc.leaveGroup('g', [{ memberId: '', groupInstanceId: 'nobody' }]).members.map((m) => m.errorCode), [E.UNKNOWN_MEMBER_ID]);
});

test('static members that miss a rebalance keep their slot; a static member expiring is removed', async () => {
  const { gc, clock } = setup();
  const s1 = await gc.joinGroup(req({ groupInstanceId: 'i1' }));
  await gc.syncGroup({ groupId: 'g', generationId: 1, memberId: s1.memberId, assignments: [] });
  const p = gc.joinGroup(req({ groupInstanceId: 'i2' }));
  // i1 keeps heartbeating but does not rejoin within the rebalance timeout.
  for (let t = 0; t < 11; t++) {
    clock.advance(3000);
    gc.heartbeat({ groupId: 'g', generationId: 1, memberId: s1.memberId });
  }
  const r = await p;
  assert.equal(r.generationId, 2);
  assert.equal(r.members.length, 2, 'i1 is still a member');
  clock.advance(10_001);
  assert.equal(gc.heartbeat({ groupId: 'g', generationId: 2, memberId: s1.memberId }), E.UNKNOWN_MEMBER_ID);
});

test('pending sync expiry: a leader that never syncs is removed after the rebalance timeout', async () => {
  const { gc, clock } = setup();
  const { a, b } = await stableTwo(gc);
  const pa = gc.joinGroup(req({ memberId: a }));
  const pb = gc.joinGroup(req({ memberId: b }));
  await Promise.all([pa, pb]);
  const sb = gc.syncGroup({ groupId: 'g', generationId: 3, memberId: b, assignments: [] });
  clock.advance(9000);
  gc.heartbeat({ groupId: 'g', generationId: 3, memberId: b });
  clock.advance(9000);
  assert.equal((await sb).errorCode, E.REBALANCE_IN_PROGRESS, 'the leader expired (session) and b is told to rejoin');
  const b4 = await gc.joinGroup(req({ memberId: b }));
  assert.equal(b4.leader, b);
});

test('initial rebalance delay collects members joining an empty group', async () => {
  const { gc, clock } = setup({ initialRebalanceDelayMs: 3000 });
  const pa = gc.joinGroup(req({ clientId: 'a' }));
  clock.advance(1000);
  const pb = gc.joinGroup(req({ clientId: 'b' }));
  assert.equal(await settled(pa), 'pending');
  clock.advance(2500);
  assert.equal(await settled(pa), 'pending', 'the delay restarted when b joined');
  clock.advance(600);
  const [a, b] = await Promise.all([pa, pb]);
  assert.equal(a.generationId, 1);
  assert.equal(b.generationId, 1);
  assert.equal(a.members.length, 2);
});

test('describe, list and delete groups', async () => {
  const { gc } = setup();
  const { a, b } = await stableTwo(gc);
  const d = gc.describeGroup('g');
  assert.equal(d.state, 'Stable');
  assert.equal(d.protocolType, 'consumer');
  assert.equal(d.protocolData, 'range');
  assert.deepEqual(d.members.map((m) => m.memberId).sort(), [a, b].sort());
  assert.equal(Buffer.from(d.members.find((m) => m.memberId === b)!.assignment).toString(), 'B');
  assert.equal(gc.describeGroup('unknown').state, 'Dead');
  gc.validateCommit('offsets-only', -1, '');
  assert.deepEqual(gc.listGroups().map((g) => g.groupId).sort(), ['g', 'offsets-only']);
  assert.deepEqual(gc.listGroups(['Stable']).map((g) => g.groupId), ['g']);
  assert.deepEqual(gc.listGroups(['Empty']).map((g) => g.groupId), ['offsets-only']);
  assert.equal(gc.deleteGroup('g'), E.NON_EMPTY_GROUP);
  assert.equal(gc.deleteGroup('nope'), E.GROUP_ID_NOT_FOUND);
  assert.equal(gc.deleteGroup('offsets-only'), E.NONE);
  assert.equal(gc.deleteGroup('offsets-only'), E.GROUP_ID_NOT_FOUND);
  gc.leaveGroup('g', [{ memberId: a }, { memberId: b }]);
  assert.equal(gc.deleteGroup('g'), E.NONE);
  assert.equal(gc.stateOf('g'), 'Dead');
  // A new join after deletion starts a fresh group at generation 1.
  const r = await gc.joinGroup(req());
  assert.equal(r.generationId, 1);
});

test('close answers waiting requests COORDINATOR_NOT_AVAILABLE and leaves no timers', async () => {
  const { gc, clock } = setup();
  const { a } = await stableTwo(gc);
  const p: Promise<JoinGroupResult> = gc.joinGroup(req({ memberId: a }));
  void p;
  gc.close();
  assert.equal((await p).errorCode, E.COORDINATOR_NOT_AVAILABLE);
  assert.equal(clock.pendingTimers, 0);
});
