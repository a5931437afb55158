/**
 * mosquitto_pub / mosquitto_sub (Debian mosquitto-clients 2.0) against the listener: 3.1.1 and
 * `-V mqttv5`, QoS 0/1/2 (mosquitto_pub -q 2 runs the exactly-once flow), retained messages (-r,
 * --retained-only), wills and v5 user properties (-D). Skipped when the tools are missing.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { startBroker, connect, collect, waitFor, end, sleep, type Broker } from './helpers.js';

let skip: string | false = false;
try {
  execFileSync('mosquitto_pub', ['--help'], { stdio: 'ignore' });
} catch (e) {
  // --help exits with status 1 when present; ENOENT means missing.
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') skip = 'mosquitto-clients is not installed (apt-get install mosquitto-clients)';
}

let b: Broker;
before(async () => {
  if (!skip) b = await startBroker();
});
after(async () => {
  if (!skip) await b.close();
});

/** Runs a tool; resolves with its stdout (`okCodes`: exit statuses that are not failures). */
function run(cmd: string, args: string[], okCodes: number[] = [0]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, ['-h', '127.0.0.1', '-p', String(b.port), ...args], { timeout: 15_000 }, (e, stdout, stderr) => {
      const code = e ? (typeof e.code === 'number' ? e.code : -1) : 0;
      if (okCodes.includes(code)) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')}: ${e?.message}\n${stderr}`));
    });
  });
}

/**
 * Starts mosquitto_sub and resolves once the broker has its subscription (its stdout is block
 * buffered when piped, so its -d output cannot tell us): `probe` is a routing key it must match.
 */
async function sub(args: string[], probe: string): Promise<{ done: Promise<string> }> {
  const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(b.port), ...args]);
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<string>((resolve) => p.on('close', () => resolve(out)));
  const t = setTimeout(() => p.kill(), 15_000);
  void done.then(() => clearTimeout(t));
  await waitFor(() => b.engine.exchanges.route('amq.topic', probe).topics.length > 0);
  return { done };
}

for (const V of [[], ['-V', 'mqttv5']]) {
  const name = V.length ? 'v5' : 'v3.1.1';
  const n = V.length ? '5' : '4';

  test(`mosquitto ${name}: mosquitto_pub -q 0/1/2 to mosquitto_sub -q 2`, { skip }, async () => {
    const s = await sub([...V, '-q', '2', '-t', `mq${n}/#`, '-C', '3', '-F', '%t %q %p'], `mq${n}.q0`);
    for (const q of ['0', '1', '2']) await run('mosquitto_pub', [...V, '-q', q, '-t', `mq${n}/q${q}`, '-m', `m${q}`]);
    const out = await s.done;
    const lines = out.split('\n').filter((l) => l.startsWith(`mq${n}/`));
    assert.deepEqual(lines, [`mq${n}/q0 0 m0`, `mq${n}/q1 1 m1`, `mq${n}/q2 2 m2`]);
  });

  test(`mosquitto ${name}: retained messages and --retained-only`, { skip }, async () => {
    await run('mosquitto_pub', [...V, '-q', '1', '-r', '-t', `mret${n}/a`, '-m', 'kept']);
    const out = await run('mosquitto_sub', [...V, '-t', `mret${n}/+`, '--retained-only', '-C', '1', '-W', '3', '-F', '%t %r %p']);
    assert.equal(out.trim(), `mret${n}/a 1 kept`);
    await run('mosquitto_pub', [...V, '-r', '-n', '-t', `mret${n}/a`]);
    // -W: exits with status 27 after 1 s without a message.
    const none = await run('mosquitto_sub', [...V, '-t', `mret${n}/+`, '--retained-only', '-W', '1'], [0, 27]);
    assert.ok(!none.includes('kept'));
  });

  test(`mosquitto ${name}: mosquitto_pub to an mqtt.js subscriber and mqtt.js to mosquitto_sub`, { skip }, async () => {
    const js = await connect(b, { protocolVersion: V.length ? 5 : 4 });
    const got = collect(js);
    await js.subscribeAsync(`mjs${n}/in`, { qos: 2 });
    await run('mosquitto_pub', [...V, '-q', '2', '-t', `mjs${n}/in`, '-m', 'from mosquitto']);
    await waitFor(() => got.length >= 1);
    assert.equal(got[0]!.payload, 'from mosquitto');
    assert.equal(got[0]!.packet.qos, 2);
    const s = await sub([...V, '-q', '1', '-t', `mjs${n}/out`, '-C', '1', '-F', '%p'], `mjs${n}.out`);
    await js.publishAsync(`mjs${n}/out`, 'from mqtt.js', { qos: 1 });
    const out = await s.done;
    assert.ok(out.split('\n').includes('from mqtt.js'), out);
    await end(js);
  });

  test(`mosquitto ${name}: will of a killed mosquitto_sub`, { skip }, async () => {
    const watcher = await connect(b, { protocolVersion: 4 });
    const got = collect(watcher);
    await watcher.subscribeAsync(`mwill${n}/#`, { qos: 1 });
    const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(b.port), ...V, '-t', 'nothing', '--will-topic', `mwill${n}/dead`, '--will-payload', 'bye', '--will-qos', '1']);
    await sleep(300);
    p.kill('SIGKILL');
    await waitFor(() => got.length >= 1);
    assert.equal(got[0]!.payload, 'bye');
    await end(watcher);
  });
}

test('mosquitto v5: user properties and content type (-D) reach mqtt.js', { skip }, async () => {
  const js = await connect(b, { protocolVersion: 5 });
  const got = collect(js);
  await js.subscribeAsync('mprops', { qos: 1 });
  await run('mosquitto_pub', ['-V', 'mqttv5', '-q', '1', '-t', 'mprops', '-m', 'x', '-D', 'publish', 'user-property', 'k', 'v', '-D', 'publish', 'content-type', 'text/plain']);
  await waitFor(() => got.length >= 1);
  assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { k: 'v' });
  assert.equal(got[0]!.packet.properties?.contentType, 'text/plain');
  await end(js);
});
