/**
 * SUBSCRIBE → SUBACK, then the retained messages the new subscriptions should see.
 *
 * Per filter: `$share/<group>/<filter>` becomes a shared subscription (no retained messages, No
 * Local forbidden); anything else a binding from `amq.topic` to the session's queue. The granted
 * QoS is the requested one (QoS 2 is supported both ways). A malformed filter (`#` not last or not
 * a whole level, `+` not a whole level, empty, U+0000, a `$share/` prefix without a share name or
 * filter) breaks a MUST of the spec (3.1.1 [MQTT-4.7.1-2/3], 5.0 §4.7.1, [MQTT-4.8.2-1/2]): the
 * connection closes (5: DISCONNECT 0x81 Malformed Packet), as mosquitto 2 does. A well-formed
 * filter Omnibus cannot bind (a literal `*` level, which has no canonical form) gets 0x80 (3.1.1)
 * / 0x8F "Topic Filter invalid" (5: "correctly formed but not allowed") without failing the
 * others. Retain Handling: 0 always sends retained messages, 1 only
 * for a new subscription, 2 never. A repeated filter replaces the options of the existing one.
 *
 * For persistent sessions the subscription is in the session store, durably, before the SUBACK.
 */
import { RC, type SubscribePacket } from '../codec/index.js';
import type { MqttConnection } from './connection.js';
import { makeSub, parseShare } from './broker.js';
import { mqttFilterProblem } from '../../../engine/routing/topic-trie.js';
import type { Sub } from './session.js';
import type { SubOptions } from './store.js';
import { MqttViolation } from './violation.js';

/** Why `filter` (possibly `$share/<name>/<filter>`) is malformed, or undefined. */
function filterProblem(filter: string): string | undefined {
  const share = parseShare(filter);
  if (share === null) return 'a shared subscription needs $share/<name>/<filter>, the name without "/", "+" or "#"';
  return mqttFilterProblem(share ? share.topicFilter : filter);
}

export async function handleSubscribe(conn: MqttConnection, p: SubscribePacket): Promise<void> {
  const session = conn.session!;
  const broker = conn.broker;
  const subId = p.properties?.subscriptionIdentifiers?.[0];
  const codes: number[] = [];
  const retained: Sub[] = [];
  // The whole packet is refused before any of its filters takes effect.
  for (const s of p.subscriptions) {
    const problem = filterProblem(s.topic);
    if (problem !== undefined) throw new MqttViolation(RC.MALFORMED_PACKET, `invalid topic filter "${s.topic.slice(0, 200)}": ${problem}`);
  }
  for (const s of p.subscriptions) {
    const opts: SubOptions = { qos: s.qos };
    if (s.noLocal) opts.nl = true;
    if (s.retainAsPublished) opts.rap = true;
    if (s.retainHandling) opts.rh = s.retainHandling;
    if (subId !== undefined) opts.id = subId;
    const sub = makeSub(s.topic, opts);
    if (!sub) {
      codes.push(conn.version === 5 ? RC.TOPIC_FILTER_INVALID : 0x80);
      continue;
    }
    if (sub.shareGroup !== undefined && s.noLocal) throw new MqttViolation(RC.PROTOCOL_ERROR, 'No Local on a shared subscription');
    const existed = await session.addSubscription(sub);
    broker.store.write({ t: 'sub', c: session.clientId, f: sub.filter, o: opts });
    codes.push(s.qos);
    const rh = s.retainHandling ?? 0;
    if (sub.shareGroup === undefined && (rh === 0 || (rh === 1 && !existed))) retained.push(session.subs.get(sub.filter)!);
  }
  if (session.persistent) await broker.store.durable();
  if (conn.isClosed()) return;
  conn.send({ type: 'suback', packetId: p.packetId, reasonCodes: codes });
  for (const sub of retained) await broker.sendRetained(session, sub);
}
