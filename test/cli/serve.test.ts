import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveServeConfig, storageUrl, DEFAULT_HEALTH_PORT } from '../../src/cli/commands/serve.js';
import { availableListeners, PROTOCOLS } from '../../src/server/listener.js';
import { execCli, isOneErrorLine, runCli, spawnCli, waitForOutput } from './helpers.js';

/** Every reserved protocol on an OS-chosen port: tests never clash with a broker on a standard port. */
const ANY_PORTS = PROTOCOLS.flatMap((p) => [`--${p.name}-port`, '0']);
const NO_PROTOCOLS = PROTOCOLS.map((p) => `--no-${p.name}`);

test('serve --memory starts every listener, answers /healthz and /readyz, and exits 0 on SIGTERM', async () => {
  const child = spawnCli(['serve', '--memory', '--health-port', '0', ...ANY_PORTS]);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  try {
    const m = await waitForOutput(child, /health http:\/\/([\d.]+:\d+)\/healthz[^]*\ndata: .*\n/);
    const base = `http://${m[1]}`;
    const h = await fetch(`${base}/healthz`);
    assert.equal(h.status, 200);
    assert.match(h.headers.get('content-type') ?? '', /application\/json/);
    const body = (await h.json()) as Record<string, unknown>;
    assert.equal(body.status, 'ok');
    assert.equal(body.storage, 'memory');
    assert.equal(body.dataDir, null);
    assert.equal(typeof body.uptimeSec, 'number');
    const r = await fetch(`${base}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ready: true, phase: 'serving' });
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.match(stdout, /data: in memory only/);
    const available = availableListeners().map((l) => l.name);
    const missing = PROTOCOLS.map((p) => p.name).filter((n) => !available.includes(n));
    if (missing.length > 0) assert.match(stdout, new RegExp(`not available yet: ${missing.join(', ')}\n`));
    else assert.doesNotMatch(stdout, /not available yet/);
    for (const name of available) {
      const addr = new RegExp(`${name} (127\\.0\\.0\\.1:\\d+)`).exec(stdout)?.[1];
      assert.ok(addr, `${name} listener address printed: ${stdout}`);
      assert.equal(((body.listeners ?? {}) as Record<string, string>)[name], addr, '/healthz lists the listener');
    }

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, `stderr: ${stderr}`);
    assert.match(stdout, /received SIGTERM, shutting down/);
    assert.match(stdout, /stopped/);
    assert.equal(stderr, '');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('serve with every listener disabled and health off still starts and stops in-process', async () => {
  const ac = new AbortController();
  let out = '';
  const run = runCli(['serve', '--memory', '--health-port', 'off', ...NO_PROTOCOLS], {
    signal: ac.signal,
    stdout: {
      write: (s: string) => {
        out += s;
        // Stop once it is up (not after a fixed sleep: opening is slower on a loaded machine).
        if (/listening:/.test(out)) ac.abort();
        return true;
      },
    },
  });
  const r = await run;
  r.stdout = out;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /listening: health off/);
  assert.doesNotMatch(r.stdout, /not available yet/);
  assert.match(r.stdout, /stopped/);
});

test('serve on a busy health port exits 1 with one line', async () => {
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
  const busy = (blocker.address() as { port: number }).port;
  try {
    const r = await runCli(['serve', '--memory', '--health-port', String(busy), ...NO_PROTOCOLS]);
    assert.equal(r.code, 1);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
    assert.match(r.stderr, /health port 127\.0\.0\.1:\d+ is already in use/);
  } finally {
    blocker.close();
  }
});

test('serve with a data "directory" that is a regular file exits 1 with one line', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-cli-'));
  const file = path.join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  try {
    const r = await execCli(['serve', '--data', file, '--health-port', '0', ...NO_PROTOCOLS]);
    assert.equal(r.code, 1, `stdout: ${r.stdout} stderr: ${r.stderr}`);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
    assert.doesNotMatch(r.stderr, /OMNIBUS_DEBUG/, 'an engine error (OmnibusError), not an unexpected one');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve with a data path below a regular file exits 1 with one line', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-cli-'));
  const file = path.join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  try {
    const r = await execCli(['serve', '--data', path.join(file, 'data'), '--health-port', '0', ...NO_PROTOCOLS]);
    assert.equal(r.code, 1, `stdout: ${r.stdout} stderr: ${r.stderr}`);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
    assert.doesNotMatch(r.stderr, /OMNIBUS_DEBUG/, 'an engine error (OmnibusError), not an unexpected one');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Node 20's fs.mkdir(..., { recursive: true }) spins forever on a path below /proc, and the file
// storage creates its directory that way; until it guards against it this hangs.
test('serve with an unusable data path (/proc/nonexistent) exits 1 with one line', async () => {
  const r = await execCli(['serve', '--data', '/proc/nonexistent/omnibus', '--health-port', '0', ...NO_PROTOCOLS], {}, 30_000);
  assert.equal(r.code, 1, `stdout: ${r.stdout} stderr: ${r.stderr}`);
  assert.ok(isOneErrorLine(r.stderr), r.stderr);
});

test('settings: flag > env > config file > default', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-cfg-'));
  const cfgFile = path.join(dir, 'omnibus.json');
  writeFileSync(cfgFile, JSON.stringify({ data: 'store', fsync: 'never', host: '0.0.0.0', 'health-port': 1111, 'amqp-port': 7000, 'mqtt-port': 'off' }));
  try {
    const def = resolveServeConfig([], {}, '/srv');
    assert.equal(def.storage, 'file');
    assert.equal(def.dataDir, '/srv/data');
    assert.equal(def.fsync, 'always');
    assert.equal(def.host, '127.0.0.1');
    assert.equal(def.healthPort, DEFAULT_HEALTH_PORT);
    assert.equal(def.protocols.find((p) => p.name === 'amqp')?.port, 5672);

    const fromFile = resolveServeConfig(['--config', cfgFile], {}, '/srv');
    assert.equal(fromFile.dataDir, path.join(dir, 'store'), 'relative data in a config file is relative to the file');
    assert.equal(fromFile.fsync, 'never');
    assert.equal(fromFile.host, '0.0.0.0');
    assert.equal(fromFile.healthPort, 1111);
    assert.equal(fromFile.protocols.find((p) => p.name === 'amqp')?.port, 7000);
    assert.equal(fromFile.protocols.find((p) => p.name === 'mqtt')?.port, undefined);

    const env = { OMNIBUS_CONFIG: cfgFile, OMNIBUS_FSYNC: 'interval', OMNIBUS_AMQP_PORT: '7001', OMNIBUS_DATA: '/var/q' };
    const fromEnv = resolveServeConfig([], env, '/srv');
    assert.equal(fromEnv.fsync, 'interval');
    assert.equal(fromEnv.dataDir, '/var/q');
    assert.equal(fromEnv.host, '0.0.0.0', 'not in env: the config file still applies');
    assert.equal(fromEnv.protocols.find((p) => p.name === 'amqp')?.port, 7001);

    const fromFlags = resolveServeConfig(['--fsync', 'always', '--amqp-port', '7002', '--data', 'here'], env, '/srv');
    assert.equal(fromFlags.fsync, 'always');
    assert.equal(fromFlags.dataDir, '/srv/here');
    assert.equal(fromFlags.protocols.find((p) => p.name === 'amqp')?.port, 7002);

    const mem = resolveServeConfig([], { OMNIBUS_MEMORY: '1', OMNIBUS_CONFIG: cfgFile }, '/srv');
    assert.equal(mem.storage, 'memory');
    assert.equal(storageUrl(mem), 'memory://');
    const flagBeatsEnvMemory = resolveServeConfig(['--data', 'd'], { OMNIBUS_MEMORY: 'true' }, '/srv');
    assert.equal(flagBeatsEnvMemory.storage, 'file');

    const off = resolveServeConfig(['--no-amqp'], env, '/srv');
    assert.equal(off.protocols.find((p) => p.name === 'amqp')?.port, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storage url encodes the path and carries fsync, and asks for prefaulted write buffers', () => {
  const cfg = resolveServeConfig(['--data', '/tmp/with space#1', '--fsync', 'interval'], {}, '/');
  assert.equal(storageUrl(cfg), 'file:///tmp/with%20space%231?fsync=interval&prefault=1');
});

test('bad config files and env values are usage errors (exit 2)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibus-cfg-'));
  try {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    const unknown = path.join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ dta: 'x' }));
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['serve', '--config', bad], {}, /is not valid JSON/],
      [['serve', '--config', unknown], {}, /unknown key "dta"/],
      [['serve', '--config', path.join(dir, 'missing.json')], {}, /cannot read config file .*ENOENT/],
      [['serve'], { OMNIBUS_FSYNC: 'later' }, /OMNIBUS_FSYNC must be one of/],
      [['serve'], { OMNIBUS_KAFKA_PORT: 'x' }, /OMNIBUS_KAFKA_PORT must be a port/],
    ];
    for (const [argv, env, re] of cases) {
      const r = await runCli(argv, { env });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(isOneErrorLine(r.stderr), r.stderr);
      assert.match(r.stderr, re);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve starts registered listeners, lists them, and closes them before the store on shutdown', async () => {
  const { registerListener } = await import('../../src/server/listener.js');
  const net = await import('node:net');
  const events: string[] = [];
  registerListener({
    name: 'echo-test',
    defaultPort: 0,
    async start(ctx, { host, port }) {
      assert.equal(ctx.storage, 'memory');
      const server = net.createServer((s) => {
        s.setNoDelay(true);
        s.pipe(s);
      });
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen(port, host, () => res());
      });
      const a = server.address() as { port: number };
      events.push('started');
      return {
        address: `${host}:${a.port}`,
        close: async () => {
          events.push(`closed (signal aborted: ${ctx.signal.aborted})`);
          await new Promise<void>((res) => server.close(() => res()));
        },
      };
    },
  });
  const ac = new AbortController();
  const run = runCli(['serve', '--memory', '--health-port', '0', ...NO_PROTOCOLS], { signal: ac.signal });
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /listening: health http:\/\/127\.0\.0\.1:\d+\/healthz, echo-test 127\.0\.0\.1:\d+/);
  assert.deepEqual(events, ['started', 'closed (signal aborted: true)']);

  // The same listener on a busy port: exit 1, one line naming the flag to change.
  const blocker = net.createServer();
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
  try {
    const busy = (blocker.address() as { port: number }).port;
    const r2 = await runCli(['serve', '--memory', '--health-port', 'off', ...NO_PROTOCOLS, '--echo-test-port', String(busy)]);
    assert.equal(r2.code, 1);
    assert.ok(isOneErrorLine(r2.stderr), r2.stderr);
    assert.match(r2.stderr, /echo-test port 127\.0\.0\.1:\d+ is already in use \(use --echo-test-port N or --no-echo-test\)/);
  } finally {
    blocker.close();
  }
});
