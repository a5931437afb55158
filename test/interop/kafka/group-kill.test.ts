/**
 * kafkajs consumer group of 3 members on a 6-partition topic; one member runs in a child process
 * and is SIGKILLed mid-stream (no LeaveGroup, its sockets vanish, it stops heartbeating). After
 * the session timeout (3 s here, instead of Kafka's 45 s default) the coordinator evicts it, the
 * two survivors rebalance and take over its partitions from the last committed offsets, and every
 * produced record is consumed by the group at least once (duplicates are allowed: records the
 * killed member consumed but had not committed are consumed again).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Consumer } from 'kafkajs';
import { startBroker, waitFor, sleep, type Broker } from './helpers.js';

const TOPIC = 'gk';
const GROUP = 'gk-group';
const PARTITIONS = 6;
const SESSION_MS = 3000;

let b: Broker;
before(async () => {
  b = await startBroker({ minSessionTimeoutMs: 1000 });
});
after(async () => {
  await b.close();
});

/**
 * The child member: joins the group, prints one JSON line per consumed record and one per
 * assignment, and slows itself down (20 ms per record) so that it still has work when killed.
 */
const CHILD = String.raw`
import { Kafka, logLevel } from 'kafkajs';
const [bootstrap, topic, group, session] = process.argv.slice(1);
const kafka = new Kafka({ clientId: 'victim', brokers: [bootstrap], logLevel: logLevel.NOTHING });
const c = kafka.consumer({ groupId: group, sessionTimeout: Number(session), heartbeatInterval: 300, rebalanceTimeout: 10000, maxWaitTimeInMs: 200 });
c.on(c.events.GROUP_JOIN, (e) => console.log(JSON.stringify({ assigned: e.payload.memberAssignment[topic] ?? [] })));
await c.connect();
await c.subscribe({ topic, fromBeginning: true });
await c.run({ eachMessage: async ({ message }) => {
  console.log(JSON.stringify({ v: message.value.toString() }));
  await new Promise((r) => setTimeout(r, 20));
} });
`;

function startChild(): { proc: ChildProcess; seen: Set<string>; assigned: () => number[] } {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', CHILD, b.bootstrap, TOPIC, GROUP, String(SESSION_MS)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seen = new Set<string>();
  let assigned: number[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as { v?: string; assigned?: number[] };
    if (m.v !== undefined) seen.add(m.v);
    if (m.assigned !== undefined) assigned = m.assigned;
  });
  return { proc, seen, assigned: () => assigned };
}

test('kafkajs group of 3: a SIGKILLed member’s partitions move to the others after the session timeout; nothing is lost', async () => {
  const kafka = b.kafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const produced: string[] = [];
  const produce = async (from: number, n: number): Promise<void> => {
    const messages = Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: `m${from + i}` }));
    await producer.send({ topic: TOPIC, acks: -1, messages });
    for (const m of messages) produced.push(m.value);
  };
  await produce(0, 600);

  // The child joins first and starts on the backlog (slowly), then the two survivors join: the
  // generation that follows splits the six partitions between three members.
  const child = startChild();
  const seen = new Set<string>();
  const assignments = new Map<number, number[]>();
  const consumers: Consumer[] = [];
  try {
    await waitFor(() => child.seen.size > 0, 30_000, 'the child consuming');
    for (let i = 0; i < 2; i++) {
      const c = kafka.consumer({ groupId: GROUP, sessionTimeout: SESSION_MS, heartbeatInterval: 300, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200 });
      c.on(c.events.GROUP_JOIN, (e) => assignments.set(i, e.payload.memberAssignment[TOPIC] ?? []));
      await c.connect();
      await c.subscribe({ topic: TOPIC, fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) });
      consumers.push(c);
    }
    const threeWay = (): boolean => {
      const mine = child.assigned();
      const theirs = [...assignments.values()];
      return mine.length > 0 && theirs.length === 2 && theirs.every((a) => a.length > 0) && new Set([...mine, ...theirs.flat()]).size === PARTITIONS && mine.length + theirs.flat().length === PARTITIONS;
    };
    await waitFor(threeWay, 30_000, 'a 3-member generation').catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: child assigned [${child.assigned().join()}], consumed ${child.seen.size}; survivors ${JSON.stringify([...assignments])}`);
    });
    const victimPartitions = child.assigned();
    // Mid-stream: more records arrive while the child is working through its backlog.
    await produce(600, 600);
    await sleep(200);
    assert.ok(child.seen.size < 1200, 'the child was killed before it had consumed everything');
    child.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await produce(1200, 600);

    // The survivors must end up owning every partition, including the victim's.
    await waitFor(
      () => {
        const owned = new Set([...assignments.values()].flat());
        return victimPartitions.every((p) => owned.has(p)) && owned.size === PARTITIONS;
      },
      30_000,
      'the victim’s partitions reassigned to the survivors',
    );
    const movedAfterMs = Date.now() - killedAt;
    assert.ok(movedAfterMs >= SESSION_MS - 500, `not reassigned before the session timeout (${movedAfterMs} ms)`);
    // At-least-once: the group as a whole (survivors plus what the victim printed before it died)
    // has consumed every produced record.
    await waitFor(() => produced.every((v) => seen.has(v) || child.seen.has(v)), 30_000, 'every record consumed by the group');
    // The survivors alone covered the victim's partitions from the committed offsets on: every
    // record produced after the kill is seen by a survivor.
    assert.ok(produced.slice(1200).every((v) => seen.has(v)), 'records produced after the kill all reach the survivors');
  } finally {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    await Promise.all(consumers.map((c) => c.disconnect()));
    await producer.disconnect();
  }
});
