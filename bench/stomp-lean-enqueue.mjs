#!/usr/bin/env node
/**
 * The STOMP enqueue of the seed experiment without stompit: a client that writes each SEND frame
 * (`persistent:true`, content-length, a receipt on the last of every 1000, two windows in flight,
 * as the bench driver does) in one socket write, parsing only CONNECTED, RECEIPT and ERROR. stompit
 * makes three writes per frame and costs 22–28 µs of CPU per SEND, which caps what it can send
 * (docs/benchmarks.md, "STOMP enqueue: the SEND path"); this client costs 5–8 µs, so the rate is
 * the broker's. One broker per run: ActiveMQ 5.17 as the bench configures it (bench/activemq.mjs)
 * or `omnibus serve --fsync always` on file storage, on a free loopback port in a temp dir,
 * stopped by pid. Per size a warm-up pass, then one measured pass; prints msg/s and the CPU
 * per SEND of the client and of the broker (all its threads). Enqueue only: nothing is read back.
 *
 *   npx tsc -p . && node bench/stomp-lean-enqueue.mjs real|omnibus COUNT SIZES
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startActiveMq } from './activemq.mjs';
import { serveEnv } from './serve-env.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { freePort, portOpen } = await import(join(ROOT, 'dist/bench/net.js'));
const { procCpuSeconds } = await import(join(ROOT, 'dist/bench/proc.js'));
const [who, count, sizes] = [process.argv[2], Number(process.argv[3] ?? 50000), (process.argv[4] ?? '128,512,1024,10240').split(',').map(Number)];
if (who !== 'real' && who !== 'omnibus') throw new Error('usage: stomp-lean-enqueue.mjs real|omnibus COUNT SIZES');
const dir = mkdtempSync(join(tmpdir(), 'lean-stomp-'));
const port = await freePort();
const child = who === 'real' ? startActiveMq(dir, port, await freePort(), { stdout: 'ignore' })
  : spawn('node', ['bin/omnibus.js', 'serve', '--data', dir, '--health-port', 'off', '--no-amqp', '--no-resp', '--no-kafka', '--no-mqtt', '--stomp-port', String(port), '--fsync', 'always'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: serveEnv() });
for (let i = 0; i < 900 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 100));
async function pass(size, queue) {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise((r) => s.once('connect', r));
  let buf = '';
  const waiters = new Map();
  // An ERROR or a dropped connection fails the receipts still awaited (the broker is stopped in finally).
  s.on('error', () => {}); // reported through 'close' below
  s.once('close', () => { for (const w of waiters.values()) w.reject(new Error(`connection closed with ${waiters.size} receipts outstanding`)); waiters.clear(); });
  let connected;
  const conn = new Promise((r) => (connected = r));
  s.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\0')) >= 0) {
      const f = buf.slice(0, i);
      buf = buf.slice(i + 1).replace(/^\n+/, '');
      if (f.startsWith('CONNECTED')) connected();
      else if (f.startsWith('RECEIPT')) { const id = /receipt-id:(.*)/.exec(f)[1]; waiters.get(id)?.resolve(); waiters.delete(id); }
      else if (f.startsWith('ERROR')) { for (const w of waiters.values()) w.reject(new Error(f)); waiters.clear(); s.destroy(); }
    }
  });
  s.write('CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n\0');
  await conn;
  const body = Buffer.alloc(size, 0x61);
  const head = Buffer.from(`SEND\ndestination:/queue/${queue}\npersistent:true\ncontent-length:${size}\n`);
  const frame = Buffer.concat([head, Buffer.from('\n'), body, Buffer.from('\0')]);
  let next = 0;
  const b0 = procCpuSeconds(child.pid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const lane = async () => {
    while (next < count) {
      const from = next; next = Math.min(count, next + 1000);
      const done = new Promise((resolve, reject) => waiters.set(`r${next}`, { resolve, reject }));
      for (let i = from; i < next - 1; i++) s.write(frame);
      s.write(Buffer.concat([head, Buffer.from(`receipt:r${next}\n\n`), body, Buffer.from('\0')]));
      await done;
    }
  };
  await Promise.all([lane(), lane()]);
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const b1 = procCpuSeconds(child.pid);
  s.end();
  return { size, rate: Math.round(count / ms * 1000), clientUs: +((cu.user + cu.system) / count).toFixed(1), brokerUs: +((b1 - b0) * 1e6 / count).toFixed(1) };
}
try {
  for (const size of sizes) {
    await pass(size, `warm${size}`);
    console.log(who, JSON.stringify(await pass(size, `q${size}`)));
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => { const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} r(); }, 20000); child.once('exit', () => { clearTimeout(t); r(); }); });
  rmSync(dir, { recursive: true, force: true });
}
