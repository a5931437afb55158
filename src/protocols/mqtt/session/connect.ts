/**
 * CONNECT → CONNACK: protocol level, authentication (OMNIBUS_USERS), client id (assigned when
 * empty), Clean Session / Clean Start + Session Expiry Interval, will validation, client-id
 * takeover (the older connection gets DISCONNECT 0x8E in v5 and is closed; its will is published),
 * then the session is resumed (Session Present = 1) or created, and its consumers start.
 *
 * 3.1.1 (and 3.1): Clean Session = 0 means a session that never expires; = 1 means Session Expiry 0.
 * An empty client id is refused (0x02) with Clean Session = 0, as the spec requires.
 */
import { randomBytes } from 'node:crypto';
import { validateMqttTopicName } from '../../../engine/routing/topic-trie.js';
import { CONNACK_V3, RC, type ConnectPacket, type Properties } from '../codec/index.js';
import type { MqttConnection } from './connection.js';
import { MqttSession } from './session.js';
import { MqttViolation } from './violation.js';

function refuse(conn: MqttConnection, v3: number, v5: number, why: string): Promise<void> {
  conn.send({ type: 'connack', sessionPresent: false, reasonCode: conn.version === 5 ? v5 : v3 });
  return conn.close(undefined, why);
}

export async function handleConnect(conn: MqttConnection, p: ConnectPacket): Promise<void> {
  const broker = conn.broker;
  const v = p.protocolVersion;
  conn.version = v;
  conn.decoder.version = v;
  const props = p.properties ?? {};

  const users = broker.opts.users;
  if (users !== undefined) {
    const ok = p.username !== undefined && p.password !== undefined && users.get(p.username) === p.password.toString('utf8');
    // MQTT 5 defines 0x86 as "the data in the user name or password is malformed"; credentials
    // that are well formed but wrong (or missing) are 0x87 Not authorized, as mosquitto 2 answers.
    if (!ok) return refuse(conn, CONNACK_V3.NOT_AUTHORIZED, RC.NOT_AUTHORIZED, 'not authorized: unknown user name or wrong password');
  }
  if (props.authenticationMethod !== undefined) return refuse(conn, CONNACK_V3.NOT_AUTHORIZED, RC.BAD_AUTH_METHOD, 'enhanced authentication is not supported');

  let clientId = p.clientId;
  let assigned: string | undefined;
  if (clientId === '') {
    if (v !== 5 && !p.clean) return refuse(conn, CONNACK_V3.IDENTIFIER_REJECTED, RC.CLIENT_ID_NOT_VALID, 'empty client id with a persistent session');
    clientId = assigned = `omnibus-${randomBytes(9).toString('base64url')}`;
  }
  if (props.receiveMaximum === 0) throw new MqttViolation(RC.PROTOCOL_ERROR, 'Receive Maximum 0');
  if (props.maximumPacketSize === 0) throw new MqttViolation(RC.PROTOCOL_ERROR, 'Maximum Packet Size 0');
  if (p.will) {
    try {
      validateMqttTopicName(p.will.topic);
    } catch {
      return refuse(conn, CONNACK_V3.NOT_AUTHORIZED, RC.TOPIC_NAME_INVALID, `invalid will topic "${p.will.topic}"`);
    }
  }
  conn.clientId = clientId;
  conn.will = p.will;
  conn.clientReceiveMaximum = props.receiveMaximum ?? 65535;
  if (props.maximumPacketSize !== undefined) conn.clientMaxPacketSize = props.maximumPacketSize;
  const expiry = v === 5 ? (props.sessionExpiryInterval ?? 0) : p.clean ? 0 : 0xffffffff;

  // Takeover: the older connection goes first (its session detaches, its will is handled).
  const old = broker.connected.get(clientId);
  if (old && old !== conn) await old.close(RC.SESSION_TAKEN_OVER, 'another connection used this client id');
  if (conn.isClosed()) return;
  broker.cancelWill(clientId);

  let session = broker.sessions.get(clientId);
  if (session && p.clean) {
    broker.sessions.delete(clientId);
    await session.destroy();
    session = undefined;
  }
  const present = session !== undefined;
  if (!session) {
    session = new MqttSession(broker, clientId);
    broker.sessions.set(clientId, session);
  }
  session.version = v;
  session.expiry = expiry;
  const persistent = expiry > 0;
  if (persistent) {
    session.persistent = true;
    broker.store.write({ t: 's', c: clientId, exp: expiry, v });
    await broker.store.durable();
  }
  if (conn.isClosed()) {
    if (!present && broker.sessions.get(clientId) === session && !persistent) broker.sessions.delete(clientId);
    return;
  }
  // A racing CONNECT with the same id may have won while we awaited: take over from it too.
  const racing = broker.connected.get(clientId);
  if (racing && racing !== conn) await racing.close(RC.SESSION_TAKEN_OVER, 'another connection used this client id');
  if (conn.isClosed()) return;

  conn.session = session;
  broker.connected.set(clientId, conn);
  const ack: Properties | undefined =
    v === 5
      ? {
          receiveMaximum: broker.opts.receiveMaximum,
          maximumPacketSize: broker.opts.maxPacketSize,
          topicAliasMaximum: broker.opts.topicAliasMaximum,
          retainAvailable: 1,
          wildcardSubscriptionAvailable: 1,
          subscriptionIdentifierAvailable: 1,
          sharedSubscriptionAvailable: 1,
        }
      : undefined;
  if (ack && assigned !== undefined) ack.assignedClientIdentifier = assigned;
  conn.send(ack ? { type: 'connack', sessionPresent: present, reasonCode: 0, properties: ack } : { type: 'connack', sessionPresent: present, reasonCode: 0 });
  conn.state = 'open';
  conn.startKeepalive(p.keepalive);
  await session.attach(conn);
}
