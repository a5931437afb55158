#!/usr/bin/env node
/**
 * The MQTT seed experiment without mqtt.js: a client that speaks just enough MQTT 3.1.1 (CONNECT,
 * SUBSCRIBE, PUBLISH QoS 1, PUBACK, DISCONNECT) and writes in bulk — the publisher 100 PUBLISHes
 * per write with 1,000 unacknowledged at most, the consumer the PUBACKs of one socket read in one
 * write — so the rates are the broker's, not the client's (mqtt.js handles each packet in its own
 * tick and writes each PUBACK on its own: docs/benchmarks.md, "MQTT dequeue"). Per size: a
 * persistent session (clean session 0) subscribes to a fresh topic at QoS 1 and disconnects;
 * COUNT messages are published; the session reconnects and drains them, every body checked for
 * its size. One broker per run: mosquitto 2 as the bench configures it, or `omnibus serve
 * --fsync interval` on file storage, on a free loopback port in a temp dir, stopped by pid.
 * Prints msg/s of both phases, the consumer's CPU per message and the broker's (all threads).
 *
 *   npx tsc -p . && node bench/mqtt-lean.mjs real|omnibus COUNT SIZES
 */
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveEnv } from './serve-env.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { freePort, portOpen } = await import(join(ROOT, 'dist/bench/net.js'));
const { procCpuSeconds } = await import(join(ROOT, 'dist/bench/proc.js'));
const [who, count, sizes] = [process.argv[2], Number(process.argv[3] ?? 200000), (process.argv[4] ?? '128,512,1024').split(',').map(Number)];
if (who !== 'real' && who !== 'omnibus') throw new Error('usage: mqtt-lean.mjs real|omnibus COUNT SIZES');
const dir = mkdtempSync(join(tmpdir(), 'lean-mqtt-'));
const port = await freePort();
let child;
if (who === 'real') {
  const conf = join(dir, 'm.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 0', 'max_inflight_messages 1000', 'set_tcp_nodelay true', 'log_dest none', ''].join('\n'));
  const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  if (uid.status === 0) chownSync(dir, Number(uid.stdout.trim()), Number(spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' }).stdout.trim()));
  child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
} else {
  child = spawn('node', ['bin/omnibus.js', 'serve', '--data', dir, '--health-port', 'off', '--no-amqp', '--no-resp', '--no-kafka', '--no-stomp', '--mqtt-port', String(port), '--fsync', 'interval'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: serveEnv() });
}
for (let i = 0; i < 300 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 100));

function varint(n) { const out = []; do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 128; out.push(b); } while (n > 0); return Buffer.from(out); }
function str(s) { const b = Buffer.from(s); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); }
function packet(type, body) { return Buffer.concat([Buffer.from([type]), varint(body.length), body]); }
function connectPkt(id, clean) { return packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, clean ? 2 : 0, 0, 60]), str(id)])); }

/** Opens a connection; onPacket(type, flags, buf, start, end) per packet; returns {s, connack}. */
function open(id, clean, onPacket) {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  // A reset once the drain is over (the broker answering our close) is not a failure.
  s.on('error', (e) => { if (e.code !== 'ECONNRESET') throw e; });
  let pend = Buffer.alloc(0);
  let connack;
  const ready = new Promise((r) => (connack = r));
  s.on('data', (d) => {
    let b = pend.length ? Buffer.concat([pend, d]) : d;
    let p = 0;
    const acks = [];
    while (p + 2 <= b.length) {
      let len = 0, mul = 1, q = p + 1, byte;
      do { if (q >= b.length) { len = -1; break; } byte = b[q++]; len += (byte & 127) * mul; mul *= 128; } while (byte & 128);
      if (len < 0 || q + len > b.length) break;
      const type = b[p] >> 4;
      if (type === 2) connack();
      else onPacket(type, b[p] & 15, b, q, q + len, acks);
      p = q + len;
    }
    pend = p < b.length ? Buffer.from(b.subarray(p)) : Buffer.alloc(0);
    if (acks.length) s.write(Buffer.concat(acks));
  });
  s.write(connectPkt(id, clean));
  return { s, ready };
}

async function pass(size, topic) {
  // The session: subscribe QoS 1, disconnect.
  {
    let subacked; const sa = new Promise((r) => (subacked = r));
    const { s, ready } = open(`drain-${topic}`, false, (t) => { if (t === 9) subacked(); });
    await ready;
    s.write(packet(0x82, Buffer.concat([Buffer.from([0, 1]), str(topic), Buffer.from([1])])));
    await sa; s.write(Buffer.from([0xe0, 0])); s.end();
    await new Promise((r) => s.once('close', r));
  }
  // Publish COUNT QoS 1, 1000 in flight.
  const body = Buffer.alloc(size, 0x61);
  const t0p = performance.now();
  const bp0 = procCpuSeconds(child.pid);
  {
    let acked = 0; let wake;
    const { s, ready } = open(`pub-${topic}`, true, (t) => { if (t === 4) { acked++; wake?.(); } });
    await ready;
    let id = 0;
    for (let sent = 0; sent < count; ) {
      while (sent - acked >= 1000) await new Promise((r) => (wake = r));
      const n = Math.min(1000 - (sent - acked), count - sent, 100);
      const parts = [];
      for (let i = 0; i < n; i++) { id = id % 65535 + 1; const pid = Buffer.alloc(2); pid.writeUInt16BE(id); parts.push(packet(0x32, Buffer.concat([str(topic), pid, body]))); }
      s.write(Buffer.concat(parts)); sent += n;
    }
    while (acked < count) await new Promise((r) => (wake = r));
    s.write(Buffer.from([0xe0, 0])); s.end();
  }
  const enq = Math.round(count / (performance.now() - t0p) * 1000);
  const bp1 = procCpuSeconds(child.pid);
  // Drain: PUBACKs of one read in one write.
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let got = 0; let done; let lost;
  const fin = new Promise((r, j) => { done = r; lost = j; });
  const { s, ready } = open(`drain-${topic}`, false, (t, flags, b, start, end, acks) => {
    if (t !== 3) return;
    const tl = b.readUInt16BE(start);
    const pid = b.readUInt16BE(start + 2 + tl);
    if (((flags >> 1) & 3) === 1) acks.push(Buffer.from([0x40, 2, pid >> 8, pid & 255]));
    if (end - (start + 4 + tl) !== size) throw new Error('bad size');
    if (++got === count) done();
  });
  // A connection that ends before the backlog is drained fails the run instead of hanging it.
  s.once('close', () => { if (got < count) lost(new Error(`drain connection closed after ${got} of ${count} messages`)); });
  await ready;
  await fin;
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const b1 = procCpuSeconds(child.pid);
  s.end();
  return { size, enq, deq: Math.round(count / ms * 1000), clientUsDeq: +((cu.user + cu.system) / count).toFixed(1), brokerUsEnq: +((bp1 - bp0) * 1e6 / count).toFixed(1), brokerUsDeq: +((b1 - bp1) * 1e6 / count).toFixed(1) };
}
try {
  for (const size of sizes) {
    console.log(who, JSON.stringify(await pass(size, `t${size}`)));
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => { const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} r(); }, 20000); child.once('exit', () => { clearTimeout(t); r(); }); });
  rmSync(dir, { recursive: true, force: true });
}
