/**
 * MQTT 5 properties (§2.2.2): a table of identifier → (name, wire type), encoded and decoded by
 * one generic loop. User Property and Subscription Identifier may repeat; any other property seen
 * twice is a Protocol Error (0x82); an unknown identifier is a Malformed Packet (0x81).
 *
 * Not done here: which properties a given packet type may carry (§3.x.2.3). The decoder accepts any
 * known property in any packet and the session ignores the ones it does not use — mosquitto is
 * equally lenient, and strictness here would only turn client bugs into disconnects.
 */
import { malformed, protocolError } from './errors.js';
import { Reader, varintSize, Writer } from './reader.js';

export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  userProperties?: [string, string][];
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

type WireType = 'byte' | 'u16' | 'u32' | 'varint' | 'utf8' | 'binary' | 'pair';

export const PROP = {
  payloadFormatIndicator: 0x01,
  messageExpiryInterval: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionIdentifiers: 0x0b,
  sessionExpiryInterval: 0x11,
  assignedClientIdentifier: 0x12,
  serverKeepAlive: 0x13,
  authenticationMethod: 0x15,
  authenticationData: 0x16,
  requestProblemInformation: 0x17,
  willDelayInterval: 0x18,
  requestResponseInformation: 0x19,
  responseInformation: 0x1a,
  serverReference: 0x1c,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumQoS: 0x24,
  retainAvailable: 0x25,
  userProperties: 0x26,
  maximumPacketSize: 0x27,
  wildcardSubscriptionAvailable: 0x28,
  subscriptionIdentifierAvailable: 0x29,
  sharedSubscriptionAvailable: 0x2a,
} as const satisfies Record<keyof Properties, number>;

const TYPES: Record<keyof Properties, WireType> = {
  payloadFormatIndicator: 'byte',
  messageExpiryInterval: 'u32',
  contentType: 'utf8',
  responseTopic: 'utf8',
  correlationData: 'binary',
  subscriptionIdentifiers: 'varint',
  sessionExpiryInterval: 'u32',
  assignedClientIdentifier: 'utf8',
  serverKeepAlive: 'u16',
  authenticationMethod: 'utf8',
  authenticationData: 'binary',
  requestProblemInformation: 'byte',
  willDelayInterval: 'u32',
  requestResponseInformation: 'byte',
  responseInformation: 'utf8',
  serverReference: 'utf8',
  reasonString: 'utf8',
  receiveMaximum: 'u16',
  topicAliasMaximum: 'u16',
  topicAlias: 'u16',
  maximumQoS: 'byte',
  retainAvailable: 'byte',
  userProperties: 'pair',
  maximumPacketSize: 'u32',
  wildcardSubscriptionAvailable: 'byte',
  subscriptionIdentifierAvailable: 'byte',
  sharedSubscriptionAvailable: 'byte',
};

const BY_ID = new Map<number, { name: keyof Properties; type: WireType }>();
for (const name of Object.keys(PROP) as (keyof Properties)[]) BY_ID.set(PROP[name], { name, type: TYPES[name] });
const ORDER = Object.keys(PROP) as (keyof Properties)[];

/** Reads a property section (length + properties) at the reader's position. */
export function readProperties(r: Reader): Properties {
  const len = r.varint('property length');
  if (len > r.remaining) throw malformed(`property length ${len} exceeds the packet`);
  return decodePropertyBytes(r.buf, r.pos, (r.pos += len));
}

/** Decodes properties in buf[start, end) (no length prefix). */
export function decodePropertyBytes(buf: Buffer, start: number, end: number): Properties {
  const r = new Reader(buf, start, end);
  const p: Properties = {};
  const out = p as Record<string, unknown>;
  while (r.remaining > 0) {
    const id = r.varint('property identifier');
    const def = BY_ID.get(id);
    if (!def) throw malformed(`unknown property identifier 0x${id.toString(16)}`);
    const { name, type } = def;
    if (name === 'userProperties') {
      const k = r.utf8('user property name');
      const v = r.utf8('user property value');
      (p.userProperties ??= []).push([k, v]);
      continue;
    }
    if (name === 'subscriptionIdentifiers') {
      const v = r.varint('subscription identifier');
      if (v === 0) throw protocolError('subscription identifier 0');
      (p.subscriptionIdentifiers ??= []).push(v);
      continue;
    }
    if (out[name] !== undefined) throw protocolError(`property ${name} appears twice`);
    switch (type) {
      case 'byte':
        out[name] = r.u8(name);
        break;
      case 'u16':
        out[name] = r.u16(name);
        break;
      case 'u32':
        out[name] = r.u32(name);
        break;
      case 'varint':
        out[name] = r.varint(name);
        break;
      case 'utf8':
        out[name] = r.utf8(name);
        break;
      default:
        out[name] = r.binary(name);
    }
  }
  return p;
}

/** Encodes properties without the length prefix. */
export function encodePropertyBytes(p: Properties | undefined, w: Writer = new Writer()): Writer {
  if (!p) return w;
  const src = p as Record<string, unknown>;
  for (const name of ORDER) {
    const v = src[name];
    if (v === undefined) continue;
    const id = PROP[name];
    if (name === 'userProperties') {
      for (const [k, val] of v as [string, string][]) {
        w.u8(id);
        w.utf8(k);
        w.utf8(val);
      }
      continue;
    }
    if (name === 'subscriptionIdentifiers') {
      for (const n of v as number[]) {
        w.u8(id);
        w.varint(n);
      }
      continue;
    }
    w.u8(id);
    switch (TYPES[name]) {
      case 'byte':
        w.u8(v as number);
        break;
      case 'u16':
        w.u16(v as number);
        break;
      case 'u32':
        w.u32(v as number);
        break;
      case 'varint':
        w.varint(v as number);
        break;
      case 'utf8':
        w.utf8(v as string);
        break;
      default:
        w.binary(v as Buffer);
    }
  }
  return w;
}

/** Writes a property section: variable-length size, then the properties. */
export function writeProperties(w: Writer, p: Properties | undefined): void {
  const bytes = encodePropertyBytes(p).result();
  w.varint(bytes.length);
  w.raw(bytes);
}

/** Bytes a property section takes on the wire, given its encoded body. */
export function propertySectionSize(bodyLength: number): number {
  return varintSize(bodyLength) + bodyLength;
}

export function hasProperties(p: Properties | undefined): boolean {
  if (!p) return false;
  for (const k in p) if ((p as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}

/**
 * Walks an encoded property section (no length prefix) and returns it without the properties
 * whose identifiers are in `drop` — used to strip a Topic Alias before storing a message and a
 * Message Expiry Interval before rewriting it on delivery. Returns the input when nothing matched.
 * Assumes bytes already validated by decodePropertyBytes.
 */
export function stripProperties(buf: Buffer, drop: ReadonlySet<number>): Buffer {
  const r = new Reader(buf, 0, buf.length);
  let keep: Buffer[] | undefined;
  let from = 0;
  while (r.remaining > 0) {
    const at = r.pos;
    const id = r.varint();
    const def = BY_ID.get(id);
    if (!def) throw malformed(`unknown property identifier 0x${id.toString(16)}`);
    switch (def.type) {
      case 'byte':
        r.u8();
        break;
      case 'u16':
        r.u16();
        break;
      case 'u32':
        r.u32();
        break;
      case 'varint':
        r.varint();
        break;
      case 'pair':
        r.binary();
        r.binary();
        break;
      default:
        r.binary();
    }
    if (drop.has(id)) {
      keep ??= [];
      if (at > from) keep.push(buf.subarray(from, at));
      from = r.pos;
    }
  }
  if (!keep) return buf;
  if (from < buf.length) keep.push(buf.subarray(from));
  return Buffer.concat(keep);
}
