/**
 * Packet encoder: a Packet object (plus the connection's protocol version) to wire bytes.
 *
 * PUBLISH, the only hot packet, is sized exactly and written into one buffer, and can take
 * already-encoded property bytes (`rawProps`) so a stored message's properties go out as they came
 * in without being decoded. Every other packet goes through a small growable Writer.
 *
 * The encoder trusts its input's ranges (it is fed by the server, not by peers): out-of-range
 * values throw RangeError, which is a server bug, not a peer error.
 */
import { MAX_VARINT, varintSize, writeVarint, Writer } from './reader.js';
import { encodePropertyBytes, hasProperties, writeProperties } from './properties.js';
import type { AckPacket, ConnectPacket, Packet, ProtocolVersion, PublishPacket } from './packets.js';
import { PT } from './packets.js';

function frame(type: number, flags: number, body: Buffer): Buffer {
  const len = body.length;
  if (len > MAX_VARINT) throw new RangeError(`packet body of ${len} bytes exceeds the MQTT maximum`);
  const out = Buffer.allocUnsafe(1 + varintSize(len) + len);
  out[0] = (type << 4) | flags;
  const p = writeVarint(out, 1, len);
  body.copy(out, p);
  return out;
}

/**
 * Encodes a PUBLISH. With `rawProps` (v5 only), those encoded property bytes are appended after
 * the ones from `p.properties` — the caller guarantees they hold no property twice.
 */
export function encodePublish(p: PublishPacket, version: ProtocolVersion, rawProps?: readonly Uint8Array[]): Buffer {
  return encodePublishParts(p, version, rawProps, false);
}

/**
 * Encodes a PUBLISH without its payload: the caller writes `p.payload` right after the returned
 * bytes (a writev of two buffers instead of copying a large payload into a fresh one).
 */
export function encodePublishHead(p: PublishPacket, version: ProtocolVersion, rawProps?: readonly Uint8Array[]): Buffer {
  return encodePublishParts(p, version, rawProps, true);
}

function encodePublishParts(p: PublishPacket, version: ProtocolVersion, rawProps: readonly Uint8Array[] | undefined, headOnly: boolean): Buffer {
  const topicLen = Buffer.byteLength(p.topic);
  if (topicLen > 0xffff) throw new RangeError('topic longer than 65535 bytes');
  let props: Buffer | undefined;
  let propsLen = 0;
  if (version === 5) {
    props = hasProperties(p.properties) ? encodePropertyBytes(p.properties).result() : undefined;
    propsLen = props ? props.length : 0;
    if (rawProps) for (const r of rawProps) propsLen += r.length;
  }
  const body = 2 + topicLen + (p.qos > 0 ? 2 : 0) + (version === 5 ? varintSize(propsLen) + propsLen : 0) + p.payload.length;
  if (body > MAX_VARINT) throw new RangeError(`PUBLISH of ${body} bytes exceeds the MQTT maximum`);
  const out = Buffer.allocUnsafe(1 + varintSize(body) + body - (headOnly ? p.payload.length : 0));
  out[0] = (PT.publish << 4) | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
  let pos = writeVarint(out, 1, body);
  out.writeUInt16BE(topicLen, pos);
  pos += 2;
  pos += out.write(p.topic, pos, 'utf8');
  if (p.qos > 0) {
    out.writeUInt16BE(p.packetId ?? 0, pos);
    pos += 2;
  }
  if (version === 5) {
    pos = writeVarint(out, pos, propsLen);
    if (props) pos += props.copy(out, pos);
    if (rawProps) for (const r of rawProps) {
      out.set(r, pos);
      pos += r.length;
    }
  }
  if (!headOnly) out.set(p.payload, pos);
  return out;
}

/**
 * The Remaining Length of a PUBLISH with a `topicLen`-byte topic, `propsLen` bytes of v5
 * properties and a `payloadLen`-byte payload (the packet is 1 + varintSize(it) + it bytes);
 * throws RangeError above the MQTT maximum.
 */
export function publishBodySize(version: ProtocolVersion, qos: number, topicLen: number, propsLen: number, payloadLen: number): number {
  const body = 2 + topicLen + (qos > 0 ? 2 : 0) + (version === 5 ? varintSize(propsLen) + propsLen : 0) + payloadLen;
  if (body > MAX_VARINT) throw new RangeError(`PUBLISH of ${body} bytes exceeds the MQTT maximum`);
  return body;
}

/**
 * Writes a PUBLISH's fixed header (`flags` = DUP/QoS/RETAIN bits), variable header and v5
 * properties (the concatenation of `rawProps`, `propsLen` bytes) into `out` at `pos`, for a
 * Remaining Length of `body` (publishBodySize) and an already UTF-8 encoded topic; returns where
 * the payload goes. For delivery into a connection's output slab: no allocation and no string
 * encoding per message.
 */
export function writePublishHead(
  out: Buffer,
  pos: number,
  body: number,
  version: ProtocolVersion,
  flags: number,
  topic: Uint8Array,
  packetId: number,
  rawProps: readonly Uint8Array[] | undefined,
  propsLen: number,
): number {
  out[pos] = (PT.publish << 4) | flags;
  pos = writeVarint(out, pos + 1, body);
  out[pos] = topic.length >> 8;
  out[pos + 1] = topic.length & 0xff;
  out.set(topic, pos + 2);
  pos += 2 + topic.length;
  if ((flags & 6) !== 0) {
    out[pos] = packetId >> 8;
    out[pos + 1] = packetId & 0xff;
    pos += 2;
  }
  if (version === 5) {
    pos = writeVarint(out, pos, propsLen);
    if (rawProps) for (const r of rawProps) {
      out.set(r, pos);
      pos += r.length;
    }
  }
  return pos;
}

function encodeConnect(p: ConnectPacket): Buffer {
  const v = p.protocolVersion;
  const w = new Writer(64 + (p.will?.payload.length ?? 0) + (p.password?.length ?? 0));
  w.utf8(p.protocolName);
  w.u8(v);
  let flags = p.clean ? 0x02 : 0;
  if (p.will) flags |= 0x04 | (p.will.qos << 3) | (p.will.retain ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  w.u8(flags);
  w.u16(p.keepalive);
  if (v === 5) writeProperties(w, p.properties);
  w.utf8(p.clientId);
  if (p.will) {
    if (v === 5) writeProperties(w, p.will.properties);
    w.utf8(p.will.topic);
    w.binary(p.will.payload);
  }
  if (p.username !== undefined) w.utf8(p.username);
  if (p.password !== undefined) w.binary(p.password);
  return frame(PT.connect, 0, w.result());
}

function encodeAck(p: AckPacket, version: ProtocolVersion): Buffer {
  const flags = p.type === 'pubrel' ? 2 : 0;
  const rc = p.reasonCode ?? 0;
  const withProps = version === 5 && hasProperties(p.properties);
  if (version !== 5 || (rc === 0 && !withProps)) {
    const out = Buffer.allocUnsafe(4);
    out[0] = (PT[p.type] << 4) | flags;
    out[1] = 2;
    out.writeUInt16BE(p.packetId, 2);
    return out;
  }
  const w = new Writer(8);
  w.u16(p.packetId);
  w.u8(rc);
  if (withProps) writeProperties(w, p.properties);
  return frame(PT[p.type], flags, w.result());
}

/** Encodes any packet for a connection speaking `version`. */
export function encodePacket(p: Packet, version: ProtocolVersion): Buffer {
  switch (p.type) {
    case 'connect':
      return encodeConnect(p);
    case 'connack': {
      const w = new Writer(16);
      w.u8(p.sessionPresent ? 1 : 0);
      w.u8(p.reasonCode);
      if (version === 5) writeProperties(w, p.properties);
      return frame(PT.connack, 0, w.result());
    }
    case 'publish':
      return encodePublish(p, version);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAck(p, version);
    case 'subscribe': {
      const w = new Writer();
      w.u16(p.packetId);
      if (version === 5) writeProperties(w, p.properties);
      for (const s of p.subscriptions) {
        w.utf8(s.topic);
        let o = s.qos;
        if (version === 5) o |= (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | ((s.retainHandling ?? 0) << 4);
        w.u8(o);
      }
      return frame(PT.subscribe, 2, w.result());
    }
    case 'suback': {
      const w = new Writer();
      w.u16(p.packetId);
      if (version === 5) writeProperties(w, p.properties);
      for (const c of p.reasonCodes) w.u8(c);
      return frame(PT.suback, 0, w.result());
    }
    case 'unsubscribe': {
      const w = new Writer();
      w.u16(p.packetId);
      if (version === 5) writeProperties(w, p.properties);
      for (const t of p.topics) w.utf8(t);
      return frame(PT.unsubscribe, 2, w.result());
    }
    case 'unsuback': {
      const w = new Writer();
      w.u16(p.packetId);
      if (version === 5) {
        writeProperties(w, p.properties);
        for (const c of p.reasonCodes ?? []) w.u8(c);
      }
      return frame(PT.unsuback, 0, w.result());
    }
    case 'pingreq':
      return Buffer.from([PT.pingreq << 4, 0]);
    case 'pingresp':
      return Buffer.from([PT.pingresp << 4, 0]);
    case 'disconnect': {
      const rc = p.reasonCode ?? 0;
      if (version !== 5 || (rc === 0 && !hasProperties(p.properties))) return Buffer.from([PT.disconnect << 4, 0]);
      const w = new Writer(16);
      w.u8(rc);
      if (hasProperties(p.properties)) writeProperties(w, p.properties);
      return frame(PT.disconnect, 0, w.result());
    }
    case 'auth': {
      if (p.reasonCode === 0 && !hasProperties(p.properties)) return Buffer.from([PT.auth << 4, 0]);
      const w = new Writer(16);
      w.u8(p.reasonCode);
      if (hasProperties(p.properties)) writeProperties(w, p.properties);
      return frame(PT.auth, 0, w.result());
    }
  }
}
