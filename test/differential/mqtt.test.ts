/**
 * Differential MQTT suite: every behaviour below is written once and run, through mqtt.js (npm
 * `mqtt`, MQTT 3.1.1 and 5), against Omnibus's MQTT listener and against Debian's mosquitto 2
 * started by this file (brokers-stomp-mqtt.ts). The expected values are what mosquitto answers;
 * where Omnibus deliberately differs (docs/protocols/mqtt.md, "Deviations and limits") the case
 * asserts Omnibus's documented behaviour and says why.
 *
 * Each broker is started once per file (plus one of each with a password file for the bad
 * credentials case) and stopped by its pid.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { IClientOptions, IPublishPacket, MqttClient, Packet } from 'mqtt';
import { startOmnibusMqtt, startRealMosquitto, type BrokerTarget } from './brokers-stomp-mqtt.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => T | undefined | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}

let seq = 0;
const uniq = (base: string): string => `diff/${base}/${process.pid}-${++seq}`;

interface Got {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** Clients opened by a case (ended after it) with every packet they received and sent. */
class Session {
  private readonly clients: MqttClient[] = [];
  constructor(readonly target: BrokerTarget) {}
  get url(): string {
    return `mqtt://127.0.0.1:${this.target.port}`;
  }
  /** Connects and waits for the CONNACK; `got` collects messages from the first byte. */
  async connect(opts: IClientOptions = {}): Promise<{ c: MqttClient; got: Got[]; received: Packet[]; sent: Packet[]; connack: mqtt.IConnackPacket }> {
    const c = mqtt.connect(this.url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    this.clients.push(c);
    const got: Got[] = [];
    const received: Packet[] = [];
    const sent: Packet[] = [];
    c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
    c.on('packetreceive', (p) => received.push(p));
    c.on('packetsend', (p) => sent.push(p));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
      c.once('close', () => reject(new Error('closed before CONNACK')));
    });
    c.removeAllListeners('error');
    c.on('error', () => {});
    return { c, got, received, sent, connack };
  }
  /** The CONNACK return code (3.1.1) or reason code (5) of a refused connect. */
  async refused(opts: IClientOptions): Promise<number | undefined> {
    const c = mqtt.connect(this.url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    this.clients.push(c);
    return new Promise((resolve) => {
      c.on('packetreceive', (p) => {
        if (p.cmd === 'connack') resolve(p.returnCode ?? p.reasonCode);
      });
      c.on('error', () => {});
      c.once('close', () => setTimeout(() => resolve(undefined), 50));
    });
  }
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
  }
}

const cmds = (ps: Packet[]): string[] => ps.map((p) => p.cmd).filter((c) => c !== 'pingreq' && c !== 'pingresp');

// -------------------------------------------------------------------------------------- cases

/** `omnibusDiffers`: an undocumented difference; the case asserts mosquitto's answer and runs as todo on Omnibus. */
type Case = { sentence: string; fn: (s: Session, t: TestContext) => Promise<void>; omnibusDiffers?: string };
const cases: Case[] = [];
const it = (sentence: string, fn: Case['fn'], omnibusDiffers?: string): void => void cases.push({ sentence, fn, ...(omnibusDiffers ? { omnibusDiffers } : {}) });

it('CONNACK refuses an unsupported protocol level with return code 1', async (s) => {
  // mqtt.js sends protocol level 3 as MQIsdp (3.1); an invalid level needs a hand-made CONNECT.
  const { createConnection } = await import('node:net');
  const sock = createConnection(s.target.port, '127.0.0.1');
  const reply = await new Promise<Buffer>((resolve) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4) resolve(buf);
    });
    sock.on('close', () => resolve(buf));
    sock.on('error', () => {});
    // CONNECT, protocol "MQTT" level 9, clean session, keep-alive 30, client id "lv9"
    const body = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 9, 0x02, 0, 30, 0, 3, 0x6c, 0x76, 0x39]);
    sock.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
  });
  sock.destroy();
  assert.deepEqual([...reply.subarray(0, 4)], [0x20, 2, 0, 1]);
});

it('QoS 0, 1 and 2 publishes reach a QoS 2 subscriber with the packet flows PUBACK and PUBREC/PUBREL/PUBCOMP', async (s) => {
  const topic = uniq('qos');
  const sub = await s.connect();
  await sub.c.subscribeAsync(topic, { qos: 2 });
  const pub = await s.connect();
  for (const qos of [0, 1, 2] as const) await pub.c.publishAsync(topic, `q${qos}`, { qos });
  await waitFor(() => sub.got.length >= 3);
  await sleep(100);
  assert.deepEqual(sub.got.map((g) => [g.payload, g.packet.qos]), [['q0', 0], ['q1', 1], ['q2', 2]]);
  assert.deepEqual(cmds(pub.received).filter((c) => c !== 'connack'), ['puback', 'pubrec', 'pubcomp']);
  assert.deepEqual(cmds(pub.sent).filter((c) => c === 'publish' || c.startsWith('pub')), ['publish', 'publish', 'publish', 'pubrel']);
  assert.deepEqual(cmds(sub.sent).filter((c) => c.startsWith('pub')), ['puback', 'pubrec', 'pubcomp']);
  assert.deepEqual(cmds(sub.received).filter((c) => c.startsWith('pub')), ['publish', 'publish', 'publish', 'pubrel']);
});

it('a retained message is sent to new subscribers, replaced by the next retained publish and cleared by an empty one', async (s) => {
  const topic = uniq('ret');
  const pub = await s.connect();
  await pub.c.publishAsync(topic, 'first', { qos: 1, retain: true });
  await pub.c.publishAsync(topic, 'second', { qos: 1, retain: true });
  const a = await s.connect();
  await a.c.subscribeAsync(topic, { qos: 1 });
  await waitFor(() => a.got.length >= 1);
  assert.deepEqual(a.got.map((g) => [g.payload, g.packet.retain]), [['second', true]]);
  await pub.c.publishAsync(topic, '', { qos: 1, retain: true });
  const b = await s.connect();
  await b.c.subscribeAsync(topic, { qos: 1 });
  await sleep(300);
  assert.deepEqual(b.got, []);
  // A live subscriber sees a retained publish with RETAIN=0 (3.1.1 §3.3.1.3)
  assert.deepEqual(a.got.map((g) => [g.payload, g.packet.retain]), [['second', true], ['', false]]);
});

it('+ matches one level and # any number of levels (including the parent)', async (s) => {
  const base = uniq('wild');
  const plus = await s.connect();
  const hash = await s.connect();
  await plus.c.subscribeAsync(`${base}/+/c`, { qos: 1 });
  await hash.c.subscribeAsync(`${base}/#`, { qos: 1 });
  const pub = await s.connect();
  for (const t of [`${base}/b/c`, `${base}/b/d`, `${base}/b/x/c`, base]) await pub.c.publishAsync(t, t, { qos: 1 });
  await waitFor(() => hash.got.length >= 4);
  await sleep(100);
  assert.deepEqual(plus.got.map((g) => g.topic), [`${base}/b/c`]);
  assert.deepEqual(hash.got.map((g) => g.topic), [`${base}/b/c`, `${base}/b/d`, `${base}/b/x/c`, base]);
});

it('topics starting with $ are not matched by # or +/… subscriptions, only by filters naming them', async (s) => {
  const name = `$diff${process.pid}${++seq}`;
  const hash = await s.connect();
  const plus = await s.connect();
  const exact = await s.connect();
  await hash.c.subscribeAsync('#', { qos: 1 });
  await plus.c.subscribeAsync('+/x', { qos: 1 });
  await exact.c.subscribeAsync(`${name}/x`, { qos: 1 });
  const pub = await s.connect();
  await pub.c.publishAsync(`${name}/x`, 'dollar', { qos: 1 });
  await waitFor(() => exact.got.length >= 1);
  await sleep(200);
  assert.deepEqual(hash.got.filter((g) => g.topic === `${name}/x`), []);
  assert.deepEqual(plus.got, []);
  assert.equal(exact.got[0]?.payload, 'dollar');
});

it('a persistent session receives the QoS 1 messages published while it was offline; a clean session does not', async (s) => {
  const topic = uniq('sess');
  const clientId = `p${process.pid}x${++seq}`;
  const cleanId = `c${process.pid}x${++seq}`;
  const a = await s.connect({ clientId, clean: false });
  await a.c.subscribeAsync(topic, { qos: 1 });
  const b = await s.connect({ clientId: cleanId, clean: true });
  await b.c.subscribeAsync(topic, { qos: 1 });
  await a.c.endAsync();
  await b.c.endAsync();
  const pub = await s.connect();
  await pub.c.publishAsync(topic, 'offline-1', { qos: 1 });
  await pub.c.publishAsync(topic, 'offline-2', { qos: 1 });
  const a2 = await s.connect({ clientId, clean: false });
  assert.equal(a2.connack.sessionPresent, true);
  await waitFor(() => a2.got.length >= 2);
  assert.deepEqual(a2.got.map((g) => g.payload), ['offline-1', 'offline-2']);
  const b2 = await s.connect({ clientId: cleanId, clean: true });
  assert.equal(b2.connack.sessionPresent, false);
  await sleep(300);
  assert.deepEqual(b2.got, []);
});

it('a second connection with the same client id takes over: the first is disconnected', async (s) => {
  const clientId = `t${process.pid}x${++seq}`;
  const first = await s.connect({ clientId });
  const closed = new Promise<void>((r) => first.c.once('close', () => r()));
  const second = await s.connect({ clientId });
  await Promise.race([closed, sleep(3000).then(() => assert.fail('first connection was not closed'))]);
  assert.equal(second.c.connected, true);
});

it('the will message is published when a client drops without DISCONNECT, and not after a clean DISCONNECT', async (s) => {
  const topic = uniq('will');
  const watcher = await s.connect();
  await watcher.c.subscribeAsync(topic, { qos: 1 });
  const polite = await s.connect({ will: { topic, payload: Buffer.from('polite'), qos: 1, retain: false } });
  await polite.c.endAsync();
  const rude = await s.connect({ will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
  rude.c.stream.destroy();
  await waitFor(() => watcher.got.length >= 1);
  await sleep(200);
  assert.deepEqual(watcher.got.map((g) => g.payload), ['gone']);
});

it('MQTT 5: user properties, content type and message expiry travel with the message', async (s) => {
  const topic = uniq('props');
  const sub = await s.connect({ protocolVersion: 5 });
  await sub.c.subscribeAsync(topic, { qos: 1 });
  const pub = await s.connect({ protocolVersion: 5 });
  await pub.c.publishAsync(topic, 'p', { qos: 1, properties: { userProperties: { k: 'v', n: '1' }, contentType: 'text/plain', messageExpiryInterval: 60 } });
  const [g] = await waitFor(() => (sub.got.length >= 1 ? sub.got : undefined));
  assert.deepEqual({ ...g!.packet.properties?.userProperties }, { k: 'v', n: '1' });
  assert.equal(g!.packet.properties?.contentType, 'text/plain');
  const left = g!.packet.properties?.messageExpiryInterval ?? -1;
  assert.ok(left > 55 && left <= 60, `expiry interval ${left}`);
});

it('MQTT 5: a message whose expiry passed while its session was offline is not delivered', async (s) => {
  const topic = uniq('expiry');
  const clientId = `e${process.pid}x${++seq}`;
  const a = await s.connect({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
  await a.c.subscribeAsync(topic, { qos: 1 });
  await a.c.endAsync();
  const pub = await s.connect({ protocolVersion: 5 });
  await pub.c.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.c.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 600 } });
  await sleep(2100);
  const a2 = await s.connect({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
  await waitFor(() => a2.got.length >= 1);
  await sleep(200);
  assert.deepEqual(a2.got.map((g) => g.payload), ['long']);
});

it('MQTT 5: a publish using a topic alias reaches subscribers of the aliased topic', async (s) => {
  const topic = uniq('alias');
  const sub = await s.connect({ protocolVersion: 5 });
  await sub.c.subscribeAsync(topic, { qos: 1 });
  const pub = await s.connect({ protocolVersion: 5 });
  assert.ok((pub.connack.properties?.topicAliasMaximum ?? 0) >= 1, 'the broker grants topic aliases');
  await pub.c.publishAsync(topic, 'a1', { qos: 1, properties: { topicAlias: 1 } });
  await pub.c.publishAsync('', 'a2', { qos: 1, properties: { topicAlias: 1 } });
  await waitFor(() => sub.got.length >= 2);
  assert.deepEqual(sub.got.map((g) => [g.topic, g.payload]), [[topic, 'a1'], [topic, 'a2']]);
});

it('MQTT 5: messages carry the identifiers of the subscriptions they matched', async (s) => {
  const base = uniq('subid');
  const sub = await s.connect({ protocolVersion: 5 });
  await sub.c.subscribeAsync(`${base}/+`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
  await sub.c.subscribeAsync(`${base}/only`, { qos: 1, properties: { subscriptionIdentifier: 9 } });
  const pub = await s.connect({ protocolVersion: 5 });
  await pub.c.publishAsync(`${base}/other`, 'o', { qos: 1 });
  await waitFor(() => sub.got.length >= 1);
  const ids = (g: Got): number[] => {
    const v = g.packet.properties?.subscriptionIdentifier;
    return (Array.isArray(v) ? v : v === undefined ? [] : [v]).slice().sort((x, y) => x - y);
  };
  assert.deepEqual(ids(sub.got[0]!), [7]);
  await pub.c.publishAsync(`${base}/only`, 'b', { qos: 1 });
  await waitFor(() => sub.got.length >= 2);
  await sleep(200);
  // mosquitto sends one PUBLISH per matching subscription when they overlap; count identifiers.
  assert.deepEqual(sub.got.slice(1).flatMap(ids).sort((x, y) => x - y), [7, 9]);
});

it('MQTT 5: a shared subscription delivers each message to one member of the group', async (s) => {
  const topic = uniq('share');
  const a = await s.connect({ protocolVersion: 5 });
  const b = await s.connect({ protocolVersion: 5 });
  await a.c.subscribeAsync(`$share/g1/${topic}`, { qos: 1 });
  await b.c.subscribeAsync(`$share/g1/${topic}`, { qos: 1 });
  const pub = await s.connect({ protocolVersion: 5 });
  for (let i = 0; i < 10; i++) await pub.c.publishAsync(topic, `m${i}`, { qos: 1 });
  await waitFor(() => a.got.length + b.got.length >= 10);
  await sleep(200);
  const all = [...a.got, ...b.got].map((g) => g.payload).sort();
  assert.deepEqual(all, Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  assert.ok(a.got.length > 0 && b.got.length > 0, `split ${a.got.length}/${b.got.length}`);
});

/**
 * A raw MQTT session (mqtt.js validates filters itself and never sends an invalid one): CONNECT at
 * `level`, then one SUBSCRIBE of `filter` at QoS 1; resolves with the SUBACK's reason codes.
 */
async function rawSubscribe(port: number, level: 4 | 5, filter: string): Promise<number[] | string> {
  const { createConnection } = await import('node:net');
  const sock = createConnection(port, '127.0.0.1');
  const props = level === 5 ? [0] : [];
  const id = Buffer.from(`raw${process.pid}x${++seq}`);
  const connect = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, level, 0x02, 0, 30, ...props, 0, id.length, ...id]);
  const f = Buffer.from(filter);
  const sub = Buffer.from([0, 1, ...props, 0, f.length, ...f, 1]);
  return new Promise<number[] | string>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // Packets: fixed header byte, one-byte remaining length (short packets only), body.
      while (buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        const type = buf[0]! >> 4;
        const body = buf.subarray(2, 2 + buf[1]!);
        buf = buf.subarray(2 + buf[1]!);
        if (type === 2) sock.write(Buffer.concat([Buffer.from([0x82, sub.length]), sub]));
        if (type === 9) {
          sock.destroy();
          return resolve([...body.subarray(level === 5 ? 3 + body[2]! : 2)]);
        }
        if (type === 14) return resolve(`DISCONNECT 0x${(body[0] ?? 0).toString(16)}`);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve('closed'));
    sock.write(Buffer.concat([Buffer.from([0x10, connect.length]), connect]));
  });
}

it('an invalid filter (a/#/b, a/b#, a/+b, empty) ends the connection: closed in 3.1.1, DISCONNECT 0x81 (malformed) in 5', async (s, t) => {
  for (const filter of ['a/#/b', 'a/b#', 'a/+b', '']) {
    const v4 = await rawSubscribe(s.target.port, 4, filter);
    const v5 = await rawSubscribe(s.target.port, 5, filter);
    t.diagnostic(`${s.target.name} ${JSON.stringify(filter)}: 3.1.1 ${JSON.stringify(v4)}, 5 ${JSON.stringify(v5)}`);
    assert.equal(v4, 'closed', `3.1.1 ${JSON.stringify(filter)}`);
    assert.equal(v5, 'DISCONNECT 0x81', `5 ${JSON.stringify(filter)}`);
  }
});

it('a filter with a literal * level is valid MQTT: mosquitto grants it; Omnibus refuses it alone (SUBACK 0x80 / 0x8F)', async (s) => {
  // Deliberate difference (docs/protocols/mqtt.md): `*` is the AMQP/STOMP one-word wildcard of the
  // shared routing table, so an MQTT level that is literally `*` has no canonical form there.
  // MQTT 5 §3.9.3 defines 0x8F for a filter that is "correctly formed but not allowed".
  const v4 = await rawSubscribe(s.target.port, 4, 'a/*');
  const v5 = await rawSubscribe(s.target.port, 5, 'a/*');
  if (s.target.kind === 'omnibus') assert.deepEqual([v4, v5], [[0x80], [0x8f]]);
  else assert.deepEqual([v4, v5], [[1], [1]]);
});

it('a $share/ filter without a share name and filter: mosquitto takes it as a plain filter; Omnibus ends the connection', async (s) => {
  // Deliberate difference: MQTT 5 [MQTT-4.8.2-1] and [MQTT-4.8.2-2] require `$share/<name>/<filter>`
  // with a non-empty name free of "/", "+" and "#"; Omnibus treats any `$share/` filter as a shared
  // subscription (in 3.1.1 too, as mosquitto does for well-formed ones), so a broken one is malformed.
  for (const filter of ['$share/g', '$share//x']) {
    const v4 = await rawSubscribe(s.target.port, 4, filter);
    const v5 = await rawSubscribe(s.target.port, 5, filter);
    if (s.target.kind === 'omnibus') assert.deepEqual([v4, v5], ['closed', 'DISCONNECT 0x81'], filter);
    else assert.deepEqual([v4, v5], [[1], [1]], filter);
  }
});

/** Cases run against a broker that requires a login (a second instance per target). */
const authCases: Case[] = [];
authCases.push({
  sentence: 'CONNACK refuses a wrong password: 3.1.1 return code 5, MQTT 5 reason 0x87 (not authorized; 0x86 means malformed credentials)',
  fn: async (s) => {
    const v4 = await s.refused({ username: 'alice', password: 'wrong' });
    const v5 = await s.refused({ username: 'alice', password: 'wrong', protocolVersion: 5 });
    const ok = await s.connect({ username: 'alice', password: 'secret' });
    assert.equal(ok.connack.returnCode ?? ok.connack.reasonCode ?? 0, 0);
    assert.equal(v4, 5, 'not authorized');
    assert.equal(v5, 0x87, 'not authorized');
  },
});

// ------------------------------------------------------------------------------------- blocks

async function runCases(t: TestContext, target: BrokerTarget, list: Case[]): Promise<void> {
  for (const { sentence, fn, omnibusDiffers } of list) {
    await t.test(sentence, { todo: target.kind === 'omnibus' ? omnibusDiffers : undefined }, async (tt) => {
      const s = new Session(target);
      try {
        await fn(s, tt);
      } finally {
        await s.close();
      }
    });
  }
}

const started = Date.now();
const users = { alice: 'secret' };
const real = startRealMosquitto();
const realAuth = startRealMosquitto({ passwords: users });
const omnibus = await startOmnibusMqtt();
const omnibusAuth = await startOmnibusMqtt({ users: new Map(Object.entries(users)) });
after(async () => {
  await omnibus.stop();
  await omnibusAuth.stop();
  for (const r of [await real, await realAuth]) if (typeof r !== 'string') await r.stop();
  console.log(`# differential mqtt: ${Date.now() - started} ms wall`);
});

test('MQTT behaviour on omnibus', async (t) => {
  await runCases(t, omnibus, cases);
  await runCases(t, omnibusAuth, authCases);
});

test('MQTT behaviour on the real mosquitto', async (t) => {
  const r = await real;
  if (typeof r === 'string') return t.skip(r);
  t.diagnostic(`${r.name} on 127.0.0.1:${r.port}`);
  await runCases(t, r, cases);
  const ra = await realAuth;
  if (typeof ra === 'string') return t.skip(ra);
  await runCases(t, ra, authCases);
});
