/**
 * The mapping between an MQTT application message and an engine record (RecordInput /
 * DecodedRecord), shared by inbound PUBLISH, wills, retained messages and delivery.
 *
 *   record.key      canonical routing key: `a/b/c` → `a.b.c` (mqttTopicToCanonical: `/` and `.`
 *                   swap, so the mapping is a bijection)
 *   record.body     the payload, unchanged
 *   record.props    PROPS_MQTT5 bytes, this module's own layout (version 1):
 *                     u8  layout version (1)
 *                     u8  flags: bits 0-1 QoS published, bit 2 RETAIN as published
 *                     u16 publisher client id length, client id (UTF-8; for No Local)
 *                     ... the PUBLISH's MQTT 5 property bytes exactly as received, minus Topic
 *                         Alias (connection-scoped); empty for 3.1.1 publishers
 *   record.headers  string forms for other protocols: `x-amqp-exchange: amq.topic` (AMQP's
 *                   basic.deliver names the exchange), `content-type`, `reply-to` (Response
 *                   Topic), `correlation-id` (Correlation Data when it is UTF-8), and each User
 *                   Property as a header (a repeated name keeps its last value)
 *   record.expiresAt  now + Message Expiry Interval
 *
 * Records from other protocols have no MQTT props: they are delivered as QoS 1 messages (AMQP and
 * STOMP messages are at-least-once), RETAIN 0, with `content-type` as Content Type and their other
 * string headers as User Properties (v5).
 */
import { PROPS_MQTT5, type DecodedRecord, type RecordInput } from '../../../engine/record.js';
import { canonicalTopicToMqtt, mqttTopicToCanonical } from '../../../engine/routing/topic-trie.js';
import { encodePropertyBytes, PROP, stripProperties, type Properties } from '../codec/index.js';
import type { QoS } from '../codec/index.js';

export const AMQP_EXCHANGE_HEADER = 'x-amqp-exchange';
export const MQTT_EXCHANGE = 'amq.topic';
/** Marks a retained message copied into one session's queue on SUBSCRIBE; value = the filter. */
export const RETAINED_FOR_HEADER = 'x-mqtt-retained-for';

const LAYOUT = 1;
const STRIP_ON_STORE = new Set<number>([PROP.topicAlias, PROP.subscriptionIdentifiers]);
const STRIP_ON_DELIVER = new Set<number>([PROP.messageExpiryInterval]);

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Parsed v5 properties (for headers and expiry); undefined for 3.1.1. */
  properties?: Properties | undefined;
  /** Raw v5 property bytes as received (no length prefix). */
  propsRaw?: Buffer | undefined;
  clientId: string;
}

/**
 * Per-connection memo of the props bytes of messages without v5 properties: they depend only on
 * the flags and the client id, so a 3.1.1 publisher's 8 possible values are built once instead of
 * one allocation and UTF-8 encode per message (the record encoder copies them into the batch).
 */
export type PropsMemo = (Buffer | undefined)[];

function mqttProps(m: InboundMessage, memo: PropsMemo | undefined): Buffer {
  const raw = m.propsRaw && m.propsRaw.length > 0 ? stripProperties(m.propsRaw, STRIP_ON_STORE) : undefined;
  const flags = m.qos | (m.retain ? 4 : 0);
  if (raw === undefined && memo !== undefined) {
    const hit = memo[flags];
    if (hit !== undefined) return hit;
  }
  const idLen = Buffer.byteLength(m.clientId);
  const out = Buffer.allocUnsafe(4 + idLen + (raw?.length ?? 0));
  out[0] = LAYOUT;
  out[1] = flags;
  out.writeUInt16BE(idLen, 2);
  out.write(m.clientId, 4, 'utf8');
  if (raw) raw.copy(out, 4 + idLen);
  else if (memo !== undefined) memo[flags] = out;
  return out;
}

/** The headers of every message that carries no v5 properties (shared: records never mutate headers). */
const PLAIN_HEADERS: Readonly<Record<string, string>> = Object.freeze({ [AMQP_EXCHANGE_HEADER]: MQTT_EXCHANGE });

/**
 * Builds the engine record for an MQTT message. `key` is the canonical routing key when the
 * caller already has it (a connection remembers the last topic's); `memo` caches props bytes.
 */
export function toRecord(m: InboundMessage, now: number, key?: string, memo?: PropsMemo): RecordInput {
  const p = m.properties;
  let headers: Readonly<Record<string, string>> = PLAIN_HEADERS;
  let expiresAt: number | undefined;
  if (p) {
    const h: Record<string, string> = { [AMQP_EXCHANGE_HEADER]: MQTT_EXCHANGE };
    headers = h;
    if (p.contentType !== undefined) h['content-type'] = p.contentType;
    if (p.responseTopic !== undefined) h['reply-to'] = p.responseTopic;
    if (p.correlationData !== undefined) {
      const s = p.correlationData.toString('utf8');
      if (Buffer.byteLength(s) === p.correlationData.length && !s.includes('\ufffd')) h['correlation-id'] = s;
    }
    if (p.userProperties) for (const [k, v] of p.userProperties) h[k] = v;
    if (p.messageExpiryInterval !== undefined) expiresAt = now + p.messageExpiryInterval * 1000;
  }
  return {
    body: m.payload,
    key: key ?? mqttTopicToCanonical(m.topic),
    headers,
    timestamp: now,
    priority: 0,
    expiresAt,
    props: mqttProps(m, memo),
    propsFormat: PROPS_MQTT5,
  };
}

/** What delivery needs to know about a stored record. */
export interface OutboundView {
  /** MQTT topic name, or undefined when the record's key cannot be one (wildcards, empty). */
  topic: string | undefined;
  qos: QoS;
  retain: boolean;
  /** v5 property bytes to send (before subscription identifiers and the rewritten expiry). */
  props: Buffer | undefined;
  /** Properties to encode for messages from other protocols. */
  foreign: Properties | undefined;
}

const EMPTY = Buffer.alloc(0);

/** The client id of the MQTT publisher of a record (for No Local), or undefined for other protocols'. */
export function recordPublisher(rec: DecodedRecord): string | undefined {
  const pr = rec.props;
  if (rec.propsFormat !== PROPS_MQTT5 || pr === undefined || pr.length < 4 || pr[0] !== LAYOUT) return undefined;
  return pr.toString('utf8', 4, 4 + pr.readUInt16BE(2));
}

/**
 * What delivery needs of a record. With `out`, that object is filled and returned instead of a
 * new one (one per session: a delivery allocates no view).
 */
export function viewRecord(rec: DecodedRecord, memo?: { key: string; topic: string }, out?: OutboundView): OutboundView {
  let topic: string | undefined;
  if (rec.key === undefined) topic = undefined;
  else if (memo === undefined) topic = canonicalTopicToMqtt(rec.key);
  else if (memo.key === rec.key) topic = memo.topic;
  else {
    topic = canonicalTopicToMqtt(rec.key);
    memo.key = rec.key;
    memo.topic = topic;
  }
  const valid = topic !== undefined && topic.length > 0 && !topic.includes('+') && !topic.includes('#');
  const pr = rec.props;
  if (rec.propsFormat === PROPS_MQTT5 && pr !== undefined && pr.length >= 4 && pr[0] === LAYOUT) {
    const idLen = pr.readUInt16BE(2);
    // 3.1.1 publishers' records end with the client id: no property bytes, no subarray.
    const raw = pr.length > 4 + idLen ? pr.subarray(4 + idLen) : undefined;
    const v = out ?? ({} as OutboundView);
    v.topic = valid ? topic : undefined;
    v.qos = (pr[1]! & 3) as QoS;
    v.retain = (pr[1]! & 4) !== 0;
    v.props = raw !== undefined ? (rec.expiresAt !== 0 ? stripProperties(raw, STRIP_ON_DELIVER) : raw) : undefined;
    v.foreign = undefined;
    return v;
  }
  let foreign: Properties | undefined;
  for (const k in rec.headers) {
    if (k === AMQP_EXCHANGE_HEADER || k === RETAINED_FOR_HEADER) continue;
    const v = rec.headers[k]!;
    foreign ??= {};
    if (k === 'content-type') foreign.contentType = v;
    else (foreign.userProperties ??= []).push([k, v]);
  }
  const v = out ?? ({} as OutboundView);
  v.topic = valid ? topic : undefined;
  v.qos = 1;
  v.retain = false;
  v.props = undefined;
  v.foreign = foreign;
  return v;
}

/** Encoded Message Expiry Interval + Subscription Identifier properties for one delivery. */
export function deliveryProps(expirySeconds: number | undefined, subIds: readonly number[], foreign: Properties | undefined): Buffer {
  if (expirySeconds === undefined && subIds.length === 0 && !foreign) return EMPTY;
  const p: Properties = foreign ? { ...foreign } : {};
  if (expirySeconds !== undefined) p.messageExpiryInterval = expirySeconds;
  if (subIds.length > 0) p.subscriptionIdentifiers = [...subIds];
  return encodePropertyBytes(p).result();
}
