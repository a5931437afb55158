/**
 * Inbound PUBLISH (QoS 0, 1, 2) and PUBREL.
 *
 *   QoS 0  routed; nothing is sent back
 *   QoS 1  routed; PUBACK once durable (v5: reason 0x10 when no subscription matched)
 *   QoS 0 and 1 without RETAIN are queued on the connection (connection.ts, queuePublish):
 *          consecutive ones to the same topic become one engine append
 *   QoS 2  routed; the packet id is remembered (in the session store for persistent sessions,
 *          durably, before PUBREC); a resent PUBLISH with a remembered id is not routed again,
 *          only PUBRECed; PUBREL forgets the id and is answered with PUBCOMP — exactly once
 *
 * Topic aliases (v5): a PUBLISH with a topic and an alias sets the alias, one with only an alias
 * uses it; alias 0 or above the announced maximum is DISCONNECT 0x94. Invalid topic names
 * (wildcards, empty) are DISCONNECT 0x90 in v5 and a closed connection in 3.1.1.
 */
import { validateMqttTopicName } from '../../../engine/routing/topic-trie.js';
import { isOmnibusError } from '../../../core/errors.js';
import { RC, type AckPacket, type PublishPacket } from '../codec/index.js';
import type { MqttConnection } from './connection.js';
import { MqttViolation } from './violation.js';

export function handlePublish(conn: MqttConnection, p: PublishPacket): void {
  const session = conn.session!;
  const broker = conn.broker;
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (alias !== undefined) {
    if (alias === 0 || alias > broker.opts.topicAliasMaximum) throw new MqttViolation(RC.TOPIC_ALIAS_INVALID, `topic alias ${alias} out of range`);
    if (topic !== '') conn.aliases.set(alias, topic);
    else {
      const t = conn.aliases.get(alias);
      if (t === undefined) throw new MqttViolation(RC.PROTOCOL_ERROR, `unknown topic alias ${alias}`);
      topic = t;
    }
  }
  try {
    validateMqttTopicName(topic);
  } catch (e) {
    throw new MqttViolation(RC.TOPIC_NAME_INVALID, (e as Error).message);
  }
  if (p.properties?.subscriptionIdentifiers) throw new MqttViolation(RC.PROTOCOL_ERROR, 'a PUBLISH from a client may not carry a Subscription Identifier');
  if (p.payload.length > broker.engine.maxMessageBytes) {
    if (conn.version === 5 && p.qos > 0) {
      conn.send({ type: p.qos === 1 ? 'puback' : 'pubrec', packetId: p.packetId!, reasonCode: RC.PACKET_TOO_LARGE });
      return;
    }
    throw new MqttViolation(RC.PACKET_TOO_LARGE, `payload of ${p.payload.length} bytes is larger than the maximum message size`);
  }
  const id = p.packetId!;
  if (p.qos === 2 && session.q2in.has(id)) {
    // A resend of a PUBLISH we already routed (our PUBREC was lost): acknowledge, do not route again.
    conn.orderedAck()({ type: 'pubrec', packetId: id });
    return;
  }
  if (p.qos < 2 && !p.retain) {
    // The common case: batched with the connection's neighbouring publishes to the same topic.
    conn.queuePublish(topic, { topic, payload: p.payload, qos: p.qos, retain: false, properties: p.properties, propsRaw: p.propsRaw, clientId: conn.clientId }, p.packetId);
    return;
  }
  // Retained and QoS 2 publishes go alone, after everything queued before them.
  conn.flushPublishes();
  const done = p.qos > 0 ? conn.orderedAck() : undefined;
  const routed = broker.publish({
    topic,
    payload: p.payload,
    qos: p.qos,
    retain: p.retain,
    properties: p.properties,
    propsRaw: p.propsRaw,
    clientId: conn.clientId,
  });
  if (!done) {
    routed.catch((e: unknown) => broker.log(`mqtt: QoS 0 publish from ${conn.clientId} to ${topic} failed: ${String(e)}`));
    return;
  }
  const type = p.qos === 1 ? 'puback' : 'pubrec';
  routed.then(
    async (any: boolean) => {
      if (p.qos === 2) {
        session.q2in.add(id);
        if (session.persistent) {
          broker.store.write({ t: 'q2i', c: conn.clientId, id });
          await broker.store.durable();
        }
      }
      const ack: AckPacket = { type, packetId: id };
      if (conn.version === 5 && !any) ack.reasonCode = RC.NO_MATCHING_SUBSCRIBERS;
      done(ack);
    },
    (e: unknown) => publishFailed(conn, topic, e, (reasonCode) => done({ type, packetId: id, reasonCode })),
  );
}

/** A failed append: v5 clients get the ack with a reason code, 3.1.1 clients a closed connection. */
export function publishFailed(conn: MqttConnection, topic: string, e: unknown, nack: (reasonCode: number) => void): void {
  conn.broker.log(`mqtt: publish from ${conn.clientId} to ${topic} failed: ${String(e)}`);
  if (conn.version === 5) {
    nack(isOmnibusError(e, 'MQ_ERR_REJECTED') ? RC.QUOTA_EXCEEDED : isOmnibusError(e, 'MQ_ERR_PAYLOAD_TOO_LARGE') ? RC.PACKET_TOO_LARGE : RC.UNSPECIFIED_ERROR);
  } else void conn.close(undefined, 'publish failed');
}

export function handlePubrel(conn: MqttConnection, p: AckPacket): void {
  const session = conn.session!;
  const known = session.q2in.delete(p.packetId);
  if (known && session.persistent) conn.broker.store.write({ t: 'q2i-', c: conn.clientId, id: p.packetId });
  const ack: AckPacket = { type: 'pubcomp', packetId: p.packetId };
  if (!known && conn.version === 5) ack.reasonCode = RC.PACKET_ID_NOT_FOUND;
  // Through the ordered queue: a PUBCOMP must not overtake the PUBREC of the same id.
  conn.orderedAck()(ack);
}
