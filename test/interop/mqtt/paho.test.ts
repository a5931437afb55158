/**
 * paho-mqtt (Debian python3-paho-mqtt 1.6) against the listener, through inline scripts run by
 * /usr/bin/python3: MQTT 3.1.1 and 5, QoS 0/1/2 both ways (paho's QoS 2 exactly-once flow),
 * retained messages, persistent sessions, wills and v5 user properties. Skipped when paho is absent.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { startBroker, connect, collect, waitFor, end, type Broker } from './helpers.js';

const PY = '/usr/bin/python3';
let skip: string | false = false;
try {
  execFileSync(PY, ['-c', 'import paho.mqtt.client'], { stdio: 'ignore' });
} catch {
  skip = 'paho-mqtt is not installed (apt-get install python3-paho-mqtt)';
}

let b: Broker;
before(async () => {
  if (!skip) b = await startBroker();
});
after(async () => {
  if (!skip) await b.close();
});

function py(script: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PY, ['-c', script, String(b.port), ...args], { timeout: 20_000 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${e.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const COMMON = `
import sys, json, time, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port = int(sys.argv[1])
version = mqtt.MQTTv5 if sys.argv[2] == '5' else mqtt.MQTTv311
def client(cid, clean=True, expiry=None):
    c = mqtt.Client(client_id=cid, protocol=version, **({} if version == mqtt.MQTTv5 else {'clean_session': clean}))
    return c
def start(c, clean=True, expiry=None, will=None):
    ev = threading.Event()
    res = {}
    def on_connect(cl, userdata, flags, rc, properties=None):
        res['flags'] = flags; res['rc'] = int(rc if isinstance(rc, int) else rc.value); ev.set()
    c.on_connect = on_connect
    if will: c.will_set(*will)
    if version == mqtt.MQTTv5:
        p = None
        if expiry is not None:
            p = Properties(PacketTypes.CONNECT); p.SessionExpiryInterval = expiry
        c.connect('127.0.0.1', port, 30, clean_start=clean, properties=p)
    else:
        c.connect('127.0.0.1', port, 30)
    c.loop_start()
    assert ev.wait(5), 'no CONNACK'
    return res
`;

for (const v of ['4', '5']) {
  const V = v === '5' ? 'v5' : 'v3.1.1';

  test(`paho ${V}: QoS 0/1/2 publish and subscribe, exactly once`, { skip }, async () => {
    const out = await py(
      COMMON +
        `
got = []
sub = client('paho-sub-' + sys.argv[2])
sub.on_message = lambda c, u, m: got.append([m.topic, m.payload.decode(), m.qos, bool(m.retain)])
start(sub)
done = threading.Event()
sub.on_subscribe = lambda *a: done.set()
sub.subscribe('paho%s/#' % sys.argv[2], qos=2)
assert done.wait(5)
pub = client('paho-pub-' + sys.argv[2])
start(pub)
for q in (0, 1, 2):
    pub.publish('paho%s/q%d' % (sys.argv[2], q), 'm%d' % q, qos=q).wait_for_publish()
for i in range(20):
    pub.publish('paho%s/many' % sys.argv[2], str(i), qos=2)
t = time.time()
while len(got) < 23 and time.time() - t < 5: time.sleep(0.02)
time.sleep(0.2)
print(json.dumps(got))
pub.disconnect(); sub.disconnect()
`,
      v,
    );
    const got = JSON.parse(out) as [string, string, number, boolean][];
    assert.deepEqual(got.slice(0, 3), [
      [`paho${v}/q0`, 'm0', 0, false],
      [`paho${v}/q1`, 'm1', 1, false],
      [`paho${v}/q2`, 'm2', 2, false],
    ]);
    assert.deepEqual(got.slice(3).map((g) => g[1]), Array.from({ length: 20 }, (_, i) => String(i)));
  });

  test(`paho ${V}: retained message, persistent session with offline messages, will`, { skip }, async () => {
    const watcher = await connect(b, { protocolVersion: 4 });
    const wills = collect(watcher);
    await watcher.subscribeAsync(`pwill${v}/#`, { qos: 1 });
    const out = await py(
      COMMON +
        `
n = sys.argv[2]
pub = client('paho-rp-' + n)
start(pub)
pub.publish('pret%s/state' % n, 'on', qos=1, retain=True).wait_for_publish()
got = []
s = client('paho-persist-' + n, clean=False)
r1 = start(s, clean=False, expiry=600)
done = threading.Event()
s.on_subscribe = lambda *a: done.set()
s.subscribe('poff%s/#' % n, qos=1)
assert done.wait(5)
s.disconnect(); s.loop_stop()
for i in range(3):
    pub.publish('poff%s/x' % n, 'off%d' % i, qos=1).wait_for_publish()
s2 = client('paho-persist-' + n, clean=False)
s2.on_message = lambda c, u, m: got.append(m.payload.decode())
r2 = start(s2, clean=False, expiry=600)
t = time.time()
while len(got) < 3 and time.time() - t < 5: time.sleep(0.02)
rgot = []
r = client('paho-ret-' + n)
r.on_message = lambda c, u, m: rgot.append([m.topic, m.payload.decode(), bool(m.retain)])
start(r)
r.subscribe('pret%s/+' % n, qos=1)
t = time.time()
while len(rgot) < 1 and time.time() - t < 5: time.sleep(0.02)
w = client('paho-will-' + n)
start(w, will=('pwill%s/dead' % n, 'gone', 1, False))
w._sock.close()
time.sleep(0.3)
print(json.dumps({'present1': r1['flags'].get('session present'), 'present2': r2['flags'].get('session present'), 'offline': got, 'retained': rgot}))
`,
      v,
    );
    const r = JSON.parse(out) as { present1: number; present2: number; offline: string[]; retained: unknown[] };
    assert.equal(r.present1, 0);
    assert.equal(r.present2, 1);
    assert.deepEqual(r.offline, ['off0', 'off1', 'off2']);
    assert.deepEqual(r.retained, [[`pret${v}/state`, 'on', true]]);
    await waitFor(() => wills.length >= 1);
    assert.equal(wills[0]!.payload, 'gone');
    await end(watcher);
  });
}

test('paho v5: user properties and content type to mqtt.js, and back', { skip }, async () => {
  const js = await connect(b, { protocolVersion: 5 });
  const got = collect(js);
  await js.subscribeAsync('pprops/in', { qos: 1 });
  const run = py(
    COMMON +
      `
got = []
c = client('paho-props')
c.on_message = lambda cl, u, m: got.append({'payload': m.payload.decode(), 'user': getattr(m.properties, 'UserProperty', None), 'ct': getattr(m.properties, 'ContentType', None)})
start(c)
done = threading.Event()
c.on_subscribe = lambda *a: done.set()
c.subscribe('pprops/out', qos=1)
assert done.wait(5)
p = Properties(PacketTypes.PUBLISH)
p.UserProperty = [('from', 'paho'), ('n', '1')]
p.ContentType = 'text/plain'
c.publish('pprops/in', 'hello js', qos=1, properties=p).wait_for_publish()
t = time.time()
while len(got) < 1 and time.time() - t < 8: time.sleep(0.02)
print(json.dumps(got))
`,
    '5',
  );
  await waitFor(() => got.length >= 1, 8000);
  assert.equal(got[0]!.payload, 'hello js');
  assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { from: 'paho', n: '1' });
  assert.equal(got[0]!.packet.properties?.contentType, 'text/plain');
  await js.publishAsync('pprops/out', 'hello paho', { qos: 1, properties: { userProperties: { from: 'js' }, contentType: 'text/x' } });
  const back = JSON.parse(await run) as { payload: string; user: [string, string][]; ct: string }[];
  assert.deepEqual(back, [{ payload: 'hello paho', user: [['from', 'js']], ct: 'text/x' }]);
  await end(js);
});
