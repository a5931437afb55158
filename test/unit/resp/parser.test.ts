import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RespCommandParser, isProtocolError, splitArgs } from '../../../src/protocols/resp/index.js';
import { bytes, feed, mbulk, splitAt } from './helpers.js';

// Byte streams as the named clients put them on the wire (hand-built from the clients' encoders
// and handshakes described in research/protocols.md §2; no redis-cli on this machine to record).
const RECORDED: Record<string, { wire: string; commands: string[][] }> = {
  'redis-cli PING': { wire: '*1\r\n$4\r\nPING\r\n', commands: [['PING']] },
  'redis-cli -3 (HELLO 3) then COMMAND DOCS': {
    wire: '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n',
    commands: [['HELLO', '3'], ['COMMAND', 'DOCS']],
  },
  'redis-cli -a secret': {
    wire: '*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n',
    commands: [['AUTH', 'secret'], ['PING']],
  },
  'redis-benchmark PING_INLINE -P 3': {
    wire: 'PING\r\nPING\r\nPING\r\n',
    commands: [['PING'], ['PING'], ['PING']],
  },
  'redis-benchmark startup + LPUSH': {
    wire:
      '*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n' +
      '*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nappendonly\r\n' +
      '*3\r\n$5\r\nLPUSH\r\n$6\r\nmylist\r\n$3\r\nxxx\r\n' +
      '*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$3\r\nxxx\r\n',
    commands: [
      ['CONFIG', 'GET', 'save'],
      ['CONFIG', 'GET', 'appendonly'],
      ['LPUSH', 'mylist', 'xxx'],
      ['SET', 'key:000000000042', 'xxx'],
    ],
  },
  'ioredis 6 handshake (lower-case commands, HELLO 3 AUTH)': {
    wire:
      '*5\r\n$5\r\nhello\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\nsecret\r\n' +
      '*4\r\n$6\r\nclient\r\n$7\r\nsetinfo\r\n$7\r\nLIB-VER\r\n$5\r\n6.0.0\r\n' +
      '*4\r\n$6\r\nclient\r\n$7\r\nsetinfo\r\n$8\r\nLIB-NAME\r\n$7\r\nioredis\r\n' +
      '*1\r\n$4\r\ninfo\r\n',
    commands: [
      ['hello', '3', 'AUTH', 'default', 'secret'],
      ['client', 'setinfo', 'LIB-VER', '6.0.0'],
      ['client', 'setinfo', 'LIB-NAME', 'ioredis'],
      ['info'],
    ],
  },
  'node-redis 5 (HELLO 3, SETNAME, SELECT)': {
    wire:
      '*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n$6\r\nworker\r\n' +
      '*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$10\r\nnode-redis\r\n' +
      '*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n',
    commands: [
      ['HELLO', '3', 'SETNAME', 'worker'],
      ['CLIENT', 'SETINFO', 'LIB-NAME', 'node-redis'],
      ['SELECT', '2'],
    ],
  },
  'kombu BRPOP over binary priority keys': {
    wire: '*5\r\n$5\r\nBRPOP\r\n$6\r\ncelery\r\n$9\r\ncelery\x06\x163\r\n$9\r\ncelery\x06\x166\r\n$1\r\n1\r\n',
    commands: [['BRPOP', 'celery', 'celery\x06\x163', 'celery\x06\x166', '1']],
  },
  'telnet inline with quotes': {
    wire: 'SET greeting "hello\\r\\nworld\\x21"\r\nGET greeting\n',
    commands: [['SET', 'greeting', 'hello\r\nworld!'], ['GET', 'greeting']],
  },
  'empty lines and *0 are skipped': {
    wire: '\r\n\n   \r\n*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n',
    commands: [['PING']],
  },
  'binary-safe payload containing CRLF and NUL': {
    wire: '*3\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$6\r\n\r\n\x00\xff*$\r\n',
    commands: [['RPUSH', 'q', '\r\n\x00\xff*$']],
  },
};

const ALL_RECORDED = Buffer.concat(Object.values(RECORDED).map((r) => bytes(r.wire)));
const ALL_COMMANDS = Object.values(RECORDED).flatMap((r) => r.commands);

describe('RespCommandParser: recorded client bytes', () => {
  for (const [name, { wire, commands }] of Object.entries(RECORDED)) {
    it(name, () => {
      const out = feed([bytes(wire)]);
      assert.deepEqual(out, { commands, error: null, incomplete: false });
    });
  }

  it('a pipeline of 5000 commands in one chunk yields all of them in order', () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 5000; i++) parts.push(i % 7 === 0 ? bytes(`INCR k${i}\r\n`) : mbulk('LPUSH', `q${i}`, `v${i}`));
    const out = feed([Buffer.concat(parts)]);
    assert.equal(out.error, null);
    assert.equal(out.commands.length, 5000);
    assert.deepEqual(out.commands[7], ['INCR', 'k7']);
    assert.deepEqual(out.commands[4999], ['LPUSH', 'q4999', 'v4999']);
  });
});

describe('RespCommandParser: chunking', () => {
  it('splitting the recorded stream at every byte boundary yields the same commands', () => {
    for (let k = 0; k <= ALL_RECORDED.length; k++) {
      const out = feed(splitAt(ALL_RECORDED, [k]));
      assert.deepEqual(out.commands, ALL_COMMANDS, `split at ${k}`);
      assert.equal(out.error, null);
    }
  });

  it('one byte per push yields the same commands', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < ALL_RECORDED.length; i++) chunks.push(ALL_RECORDED.subarray(i, i + 1));
    assert.deepEqual(feed(chunks).commands, ALL_COMMANDS);
  });

  it('random multi-way splits yield the same commands (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: ALL_RECORDED.length }), { maxLength: 40 }), (cuts) => {
        assert.deepEqual(feed(splitAt(ALL_RECORDED, cuts)).commands, ALL_COMMANDS);
      }),
      { numRuns: 500 },
    );
  });

  it('an 8 MiB bulk in 1 KiB chunks is assembled in linear time', () => {
    const payload = Buffer.alloc(8 * 1024 * 1024, 0x61);
    payload[0] = 0x62;
    payload[payload.length - 1] = 0x63;
    const wire = mbulk('SET', 'big', payload);
    const p = new RespCommandParser();
    const t0 = performance.now();
    let got: Buffer[] | undefined;
    for (let i = 0; i < wire.length; i += 1024) {
      p.push(wire.subarray(i, i + 1024));
      const c = p.next();
      if (c !== undefined) {
        assert.ok(Array.isArray(c));
        got = c;
      }
    }
    const ms = performance.now() - t0;
    assert.ok(got);
    assert.equal(got.length, 3);
    assert.ok((got[2] as Buffer).equals(payload));
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it('a 60 KiB inline line fed one byte at a time does not rescan (linear)', () => {
    const line = bytes('ECHO ' + 'x'.repeat(60 * 1024) + '\r\n');
    const p = new RespCommandParser();
    const t0 = performance.now();
    let got: unknown;
    for (let i = 0; i < line.length; i++) {
      p.push(line.subarray(i, i + 1));
      const c = p.next();
      if (c !== undefined) got = c;
    }
    const ms = performance.now() - t0;
    assert.ok(Array.isArray(got));
    assert.equal((got as Buffer[])[1]?.length, 60 * 1024);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('arguments handed out are never overwritten by later pushes', () => {
    const p = new RespCommandParser();
    // The first chunk ends mid-header so the parser must join pending bytes with the next chunk.
    p.push(bytes('*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n*2\r\n$3\r\nGE'));
    const first = p.next();
    assert.ok(Array.isArray(first));
    const snapshot = first.map((a) => Buffer.from(a));
    for (let i = 0; i < 200; i++) {
      p.push(bytes(i === 0 ? 'T\r\n$3\r\nxyz\r\n' : `*2\r\n$3\r\nGET\r\n$3\r\nk${String(i % 100).padStart(2, '0')}\r\n*1\r\n$4\r\nPI`));
      for (;;) {
        const c = p.next();
        if (c === undefined) break;
        assert.ok(Array.isArray(c));
      }
      p.push(bytes('NG\r\n'));
      while (p.next() !== undefined);
    }
    assert.deepEqual(first, snapshot);
  });

  it('chunks pushed while a command is pending are parsed in place, not copied, and in order', () => {
    const p = new RespCommandParser();
    const v = (c: string): string => c.repeat(1000);
    const cmds = [
      ['LPUSH', 'k', v('a')],
      ['LPUSH', 'k', v('b')],
      ['LPUSH', 'k', v('c')],
      ['LPUSH', 'k', v('d')],
      ['LPUSH', 'k', v('e')],
    ];
    const wire = Buffer.concat(cmds.map((c) => mbulk(...c)));
    const one = mbulk(...cmds[0]!).length;
    // Chunk 1 ends inside the second command's value; nobody calls next() (the caller is busy)
    // while chunks 2 and 3 arrive.
    const c1 = wire.subarray(0, one + 500);
    const c2 = Buffer.from(wire.subarray(one + 500, 4 * one));
    const c3 = Buffer.from(wire.subarray(4 * one));
    p.push(c1);
    p.push(c2);
    p.push(c3);
    assert.equal(p.bufferedBytes, wire.length);
    const got: Buffer[][] = [];
    for (;;) {
      const c = p.next();
      if (c === undefined) break;
      assert.ok(Array.isArray(c));
      got.push(c);
    }
    assert.deepEqual(got.map((c) => c.map(String)), cmds);
    // The third and fourth values are views of chunk 2, the fifth of chunk 3: no copy.
    assert.equal(got[2]![2]!.buffer, c2.buffer);
    assert.equal(got[3]![2]!.buffer, c2.buffer);
    assert.equal(got[4]![2]!.buffer, c3.buffer);
    assert.equal(p.bufferedBytes, 0);
  });

  it('copyArgs returns buffers that do not share the input chunk', () => {
    const chunk = mbulk('SET', 'k', 'v');
    const p = new RespCommandParser({ copyArgs: true });
    p.push(chunk);
    const c = p.next();
    assert.ok(Array.isArray(c));
    chunk.fill(0);
    assert.deepEqual(c.map(String), ['SET', 'k', 'v']);
  });
});

describe('RespCommandParser: inline splitting (sdssplitargs)', () => {
  const cases: [string, string[] | null][] = [
    ['PING', ['PING']],
    ['  SET   a    b  ', ['SET', 'a', 'b']],
    ['\tSET\ta\tb', ['SET', 'a', 'b']],
    ['SET k "hello world"', ['SET', 'k', 'hello world']],
    ["SET k 'it\\'s'", ['SET', 'k', "it's"]],
    ["SET k 'no \\n escapes'", ['SET', 'k', 'no \\n escapes']],
    ['SET k "\\x41\\x4a\\x4A\\xzz"', ['SET', 'k', 'AJJxzz']],
    ['SET k "a\\tb\\nc\\rd\\be\\af\\"g\\\\h\\qi"', ['SET', 'k', 'a\tb\nc\rd\be\x07f"g\\hqi']],
    ['SET k ""', ['SET', 'k', '']],
    ["SET k ''", ['SET', 'k', '']],
    ['SET k foo"bar"', ['SET', 'k', 'foobar']],
    ['SET k "unterminated', null],
    ["SET k 'unterminated", null],
    ['SET k "closed"x', null],
    ["SET k 'closed'x", null],
    ['a\vb', ['a\vb']], // \v separates only leading blanks, not tokens (as in Redis)
    ['\v\fPING', ['PING']],
    ['GET k\x00ignored after NUL', ['GET', 'k']],
    ['', []],
  ];
  for (const [line, expected] of cases) {
    it(JSON.stringify(line), () => {
      const b = bytes(line);
      const got = splitArgs(b, 0, b.length);
      assert.deepEqual(got === null ? null : got.map((a) => a.toString('latin1')), expected);
    });
  }

  it('hex escape builds raw bytes', () => {
    const b = bytes('SET k "\\xff\\x00\\x0d"');
    assert.deepEqual([...(splitArgs(b, 0, b.length)?.[2] ?? [])], [0xff, 0x00, 0x0d]);
  });

  it('the unquoted fast path splits exactly like the full splitter (property)', () => {
    const line = fc.array(fc.constantFrom('a', 'B', ' ', '\t', '\r', '\v', '\f', '\x00', '\\', 'x', '\xff', '\n'), { maxLength: 30 }).map((a) => a.join(''));
    fc.assert(
      fc.property(line, (l) => {
        const plain = bytes(l);
        // Appending ` ""` forces the quote-aware path; when the line has a NUL, both stop there.
        const forced = bytes(l + ' ""');
        const a = splitArgs(plain, 0, plain.length)?.map((x) => x.toString('latin1'));
        const b = splitArgs(forced, 0, forced.length)?.map((x) => x.toString('latin1'));
        if (l.includes('\x00')) assert.deepEqual(a, b);
        else assert.deepEqual(a === undefined ? a : [...a, ''], b);
      }),
      { numRuns: 2000 },
    );
  });

  it('unbalanced quotes are a protocol error with Redis wording', () => {
    assert.equal(feed([bytes('PING\r\nSET k "oops\r\nPING\r\n')]).error, 'Protocol error: unbalanced quotes in request');
    assert.deepEqual(feed([bytes('PING\r\nSET k "oops\r\nPING\r\n')]).commands, [['PING']]);
  });
});

describe('RespCommandParser: limits and protocol errors', () => {
  const err = (wire: string | Buffer, options?: ConstructorParameters<typeof RespCommandParser>[0]) =>
    feed([typeof wire === 'string' ? bytes(wire) : wire], options).error;

  it('*99999999999 → invalid multibulk length', () => {
    assert.equal(err('*99999999999\r\n'), 'Protocol error: invalid multibulk length');
  });
  it('malformed multibulk counts', () => {
    for (const w of ['*abc\r\n', '*\r\n', '*+1\r\n', '*01\r\n', '*-0\r\n', '*1a\r\n', '*123456789012345678901\r\n', '*-9223372036854775809\r\n', '*2147483648\r\n']) {
      assert.equal(err(w), 'Protocol error: invalid multibulk length', w);
    }
    // string2ll accepts these; non-positive counts are skipped like Redis does.
    assert.deepEqual(feed([bytes('*-9223372036854775808\r\n*-5\r\nPING\r\n')]), { commands: [['PING']], error: null, incomplete: false });
  });
  it('a header longer than 20 characters fails without waiting for its CR', () => {
    assert.equal(err('*' + '1'.repeat(21)), 'Protocol error: invalid multibulk length');
    assert.equal(err('*1\r\n$' + '1'.repeat(21)), 'Protocol error: invalid bulk length');
  });
  it('bulk bigger than max → invalid bulk length', () => {
    assert.equal(err('*2\r\n$3\r\nGET\r\n$536870913\r\n'), 'Protocol error: invalid bulk length');
    assert.equal(feed([bytes('*1\r\n$536870912\r\n')]).error, null); // exactly proto-max-bulk-len is fine
    assert.equal(err('*1\r\n$11\r\n', { maxBulkLength: 10 }), 'Protocol error: invalid bulk length');
    assert.equal(err('*1\r\n$-1\r\n'), 'Protocol error: invalid bulk length');
    assert.equal(err('*1\r\n$x\r\n'), 'Protocol error: invalid bulk length');
  });
  it('multibulk bigger than max', () => {
    assert.equal(err('*11\r\n', { maxMultibulkLength: 10 }), 'Protocol error: invalid multibulk length');
    assert.equal(err('*1048577\r\n'), 'Protocol error: invalid multibulk length');
  });
  it("expected '$', got ...", () => {
    assert.equal(err('*2\r\n$3\r\nGET\r\n:3\r\nabc\r\n'), "Protocol error: expected '$', got ':'");
    assert.equal(err('*1\r\nPING\r\n'), "Protocol error: expected '$', got 'P'");
    assert.equal(err('*1\r\n\r\n'), "Protocol error: expected '$', got ' '");
  });
  it('inline line over 64 KiB → too big inline request; exactly 64 KiB is accepted', () => {
    assert.equal(err(Buffer.alloc(64 * 1024 + 1, 0x61)), 'Protocol error: too big inline request');
    assert.equal(err(Buffer.concat([Buffer.alloc(64 * 1024 + 1, 0x61), bytes('\n')])), 'Protocol error: too big inline request');
    const ok = feed([Buffer.concat([Buffer.alloc(64 * 1024, 0x61), bytes('\n')])]);
    assert.equal(ok.error, null);
    assert.equal(ok.commands[0]?.[0]?.length, 64 * 1024);
  });
  it('never buffers beyond the inline limit when no newline comes', () => {
    const p = new RespCommandParser();
    let result: unknown;
    for (let i = 0; i < 100 && result === undefined; i++) {
      p.push(Buffer.alloc(4096, 0x61));
      result = p.next();
      assert.ok(p.bufferedBytes <= 64 * 1024 + 4096);
    }
    assert.ok(isProtocolError(result));
    assert.equal(p.bufferedBytes, 0);
  });
  it('maxBufferedBytes guards callers that push without pulling', () => {
    const p = new RespCommandParser({ maxBufferedBytes: 1000 });
    p.push(bytes('*1\r\n$4\r\nPI'));
    for (let i = 0; i < 100; i++) p.push(bytes('*1\r\n$4\r\nPING\r\n'));
    const r = p.next();
    assert.ok(isProtocolError(r));
    assert.equal(r.error, 'Protocol error: too big query buffer');
  });
  it('authRequired applies Redis pre-AUTH limits and can be lifted between commands', () => {
    const p = new RespCommandParser();
    p.authRequired = true;
    p.push(Buffer.concat([mbulk('AUTH', 'pw'), mbulk('MSET', 'a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5')]));
    assert.deepEqual((p.next() as Buffer[]).map(String), ['AUTH', 'pw']);
    p.authRequired = false; // session: AUTH succeeded
    assert.equal((p.next() as Buffer[]).length, 11);

    assert.equal(err(mbulk('MSET', 'a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5').toString('latin1')), null);
    const q = new RespCommandParser();
    q.authRequired = true;
    q.push(bytes('*11\r\n'));
    assert.equal((q.next() as { error: string }).error, 'Protocol error: unauthenticated multibulk length');
    const r = new RespCommandParser();
    r.authRequired = true;
    r.push(bytes('*2\r\n$3\r\nGET\r\n$16385\r\n'));
    assert.equal((r.next() as { error: string }).error, 'Protocol error: unauthenticated bulk length');
  });
  it('commands before an error are delivered; the error is sticky and later input dropped', () => {
    const p = new RespCommandParser();
    p.push(bytes('PING\r\n*x\r\n*1\r\n$4\r\nPING\r\n'));
    assert.deepEqual((p.next() as Buffer[]).map(String), ['PING']);
    const e = p.next();
    assert.ok(isProtocolError(e));
    p.push(bytes('PING\r\n'));
    assert.equal(p.next(), e);
    assert.equal(p.bufferedBytes, 0);
  });
});

describe('RespCommandParser: hostile input', () => {
  const validish = fc.oneof(
    fc.constantFrom(...Object.values(RECORDED).map((r) => bytes(r.wire))),
    fc.array(fc.string(), { minLength: 1, maxLength: 4 }).map((a) => mbulk(...a)),
  );
  const streams = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
    // Valid traffic with random bytes overwritten: exercises the near-miss paths.
    fc
      .tuple(fc.array(validish, { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([parts, edits]) => {
        const b = Buffer.from(Buffer.concat(parts));
        for (const [at, v] of edits) b[at % b.length] = v;
        return b;
      }),
    fc.array(fc.constantFrom('*', '$', '\r', '\n', '1', '-', '0', '9', ' ', '"', "'", '\\', 'x', 'A', '?'), { maxLength: 60 }).map((a) => bytes(a.join(''))),
  );

  it('random garbage never throws, and the outcome does not depend on chunking', () => {
    fc.assert(
      fc.property(streams, fc.array(fc.nat(), { maxLength: 10 }), (wire, cuts) => {
        const whole = feed([wire]);
        const split = feed(splitAt(wire, cuts.map((c) => c % (wire.length + 1))));
        assert.deepEqual(split, whole);
        for (const c of whole.commands) assert.ok(c.length > 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('random garbage with small limits never throws', () => {
    fc.assert(
      fc.property(streams, (wire) => {
        const out = feed([wire], { maxBulkLength: 3, maxMultibulkLength: 2, maxInlineLength: 8 });
        for (const c of out.commands) assert.ok(c.length <= 2 || c.length > 0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('RespCommandParser: runs matched by prefix (nextWithPrefix)', () => {
  const prefix = Buffer.from('*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n');

  it('consumes repeated commands that start with the prefix and hands out only their values', () => {
    const p = new RespCommandParser();
    p.push(Buffer.from('*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$2\r\nv1\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nk\r\n'));
    const out: Buffer[] = [];
    assert.equal(p.nextWithPrefix(prefix, 1, out), true);
    assert.equal(p.nextWithPrefix(prefix, 1, out), true);
    assert.deepEqual(out.map(String), ['v1', '']);
    assert.equal(p.nextWithPrefix(prefix, 1, out), false, 'a different command is left for next()');
    assert.deepEqual((p.next() as Buffer[]).map(String), ['LLEN', 'k']);
    assert.equal(p.next(), undefined);
  });

  it('leaves a command whose value has not fully arrived to next(), which completes it', () => {
    const p = new RespCommandParser();
    p.push(Buffer.from('*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$5\r\nab'));
    const out: Buffer[] = [];
    assert.equal(p.nextWithPrefix(prefix, 1, out), false);
    assert.deepEqual(out, []);
    assert.equal(p.next(), undefined);
    p.push(Buffer.from('cde\r\n'));
    assert.deepEqual((p.next() as Buffer[]).map(String), ['LPUSH', 'k', 'abcde']);
  });

  it('does not match a command with more arguments, or another key, or a malformed length', () => {
    for (const wire of ['*4\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\nb\r\n', '*3\r\n$5\r\nLPUSH\r\n$1\r\nj\r\n$1\r\na\r\n']) {
      const p = new RespCommandParser();
      p.push(Buffer.from(wire));
      assert.equal(p.nextWithPrefix(prefix, 1, []), false, wire);
      assert.ok(Array.isArray(p.next()), wire);
    }
    const bad = new RespCommandParser();
    bad.push(Buffer.from('*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$x\r\n'));
    assert.equal(bad.nextWithPrefix(prefix, 1, []), false);
    assert.ok(isProtocolError(bad.next()), 'next() reports the protocol error');
  });
});
