#!/usr/bin/env node
/**
 * Omnibus's own CPU per command answered one at a time, without the socket: a RESP Session over
 * an in-process fake socket on a memory:// engine gets `LPUSH key v` (then `RPOP key`) as one
 * fresh 'data' chunk, and the next command is sent when the reply was written, as a naive client
 * does over TCP. What it measures is everything between the 'data' event and the reply's
 * write() (parser, command, engine, promise hops, the end-of-turn flush), not Node's socket
 * path (bench/resp-floor.mjs measures that) nor the kernel's.
 *
 * Usage (after `npx tsc -p .`):
 *   node bench/resp-session-cpu.mjs [--count 200000] [--size 128] [--reps 3] [--dist DIR[,DIR2]]
 * --dist: the dist/ of the build(s) to measure, each in its own child process, one after the other.
 */
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
function flag(name, def) {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
}
const count = Number(flag('count', '200000'));
const size = Number(flag('size', '128'));
const reps = Number(flag('reps', '3'));

/** What a net.Socket offers the session; write() hands the reply to `onWrite`. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  onWrite = () => {};
  setNoDelay() {}
  pause() {}
  resume() {}
  cork() {}
  uncork() {}
  end() {}
  destroy() {}
  write(b) {
    this.onWrite(b);
    return true;
  }
}

function command(...args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n`, a, '\r\n');
  return Buffer.from(parts.join(''), 'latin1');
}

if (argv[0] === '--child') {
  const dist = argv[1];
  const { connect } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const { Broker } = await import(pathToFileURL(path.join(dist, 'protocols/resp/server/broker.js')).href);
  const { Session } = await import(pathToFileURL(path.join(dist, 'protocols/resp/server/session.js')).href);
  const transport = await connect('memory://');
  const broker = await Broker.for(transport.engine, () => {});
  const cfg = { broker, password: undefined, users: new Map(), maxBulkLength: 512 << 20, outputHighWater: 1 << 20, maxPipelineBytes: 16 << 20, pubsubOutputLimit: 32 << 20, log: () => {} };
  const sock = new FakeSocket();
  new Session(cfg, sock);
  const value = 'x'.repeat(size);
  const push = command('LPUSH', 'k', value);
  const pop = command('RPOP', 'k');
  // One command, one fresh Buffer (as Node's read gives), one reply awaited.
  const roundTrip = (cmd, check) =>
    new Promise((resolve, reject) => {
      sock.onWrite = (b) => (check(b) ? resolve() : reject(new Error(`unexpected reply ${b.toString('latin1', 0, 40)}`)));
      sock.emit('data', Buffer.from(cmd));
    });
  const isInt = (b) => b[0] === 58; // ':'
  const isBulk = (b) => b[0] === 36 && b.length === size + String(size).length + 5; // $<n>\r\n<v>\r\n
  for (let r = 1; r <= reps; r++) {
    const line = [];
    for (const [phase, cmd, check] of [['LPUSH', push, isInt], ['RPOP', pop, isBulk]]) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < count; i++) await roundTrip(cmd, check);
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      line.push(`${phase} ${((c.user + c.system) / count).toFixed(2)} µs CPU (${((ms * 1000) / count).toFixed(2)} µs wall)`);
    }
    (process.send ? (m) => process.send(m) : console.log)(`rep ${r}: ${line.join("   ")}`);
  }
  await transport.close();
  process.exit(0);
} else {
  const dists = flag('dist', path.join(root, 'dist')).split(',').map((d) => path.resolve(d));
  console.log(`resp-session-cpu: ${count} × ${size} B per phase, ${reps} reps, memory://`);
  for (const dist of dists) {
    const child = fork(fileURLToPath(import.meta.url), ['--child', dist, ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m) => console.log(`${dist.padEnd(24)} ${m}`));
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
