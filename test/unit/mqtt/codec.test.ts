/**
 * MQTT codec: recorded packets (spec examples, bytes from mqtt.js's own encoder `mqtt-packet` and
 * from paho/mosquitto captures), chunking at every byte boundary, fast-check round trips of every
 * packet type in 3.1.1 and 5, cross-checks against mqtt-packet, and garbage that may only ever
 * raise MqttCodecError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import {
  MqttCodecError,
  MqttDecoder,
  Reader,
  Writer,
  decodePropertyBytes,
  encodePacket,
  encodePublish,
  encodePublishHead,
  encodePropertyBytes,
  stripProperties,
  PROP,
  type Packet,
  type Properties,
  type ProtocolVersion,
} from '../../../src/protocols/mqtt/codec/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeAll(bytes: Buffer, version: ProtocolVersion = 4, max?: number): Packet[] {
  const d = new MqttDecoder({ version, ...(max ? { maxPacketSize: max } : {}) });
  return d.push(bytes);
}

function norm(p: Packet): unknown {
  // propsRaw is a decoder-only view; compare the parsed form.
  const o = { ...(p as unknown as Record<string, unknown>) };
  delete o['propsRaw'];
  return JSON.parse(JSON.stringify(o));
}

test('variable byte integers: boundaries and the 4-byte limit', () => {
  for (const v of [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455]) {
    const w = new Writer();
    w.varint(v);
    const b = w.result();
    assert.equal(b.length, v < 128 ? 1 : v < 16_384 ? 2 : v < 2_097_152 ? 3 : 4);
    assert.equal(new Reader(b, 0, b.length).varint(), v);
  }
  assert.throws(() => new Reader(hex('ffffffff7f'), 0, 5).varint(), MqttCodecError);
  assert.throws(() => new Writer().varint(268_435_456), RangeError);
  // A remaining length of 5 bytes is malformed (0x81).
  assert.throws(() => decodeAll(hex('30ffffffff7f')), (e: unknown) => e instanceof MqttCodecError && e.reasonCode === 0x81);
});

test('recorded packets decode to what they mean', () => {
  // mosquitto_pub 2.0 -V mqttv311 CONNECT (client id "mosq-test", keepalive 60, clean).
  const mosq = hex('101500044d5154540402003c00096d6f73712d74657374');
  assert.deepEqual(norm(decodeAll(mosq)[0]!), { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'mosq-test' });
  // paho 1.6 MQTTv5 CONNECT with Session Expiry 600 and Receive Maximum 20.
  const paho5 = hex('1019 0004 4d515454 05 02 003c 08 1100000258 210014 0004 7061686f');
  const c5 = decodeAll(paho5, 5)[0]!;
  assert.equal(c5.type, 'connect');
  if (c5.type === 'connect') {
    assert.equal(c5.protocolVersion, 5);
    assert.deepEqual(c5.properties, { sessionExpiryInterval: 600, receiveMaximum: 20 });
    assert.equal(c5.clientId, 'paho');
  }
  // Spec-shaped small packets.
  assert.deepEqual(decodeAll(hex('c000')), [{ type: 'pingreq' }]);
  assert.deepEqual(decodeAll(hex('20020100')), [{ type: 'connack', sessionPresent: true, reasonCode: 0 }]);
  assert.deepEqual(decodeAll(hex('e000'), 5), [{ type: 'disconnect', reasonCode: 0 }]);
  assert.deepEqual(decodeAll(hex('e0018e'), 5), [{ type: 'disconnect', reasonCode: 0x8e }]);
  assert.deepEqual(decodeAll(hex('40020007'), 5), [{ type: 'puback', packetId: 7, reasonCode: 0 }]);
  assert.deepEqual(decodeAll(hex('6202000a')), [{ type: 'pubrel', packetId: 10 }]);
  // PUBLISH QoS 1, topic "a/b", id 5, payload "hi" (3.1.1).
  assert.deepEqual(norm(decodeAll(hex('3209000361 2f 62 0005 6869'.replace(/ /g, '')))[0]!), {
    type: 'publish',
    qos: 1,
    dup: false,
    retain: false,
    topic: 'a/b',
    packetId: 5,
    payload: { type: 'Buffer', data: [0x68, 0x69] },
  });
  // SUBSCRIBE v5: id 1, no properties, "a/#" with QoS 1, No Local, Retain As Published, Retain Handling 2.
  assert.deepEqual(decodeAll(hex('8209 0001 00 0003 612f23 2d'), 5), [
    { type: 'subscribe', packetId: 1, subscriptions: [{ topic: 'a/#', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }] },
  ]);
});

test('what mqtt.js (mqtt-packet) sends decodes here, and what we send parses there', () => {
  const samples: [Record<string, unknown>, ProtocolVersion][] = [
    [{ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'js', keepalive: 60, username: 'u', password: Buffer.from('p'), will: { topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: true } }, 4],
    [{ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, clientId: 'js5', keepalive: 30, properties: { sessionExpiryInterval: 100, receiveMaximum: 10, topicAliasMaximum: 5, userProperties: { a: 'b' } } }, 5],
    [{ cmd: 'publish', topic: 't/x', payload: Buffer.from('hello'), qos: 2, messageId: 9, retain: true, dup: true, properties: { messageExpiryInterval: 5, contentType: 'text/plain', correlationData: Buffer.from([1, 2]), responseTopic: 'r', topicAlias: 2, userProperties: { k: ['v1', 'v2'] } } }, 5],
    [{ cmd: 'publish', topic: 't/x', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false }, 4],
    [{ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/+', qos: 1, nl: true, rap: true, rh: 1 }, { topic: '#', qos: 2, nl: false, rap: false, rh: 0 }], properties: { subscriptionIdentifier: 12 } }, 5],
    [{ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'a/+', qos: 1 }] }, 4],
    [{ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a/+', 'b'] }, 4],
    [{ cmd: 'pubrec', messageId: 6, reasonCode: 0x10 }, 5],
    [{ cmd: 'pingreq' }, 4],
    [{ cmd: 'disconnect', reasonCode: 4, properties: { sessionExpiryInterval: 0 } }, 5],
  ];
  for (const [pkt, v] of samples) {
    const bytes = mqttPacket.generate(pkt as never, { protocolVersion: v });
    const ours = decodeAll(bytes, v);
    assert.equal(ours.length, 1, String(pkt['cmd']));
    // Re-encode ours; mqtt-packet must parse it to the same packet it generated.
    const again = encodePacket(ours[0]!, v);
    const parser = mqttPacket.parser({ protocolVersion: v });
    const parsed: Record<string, unknown>[] = [];
    parser.on('packet', (p: Record<string, unknown>) => parsed.push(p));
    parser.on('error', (e: Error) => assert.fail(`${String(pkt['cmd'])}: ${e.message}`));
    parser.parse(again);
    assert.equal(parsed.length, 1);
    // Property order on the wire is free, so compare what mqtt-packet parses from both encodings.
    const theirs: Record<string, unknown>[] = [];
    const p2 = mqttPacket.parser({ protocolVersion: v });
    p2.on('packet', (p: Record<string, unknown>) => theirs.push(p));
    p2.parse(bytes);
    const clean = (o: Record<string, unknown>) => JSON.parse(JSON.stringify({ ...o, length: 0 })) as unknown;
    assert.deepEqual(clean(parsed[0]!), clean(theirs[0]!), `${String(pkt['cmd'])} v${v} through both codecs`);
  }
});

// --- arbitraries -------------------------------------------------------------------------------

const str = fc.string({ maxLength: 12, unit: 'grapheme' }).filter((s) => !s.includes('\u0000'));
const bin = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const id = fc.integer({ min: 1, max: 0xffff });
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);

const propsArb: fc.Arbitrary<Properties> = fc.record(
  {
    payloadFormatIndicator: fc.constantFrom(0, 1),
    messageExpiryInterval: u32,
    contentType: str,
    responseTopic: str,
    correlationData: bin,
    subscriptionIdentifiers: fc.array(fc.integer({ min: 1, max: 268_435_455 }), { minLength: 1, maxLength: 3 }),
    sessionExpiryInterval: u32,
    assignedClientIdentifier: str,
    serverKeepAlive: u16,
    reasonString: str,
    receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
    topicAliasMaximum: u16,
    topicAlias: fc.integer({ min: 1, max: 0xffff }),
    maximumQoS: fc.constantFrom(0, 1),
    userProperties: fc.array(fc.tuple(str, str), { minLength: 1, maxLength: 3 }),
    maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
    willDelayInterval: u32,
  },
  { requiredKeys: [] },
);

function packetArb(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const withProps = <T extends Packet>(a: fc.Arbitrary<T>): fc.Arbitrary<Packet> =>
    v === 5 ? fc.tuple(a, propsArb).map(([x, pr]) => (Object.keys(pr).length ? { ...x, properties: pr } : x)) : a;
  const ack = (type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp') =>
    v === 5
      ? fc.tuple(id, fc.constantFrom(0, 0x10, 0x80, 0x92), propsArb).map(([packetId, rc, pr]) => {
          const a: Packet = { type, packetId, reasonCode: rc };
          if (Object.keys(pr).length) a.properties = pr;
          return a;
        })
      : id.map((packetId): Packet => ({ type, packetId }));
  const connect = fc
    .record({
      clean: fc.boolean(),
      keepalive: u16,
      clientId: str,
      will: fc.option(fc.record({ topic: str, payload: bin, qos, retain: fc.boolean() }), { nil: undefined }),
      username: fc.option(str, { nil: undefined }),
      password: fc.option(bin, { nil: undefined }),
    })
    .map((r): Packet => {
      const p: Packet = { type: 'connect', protocolName: 'MQTT', protocolVersion: v, clean: r.clean, keepalive: r.keepalive, clientId: r.clientId };
      if (r.will) p.will = r.will;
      if (r.username !== undefined) p.username = r.username;
      if (r.password !== undefined && (v === 5 || r.username !== undefined)) p.password = r.password;
      return p;
    });
  const publish = fc.record({ q: qos, dup: fc.boolean(), retain: fc.boolean(), topic: str, packetId: id, payload: bin }).map(
    (r): Packet => {
      const p: Packet = { type: 'publish', qos: r.q, dup: r.q > 0 && r.dup, retain: r.retain, topic: r.topic, payload: r.payload };
      if (r.q > 0) p.packetId = r.packetId;
      return p;
    },
  );
  const subscription =
    v === 5
      ? fc.record({ topic: str, qos, noLocal: fc.boolean(), retainAsPublished: fc.boolean(), retainHandling: fc.constantFrom(0 as const, 1 as const, 2 as const) })
      : fc.record({ topic: str, qos });
  return fc.oneof(
    withProps(connect),
    withProps(fc.record({ sessionPresent: fc.boolean(), reasonCode: u8 }).map((r): Packet => ({ type: 'connack', ...r }))),
    withProps(publish),
    ack('puback'),
    ack('pubrec'),
    ack('pubrel'),
    ack('pubcomp'),
    withProps(fc.record({ packetId: id, subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }) }).map((r): Packet => ({ type: 'subscribe', ...r }))),
    withProps(fc.record({ packetId: id, reasonCodes: fc.array(u8, { maxLength: 4 }) }).map((r): Packet => ({ type: 'suback', ...r }))),
    withProps(fc.record({ packetId: id, topics: fc.array(str, { minLength: 1, maxLength: 4 }) }).map((r): Packet => ({ type: 'unsubscribe', ...r }))),
    v === 5
      ? withProps(fc.record({ packetId: id, reasonCodes: fc.array(u8, { maxLength: 4 }) }).map((r): Packet => ({ type: 'unsuback', ...r })))
      : id.map((packetId): Packet => ({ type: 'unsuback', packetId })),
    fc.constant<Packet>({ type: 'pingreq' }),
    fc.constant<Packet>({ type: 'pingresp' }),
    v === 5
      ? withProps(fc.constantFrom(0, 4, 0x81, 0x8e).map((reasonCode): Packet => ({ type: 'disconnect', reasonCode })))
      : fc.constant<Packet>({ type: 'disconnect' }),
    ...(v === 5 ? [withProps(fc.constantFrom(0, 0x18, 0x19).map((reasonCode): Packet => ({ type: 'auth', reasonCode })))] : []),
  );
}

for (const v of [4, 5] as const) {
  test(`fast-check: every packet type round-trips in ${v === 5 ? 'MQTT 5' : 'MQTT 3.1.1'}`, () => {
    fc.assert(
      fc.property(packetArb(v), (p) => {
        const bytes = encodePacket(p, v);
        const out = decodeAll(bytes, v);
        assert.equal(out.length, 1);
        assert.deepEqual(norm(out[0]!), norm(p));
      }),
      { numRuns: 800 },
    );
  });

  test(`fast-check: a stream of packets split at every byte boundary decodes the same (${v})`, () => {
    fc.assert(
      fc.property(fc.array(packetArb(v), { minLength: 1, maxLength: 4 }), (ps) => {
        const stream = Buffer.concat(ps.map((p) => encodePacket(p, v)));
        const want = ps.map(norm);
        for (let cut = 0; cut <= stream.length; cut++) {
          const d = new MqttDecoder({ version: v });
          const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
          assert.deepEqual(got.map(norm), want);
          assert.equal(d.bufferedBytes, 0);
        }
        const d = new MqttDecoder({ version: v });
        const got: Packet[] = [];
        for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
        assert.deepEqual(got.map(norm), want);
      }),
      { numRuns: 80 },
    );
  });

  test(`fast-check: garbage only ever raises MqttCodecError (${v})`, () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (chunks) => {
        const d = new MqttDecoder({ version: v, maxPacketSize: 1000 });
        try {
          for (const c of chunks) d.push(Buffer.from(c));
        } catch (e) {
          assert.ok(e instanceof MqttCodecError, `threw ${String(e)}`);
          assert.ok([0x81, 0x82, 0x84, 0x95].includes(e.reasonCode));
        }
      }),
      { numRuns: 3000 },
    );
    // Valid framing with a mutated body: still only typed errors.
    fc.assert(
      fc.property(packetArb(v), fc.integer({ min: 0, max: 1000 }), u8, (p, at, byte) => {
        const bytes = Buffer.from(encodePacket(p, v));
        if (bytes.length > 2) bytes[2 + (at % (bytes.length - 2))] = byte;
        try {
          new MqttDecoder({ version: v }).push(bytes);
        } catch (e) {
          assert.ok(e instanceof MqttCodecError, `threw ${String(e)}`);
        }
      }),
      { numRuns: 3000 },
    );
  });
}

test('malformed packets: typed errors with the MQTT 5 reason', () => {
  const rc = (bytes: Buffer, v: ProtocolVersion = 4, max?: number): number => {
    try {
      decodeAll(bytes, v, max);
    } catch (e) {
      assert.ok(e instanceof MqttCodecError);
      return e.reasonCode;
    }
    return -1;
  };
  assert.equal(rc(hex('3600')), 0x81); // PUBLISH QoS 3
  assert.equal(rc(hex('3805000161 0000')), 0x81); // QoS 0 with DUP
  assert.equal(rc(hex('40020000')), 0x81); // packet id 0
  assert.equal(rc(hex('8002000a')), 0x81); // SUBSCRIBE with flags 0
  assert.equal(rc(hex('c10000')), 0x81); // PINGREQ with flags
  assert.equal(rc(hex('c00100')), 0x81); // PINGREQ with a body
  assert.equal(rc(hex('82020001')), 0x82); // SUBSCRIBE without filters
  assert.equal(rc(hex('f000')), 0x81); // AUTH in 3.1.1
  assert.equal(rc(hex('30040002c328'), 4), 0x81); // invalid UTF-8 in the topic
  assert.equal(rc(hex('3004000261 00'.replace(' ', '')), 4), 0x81); // "a\0" contains U+0000
  assert.equal(rc(hex('300600026161 02ff'.replace(' ', '')), 5), 0x81); // unknown property 0xff
  assert.equal(rc(hex('300b 0002 6161 06 0101 0101 0000'), 5), 0x82); // payload format twice
  assert.equal(rc(hex('30ffff7f'), 4, 1024), 0x95);
  assert.equal(rc(hex('100e00065a5a5a5a5a5a0402003c0000')), 0x82); // unknown protocol name
  assert.equal(rc(hex('100c00044d5154540602003c0000')), 0x84); // protocol level 6
  assert.equal(rc(hex('100c00044d5154540403003c0000')), 0x81); // reserved connect flag
});

test('stripProperties removes only the named properties, byte for byte', () => {
  const p: Properties = { contentType: 'x', topicAlias: 4, userProperties: [['a', 'b']], messageExpiryInterval: 9 };
  const raw = encodePropertyBytes(p).result();
  const out = stripProperties(raw, new Set([PROP.topicAlias, PROP.messageExpiryInterval]));
  assert.deepEqual(decodePropertyBytes(out, 0, out.length), { contentType: 'x', userProperties: [['a', 'b']] });
  assert.equal(stripProperties(raw, new Set([PROP.responseTopic])), raw);
});

test('a PUBLISH header written before its payload is byte for byte the one-buffer encoding', () => {
  const raw = [encodePropertyBytes({ contentType: 'text/plain' }).result()];
  for (const version of [4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      const p = { type: 'publish' as const, qos, dup: qos > 0, retain: true, topic: 'a/b/ü', payload: Buffer.alloc(5000, 7), ...(qos > 0 ? { packetId: 513 } : {}) };
      const props = version === 5 ? raw : undefined;
      const whole = encodePublish(p, version, props);
      assert.deepEqual(Buffer.concat([encodePublishHead(p, version, props), p.payload]), whole);
      assert.deepEqual(decodeAll(whole, version)[0], decodeAll(Buffer.concat([encodePublishHead(p, version, props), p.payload]), version)[0]);
    }
  }
});
