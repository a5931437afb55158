/**
 * basic.publish (with its content): routing, mandatory → basic.return (312 NO_ROUTE), publisher
 * confirms, tx staging, direct reply-to (`amq.rabbitmq.reply-to`), the `expiration` property,
 * x-max-priority capping and x-delayed-message (`x-delay` header → deliverAt). x-max-length and
 * x-max-length-bytes are the engine group's (maxLength / maxLengthBytes).
 *
 * The record keeps the publisher's property bytes as-is (props/PROPS_AMQP091) so an AMQP consumer
 * gets them byte-for-byte; simple header values are copied as strings for other protocols, and the
 * exchange (when not the default) rides along in the `x-amqp-exchange` string header because
 * basic.deliver must name it.
 *
 * Records are not appended here: connection.enqueuePublish batches every publish of one socket
 * read into one engine.publish per queue.
 */
import { PROPS_AMQP091, type RecordInput } from '../../../../engine/record.js';
import { basicDeliver, basicReturn } from '../../index.js';
import type { BasicPublishArgs, BasicProperties, ContentHeader, FieldValue } from '../../index.js';
import type { Channel } from '../channel.js';
import { amqpError, encodeProps, stringHeaders } from '../util.js';

export const REPLY_TO = 'amq.rabbitmq.reply-to';
const REPLY_TO_PREFIX = REPLY_TO + '.';

export function basicPublish(ch: Channel, args: BasicPublishArgs, header: ContentHeader, body: Buffer): void {
  const conn = ch.conn;
  const broker = conn.broker;
  const engine = broker.engine;
  const { exchange, routingKey } = args;
  let props: BasicProperties = header.properties;
  let raw: Uint8Array = header.rawProperties;
  if (body.length > engine.maxMessageBytes) {
    throw amqpError(406, `message size ${body.length} is larger than configured max size ${engine.maxMessageBytes}`, 60, 40);
  }
  if (props.replyTo === REPLY_TO) {
    if (!ch.replyTo) throw amqpError(406, 'fast reply consumer does not exist', 60, 40);
    props = { ...props, replyTo: REPLY_TO_PREFIX + ch.replyTo.token };
    raw = encodeProps(props);
  }

  let delayed = false;
  let topics: readonly string[];
  if (exchange === '') {
    if (routingKey.startsWith(REPLY_TO_PREFIX)) {
      const target = broker.replyTo.get(routingKey.slice(REPLY_TO_PREFIX.length));
      if (target && target.ch.state === 'open') {
        target.ch.sendContent(basicDeliver({ consumerTag: target.tag, deliveryTag: target.ch.nextDeliveryTag(), redelivered: false, exchange: '', routingKey }), raw, body);
        if (!ch.tx) ch.trackConfirm(0);
        return;
      }
      topics = [];
    } else {
      // A group queue (x-omnibus-group-of) has no topic of its own: its name routes nowhere (as
      // RabbitMQ's default exchange does for a name no queue has); publishers name its log queue.
      const q = broker.queues.get(routingKey);
      topics = (q !== undefined && !q.isGroupView) || (q === undefined && engine.getTopic(routingKey)) ? [routingKey] : [];
    }
  } else {
    const decl = engine.exchanges.get(exchange);
    if (!decl) throw amqpError(404, `no exchange '${exchange}' in vhost '/'`, 60, 40);
    if (decl.internal) throw amqpError(403, `cannot publish to internal exchange '${exchange}' in vhost '/'`, 60, 40);
    delayed = decl.arguments['x-delayed-type'] !== undefined;
    topics = engine.exchanges.route(exchange, routingKey, props.headers).topics;
  }

  if (topics.length === 0) {
    if (args.mandatory) {
      ch.sendContent(basicReturn({ replyCode: 312, replyText: 'NO_ROUTE', exchange, routingKey }), raw, body);
    }
    if (!ch.tx) ch.trackConfirm(0);
    return;
  }

  const now = engine.clock.now();
  let expiresAt: number | undefined;
  if (props.expiration !== undefined) {
    const e = props.expiration;
    if (!/^\d{1,15}$/.test(e)) throw amqpError(406, `invalid expiration '${e}'`, 60, 40);
    expiresAt = now + Number(e);
  }
  let deliverAt: number | undefined;
  if (delayed) {
    const d = numeric(props.headers?.['x-delay']);
    if (d !== undefined && d > 0) deliverAt = now + d;
  }
  const base: RecordInput = {
    body,
    key: routingKey,
    headers: stringHeaders(props.headers, exchange),
    timestamp: now,
    priority: 0,
    expiresAt,
    deliverAt,
    props: raw,
    propsFormat: PROPS_AMQP091,
  };
  const done = ch.tx ? undefined : ch.trackConfirm(topics.length);
  for (const t of topics) {
    const q = broker.queues.get(t);
    let rec = base;
    if (q !== undefined) {
      const mp = q.args.maxPriority;
      if (mp !== undefined && props.priority) rec = { ...base, priority: Math.min(props.priority, mp) };
      if (q.isStream && (expiresAt !== undefined || deliverAt !== undefined)) rec = { ...rec, expiresAt: undefined, deliverAt: undefined };
    }
    if (ch.tx) {
      ch.tx.publish(t, [rec]);
      if (q?.isStream) ch.txStreams.add(t);
      continue;
    }
    conn.enqueuePublish(t, rec, done, q?.isStream ?? false);
  }
}

function numeric(v: FieldValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}
