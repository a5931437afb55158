#!/usr/bin/env node
/**
 * Omnibus's own CPU per STOMP SEND, without the socket: a StompConnection over an in-process fake
 * transport gets COUNT × SIZE `SEND persistent:true` frames as stompit writes them (a receipt on
 * the last of every 1000), cut into 64 KiB 'data' chunks (fresh Buffers, as socket reads give),
 * one window of 1000 ahead of the receipt awaited (two windows in flight, like the bench driver).
 * What it measures is everything between the 'data' chunk and the RECEIPT (parser, SEND mapping,
 * engine append, storage write and fsync on file://), not Node's socket path nor the kernel's.
 *
 * Usage (after `npx tsc -p .`):
 *   node bench/stomp-session-cpu.mjs [--count 100000] [--size 512] [--reps 3] [--url file|memory://] [--dist DIR[,DIR2]]
 * --url file (default) is a fresh temp dir with fsync=always; --dist: the dist/ of the build(s) to
 * measure, each in its own child process, one after the other (A/B against a worktree's dist/).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
function flag(name, def) {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
}
const count = Number(flag('count', '100000'));
const size = Number(flag('size', '512'));
const reps = Number(flag('reps', '3'));
const url = flag('url', 'file');
const WINDOW = 1000;
const CHUNK = 64 * 1024;

/** The bytes stompit writes for one window: header, body and `\0\n` per frame. */
function windowBytes(queue, w, body) {
  const parts = [];
  for (let i = 0; i < WINDOW; i++) {
    const receipt = i === WINDOW - 1 ? `receipt:w${w}\n` : '';
    parts.push(Buffer.from(`SEND\ndestination:/queue/${queue}\npersistent:true\ncontent-length:${body.length}\n${receipt}\n`), body, Buffer.from('\0\n'));
  }
  return Buffer.concat(parts);
}

if (argv[0] === '--child') {
  const dist = argv[1];
  const imp = (p) => import(pathToFileURL(path.join(dist, p)).href);
  const { connect } = await imp('index.js');
  const { StompBroker } = await imp('protocols/stomp/session/broker.js');
  const { StompConnection } = await imp('protocols/stomp/session/connection.js');
  const { StompParser } = await imp('protocols/stomp/codec/parser.js');
  const dir = url === 'file' ? mkdtempSync(path.join(tmpdir(), 'stomp-cpu-')) : undefined;
  const transport = await connect(dir ? `file://${dir}?fsync=always` : url);
  const broker = new StompBroker(transport.engine, {});
  await broker.init();
  const out = new StompParser();
  out.version = '1.2';
  const waiting = new Map();
  const fake = {
    bufferedBytes: 0,
    remoteAddress: 'bench',
    write(b, cb) {
      out.push(b, (f) => {
        const id = f.headers.find((h) => h[0] === 'receipt-id')?.[1];
        if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.map((h) => h.join(':')).join(' ')}`);
        if (id !== undefined) waiting.get(id)?.();
      });
      cb?.();
    },
    pauseReading() {},
    resumeReading() {},
    end() {},
    destroy() {},
  };
  const conn = new StompConnection(broker, fake);
  conn.onData(Buffer.from('CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n\0'));
  out.version = '1.2';
  const body = Buffer.alloc(size, 0x61);
  const windows = count / WINDOW;
  for (let r = 1; r <= reps; r++) {
    const queue = `cpu-${r}`;
    const bytes = [];
    for (let w = 0; w < windows; w++) bytes.push(windowBytes(queue, w, body));
    const receipt = (w) => new Promise((resolve) => waiting.set(`w${w}`, resolve));
    const feed = (w) => {
      const b = bytes[w];
      for (let o = 0; o < b.length; o += CHUNK) conn.onData(Buffer.from(b.subarray(o, o + CHUNK)));
    };
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let prev = receipt(0);
    feed(0);
    for (let w = 1; w < windows; w++) {
      const next = receipt(w);
      feed(w);
      await prev;
      prev = next;
    }
    await prev;
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    (process.send ? (m) => process.send(m) : console.log)(`rep ${r}: ${((c.user + c.system) / count).toFixed(2)} µs CPU per SEND (${((ms * 1000) / count).toFixed(2)} µs wall)`);
  }
  await conn.close(false);
  await transport.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
} else {
  const dists = flag('dist', path.join(root, 'dist')).split(',').map((d) => path.resolve(d));
  console.log(`stomp-session-cpu: ${count} × ${size} B SENDs, ${reps} reps, ${url === 'file' ? 'file:// fsync=always' : url}`);
  for (const dist of dists) {
    const child = fork(fileURLToPath(import.meta.url), ['--child', dist, ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m) => console.log(`${dist.padEnd(24)} ${m}`));
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
