/**
 * Differential AMQP 0-9-1 suite: every behaviour below is written once and run, through amqplib
 * (pika for transactions, which amqplib does not implement), against Omnibus's AMQP listener and
 * against Debian's rabbitmq-server 3.10 started by this file. The expected values are what
 * RabbitMQ 3.10 answers; a case that fails on only one target is a difference. Where Omnibus
 * deliberately differs (docs/protocols/amqp.md, "Known deviations"), the case asserts Omnibus's
 * documented behaviour on Omnibus and says why.
 *
 * RabbitMQ takes 5-30 s to boot: it is started once, concurrently with the Omnibus block, and
 * stopped by the Erlang VM's pid at the end. Its block is skipped, with the reason, when the
 * binary is missing or the node does not start.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage, Message } from 'amqplib';
import { python, pythonMissing, startOmnibus, startRealRabbit, type Target } from './targets.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------ helpers

/** Connections opened by a case, closed after it. */
class Session {
  private readonly conns: ChannelModel[] = [];
  constructor(readonly target: Target) {}
  async conn(): Promise<ChannelModel> {
    const c = await amqp.connect(this.target.url);
    c.on('error', () => {});
    this.conns.push(c);
    return c;
  }
  async channel(): Promise<Channel> {
    const ch = await (await this.conn()).createChannel();
    ch.on('error', () => {});
    return ch;
  }
  async confirmChannel(): Promise<ConfirmChannel> {
    const ch = await (await this.conn()).createConfirmChannel();
    ch.on('error', () => {});
    return ch;
  }
  async close(): Promise<void> {
    for (const c of this.conns) await c.close().catch(() => {});
  }
}

interface ChannelClose {
  code: number | undefined;
  text: string;
}

/** Runs `op` on a fresh channel of `conn` and returns how the server closed that channel. */
async function channelClose(conn: ChannelModel, op: (ch: Channel) => unknown): Promise<ChannelClose> {
  const ch = await conn.createChannel();
  const closed = new Promise<ChannelClose>((resolve) =>
    ch.on('error', (e: Error & { code?: number }) => resolve({ code: e.code, text: /with message "(.*)"$/s.exec(e.message)?.[1] ?? e.message })),
  );
  try {
    await op(ch);
  } catch {
    /* the close is what we compare */
  }
  const r = await Promise.race([closed, sleep(3000).then(() => ({ code: undefined, text: 'channel was not closed' }))]);
  return r;
}

/** Publishes bodies with confirms (so the broker has them before the next step). */
async function publishAll(ch: ConfirmChannel, exchange: string, items: Array<{ key: string; body: string; opts?: amqp.Options.Publish }>): Promise<void> {
  for (const it of items) ch.publish(exchange, it.key, Buffer.from(it.body), it.opts ?? {});
  await ch.waitForConfirms();
}

/** Empties `queue` with basic.get (auto-ack) and returns the bodies in order. */
async function drain(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m.content.toString());
  }
}

/** basic.get until a message arrives (or `ms` passes). */
async function getWithin(ch: Channel, queue: string, ms = 5000): Promise<GetMessage> {
  const end = Date.now() + ms;
  for (;;) {
    const m = await ch.get(queue);
    if (m !== false) return m;
    if (Date.now() > end) throw new Error(`no message on ${queue} within ${ms} ms`);
    await sleep(20);
  }
}

/** Collects deliveries of a consumer. */
function inbox(): { msgs: ConsumeMessage[]; cancelled: boolean; on: (m: ConsumeMessage | null) => void; until: (n: number, ms?: number) => Promise<ConsumeMessage[]> } {
  const box = {
    msgs: [] as ConsumeMessage[],
    cancelled: false,
    on(m: ConsumeMessage | null): void {
      if (m === null) box.cancelled = true;
      else box.msgs.push(m);
    },
    async until(n: number, ms = 5000): Promise<ConsumeMessage[]> {
      const end = Date.now() + ms;
      while (box.msgs.length < n) {
        if (Date.now() > end) throw new Error(`got ${box.msgs.length} of ${n} deliveries`);
        await sleep(10);
      }
      return box.msgs;
    },
  };
  return box;
}

/** amqplib decodes an AMQP timestamp in a table as `{ '!': 'timestamp', value: seconds }`. */
function timeShape(v: unknown): string {
  if (typeof v !== 'object' || v === null) return typeof v;
  const o = v as { '!'?: unknown; value?: unknown };
  const fresh = typeof o.value === 'number' && Math.abs(o.value - Date.now() / 1000) < 300;
  return `${String(o['!'])}${fresh ? ' (now)' : ` ${String(o.value)}`}`;
}

/** x-death and x-first-death-* headers with the time replaced by its type (it differs by run). */
function deathHeaders(m: Message): Record<string, unknown> {
  const h = { ...(m.properties.headers ?? {}) } as Record<string, unknown>;
  const deaths = h['x-death'] as Array<Record<string, unknown>> | undefined;
  if (deaths) h['x-death'] = deaths.map((d) => ({ ...d, time: timeShape(d['time']) }));
  return h;
}

// -------------------------------------------------------------------------------------- cases

type Case = (s: Session, t: TestContext) => Promise<void>;
interface CaseOptions {
  /**
   * A difference from the real broker that is known, reported and not fixed yet (not a
   * documented deviation): the case runs on Omnibus as a TODO, so the output shows it without
   * failing the run.
   */
  omnibusDiffers?: string;
}
const cases: Array<{ sentence: string; fn: Case; opts: CaseOptions }> = [];
function behaviour(sentence: string, fn: Case): void;
function behaviour(sentence: string, opts: CaseOptions, fn: Case): void;
function behaviour(sentence: string, a: Case | CaseOptions, b?: Case): void {
  if (typeof a === 'function') cases.push({ sentence, fn: a, opts: {} });
  else if (b) cases.push({ sentence, fn: b, opts: a });
}

behaviour('queue.declare answers name and counts, an identical redeclare is fine, different arguments close the channel 406 and a passive declare of a missing queue 404', async (s) => {
  const conn = await s.conn();
  const ch = await conn.createConfirmChannel();
  assert.deepEqual(await ch.assertQueue('decl.q', { durable: false, arguments: { 'x-max-length': 10 } }), { queue: 'decl.q', messageCount: 0, consumerCount: 0 });
  await publishAll(ch, '', [{ key: 'decl.q', body: 'x' }]);
  assert.deepEqual(await ch.assertQueue('decl.q', { durable: false, arguments: { 'x-max-length': 10 } }), { queue: 'decl.q', messageCount: 1, consumerCount: 0 });
  assert.deepEqual(await channelClose(conn, (c) => c.assertQueue('decl.q', { durable: false, arguments: { 'x-max-length': 20 } })), {
    code: 406,
    text: "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'decl.q' in vhost '/': received '20' but current is '10'",
  });
  assert.deepEqual(await channelClose(conn, (c) => c.assertQueue('decl.q', { durable: true, arguments: { 'x-max-length': 10 } })), {
    code: 406,
    text: "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'decl.q' in vhost '/': received 'true' but current is 'false'",
  });
  assert.deepEqual(await channelClose(conn, (c) => c.checkQueue('decl.none')), { code: 404, text: "NOT_FOUND - no queue 'decl.none' in vhost '/'" });
  const named = await ch.assertQueue('', { exclusive: true });
  assert.match(named.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
});

behaviour('redeclaring without an argument the queue has closes the channel 406 naming the current value and its field type', async (s) => {
  const conn = await s.conn();
  const ch = await conn.createChannel();
  await ch.assertQueue('decl.none-arg', { durable: false, arguments: { 'x-max-length': 10 } });
  assert.deepEqual(await channelClose(conn, (c) => c.assertQueue('decl.none-arg', { durable: false })), {
    code: 406,
    text: "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'decl.none-arg' in vhost '/': received none but current is the value '10' of type 'byte'",
  });
});

behaviour('an argument the queue lacks is reported with the type the client sent it as; integer types compare by value, other type classes never match', async (s) => {
  const conn = await s.conn();
  const ch = await conn.createChannel();
  await ch.assertQueue('decl.types', { durable: false, arguments: { 'x-max-length': 10 } });
  const redeclare = (args: Record<string, unknown>): Promise<ChannelClose> => channelClose(conn, (c) => c.assertQueue('decl.types', { durable: false, arguments: { 'x-max-length': 10, ...args } }));
  const text = (t: string): ChannelClose => ({ code: 406, text: `PRECONDITION_FAILED - inequivalent arg ${t}` });
  // amqplib's typed values: { '!': type, value }; 'int' is the AMQP 'I' tag, RabbitMQ's signedint (what pika sends).
  assert.deepEqual(await redeclare({ 'x-max-length-bytes': { '!': 'int', value: 10 } }), text("'x-max-length-bytes' for queue 'decl.types' in vhost '/': received the value '10' of type 'signedint' but current is none"));
  assert.deepEqual(await redeclare({ 'x-message-ttl': { '!': 'long', value: 60000 } }), text("'x-message-ttl' for queue 'decl.types' in vhost '/': received the value '60000' of type 'long' but current is none"));
  assert.deepEqual(await redeclare({ 'x-overflow': 'reject-publish' }), text("'x-overflow' for queue 'decl.types' in vhost '/': received the value 'reject-publish' of type 'longstr' but current is none"));
  assert.deepEqual(await redeclare({ 'x-single-active-consumer': true }), text("'x-single-active-consumer' for queue 'decl.types' in vhost '/': received the value 'true' of type 'bool' but current is none"));
  assert.deepEqual(await redeclare({ 'x-max-length': { '!': 'double', value: 10 } }), text("'x-max-length' for queue 'decl.types' in vhost '/': received '10.0' but current is '10'"));
  assert.deepEqual(await redeclare({ 'x-max-length': '10' }), text("'x-max-length' for queue 'decl.types' in vhost '/': received '10' but current is '10'"));
  // byte 10 (how amqplib sent it first) and long / signedint / unsignedshort 10 are one value to RabbitMQ.
  const same = await conn.createChannel();
  for (const t of ['long', 'int', 'uint16']) assert.deepEqual(await same.assertQueue('decl.types', { durable: false, arguments: { 'x-max-length': { '!': t, value: 10 } } }), { queue: 'decl.types', messageCount: 0, consumerCount: 0 });
  // Arguments RabbitMQ does not compare may differ freely.
  assert.equal((await same.assertQueue('decl.types', { durable: false, arguments: { 'x-max-length': 10, 'x-whatever': 1 } })).queue, 'decl.types');
});

behaviour('published messages are consumed in order with every property intact, and acked ones are gone', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertQueue('pc.q', { durable: false });
  const props: amqp.Options.Publish = {
    contentType: 'text/plain',
    contentEncoding: 'utf-8',
    headers: { s: 'str', n: 42, neg: -7, big: 5_000_000_000, f: 1.5, b: true, nested: { k: 'v' }, list: ['a', 1] },
    deliveryMode: 2,
    priority: 3,
    correlationId: 'corr',
    replyTo: 'reply.q',
    expiration: '60000',
    messageId: 'mid',
    timestamp: 1_700_000_000,
    type: 'kind',
    userId: 'guest',
    appId: 'app',
  };
  await publishAll(ch, '', [1, 2, 3].map((i) => ({ key: 'pc.q', body: `m${i}`, opts: i === 1 ? props : {} })));
  const box = inbox();
  const { consumerTag } = await ch.consume('pc.q', box.on);
  assert.match(consumerTag, /^amq\.ctag-[A-Za-z0-9_-]{22}$/);
  const msgs = await box.until(3);
  assert.deepEqual(msgs.map((m) => m.content.toString()), ['m1', 'm2', 'm3']);
  assert.deepEqual(msgs.map((m) => ({ ...m.fields })), [1, 2, 3].map((i) => ({ consumerTag, deliveryTag: i, redelivered: false, exchange: '', routingKey: 'pc.q' })));
  assert.deepEqual({ ...msgs[0]!.properties }, { ...props, clusterId: undefined });
  assert.deepEqual({ ...msgs[1]!.properties }, {
    contentType: undefined, contentEncoding: undefined, headers: {}, deliveryMode: undefined, priority: undefined, correlationId: undefined, replyTo: undefined,
    expiration: undefined, messageId: undefined, timestamp: undefined, type: undefined, userId: undefined, appId: undefined, clusterId: undefined,
  });
  for (const m of msgs) ch.ack(m);
  await ch.cancel(consumerTag);
  assert.deepEqual(await ch.checkQueue('pc.q'), { queue: 'pc.q', messageCount: 0, consumerCount: 0 });
});

behaviour('a nacked message with requeue comes back first, flagged redelivered', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertQueue('nack.q', { durable: false });
  await publishAll(ch, '', [{ key: 'nack.q', body: 'a' }, { key: 'nack.q', body: 'b' }]);
  const first = await getWithin(ch, 'nack.q');
  assert.deepEqual([first.content.toString(), first.fields.redelivered, first.fields.messageCount], ['a', false, 1]);
  ch.nack(first, false, true);
  const again = await getWithin(ch, 'nack.q');
  assert.deepEqual([again.content.toString(), again.fields.redelivered, again.fields.messageCount, again.fields.deliveryTag], ['a', true, 1, 2]);
  const second = await getWithin(ch, 'nack.q');
  assert.deepEqual([second.content.toString(), second.fields.redelivered, second.fields.messageCount], ['b', false, 0]);
  ch.ack(second, true);
  // A consumer gets a requeued message redelivered too.
  await publishAll(ch, '', [{ key: 'nack.q', body: 'c' }]);
  const box = inbox();
  await ch.consume('nack.q', (m) => {
    box.on(m);
    if (m && !m.fields.redelivered) ch.nack(m, false, true);
    else if (m) ch.ack(m);
  });
  const got = await box.until(2);
  assert.deepEqual(got.map((m) => [m.content.toString(), m.fields.redelivered]), [['c', false], ['c', true]]);
});

behaviour('a rejected message is dead-lettered with the x-death table and x-first-death-* headers', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertExchange('dlx.x', 'fanout', { durable: false });
  await ch.assertQueue('dlx.dst', { durable: false });
  await ch.bindQueue('dlx.dst', 'dlx.x', '');
  await ch.assertQueue('dlx.src', { durable: false, arguments: { 'x-dead-letter-exchange': 'dlx.x' } });
  await publishAll(ch, '', [{ key: 'dlx.src', body: 'doomed', opts: { headers: { app: 'h' }, messageId: 'd1' } }]);
  const m = await getWithin(ch, 'dlx.src');
  ch.reject(m, false);
  const dead = await getWithin(ch, 'dlx.dst');
  assert.equal(dead.content.toString(), 'doomed');
  assert.deepEqual({ ...dead.fields, deliveryTag: 0 }, { deliveryTag: 0, redelivered: false, exchange: 'dlx.x', routingKey: 'dlx.src', messageCount: 0 });
  assert.equal(dead.properties.messageId, 'd1');
  assert.deepEqual(deathHeaders(dead), {
    app: 'h',
    'x-death': [{ count: 1, reason: 'rejected', queue: 'dlx.src', time: 'timestamp (now)', exchange: '', 'routing-keys': ['dlx.src'] }],
    'x-first-death-exchange': '',
    'x-first-death-queue': 'dlx.src',
    'x-first-death-reason': 'rejected',
  });
});

behaviour('queue TTL and per-message expiration dead-letter with reason expired (the latter keeps original-expiration and loses the property)', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertExchange('ttl.x', 'direct', { durable: false });
  await ch.assertQueue('ttl.dst', { durable: false });
  await ch.bindQueue('ttl.dst', 'ttl.x', 'to-dst');
  await ch.assertQueue('ttl.src', { durable: false, arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'ttl.x', 'x-dead-letter-routing-key': 'to-dst' } });
  await ch.assertQueue('ttl.msg', { durable: false, arguments: { 'x-dead-letter-exchange': 'ttl.x', 'x-dead-letter-routing-key': 'to-dst' } });
  await publishAll(ch, '', [{ key: 'ttl.src', body: 'q-ttl' }]);
  const a = await getWithin(ch, 'ttl.dst');
  ch.ack(a);
  assert.equal(a.content.toString(), 'q-ttl');
  assert.deepEqual({ ...a.fields, deliveryTag: 0 }, { deliveryTag: 0, redelivered: false, exchange: 'ttl.x', routingKey: 'to-dst', messageCount: 0 });
  assert.deepEqual(deathHeaders(a), {
    'x-death': [{ count: 1, reason: 'expired', queue: 'ttl.src', time: 'timestamp (now)', exchange: '', 'routing-keys': ['ttl.src'] }],
    'x-first-death-exchange': '',
    'x-first-death-queue': 'ttl.src',
    'x-first-death-reason': 'expired',
  });
  await publishAll(ch, '', [{ key: 'ttl.msg', body: 'm-ttl', opts: { expiration: '50' } }]);
  const b = await getWithin(ch, 'ttl.dst');
  assert.equal(b.content.toString(), 'm-ttl');
  assert.equal(b.properties.expiration, undefined);
  assert.deepEqual(deathHeaders(b), {
    'x-death': [{ count: 1, reason: 'expired', queue: 'ttl.msg', time: 'timestamp (now)', exchange: '', 'routing-keys': ['ttl.msg'], 'original-expiration': '50' }],
    'x-first-death-exchange': '',
    'x-first-death-queue': 'ttl.msg',
    'x-first-death-reason': 'expired',
  });
});

behaviour('x-max-length drop-head keeps the newest messages; reject-publish nacks the confirm of the overflowing publish', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertQueue('ml.head', { durable: false, arguments: { 'x-max-length': 2 } });
  await publishAll(ch, '', ['m1', 'm2', 'm3'].map((body) => ({ key: 'ml.head', body })));
  assert.deepEqual(await drain(ch, 'ml.head'), ['m2', 'm3']);
  await ch.assertQueue('ml.rej', { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
  const outcome = (body: string): Promise<string> =>
    new Promise((resolve) => ch.sendToQueue('ml.rej', Buffer.from(body), {}, (err: unknown) => resolve(err ? 'nack' : 'ack')));
  assert.deepEqual(await Promise.all([outcome('r1'), outcome('r2'), outcome('r3')]), ['ack', 'nack', 'nack']);
  assert.deepEqual(await drain(ch, 'ml.rej'), ['r1']);
  assert.equal(await outcome('r4'), 'ack');
});

behaviour('x-max-length-bytes counts the body bytes of ready messages only: drop-head drops from the head while above the limit, reject-publish refuses once the ready bytes have reached it', async (s) => {
  const ch = await s.confirmChannel();
  // drop-head: 4 + 4 + 4 > 10 drops the first; a body larger than the limit empties the queue, itself included.
  await ch.assertQueue('mlb.head', { durable: false, arguments: { 'x-max-length-bytes': 10 } });
  await publishAll(ch, '', ['aaaa', 'bbbb', 'cccc'].map((body) => ({ key: 'mlb.head', body, opts: { headers: { big: 'h'.repeat(500) } } })));
  assert.equal((await ch.checkQueue('mlb.head')).messageCount, 2);
  assert.deepEqual(await drain(ch, 'mlb.head'), ['bbbb', 'cccc']);
  await publishAll(ch, '', ['aaaaa', 'bbbbb'].map((body) => ({ key: 'mlb.head', body })));
  assert.equal((await ch.checkQueue('mlb.head')).messageCount, 2, 'exactly at the limit is not above it');
  await publishAll(ch, '', [{ key: 'mlb.head', body: 'x'.repeat(11) }]);
  assert.deepEqual(await drain(ch, 'mlb.head'), []);
  // Unacked deliveries do not count: with one of two taken, a third fits.
  await publishAll(ch, '', ['ddddd', 'eeeee'].map((body) => ({ key: 'mlb.head', body })));
  const taken = await getWithin(ch, 'mlb.head');
  await publishAll(ch, '', [{ key: 'mlb.head', body: 'fffff' }]);
  assert.deepEqual(await drain(ch, 'mlb.head'), ['eeeee', 'fffff']);
  ch.ack(taken);

  // reject-publish: refused when the body would take the ready bytes above the limit (6 + 6 = 12 is not above 12).
  await ch.assertQueue('mlb.rej', { durable: false, arguments: { 'x-max-length-bytes': 12, 'x-overflow': 'reject-publish' } });
  const outcome = (body: string): Promise<string> =>
    new Promise((resolve) => ch.sendToQueue('mlb.rej', Buffer.from(body), {}, (err: unknown) => resolve(err ? 'nack' : 'ack')));
  const seq: string[] = [];
  for (const body of ['666666', '777777', '888888']) seq.push(await outcome(body));
  assert.deepEqual(seq, ['ack', 'ack', 'nack']);
  assert.deepEqual(await drain(ch, 'mlb.rej'), ['666666', '777777']);
  assert.equal(await outcome('9'.repeat(13)), 'nack', 'a body larger than the limit is refused even by an empty queue');
  assert.equal(await outcome('9'.repeat(12)), 'ack');
  // Both limits: whichever is reached first refuses.
  await ch.assertQueue('mlb.both', { durable: false, arguments: { 'x-max-length-bytes': 100, 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
  const both: string[] = [];
  for (const body of ['a', 'b', 'c']) both.push(await new Promise((resolve) => ch.sendToQueue('mlb.both', Buffer.from(body), {}, (err: unknown) => resolve(err ? 'nack' : 'ack'))));
  assert.deepEqual(both, ['ack', 'ack', 'nack']);
});

behaviour('a memory alarm blocks a connection when it publishes (connection.blocked "low on memory", later publishes not read), never a consumer-only one, and connection.unblocked follows when it clears', async (s) => {
  const target = s.target;
  assert.ok(target.memoryAlarm, 'the target can raise a memory alarm');
  const pub = await s.conn();
  const sub = await s.conn();
  const seen: string[] = [];
  const subSeen: string[] = [];
  pub.on('blocked', (r: string) => seen.push(`blocked: ${r}`));
  pub.on('unblocked', () => seen.push('unblocked'));
  sub.on('blocked', (r: string) => subSeen.push(`blocked: ${r}`));
  const pch = await pub.createConfirmChannel();
  const sch = await sub.createChannel();
  await pch.assertQueue('alarm.q', { durable: false });
  await publishAll(pch, '', [{ key: 'alarm.q', body: 'before' }]);
  try {
    await target.memoryAlarm(true);
    // Having published before is not enough: nothing is sent until a publish meets the alarm.
    await sleep(1000);
    assert.deepEqual(seen, []);
    pch.sendToQueue('alarm.q', Buffer.from('during'));
    for (let i = 0; i < 200 && seen.length === 0; i++) await sleep(50);
    assert.deepEqual(seen, ['blocked: low on memory']);
    pch.sendToQueue('alarm.q', Buffer.from('after'));
    const confirmed = pch.waitForConfirms();
    confirmed.catch(() => {}); // awaited below; a failed assertion first must not leave it unhandled
    await sleep(300);
    assert.equal((await sch.checkQueue('alarm.q')).messageCount, 1, 'neither the publish that met the alarm nor the next one is taken');
    const m = await sch.get('alarm.q', { noAck: true });
    assert.equal(m && m.content.toString(), 'before', 'a consumer-only connection is still served');
    assert.deepEqual(subSeen, []);
    await target.memoryAlarm(false);
    await confirmed;
    for (let i = 0; i < 200 && seen.length < 2; i++) await sleep(50);
    assert.deepEqual(seen, ['blocked: low on memory', 'unblocked']);
    assert.deepEqual([(await getWithin(sch, 'alarm.q')).content.toString(), (await getWithin(sch, 'alarm.q')).content.toString()], ['during', 'after']);
  } finally {
    await target.memoryAlarm(false);
  }
});

behaviour('with x-max-priority, waiting messages are delivered highest priority first, FIFO within a priority', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertQueue('prio.q', { durable: false, arguments: { 'x-max-priority': 10 } });
  const prios: Array<number | undefined> = [1, 5, undefined, 3, 9, 5, 200];
  await publishAll(ch, '', prios.map((p, i) => ({ key: 'prio.q', body: `p${p ?? 'none'}-${i}`, opts: p === undefined ? {} : { priority: p } })));
  assert.deepEqual(await drain(ch, 'prio.q'), ['p200-6', 'p9-4', 'p5-1', 'p5-5', 'p3-3', 'p1-0', 'pnone-2']);
});

behaviour('basic.get reports how many messages remain, and get-empty when none do', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertQueue('get.q', { durable: false });
  await publishAll(ch, '', ['g1', 'g2', 'g3'].map((body) => ({ key: 'get.q', body })));
  const m = await ch.get('get.q');
  assert.ok(m);
  assert.deepEqual([m.content.toString(), { ...m.fields }], ['g1', { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'get.q', messageCount: 2 }]);
  const n = await ch.get('get.q', { noAck: true });
  assert.ok(n);
  assert.equal(n.fields.messageCount, 1);
  ch.ack(m);
  await drain(ch, 'get.q');
  assert.equal(await ch.get('get.q'), false);
});

behaviour('an unroutable mandatory publish comes back as basic.return 312 NO_ROUTE with its body and properties', async (s) => {
  const ch = await s.confirmChannel();
  const returned = new Promise<Message>((resolve) => ch.on('return', resolve));
  ch.publish('amq.direct', 'nowhere', Buffer.from('lost'), { mandatory: true, messageId: 'r1', headers: { h: 'v' } });
  await ch.waitForConfirms();
  const r = await returned;
  assert.deepEqual([r.content.toString(), { ...r.fields }, r.properties.messageId, r.properties.headers], [
    'lost',
    { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'amq.direct', routingKey: 'nowhere' },
    'r1',
    { h: 'v' },
  ]);
  // Not mandatory: silently dropped, still confirmed.
  ch.publish('amq.direct', 'nowhere', Buffer.from('dropped'));
  await ch.waitForConfirms();
});

behaviour('direct, fanout, topic and headers exchanges route to the queues their bindings select', async (s) => {
  const ch = await s.confirmChannel();
  const qs = ['rt.1', 'rt.2', 'rt.3', 'rt.4'];
  for (const q of qs) await ch.assertQueue(q, { durable: false });
  await ch.assertExchange('rt.direct', 'direct', { durable: false });
  await ch.assertExchange('rt.fanout', 'fanout', { durable: false });
  await ch.assertExchange('rt.topic', 'topic', { durable: false });
  await ch.assertExchange('rt.headers', 'headers', { durable: false });
  await ch.bindQueue('rt.1', 'rt.direct', 'a');
  await ch.bindQueue('rt.2', 'rt.direct', 'b');
  await ch.bindQueue('rt.3', 'rt.direct', 'a');
  await ch.bindQueue('rt.1', 'rt.fanout', 'ignored');
  await ch.bindQueue('rt.4', 'rt.fanout', '');
  await ch.bindQueue('rt.1', 'rt.topic', 'a.*');
  await ch.bindQueue('rt.2', 'rt.topic', 'a.#');
  await ch.bindQueue('rt.3', 'rt.topic', '#.z');
  await ch.bindQueue('rt.4', 'rt.topic', '*.b.*');
  await ch.bindQueue('rt.1', 'rt.headers', '', { 'x-match': 'all', k1: 'v1', k2: 'v2' });
  await ch.bindQueue('rt.2', 'rt.headers', '', { 'x-match': 'any', k1: 'v1', k2: 'v2' });
  await ch.bindQueue('rt.3', 'rt.headers', '', {});
  await ch.bindQueue('rt.4', 'rt.headers', '', { k3: 3 });
  await publishAll(ch, 'rt.direct', [{ key: 'a', body: 'd:a' }, { key: 'b', body: 'd:b' }, { key: 'c', body: 'd:c' }]);
  await publishAll(ch, 'rt.fanout', [{ key: 'any', body: 'f' }]);
  await publishAll(ch, 'rt.topic', ['a', 'a.b', 'a.b.c', 'a.z', 'x.b.y', 'z', 'a.b.z'].map((key) => ({ key, body: `t:${key}` })));
  await publishAll(ch, 'rt.headers', [
    { key: '', body: 'h:k1', opts: { headers: { k1: 'v1' } } },
    { key: '', body: 'h:k1k2', opts: { headers: { k1: 'v1', k2: 'v2' } } },
    { key: '', body: 'h:k1-wrong', opts: { headers: { k1: 'nope', k2: 'v2' } } },
    { key: '', body: 'h:none' },
    { key: '', body: 'h:k3', opts: { headers: { k3: 3 } } },
  ]);
  const got: Record<string, string[]> = {};
  for (const q of qs) got[q] = await drain(ch, q);
  assert.deepEqual(got, {
    'rt.1': ['d:a', 'f', 't:a.b', 't:a.z', 'h:k1k2'],
    'rt.2': ['d:b', 't:a', 't:a.b', 't:a.b.c', 't:a.z', 't:a.b.z', 'h:k1', 'h:k1k2', 'h:k1-wrong'],
    'rt.3': ['d:a', 't:a.z', 't:z', 't:a.b.z', 'h:k1', 'h:k1k2', 'h:k1-wrong', 'h:none', 'h:k3'],
    'rt.4': ['f', 't:a.b.c', 't:x.b.y', 't:a.b.z', 'h:k3'],
  });
});

behaviour('an exchange bound to an exchange forwards what its binding matches, and deliveries name the exchange published to', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertExchange('e2e.src', 'topic', { durable: false });
  await ch.assertExchange('e2e.dst', 'fanout', { durable: false });
  await ch.bindExchange('e2e.dst', 'e2e.src', 'k.#');
  await ch.assertQueue('e2e.q', { durable: false });
  await ch.bindQueue('e2e.q', 'e2e.dst', '');
  await publishAll(ch, 'e2e.src', [{ key: 'k.1', body: 'yes' }, { key: 'j.1', body: 'no' }, { key: 'k', body: 'yes2' }]);
  const m = await getWithin(ch, 'e2e.q');
  assert.deepEqual([m.content.toString(), m.fields.exchange, m.fields.routingKey], ['yes', 'e2e.src', 'k.1']);
  ch.ack(m);
  assert.deepEqual(await drain(ch, 'e2e.q'), ['yes2']);
  await ch.unbindExchange('e2e.dst', 'e2e.src', 'k.#');
  await publishAll(ch, 'e2e.src', [{ key: 'k.2', body: 'after-unbind' }]);
  assert.deepEqual(await drain(ch, 'e2e.q'), []);
});

behaviour('messages no binding matches go to the alternate exchange, and a mandatory publish they reach is not returned', async (s) => {
  const ch = await s.confirmChannel();
  let returns = 0;
  ch.on('return', () => returns++);
  await ch.assertExchange('ae.alt', 'fanout', { durable: false });
  await ch.assertQueue('ae.unrouted', { durable: false });
  await ch.bindQueue('ae.unrouted', 'ae.alt', '');
  await ch.assertExchange('ae.main', 'direct', { durable: false, alternateExchange: 'ae.alt' });
  await ch.assertQueue('ae.known', { durable: false });
  await ch.bindQueue('ae.known', 'ae.main', 'known');
  await publishAll(ch, 'ae.main', [{ key: 'known', body: 'k' }, { key: 'unknown', body: 'u', opts: { mandatory: true } }]);
  assert.deepEqual(await drain(ch, 'ae.known'), ['k']);
  const u = await getWithin(ch, 'ae.unrouted');
  assert.deepEqual([u.content.toString(), u.fields.exchange, u.fields.routingKey], ['u', 'ae.main', 'unknown']);
  await sleep(50);
  assert.equal(returns, 0);
});

behaviour("another connection's exclusive queue is 405 RESOURCE_LOCKED, for declare and for consume", async (s) => {
  const owner = await s.channel();
  await owner.assertQueue('excl.q', { exclusive: true });
  const other = await s.conn();
  const text =
    "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'excl.q' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";
  assert.deepEqual(await channelClose(other, (c) => c.assertQueue('excl.q', { exclusive: true })), { code: 405, text });
  assert.deepEqual(await channelClose(other, (c) => c.consume('excl.q', () => {})), { code: 405, text });
});

behaviour('acking an unknown delivery tag, or acking one twice, closes the channel 406 naming the tag', async (s) => {
  const conn = await s.conn();
  const fake = { fields: { deliveryTag: 99 } } as unknown as Message;
  assert.deepEqual(await channelClose(conn, (c) => c.ack(fake)), { code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 99' });
  const setup = await s.confirmChannel();
  await setup.assertQueue('tag.q', { durable: false });
  await publishAll(setup, '', [{ key: 'tag.q', body: 'once' }]);
  assert.deepEqual(
    await channelClose(conn, async (c) => {
      const m = await getWithin(c, 'tag.q');
      c.ack(m);
      c.ack(m);
    }),
    { code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 1' },
  );
  assert.deepEqual(await drain(setup, 'tag.q'), []);
});

behaviour('deleting a queue cancels its consumers (basic.cancel from the server)', async (s) => {
  const ch = await s.channel();
  await ch.assertQueue('cc.q', { durable: false });
  const box = inbox();
  await ch.consume('cc.q', box.on);
  const admin = await s.channel();
  assert.deepEqual(await admin.deleteQueue('cc.q'), { messageCount: 0 });
  const end = Date.now() + 3000;
  while (!box.cancelled && Date.now() < end) await sleep(10);
  assert.equal(box.cancelled, true);
  // The channel stays open.
  assert.deepEqual(await ch.assertQueue('cc.q2', { durable: false }), { queue: 'cc.q2', messageCount: 0, consumerCount: 0 });
});

behaviour('a consumer never holds more unacked deliveries than its prefetch count', async (s) => {
  const ch = await s.confirmChannel();
  await ch.assertQueue('pf.q', { durable: false });
  await publishAll(ch, '', ['1', '2', '3', '4', '5'].map((body) => ({ key: 'pf.q', body })));
  await ch.prefetch(2);
  const box = inbox();
  await ch.consume('pf.q', box.on);
  await box.until(2);
  await sleep(150);
  assert.equal(box.msgs.length, 2);
  ch.ack(box.msgs[0]!);
  await box.until(3);
  await sleep(150);
  assert.equal(box.msgs.length, 3);
  ch.ack(box.msgs[2]!, true);
  await box.until(5);
  assert.deepEqual(box.msgs.map((m) => m.content.toString()), ['1', '2', '3', '4', '5']);
  assert.deepEqual((await ch.checkQueue('pf.q')).messageCount, 0);
});

const TX_SCRIPT = String.raw`
import sys, json, pika
params = pika.URLParameters(sys.argv[1])
out = {}
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.queue_declare('tx.q', auto_delete=False)
ch.tx_select()
ch.basic_publish('', 'tx.q', b'one')
out['count_before_commit'] = ch.queue_declare('tx.q', passive=True).method.message_count
ch.tx_commit()
out['count_after_commit'] = ch.queue_declare('tx.q', passive=True).method.message_count
ch.basic_publish('', 'tx.q', b'two')
ch.tx_rollback()
out['count_after_rollback'] = ch.queue_declare('tx.q', passive=True).method.message_count
m, props, body = ch.basic_get('tx.q')
out['got'] = body.decode()
ch.basic_ack(m.delivery_tag)
ch.tx_rollback()
out['count_after_ack_rollback'] = ch.queue_declare('tx.q', passive=True).method.message_count
ch.basic_ack(m.delivery_tag)
ch.tx_commit()
ch.close()
ch2 = conn.channel()
out['count_after_ack_commit'] = ch2.queue_declare('tx.q', passive=True).method.message_count
try:
    ch2.tx_commit()
except pika.exceptions.ChannelClosedByBroker as e:
    out['commit_without_select'] = [e.reply_code, e.reply_text]
conn.close()
print(json.dumps(out))
`;

behaviour('tx.commit makes publishes and acks take effect, tx.rollback discards them (pika)', async (s, t) => {
  const missing = pythonMissing(['pika']);
  if (missing) return t.skip(missing);
  const out = JSON.parse(await python(TX_SCRIPT, [`${s.target.url}/%2F`])) as unknown;
  assert.deepEqual(out, {
    count_before_commit: 0,
    count_after_commit: 1,
    count_after_rollback: 1,
    got: 'one',
    count_after_ack_rollback: 0,
    count_after_ack_commit: 0,
    commit_without_select: [406, 'PRECONDITION_FAILED - channel is not transactional'],
  });
});

behaviour('direct reply-to: the server sees a generated amq.rabbitmq.reply-to.* address, the reply reaches the no-ack reply consumer, and an acking reply consumer is refused', async (s) => {
  const conn = await s.conn();
  const server = await s.channel();
  await server.assertQueue('rpc.q', { durable: false });
  let seenReplyTo = '';
  await server.consume('rpc.q', (m) => {
    if (!m) return;
    seenReplyTo = String(m.properties.replyTo);
    server.sendToQueue(m.properties.replyTo as string, Buffer.from(`${m.content.toString()}!`), { correlationId: m.properties.correlationId as string });
    server.ack(m);
  });
  const client = await conn.createChannel();
  const box = inbox();
  await client.consume('amq.rabbitmq.reply-to', box.on, { noAck: true });
  client.sendToQueue('rpc.q', Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c1' });
  const [reply] = await box.until(1);
  assert.match(seenReplyTo, /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/=._-]+$/);
  assert.deepEqual([reply!.content.toString(), reply!.properties.correlationId, reply!.fields.exchange, reply!.fields.routingKey, reply!.fields.redelivered], [
    'ping!',
    'c1',
    '',
    seenReplyTo,
    false,
  ]);
  assert.deepEqual(await channelClose(conn, (c) => c.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false })), {
    code: 406,
    text: 'PRECONDITION_FAILED - reply consumer cannot acknowledge',
  });
});

// ------------------------------------------------------------------------------------- blocks

/** Runs every case as a subtest of `t` against the target. */
async function runCases(t: TestContext, target: Target): Promise<void> {
  for (const { sentence, fn, opts } of cases) {
    const todo = target.kind === 'omnibus' ? opts.omnibusDiffers : undefined;
    await t.test(sentence, { todo }, async (tt) => {
      const s = new Session(target);
      try {
        await fn(s, tt);
      } finally {
        await s.close();
      }
    });
  }
}

const started = Date.now();
const real = startRealRabbit(); // boots while the Omnibus block runs
const omnibus = await startOmnibus();
after(async () => {
  await omnibus.stop();
  const r = await real;
  if (typeof r !== 'string') await r.stop();
  console.log(`# differential amqp: ${Date.now() - started} ms wall (RabbitMQ boot included)`);
});

test('AMQP behaviour on omnibus', async (t) => {
  await runCases(t, omnibus.amqp);
});

test('AMQP behaviour on the real RabbitMQ', async (t) => {
  const r = await real;
  if (typeof r === 'string') return t.skip(r);
  t.diagnostic(`${r.name} on 127.0.0.1:${r.port}`);
  await runCases(t, r);
});
