/**
 * queue.declare: server-named (`amq.gen-…`), passive (404 when missing), exclusive (405 for other
 * connections), durable/auto-delete, and the x-arguments this broker honours (see
 * docs/protocols/amqp.md). Redeclaring with different flags or arguments is 406
 * PRECONDITION_FAILED with RabbitMQ's "inequivalent arg" text.
 */
import { AmqpDecimal, FieldTyped, RABBIT_TYPE_NAMES, fieldTagOf, queueDeclareOk } from '../../index.js';
import type { FieldTable, FieldTag, FieldValue, QueueDeclareArgs } from '../../index.js';
import type { Channel } from '../channel.js';
import type { AmqpQueue, QueueArgs } from '../queue.js';
import { DEFAULT_GROUP } from '../../../../engine/topic.js';
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
    // As rabbit_channel: an existing queue is compared, not validated (a longstr '10' for
    // x-max-length is "inequivalent", not "invalid arg").
    checkEquivalent(q, a);
  } else {
    const args = parseArgs(a.arguments);
    if (args.queueType === 'stream' && (!a.durable || a.exclusive || a.autoDelete)) {
      throw amqpError(406, `invalid property '${!a.durable ? 'non-durable' : a.exclusive ? 'exclusive' : 'auto-delete'}' for queue '${name}' in vhost '/'`, C, M);
    }
    if (args.groupOf !== undefined) await checkGroupOf(ch, name, args.groupOf, foreign);
    q = await broker.createQueue(name, a.durable, a.autoDelete, a.exclusive ? conn : undefined, args, a.arguments);
  }
  if (ch.state !== 'open') return;
  ch.lastQueue = name;
  q.touch();
  if (!a.nowait) ch.conn.sendMethod(ch.id, queueDeclareOk({ queue: name, messageCount: q.messageCount, consumerCount: q.consumerCount }));
}

/**
 * A group queue's log must be a queue with a topic of its own (not a group queue itself), visible
 * to this connection. Its name becomes the engine group's name on that topic, so it must not be
 * the name of the group every classic queue consumes with (DEFAULT_GROUP) nor of a topic.
 */
async function checkGroupOf(ch: Channel, name: string, of: string, foreign: boolean): Promise<void> {
  if (name === DEFAULT_GROUP) throw amqpError(406, `invalid arg 'x-omnibus-group-of' for queue '${name}' in vhost '/': the name '${DEFAULT_GROUP}' is reserved for the log's own group`, C, M);
  if (foreign) throw amqpError(406, `invalid arg 'x-omnibus-group-of' for queue '${name}' in vhost '/': a topic of that name exists`, C, M);
  const target = await ch.conn.broker.findQueue(of);
  if (!target) throw amqpError(404, `no queue '${of}' in vhost '/'`, C, M);
  checkExclusive(target, ch);
  if (target.isGroupView) throw amqpError(406, `invalid arg 'x-omnibus-group-of' for queue '${name}' in vhost '/': '${of}' is a group queue itself`, C, M);
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

function checkEquivalent(q: AmqpQueue, a: QueueDeclareArgs): void {
  const flag = (what: string, got: boolean, cur: boolean) => {
    if (got !== cur) throw amqpError(406, `inequivalent arg '${what}' for queue '${q.name}' in vhost '/': received '${got}' but current is '${cur}'`, C, M);
  };
  flag('durable', a.durable, q.durable);
  flag('auto_delete', a.autoDelete, q.autoDelete);
  if (a.exclusive !== (q.exclusiveOwner !== undefined)) checkExclusiveMismatch(q);
  const text = argsInequivalence(q.rawArgs, a.arguments, `queue '${q.name}' in vhost '/'`);
  if (text !== undefined) throw amqpError(406, text, C, M);
}

/**
 * The x-arguments RabbitMQ 3.10 compares on redeclare, in its order (the first difference is the
 * one reported), per queue type: rabbit_classic_queue / rabbit_quorum_queue / rabbit_stream_queue
 * capabilities(), queue_arguments.
 */
const EQUIVALENCE_KEYS: Readonly<Record<string, readonly string[]>> = {
  // The x-omnibus-* extension last: RabbitMQ clients never send them, so its reports are unchanged.
  classic: ['x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length', 'x-max-length-bytes', 'x-max-priority', 'x-overflow', 'x-queue-mode', 'x-queue-version', 'x-single-active-consumer', 'x-queue-type', 'x-queue-master-locator', 'x-omnibus-log', 'x-omnibus-group-of'],
  quorum: ['x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-dead-letter-strategy', 'x-expires', 'x-max-length', 'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-overflow', 'x-single-active-consumer', 'x-queue-type', 'x-quorum-initial-group-size', 'x-delivery-limit', 'x-message-ttl', 'x-queue-leader-locator'],
  stream: ['x-max-length-bytes', 'x-queue-type', 'x-max-age', 'x-stream-max-segment-size-bytes', 'x-initial-cluster-size', 'x-queue-leader-locator'],
};

/** rabbit_misc:type_class: the integer types compare by value with each other, as do float and double. */
function typeClass(tag: FieldTag): string {
  return 'bBsuIilD'.includes(tag) ? 'int' : tag === 'f' || tag === 'd' ? 'float' : tag;
}

/** A value as Erlang's ~p / ~s print it in rabbit_misc:equivalence_fail (floats keep a ".0"). */
function erlValue(v: FieldValue, tag: FieldTag): string {
  if (v instanceof FieldTyped) return erlValue(v.value, tag);
  if ((tag === 'd' || tag === 'f') && typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof AmqpDecimal) return `{${v.scale},${v.value}}`;
  if (v instanceof Date) return String(Math.floor(v.getTime() / 1000));
  if (v === null || v === undefined) return 'undefined';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (a instanceof FieldTyped) return sameValue(a.value, b);
  if (b instanceof FieldTyped) return sameValue(a, b.value);
  if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return Number(a) === Number(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

/**
 * RabbitMQ's rabbit_misc:assert_args_equivalence over the raw argument tables: undefined when
 * equivalent, else the PRECONDITION_FAILED text. Both sides present: "received 'V' but current
 * is 'W'"; one side missing: "none" and "the value 'V' of type 'T'", T being RabbitMQ's name of
 * the field type the client sent (amqplib sends 10 as a byte, pika as a signedint).
 */
export function argsInequivalence(current: FieldTable, declared: FieldTable, what: string): string | undefined {
  const qt = strArg(current, 'x-queue-type');
  const keys = EQUIVALENCE_KEYS[qt === 'quorum' || qt === 'stream' ? qt : 'classic']!;
  for (const key of keys) {
    const got = declared[key];
    const cur = current[key];
    if (got === undefined && cur === undefined) continue;
    // RabbitMQ fills in the existing queue type when a redeclare omits x-queue-type.
    if (key === 'x-queue-type' && got === undefined) continue;
    const gt = fieldTagOf(declared, key);
    const ct = fieldTagOf(current, key);
    if (got !== undefined && cur !== undefined && gt !== undefined && ct !== undefined) {
      if (typeClass(gt) === typeClass(ct) && sameValue(got, cur)) continue;
      return `inequivalent arg '${key}' for ${what}: received '${erlValue(got, gt)}' but current is '${erlValue(cur, ct)}'`;
    }
    const val = (v: FieldValue, t: FieldTag | undefined): string => (v === undefined || t === undefined ? 'none' : `the value '${erlValue(v, t)}' of type '${RABBIT_TYPE_NAMES[t]}'`);
    return `inequivalent arg '${key}' for ${what}: received ${val(got, gt)} but current is ${val(cur, ct)}`;
  }
  return undefined;
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
  parseGroupArgs(t, out, what);
  return out;
}

/**
 * The Omnibus extension (docs/protocols/amqp.md, "Log queues and group queues"): x-omnibus-log
 * (a queue that only stores, for its group queues) and x-omnibus-group-of / x-omnibus-start (a
 * queue that is one consumer group of another queue's messages, starting at the earliest one
 * still stored). RabbitMQ accepts and ignores unknown x-arguments, so a client sends these only to
 * a server whose connection.start says product "Omnibus".
 */
function parseGroupArgs(t: FieldTable, out: QueueArgs, what: string): void {
  const log = t['x-omnibus-log'];
  if (log !== undefined) {
    if (typeof log !== 'boolean') throw amqpError(406, `invalid arg 'x-omnibus-log' for ${what}: must be a boolean`, C, M);
    if (log) {
      if (out.queueType === 'stream') throw amqpError(406, `invalid arg 'x-omnibus-log' for ${what}: a stream queue is read as a log already`, C, M);
      out.log = true;
    }
  }
  const of = strArg(t, 'x-omnibus-group-of');
  const start = strArg(t, 'x-omnibus-start');
  if (of === undefined) {
    if (start !== undefined) throw amqpError(406, `invalid arg 'x-omnibus-start' for ${what}: requires x-omnibus-group-of`, C, M);
    return;
  }
  if (of === '') throw amqpError(406, `invalid arg 'x-omnibus-group-of' for ${what}: empty queue name`, C, M);
  if (out.log || out.queueType === 'stream') throw amqpError(406, `invalid arg 'x-omnibus-group-of' for ${what}: a group queue cannot be a ${out.log ? 'log' : 'stream'} queue`, C, M);
  // Each group queue's delivery state is one engine group; a dead-letter exchange, TTL and
  // max-length are that group's and are honoured. What is routed goes to the log, not here.
  out.groupOf = of;
  if (start !== undefined) {
    if (start !== 'earliest' && start !== 'latest') throw amqpError(406, `invalid arg 'x-omnibus-start' for ${what}: '${start}' (earliest or latest)`, C, M);
    out.start = start;
  }
}
