/**
 * Packet body decoder: (first byte, body bytes, protocol version) → Packet. Enforces the wire
 * rules that make a packet malformed in the spec (reserved flag bits, QoS 3, QoS 0 with DUP,
 * packet id 0, empty SUBSCRIBE/UNSUBSCRIBE, trailing bytes after fixed-size packets, bad UTF-8,
 * unknown properties). Semantic rules (topic name validity, wildcards, aliases) are the session's.
 *
 * Before CONNECT the version is unknown: CONNECT carries its own. An unsupported protocol level
 * throws MqttCodecError with reason 0x84 so the server can answer CONNACK 0x01 / 0x84 first.
 */
import { MqttCodecError, malformed, protocolError } from './errors.js';
import { Reader } from './reader.js';
import { readProperties, decodePropertyBytes, hasProperties } from './properties.js';
import type { Properties } from './properties.js';
import type { AckPacket, ConnectPacket, Packet, ProtocolVersion, QoS, Subscription, Will } from './packets.js';

export const RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84;

const TYPE_NAMES = [
  undefined,
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
] as const;

function props(r: Reader, v: ProtocolVersion): Properties | undefined {
  if (v !== 5) return undefined;
  const p = readProperties(r);
  return hasProperties(p) ? p : undefined;
}

function withProps<T extends object>(o: T, p: Properties | undefined): T {
  if (p) (o as T & { properties?: Properties }).properties = p;
  return o;
}

function packetId(r: Reader): number {
  const id = r.u16('packet identifier');
  if (id === 0) throw malformed('packet identifier 0');
  return id;
}

function end(r: Reader, what: string): void {
  if (r.remaining !== 0) throw malformed(`${r.remaining} unexpected bytes at the end of ${what}`);
}

function decodeConnect(r: Reader): ConnectPacket {
  const protocolName = r.utf8('protocol name');
  const level = r.u8('protocol level');
  if (protocolName !== 'MQTT' && protocolName !== 'MQIsdp') throw protocolError(`unknown protocol name "${protocolName}"`);
  if (!((protocolName === 'MQTT' && (level === 4 || level === 5)) || (protocolName === 'MQIsdp' && level === 3))) {
    throw new MqttCodecError(RC_UNSUPPORTED_PROTOCOL_VERSION, `unsupported protocol ${protocolName} level ${level}`);
  }
  const v = level as ProtocolVersion;
  const flags = r.u8('connect flags');
  if (flags & 1) throw malformed('connect flags reserved bit is set');
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (willQos === 3) throw malformed('will QoS 3');
  if (!willFlag && (willQos !== 0 || willRetain)) throw malformed('will QoS/retain set without the will flag');
  const hasPassword = (flags & 0x40) !== 0;
  const hasUser = (flags & 0x80) !== 0;
  if (v !== 5 && hasPassword && !hasUser) throw malformed('password flag without user name flag');
  const keepalive = r.u16('keep alive');
  const p: ConnectPacket = { type: 'connect', protocolName, protocolVersion: v, clean: (flags & 0x02) !== 0, keepalive, clientId: '' };
  const cp = props(r, v);
  if (cp) p.properties = cp;
  p.clientId = r.utf8('client identifier');
  if (willFlag) {
    const wp = props(r, v);
    const will: Will = { topic: r.utf8('will topic'), payload: r.binary('will payload'), qos: willQos as QoS, retain: willRetain };
    if (wp) will.properties = wp;
    p.will = will;
  }
  if (hasUser) p.username = r.utf8('user name');
  if (hasPassword) p.password = r.binary('password');
  end(r, 'CONNECT');
  return p;
}

function decodeAck(type: AckPacket['type'], r: Reader, v: ProtocolVersion): AckPacket {
  const p: AckPacket = { type, packetId: packetId(r) };
  if (v === 5) {
    p.reasonCode = r.remaining > 0 ? r.u8('reason code') : 0;
    if (r.remaining > 0) withProps(p, props(r, v));
  }
  end(r, type.toUpperCase());
  return p;
}

/**
 * Decodes the body buf[start, stop) of a packet whose first byte is `first`. `version` is the
 * connection's protocol level (ignored for CONNECT).
 */
export function decodeBody(first: number, buf: Buffer, start: number, stop: number, version: ProtocolVersion): Packet {
  const type = first >> 4;
  const flags = first & 0x0f;
  const name = TYPE_NAMES[type];
  if (name === undefined) throw malformed('packet type 0 is reserved');
  if (name === 'publish') {
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw malformed('PUBLISH with QoS 3');
    const dup = (flags & 8) !== 0;
    if (qos === 0 && dup) throw malformed('PUBLISH QoS 0 with DUP set');
    const r = new Reader(buf, start, stop);
    const topic = r.utf8('topic name');
    const id = qos > 0 ? packetId(r) : undefined;
    let properties: Properties | undefined;
    let propsRaw: Buffer | undefined;
    if (version === 5) {
      const len = r.varint('property length');
      if (len > r.remaining) throw malformed(`property length ${len} exceeds the packet`);
      propsRaw = r.bytes(len, 'properties');
      const pp = decodePropertyBytes(propsRaw, 0, len);
      if (hasProperties(pp)) properties = pp;
    }
    const out: Packet = { type: 'publish', qos: qos as QoS, dup, retain: (flags & 1) !== 0, topic, payload: r.rest() };
    if (id !== undefined) out.packetId = id;
    if (properties) out.properties = properties;
    if (propsRaw && propsRaw.length > 0) out.propsRaw = propsRaw;
    return out;
  }
  const wantFlags = name === 'pubrel' || name === 'subscribe' || name === 'unsubscribe' ? 2 : 0;
  if (flags !== wantFlags) throw malformed(`${name.toUpperCase()} with fixed header flags ${flags}`);
  const r = new Reader(buf, start, stop);
  switch (name) {
    case 'connect':
      return decodeConnect(r);
    case 'connack': {
      const ack = r.u8('acknowledge flags');
      if (ack & 0xfe) throw malformed('CONNACK reserved flags set');
      const p: Packet = { type: 'connack', sessionPresent: (ack & 1) !== 0, reasonCode: r.u8('return code') };
      withProps(p, props(r, version));
      end(r, 'CONNACK');
      return p;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return decodeAck(name, r, version);
    case 'subscribe': {
      const id = packetId(r);
      const pp = props(r, version);
      const subs: Subscription[] = [];
      while (r.remaining > 0) {
        const topic = r.utf8('topic filter');
        const o = r.u8('subscription options');
        const qos = o & 3;
        if (qos === 3) throw malformed('subscription QoS 3');
        if (version === 5) {
          if (o & 0xc0) throw malformed('subscription options reserved bits set');
          const rh = (o >> 4) & 3;
          if (rh === 3) throw protocolError('retain handling 3');
          subs.push({ topic, qos: qos as QoS, noLocal: (o & 4) !== 0, retainAsPublished: (o & 8) !== 0, retainHandling: rh as 0 | 1 | 2 });
        } else {
          if (o & 0xfc) throw malformed('requested QoS reserved bits set');
          subs.push({ topic, qos: qos as QoS });
        }
      }
      if (subs.length === 0) throw protocolError('SUBSCRIBE without topic filters');
      return withProps({ type: 'subscribe', packetId: id, subscriptions: subs }, pp);
    }
    case 'suback': {
      const id = packetId(r);
      const pp = props(r, version);
      const codes = [...r.rest()];
      return withProps({ type: 'suback', packetId: id, reasonCodes: codes }, pp);
    }
    case 'unsubscribe': {
      const id = packetId(r);
      const pp = props(r, version);
      const topics: string[] = [];
      while (r.remaining > 0) topics.push(r.utf8('topic filter'));
      if (topics.length === 0) throw protocolError('UNSUBSCRIBE without topic filters');
      return withProps({ type: 'unsubscribe', packetId: id, topics }, pp);
    }
    case 'unsuback': {
      const id = packetId(r);
      if (version !== 5) {
        end(r, 'UNSUBACK');
        return { type: 'unsuback', packetId: id };
      }
      const pp = props(r, version);
      return withProps({ type: 'unsuback', packetId: id, reasonCodes: [...r.rest()] }, pp);
    }
    case 'pingreq':
    case 'pingresp':
      end(r, name.toUpperCase());
      return { type: name };
    case 'disconnect': {
      if (version !== 5) {
        end(r, 'DISCONNECT');
        return { type: 'disconnect' };
      }
      const p: Packet = { type: 'disconnect', reasonCode: r.remaining > 0 ? r.u8('reason code') : 0 };
      if (r.remaining > 0) withProps(p, props(r, version));
      end(r, 'DISCONNECT');
      return p;
    }
    case 'auth': {
      if (version !== 5) throw malformed('AUTH before MQTT 5');
      const p: Packet = { type: 'auth', reasonCode: r.remaining > 0 ? r.u8('reason code') : 0 };
      if (r.remaining > 0) withProps(p, props(r, version));
      end(r, 'AUTH');
      return p;
    }
  }
}
