/**
 * STOMP codec: recorded frames (the spec's examples, bytes captured from stomp.py 8.0 and stompit
 * 1.0 on loopback), every split point, escaping per version, limits, and fast-check garbage that
 * must never throw anything but StompFrameError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StompParser, encodeFrame, StompFrameError, header, escapeHeader, unescapeHeader, type StompFrame, type StompVersion } from '../../../src/protocols/stomp/codec/index.js';

/** stomp.py 8.0, Connection12 (captured): STOMP, SUBSCRIBE with selector, SEND with NUL in the body, tx, DISCONNECT. */
const STOMP_PY_12 = Buffer.from(
  "STOMP\naccept-version:1.2\nclient-id:c1\nhost:127.0.0.1\nlogin:user\npasscode:pw\n\n\x00SUBSCRIBE\nack:client-individual\ndestination:/queue/a\nid:s1\nselector:x = 'y'\n\n\x00SEND\ncontent-length:13\ndestination:/queue/a\nk:a\\cb\\nc\\\\d\\re\n\nbody\x00with nul\x00BEGIN\ntransaction:tx1\n\n\x00ACK\nid:42\ntransaction:tx1\n\n\x00NACK\nid:43\n\n\x00COMMIT\ntransaction:tx1\n\n\x00DISCONNECT\nreceipt:553a6d06-7174-40fa-953a-d8bfe1056917\n\n\x00",
  'latin1',
);

/** stompit 1.0 (captured): CONNECT, SEND without content-length, frames followed by "\n". */
const STOMPIT = Buffer.from(
  'CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:u\npasscode:p\nheart-beat:0,0\n\n\x00\nSEND\ndestination:/queue/a\ncontent-type:text/plain\nx-h:a\\cb\n\nhello\x00\nSUBSCRIBE\ndestination:/queue/a\nack:client-individual\nactivemq.prefetchSize:1\nid:1\n\n\x00\nDISCONNECT\nreceipt:1\n\n\x00\n',
  'latin1',
);

function parseAll(bytes: Buffer | Buffer[], version: StompVersion = '1.2', p = new StompParser()): { frames: StompFrame[]; parser: StompParser } {
  p.version = version;
  const frames: StompFrame[] = [];
  for (const b of Array.isArray(bytes) ? bytes : [bytes]) p.push(b, (f) => frames.push(f));
  return { frames, parser: p };
}

function summary(frames: StompFrame[]): unknown {
  return frames.map((f) => ({ c: f.command, h: f.headers, b: f.body.toString('latin1') }));
}

test('stomp.py 1.2 frames: escaping, content-length body with a NUL, CONNECT not unescaped', () => {
  const { frames } = parseAll(STOMP_PY_12);
  assert.deepEqual(
    frames.map((f) => f.command),
    ['STOMP', 'SUBSCRIBE', 'SEND', 'BEGIN', 'ACK', 'NACK', 'COMMIT', 'DISCONNECT'],
  );
  const send = frames[2]!;
  assert.equal(header(send, 'k'), 'a:b\nc\\d\re');
  assert.equal(send.body.toString('latin1'), 'body\x00with nul');
  assert.equal(header(frames[1]!, 'selector'), "x = 'y'");
  assert.equal(header(frames[0]!, 'login'), 'user');
});

test('stompit frames with trailing EOLs: bodies up to NUL, EOLs counted as heart-beats', () => {
  const { frames, parser } = parseAll(STOMPIT, '1.1');
  assert.deepEqual(
    frames.map((f) => f.command),
    ['CONNECT', 'SEND', 'SUBSCRIBE', 'DISCONNECT'],
  );
  assert.equal(frames[1]!.body.toString(), 'hello');
  assert.equal(header(frames[1]!, 'x-h'), 'a:b');
  assert.equal(parser.heartbeats, 4);
});

test('every split point of the recordings gives the same frames', () => {
  for (const [rec, v] of [
    [STOMP_PY_12, '1.2'],
    [STOMPIT, '1.1'],
  ] as const) {
    const whole = summary(parseAll(rec, v).frames);
    for (let i = 0; i <= rec.length; i++) {
      assert.deepEqual(summary(parseAll([rec.subarray(0, i), rec.subarray(i)], v).frames), whole, `split at ${i}`);
    }
    // And byte by byte.
    const bytes: Buffer[] = [];
    for (let i = 0; i < rec.length; i++) bytes.push(rec.subarray(i, i + 1));
    assert.deepEqual(summary(parseAll(bytes, v).frames), whole);
  }
});

test('spec examples: CRLF line endings, heart-beat EOLs between frames, repeated headers (first wins)', () => {
  const bytes = Buffer.from('\r\n\n\r\nSEND\r\ndestination:/queue/a\r\nfoo:World\r\nfoo:Hello\r\n\r\nhi\x00\r\n\r\nMESSAGE\nfoo:1\n\n\x00');
  const { frames, parser } = parseAll(bytes);
  assert.equal(frames.length, 2);
  assert.equal(header(frames[0]!, 'foo'), 'World');
  assert.deepEqual(frames[0]!.headers[2], ['foo', 'Hello']);
  assert.equal(frames[0]!.body.toString(), 'hi');
  assert.equal(parser.heartbeats, 5);
});

test('1.0 does not unescape; 1.1 has no \\r; undefined escapes are syntax errors', () => {
  const f10 = parseAll(Buffer.from('SEND\nk:a\\nb\n\n\x00'), '1.0').frames[0]!;
  assert.equal(header(f10, 'k'), 'a\\nb');
  assert.throws(() => parseAll(Buffer.from('SEND\nk:a\\rb\n\n\x00'), '1.1'), (e: unknown) => e instanceof StompFrameError && e.kind === 'syntax');
  assert.throws(() => parseAll(Buffer.from('SEND\nk:a\\tb\n\n\x00'), '1.2'), StompFrameError);
  assert.equal(header(parseAll(Buffer.from('SEND\nk:a\\rb\n\n\x00'), '1.2').frames[0]!, 'k'), 'a\rb');
  // CONNECT is never unescaped.
  assert.equal(header(parseAll(Buffer.from('CONNECT\npasscode:a\\tb\n\n\x00'), '1.2').frames[0]!, 'passcode'), 'a\\tb');
});

test('escape/unescape round trip per version', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      assert.equal(unescapeHeader(escapeHeader(s, '1.2'), '1.2'), s);
      if (!s.includes('\r')) assert.equal(unescapeHeader(escapeHeader(s, '1.1'), '1.1'), s);
    }),
  );
});

test('encoder: one buffer, escaped headers, CONNECTED unescaped, binary body with NULs parses back', () => {
  const body = Buffer.from([0, 1, 2, 0, 255]);
  const b = encodeFrame('MESSAGE', [['k', 'a:b\nc'], ['content-length', String(body.length)]], body, '1.2');
  assert.equal(b.toString('latin1', 0, 21), 'MESSAGE\nk:a\\cb\\nc\ncon');
  const f = parseAll(b).frames[0]!;
  assert.equal(header(f, 'k'), 'a:b\nc');
  assert.deepEqual(f.body, body);
  const c = encodeFrame('CONNECTED', [['server', 'x:y']], undefined, '1.2');
  assert.equal(c.toString(), 'CONNECTED\nserver:x:y\n\n\x00');
  assert.equal(encodeFrame('MESSAGE', [['k', 'a\nb']], undefined, '1.0').toString(), 'MESSAGE\nk:a b\n\n\x00');
});

test('limits: line, header count, header bytes, body (content-length and NUL-terminated)', () => {
  const small = { maxLineBytes: 64, maxHeaders: 3, maxHeaderBytes: 100, maxBodyBytes: 10 };
  const isLimit = (e: unknown) => e instanceof StompFrameError && e.kind === 'limit' && e.code === 'MQ_ERR_PROTOCOL';
  assert.throws(() => parseAll(Buffer.from('SEND\nk:' + 'x'.repeat(100) + '\n\n\x00'), '1.2', new StompParser(small)), isLimit);
  assert.throws(() => parseAll(Buffer.from('SEND\na:1\nb:1\nc:1\nd:1\n\n\x00'), '1.2', new StompParser(small)), isLimit);
  assert.throws(() => parseAll(Buffer.from('SEND\n' + 'k:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n'.repeat(3) + '\n\x00'), '1.2', new StompParser({ ...small, maxHeaders: 10 })), isLimit);
  assert.throws(() => parseAll(Buffer.from('SEND\ncontent-length:11\n\n'), '1.2', new StompParser(small)), isLimit);
  assert.throws(() => parseAll(Buffer.from('SEND\n\n' + 'x'.repeat(11)), '1.2', new StompParser(small)), isLimit);
  // A dead parser keeps throwing.
  const p = new StompParser(small);
  assert.throws(() => p.push(Buffer.from('GET / HTTP/1.1\r\n'), () => {}), StompFrameError);
  assert.throws(() => p.push(Buffer.from('SEND\n\n\x00'), () => {}), StompFrameError);
});

test('syntax: not a command, header without colon, bad content-length, body longer than content-length', () => {
  for (const s of ['GET / HTTP/1.1\r\n\r\n', 'SEND\nnocolon\n\n\x00', 'SEND\ncontent-length:-1\n\n\x00', 'SEND\ncontent-length:2\n\nabc\x00', '\x16\x03\x01\x02\x00']) {
    assert.throws(() => parseAll(Buffer.from(s, 'latin1')), (e: unknown) => e instanceof StompFrameError && e.kind === 'syntax', s);
  }
});

test('fast-check: garbage never throws anything but StompFrameError, in any split', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...['SEND\n', 'content-length:3\n', '\n', '\x00', 'k:\\c\n', 'k:\\x\n', '\r\n', 'MESSAGE\n'].map((s) => Buffer.from(s)))), { maxLength: 30 }),
      fc.constantFrom<StompVersion>('1.0', '1.1', '1.2'),
      (chunks, v) => {
        const p = new StompParser({ maxLineBytes: 128, maxHeaders: 8, maxHeaderBytes: 512, maxBodyBytes: 256 });
        p.version = v;
        try {
          for (const c of chunks) p.push(c, () => {});
        } catch (e) {
          assert.ok(e instanceof StompFrameError, String(e));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('fast-check: encode → parse round trip for any headers and binary body', () => {
  const name = fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.includes('\x00'));
  fc.assert(
    fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 20 })), { maxLength: 5 }), fc.uint8Array({ maxLength: 50 }), fc.integer({ min: 1, max: 60 }), (hs, body, split) => {
      const headers: [string, string][] = [...hs.filter(([k]) => k !== 'content-length'), ['content-length', String(body.length)]];
      const b = encodeFrame('MESSAGE', headers, body, '1.2');
      const at = Math.min(split, b.length);
      const f = parseAll([b.subarray(0, at), b.subarray(at)]).frames;
      assert.equal(f.length, 1);
      assert.deepEqual(f[0]!.headers, headers);
      assert.deepEqual(new Uint8Array(f[0]!.body), body);
    }),
  );
});

test('a header repeated frame after frame at the same position is the same pair; a changed one is decoded afresh', () => {
  const frame = (dest: string, len: number, extra = '') => Buffer.from(`SEND\ndestination:${dest}\npersistent:true\ncontent-length:${len}\n${extra}\n${'x'.repeat(len)}\x00\n`, 'utf8');
  const { frames } = parseAll([frame('/queue/a', 3), frame('/queue/a', 3), frame('/queue/b', 5, 'receipt:r1\n'), frame('/queue/b', 3)]);
  assert.deepEqual(
    frames.map((f) => [header(f, 'destination'), header(f, 'content-length'), f.body.length, header(f, 'receipt')]),
    [
      ['/queue/a', '3', 3, undefined],
      ['/queue/a', '3', 3, undefined],
      ['/queue/b', '5', 5, 'r1'],
      ['/queue/b', '3', 3, undefined],
    ],
  );
  assert.equal(frames[1]!.headers[0], frames[0]!.headers[0], 'the repeated destination pair is shared');
  assert.equal(frames[1]!.headers[2], frames[0]!.headers[2], 'the repeated content-length pair is shared');
  assert.notEqual(frames[2]!.headers[0], frames[1]!.headers[0]);
});

test('a repeated escaped or non-ASCII header is decoded in every frame, with the version in force', () => {
  const bytes = Buffer.from('SEND\nk:a\\cb\nu:é\n\n\x00SEND\nk:a\\cb\nu:é\n\n\x00', 'utf8');
  const v12 = parseAll(bytes, '1.2').frames;
  assert.deepEqual(v12.map((f) => [header(f, 'k'), header(f, 'u')]), [['a:b', 'é'], ['a:b', 'é']]);
  const v10 = parseAll(bytes, '1.0').frames;
  assert.deepEqual(v10.map((f) => header(f, 'k')), ['a\\cb', 'a\\cb']);
  // CONNECT is never unescaped, the SEND after it in 1.2 is: the same bytes, two values.
  const p = new StompParser();
  p.version = '1.2';
  const out: StompFrame[] = [];
  p.push(Buffer.from('CONNECT\nk:a\\cb\n\n\x00SEND\nk:a\\cb\n\n\x00'), (f) => out.push(f));
  assert.deepEqual(out.map((f) => header(f, 'k')), ['a\\cb', 'a:b']);
});

test('fast-check: one parser over a stream of frames gives what a fresh parser gives for each frame', () => {
  const value = fc.oneof(fc.constantFrom('/queue/a', 'true', '3', 'a\\cb', 'é', ''), fc.string({ maxLength: 8 }));
  const frameArb = fc.record({
    command: fc.constantFrom('SEND', 'ACK', 'CONNECT'),
    headers: fc.array(fc.tuple(fc.constantFrom('destination', 'persistent', 'k', 'receipt'), value), { maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 6 }),
  });
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), fc.constantFrom<StompVersion>('1.0', '1.1', '1.2'), (specs, v) => {
      const encoded = specs.map((s) => encodeFrame(s.command, [...s.headers, ['content-length', String(s.body.length)]], s.body, v));
      const expected = encoded.map((b) => summary(parseAll(b, v).frames));
      const shared = new StompParser();
      shared.version = v;
      const got: unknown[] = [];
      for (const b of encoded) {
        const fs: StompFrame[] = [];
        shared.push(b, (f) => fs.push(f));
        got.push(summary(fs));
      }
      assert.deepEqual(got, expected);
    }),
    { numRuns: 500 },
  );
});
