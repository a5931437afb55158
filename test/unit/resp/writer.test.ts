import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import net from 'node:net';
import { ReplyWriter } from '../../../src/protocols/resp/index.js';
import type { RespVersion } from '../../../src/protocols/resp/index.js';

function enc(protocol: RespVersion, write: (w: ReplyWriter) => void): string {
  const w = new ReplyWriter({ protocol });
  write(w);
  return w.take().toString('latin1');
}

function both(write: (w: ReplyWriter) => void): [string, string] {
  return [enc(2, write), enc(3, write)];
}

describe('ReplyWriter: exact bytes', () => {
  const cases: [string, (w: ReplyWriter) => void, string, string][] = [
    ['simple', (w) => w.simple('OK'), '+OK\r\n', '+OK\r\n'],
    ['simple with CR/LF sanitised', (w) => w.simple('a\r\nb'), '+a  b\r\n', '+a  b\r\n'],
    ['error ERR', (w) => w.error("ERR unknown command 'FOO'"), "-ERR unknown command 'FOO'\r\n", "-ERR unknown command 'FOO'\r\n"],
    ['error WRONGTYPE', (w) => w.error('WRONGTYPE Operation against a key holding the wrong kind of value'), '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'],
    ['error NOAUTH, leading dash tolerated', (w) => w.error('-NOAUTH Authentication required.'), '-NOAUTH Authentication required.\r\n', '-NOAUTH Authentication required.\r\n'],
    ['error with newline', (w) => w.error('ERR bad\nthing'), '-ERR bad thing\r\n', '-ERR bad thing\r\n'],
    ['integer', (w) => w.integer(0).integer(-1).integer(1234567890123).integer(2n ** 63n - 1n), ':0\r\n:-1\r\n:1234567890123\r\n:9223372036854775807\r\n', ':0\r\n:-1\r\n:1234567890123\r\n:9223372036854775807\r\n'],
    ['integer beyond 2^53 as number', (w) => w.integer(2 ** 60), ':1152921504606846976\r\n', ':1152921504606846976\r\n'],
    ['bulk string', (w) => w.bulk('foobar').bulk(''), '$6\r\nfoobar\r\n$0\r\n\r\n', '$6\r\nfoobar\r\n$0\r\n\r\n'],
    ['bulk utf8', (w) => w.bulk('é'), '$2\r\n\xc3\xa9\r\n', '$2\r\n\xc3\xa9\r\n'],
    ['bulk buffer', (w) => w.bulk(Buffer.from([0, 13, 10, 255])), '$4\r\n\x00\r\n\xff\r\n', '$4\r\n\x00\r\n\xff\r\n'],
    ['null bulk', (w) => w.nullBulk(), '$-1\r\n', '_\r\n'],
    ['null array', (w) => w.nullArray(), '*-1\r\n', '_\r\n'],
    ['array', (w) => w.arrayHeader(2).bulk('a').integer(1), '*2\r\n$1\r\na\r\n:1\r\n', '*2\r\n$1\r\na\r\n:1\r\n'],
    ['empty array', (w) => w.arrayHeader(0), '*0\r\n', '*0\r\n'],
    ['map', (w) => w.mapHeader(1).bulk('k').bulk('v'), '*2\r\n$1\r\nk\r\n$1\r\nv\r\n', '%1\r\n$1\r\nk\r\n$1\r\nv\r\n'],
    ['set', (w) => w.setHeader(1).bulk('m'), '*1\r\n$1\r\nm\r\n', '~1\r\n$1\r\nm\r\n'],
    ['double', (w) => w.double(1.5).double(Infinity).double(-Infinity).double(NaN).double(0.1), '$3\r\n1.5\r\n$3\r\ninf\r\n$4\r\n-inf\r\n$3\r\nnan\r\n$3\r\n0.1\r\n', ',1.5\r\n,inf\r\n,-inf\r\n,nan\r\n,0.1\r\n'],
    ['boolean', (w) => w.boolean(true).boolean(false), ':1\r\n:0\r\n', '#t\r\n#f\r\n'],
    ['big number', (w) => w.bigNumber(3492890328409238509324850943850943825024385n), '$43\r\n3492890328409238509324850943850943825024385\r\n', '(3492890328409238509324850943850943825024385\r\n'],
    ['verbatim', (w) => w.verbatim('Some string'), '$11\r\nSome string\r\n', '=15\r\ntxt:Some string\r\n'],
    ['verbatim markdown', (w) => w.verbatim('# x', 'mkd'), '$3\r\n# x\r\n', '=7\r\nmkd:# x\r\n'],
    ['pub/sub message push', (w) => w.pushHeader(3).bulk('message').bulk('ch').bulk('hi'), '*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n', '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n'],
    ['attribute skipped in RESP2', (w) => w.attribute(new Map([['ttl', 3600]])).integer(3), ':3\r\n', '|1\r\n$3\r\nttl\r\n:3600\r\n:3\r\n'],
    ['raw', (w) => w.raw(Buffer.from('+PONG\r\n')), '+PONG\r\n', '+PONG\r\n'],
  ];
  for (const [name, write, resp2, resp3] of cases) {
    it(name, () => assert.deepEqual(both(write), [resp2, resp3]));
  }

  it('HELLO 3 reply shape (map in RESP3, flat array in RESP2)', () => {
    const hello = (w: ReplyWriter) =>
      w.value(
        new Map<string, string | number | string[]>([
          ['server', 'redis'],
          ['version', '7.2.0'],
          ['proto', 3],
          ['modules', []],
        ]),
      );
    assert.equal(
      enc(3, hello),
      '%4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n',
    );
    assert.equal(enc(2, hello).slice(0, 4), '*8\r\n');
  });

  it('protocol can switch mid-connection (HELLO 3 replies in RESP3)', () => {
    const w = new ReplyWriter();
    w.nullBulk();
    w.protocol = 3;
    w.nullBulk();
    assert.equal(w.take().toString(), '$-1\r\n_\r\n');
  });

  it('value(): numbers, bigints and tagged values', () => {
    assert.equal(enc(3, (w) => w.value([1, 1.5, 2n ** 64n, -(2n ** 63n), { kind: 'simple', value: 'OK' }, { kind: 'nullArray' }])), '*6\r\n:1\r\n,1.5\r\n(18446744073709551616\r\n:-9223372036854775808\r\n+OK\r\n_\r\n');
    assert.equal(enc(2, (w) => w.value({ kind: 'nullArray' })), '*-1\r\n');
  });
});

describe('ReplyWriter: buffering', () => {
  it('a pipeline of 1000 replies becomes one buffer', () => {
    const w = new ReplyWriter();
    for (let i = 0; i < 1000; i++) w.integer(i);
    const out = w.take();
    assert.equal(out.toString().split('\r\n').length - 1, 1000);
    assert.equal(w.pendingBytes, 0);
    assert.equal(w.take().length, 0);
  });

  it('taken buffers are never overwritten by later writes', () => {
    const w = new ReplyWriter({ slabSize: 256 });
    const taken: [Buffer, string][] = [];
    for (let turn = 0; turn < 500; turn++) {
      for (let i = 0; i <= turn % 7; i++) w.bulk(`turn${turn}-${i}-${'x'.repeat(turn % 50)}`);
      const b = w.take();
      taken.push([b, b.toString('latin1')]);
    }
    for (const [b, s] of taken) assert.equal(b.toString('latin1'), s);
  });

  it('large replies grow the buffer and keep pending bytes', () => {
    const w = new ReplyWriter({ slabSize: 256 });
    w.simple('OK');
    const big = Buffer.alloc(1 << 20, 7);
    w.bulk(big);
    w.bulk('x'.repeat(100_000));
    const out = w.take();
    assert.equal(out.subarray(0, 5).toString(), '+OK\r\n');
    assert.equal(out.length, 5 + (1 << 20) + 12 + 100_000 + 11);
  });

  it('discard() drops untaken output', () => {
    const w = new ReplyWriter();
    w.simple('a');
    assert.equal(w.take().toString(), '+a\r\n');
    w.simple('b');
    w.discard();
    w.simple('c');
    assert.equal(w.take().toString(), '+c\r\n');
  });

  it('rejects non-finite integers (caller bug)', () => {
    assert.throws(() => new ReplyWriter().integer(Infinity), RangeError);
  });
});

describe('ReplyWriter.writeTo over a real socket', () => {
  /** A loopback connection: `sock` is the writing end; `received()` the bytes read at the other end. */
  async function pair(): Promise<{ sock: net.Socket; peer: net.Socket; received: () => Buffer; receivedBytes: () => number; close: () => void }> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', r));
    const peer = await accepted;
    const parts: Buffer[] = [];
    let bytes = 0;
    peer.on('data', (d: Buffer) => {
      parts.push(d);
      bytes += d.length;
    });
    return {
      sock,
      peer,
      received: () => Buffer.concat(parts),
      // Counted as they arrive: polling received() would concatenate up to 32 MB every 5 ms.
      receivedBytes: () => bytes,
      close: () => {
        sock.destroy();
        peer.destroy();
        server.close();
      },
    };
  }

  /** Resolves once cond() holds; gives up after 10 s (the assertions after it then fail). */
  function until(cond: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const t0 = Date.now();
      const t = setInterval(() => {
        if (cond() || Date.now() - t0 > 10_000) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
  }

  it('a turn of output larger than many slabs arrives byte for byte, in order', async () => {
    const p = await pair();
    try {
      const w = new ReplyWriter({ slabSize: 4096 });
      const expected: Buffer[] = [];
      for (let i = 0; i < 1000; i++) {
        const v = Buffer.alloc(1000 + (i % 100), 97 + (i % 26));
        w.bulk(v);
        expected.push(Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n'));
      }
      const want = Buffer.concat(expected);
      assert.equal(w.pendingBytes, want.length);
      w.writeTo(p.sock);
      assert.equal(w.pendingBytes, 0);
      await until(() => p.receivedBytes() >= want.length);
      assert.ok(p.received().equals(want));
    } finally {
      p.close();
    }
  });

  it('recycled slabs never overwrite bytes the socket still holds (a peer that stops reading)', async () => {
    const p = await pair();
    try {
      const w = new ReplyWriter({ slabSize: 64 * 1024 });
      const expected: Buffer[] = [];
      let heldBack = false;
      for (let turn = 0; turn < 300; turn++) {
        // Pause the reader for a while so that some writes stay queued in the socket.
        if (turn === 50) p.peer.pause();
        const n = 1 + ((turn * 37) % 200);
        for (let i = 0; i < n; i++) {
          const v = Buffer.alloc(900 + ((turn + i) % 300), 65 + ((turn + i) % 26));
          w.bulk(v);
          expected.push(Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n'));
        }
        w.writeTo(p.sock);
        if (p.sock.writableLength > 0) heldBack = true;
        if (turn === 150) p.peer.resume();
        if (turn % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      const want = Buffer.concat(expected);
      await until(() => p.receivedBytes() >= want.length);
      assert.ok(heldBack, 'the socket kept some output queued while the peer was paused');
      assert.equal(p.received().length, want.length);
      assert.ok(p.received().equals(want));
    } finally {
      p.close();
    }
  });

  it('take() after writeTo() still hands out bytes that are never overwritten', async () => {
    const p = await pair();
    try {
      const w = new ReplyWriter();
      w.simple('first');
      w.writeTo(p.sock);
      w.simple('taken');
      const b = w.take();
      w.simple('after');
      w.writeTo(p.sock);
      w.simple('overwrites?');
      w.writeTo(p.sock);
      assert.equal(b.toString(), '+taken\r\n');
      await until(() => p.received().length >= 30);
      assert.equal(p.received().toString(), '+first\r\n+after\r\n+overwrites?\r\n');
    } finally {
      p.close();
    }
  });
});

describe('ReplyWriter.bulkRun', () => {
  it('writes exactly what bulkRange writes range by range, for any increasing ranges, gaps, sizes and prior output', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(300), fc.nat(1200)), { minLength: 1, maxLength: 40 }),
        fc.nat(70_000),
        fc.integer({ min: 256, max: 70_000 }),
        fc.nat(1_000),
        (shape, prior, slabSize, lead) => {
          // Ranges laid out as [gap][body][gap][body]... after `lead` bytes of a view that starts
          // 3 bytes into its ArrayBuffer (stored payloads are such views), with varied bytes.
          const bounds: number[] = [];
          let pos = lead;
          for (const [gap, len] of shape) {
            pos += gap;
            bounds.push(pos, pos + len);
            pos += len;
          }
          const src = Buffer.alloc(3 + pos + 7);
          for (let i = 0; i < src.length; i++) src[i] = (i * 31 + 7) & 0xff;
          const view = src.subarray(3);
          const pad = Buffer.alloc(prior, 0x2e);
          const a = new ReplyWriter({ slabSize });
          const b = new ReplyWriter({ slabSize });
          a.raw(pad);
          b.raw(pad);
          a.bulkRun(view, bounds, 0, shape.length);
          for (let i = 0; i < shape.length; i++) b.bulkRange(view, bounds[2 * i]!, bounds[2 * i + 1]!);
          assert.deepEqual(a.take(), b.take());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bulkRanges writes what bulkRange writes range by range, whichever ranges it groups into runs', () => {
    fc.assert(
      fc.property(
        // [gap before, length, whether the range starts a new buffer]: gaps and lengths on both
        // sides of the run limits (256 B apart, 1 KiB long, a quarter slab in all).
        fc.array(fc.tuple(fc.nat(400), fc.nat(1500), fc.boolean()), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 256, max: 70_000 }),
        (shape, slabSize) => {
          const bufs: Buffer[] = [];
          const bounds: number[] = [];
          let src = Buffer.alloc(0);
          let pos = 0;
          let sources = 0;
          for (const [gap, len, fresh] of shape) {
            if (fresh || sources === 0) {
              sources++;
              src = Buffer.alloc(200_000);
              for (let i = 0; i < src.length; i++) src[i] = (i * 13 + sources) & 0xff;
              pos = 0;
            }
            pos += gap;
            bufs.push(src);
            bounds.push(pos, pos + len);
            pos += len;
          }
          const a = new ReplyWriter({ slabSize });
          const b = new ReplyWriter({ slabSize });
          a.bulkRanges(bufs, bounds, 0, shape.length);
          for (let i = 0; i < shape.length; i++) b.bulkRange(bufs[i]!, bounds[2 * i]!, bounds[2 * i + 1]!);
          assert.deepEqual(a.take(), b.take());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes the middle of a run when from and to cut it, and nothing for an empty one', () => {
    const src = Buffer.from('..abc..de..fgh');
    const bounds = [2, 5, 7, 9, 11, 14];
    const w = new ReplyWriter();
    w.bulkRun(src, bounds, 1, 3).bulkRun(src, bounds, 2, 2);
    assert.equal(w.take().toString(), '$2\r\nde\r\n$3\r\nfgh\r\n');
  });
});
