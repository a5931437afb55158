/**
 * adoptSharedRead: an accepted socket taken over so that its reads land in one shared buffer.
 * Real sockets on loopback; every case checks what a protocol session relies on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { adoptSharedRead, listenOn } from '../../../src/server/tcp.js';

interface Accepted {
  socket: net.Socket;
  chunks: Buffer[];
  bytes(): Buffer;
}

/** A server whose every connection is adopted; resolves the port and a queue of accepted sockets. */
async function adoptingServer(): Promise<{ port: number; next: () => Promise<Accepted>; close: () => Promise<void> }> {
  const waiting: ((a: Accepted) => void)[] = [];
  const ready: Accepted[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
    const chunks: Buffer[] = [];
    const socket = adoptSharedRead(accepted, (c) => chunks.push(c));
    assert.ok(socket, 'an accepted TCP socket has a handle to adopt');
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const a = { socket, chunks, bytes: () => Buffer.concat(chunks) };
    const w = waiting.shift();
    if (w) w(a);
    else ready.push(a);
  });
  const port = await listenOn(server, 0, '127.0.0.1');
  return {
    port,
    next: () => (ready.length > 0 ? Promise.resolve(ready.shift()!) : new Promise((resolve) => waiting.push(resolve))),
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One client connected to an adopting server: runs `fn`, then closes both. */
async function withConnection(fn: (client: net.Socket, a: Accepted) => Promise<void>): Promise<void> {
  const srv = await adoptingServer();
  try {
    const client = net.connect(srv.port, '127.0.0.1');
    await once(client, 'connect');
    try {
      await fn(client, await srv.next());
    } finally {
      client.destroy();
    }
  } finally {
    await srv.close();
  }
}

test('an adopted socket hands over every byte in order, each read in a buffer of its own', () =>
  withConnection(async (client, a) => {
    // 1 MiB in pieces of varied sizes: many reads, some filling the shared 64 KiB buffer.
    const sent: Buffer[] = [];
    let total = 0;
    for (let i = 0; total < 1024 * 1024; i++) {
      const b = Buffer.alloc(1 + ((i * 7919) % 70_000), i & 0xff);
      sent.push(b);
      total += b.length;
      client.write(b);
    }
    await until(() => a.chunks.reduce((n, c) => n + c.length, 0) >= total, 'all bytes');
    assert.ok(a.chunks.length > 1, 'several reads');
    // Buffers kept from earlier reads were not overwritten by later ones.
    assert.ok(a.bytes().equals(Buffer.concat(sent)), 'the bytes as sent, in order');
  }));

test('an adopted socket writes, and its peer ending the connection ends and closes it', () =>
  withConnection(async (client, a) => {
    const reply: Buffer[] = [];
    client.on('data', (c: Buffer) => reply.push(c));
    client.write('ping');
    await until(() => a.bytes().toString() === 'ping', 'the request');
    a.socket.write('pong');
    await until(() => Buffer.concat(reply).toString() === 'pong', 'the reply');
    const closed = once(a.socket, 'close');
    client.end();
    await closed;
    assert.equal(a.socket.destroyed, true);
  }));

test('a paused adopted socket stops reading until resumed, and loses nothing', () =>
  withConnection(async (client, a) => {
    client.write('a'.repeat(100));
    await until(() => a.bytes().length === 100, 'the first bytes');
    a.socket.pause();
    client.write('b'.repeat(100));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.bytes().length, 100, 'no read while paused');
    a.socket.resume();
    await until(() => a.bytes().length === 200, 'the bytes sent while paused');
    assert.equal(a.bytes().toString(), 'a'.repeat(100) + 'b'.repeat(100));
  }));
