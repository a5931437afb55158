/**
 * queue.declare: server-named (`amq.gen-…`), passive (404 when missing), exclusive (405 for other
 * connections), durable/auto-delete, and the x-arguments this broker honours (see
 * docs/protocols/amqp.md). Redeclaring with different flags or arguments is 406
 * PRECONDITION_FAILED with RabbitMQ's "inequivalent arg" text.
 */
import { queueDeclareOk } from '../../index.js';
import type { FieldTable, QueueDeclareArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import { ARG_NAMES, type AmqpQueue, type QueueArgs } from '../queue.js';
import { amqpError, genName, numArg, strArg } from '../util.js';

const C = 50;
const M = 10;

export async function queueDeclare(ch: Channel, a: QueueDeclareArgs): Promise<void> {
  const conn = ch.conn;
  const broker = conn.broker;
  await conn.publishBarrier();
  let name = a.queue;
  if (name === '' && a.passive) name = ch.lastQueue;
  if (name === '') name = genName('amq.gen-');
  else if (!a.passive && name.startsWith('amq.') && !broker.queues.has(name)) {
    throw amqpError(403, `queue name '${name}' contains reserved prefix 'amq.*'`, C, M);
  }
  // A topic another protocol made (a Redis list or stream, a Kafka topic …) has no AMQP
  // declaration yet: the first non-passive declare adopts it with the declared flags and
  // arguments (so `x-queue-type: stream` reads it as a log) instead of comparing them against a
  // classic default.
  const foreign = !a.passive && !broker.queues.has(name) && broker.engine.getTopic(name) !== undefined;
  let q = foreign ? undefined : await broker.findQueue(name);
  if (a.passive) {
    if (!q) throw amqpError(404, `no queue '${name}' in vhost '/'`, C, M);
    checkExclusive(q, ch);
  } else if (q) {
    checkExclusive(q, ch);
    checkEquivalent(q, a, parseArgs(a.arguments));
  } else {
    const args = parseArgs(a.arguments);
    if (args.queueType === 'stream' && (!a.durable || a.exclusive || a.autoDelete)) {
      throw amqpError(406, `invalid property '${!a.durable ? 'non-durable' : a.exclusive ? 'exclusive' : 'auto-delete'}' for queue '${name}' in vhost '/'`, C, M);
    }
    q = await broker.createQueue(name, a.durable, a.autoDelete, a.exclusive ? conn : undefined, args, a.arguments);
  }
  if (ch.state !== 'open') return;
  ch.lastQueue = name;
  q.touch();
  if (!a.nowait) ch.conn.sendMethod(ch.id, queueDeclareOk({ queue: name, messageCount: q.messageCount, consumerCount: q.consumerCount }));
}

export function checkExclusive(q: AmqpQueue, ch: Channel): void {
  if (q.exclusiveOwner !== undefined && q.exclusiveOwner !== ch.conn) {
    throw amqpError(
      405,
      `cannot obtain exclusive access to locked queue '${q.name}' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
      C,
      M,
    );
  }
}

function checkEquivalent(q: AmqpQueue, a: QueueDeclareArgs, args: QueueArgs): void {
  const flag = (what: string, got: boolean, cur: boolean) => {
    if (got !== cur) throw amqpError(406, `inequivalent arg '${what}' for queue '${q.name}' in vhost '/': received '${got}' but current is '${cur}'`, C, M);
  };
  flag('durable', a.durable, q.durable);
  flag('auto_delete', a.autoDelete, q.autoDelete);
  if (a.exclusive !== (q.exclusiveOwner !== undefined)) checkExclusiveMismatch(q);
  for (const k of Object.keys(ARG_NAMES) as (keyof QueueArgs)[]) {
    const got = args[k];
    const cur = q.args[k];
    if (got === cur) continue;
    // RabbitMQ treats an absent x-queue-type as the existing type.
    if (k === 'queueType' && a.arguments['x-queue-type'] === undefined) continue;
    throw amqpError(
      406,
      // RabbitMQ 3.10 (rabbit_misc:equivalence_fail): plain quoted values when both sides have
      // one, "none" for a missing side and "the value 'V' of type 'T'" for the other.
      got !== undefined && cur !== undefined
        ? `inequivalent arg '${ARG_NAMES[k]}' for queue '${q.name}' in vhost '/': received '${String(got)}' but current is '${String(cur)}'`
        : `inequivalent arg '${ARG_NAMES[k]}' for queue '${q.name}' in vhost '/': received ${got === undefined ? 'none' : `the value '${String(got)}'`} but current is ${cur === undefined ? 'none' : `the value '${String(cur)}'`}`,
      C,
      M,
    );
  }
}

function checkExclusiveMismatch(q: AmqpQueue): never {
  throw amqpError(
    405,
    `cannot obtain exclusive access to locked queue '${q.name}' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
    C,
    M,
  );
}

/** Validates and normalises the honoured x-arguments; others are accepted and ignored. */
export function parseArgs(t: FieldTable): QueueArgs {
  const what = 'queue declaration';
  const nonNeg = (name: string, min = 0): number | undefined => {
    const n = numArg(t, name, what);
    if (n !== undefined && (n < min || !Number.isInteger(n))) throw amqpError(406, `invalid arg '${name}' for ${what}: ${n} must be an integer >= ${min}`, C, M);
    return n;
  };
  const out: QueueArgs = { queueType: 'classic' };
  const ttl = nonNeg('x-message-ttl');
  if (ttl !== undefined) out.messageTtl = ttl;
  const exp = nonNeg('x-expires', 1);
  if (exp !== undefined) out.expires = exp;
  const ml = nonNeg('x-max-length');
  if (ml !== undefined) out.maxLength = ml;
  const mlb = nonNeg('x-max-length-bytes');
  if (mlb !== undefined) out.maxLengthBytes = mlb;
  const ov = strArg(t, 'x-overflow');
  if (ov !== undefined) {
    if (ov !== 'drop-head' && ov !== 'reject-publish' && ov !== 'reject-publish-dlx') throw amqpError(406, `invalid arg 'x-overflow' for ${what}: '${ov}'`, C, M);
    out.overflow = ov;
  }
  const dlx = strArg(t, 'x-dead-letter-exchange');
  if (dlx !== undefined) out.deadLetterExchange = dlx;
  const dlrk = strArg(t, 'x-dead-letter-routing-key');
  if (dlrk !== undefined) {
    if (dlx === undefined) throw amqpError(406, `invalid arg 'x-dead-letter-routing-key' for ${what}: requires x-dead-letter-exchange`, C, M);
    out.deadLetterRoutingKey = dlrk;
  }
  const mp = nonNeg('x-max-priority');
  if (mp !== undefined) {
    if (mp > 255) throw amqpError(406, `invalid arg 'x-max-priority' for ${what}: ${mp} > 255`, C, M);
    if (mp > 0) out.maxPriority = mp;
  }
  const sac = t['x-single-active-consumer'];
  if (sac !== undefined) {
    if (typeof sac !== 'boolean') throw amqpError(406, `invalid arg 'x-single-active-consumer' for ${what}: must be a boolean`, C, M);
    if (sac) out.singleActiveConsumer = true;
  }
  const qt = strArg(t, 'x-queue-type');
  if (qt !== undefined) {
    // quorum queues are served as classic ones (single node: same guarantees with fsync always).
    if (qt === 'stream') out.queueType = 'stream';
    else if (qt !== 'classic' && qt !== 'quorum') throw amqpError(406, `invalid arg 'x-queue-type' for ${what}: unknown queue type '${qt}'`, C, M);
  }
  return out;
}
