/**
 * Micro-benchmark of the RESP codec hot paths. Run: `npx tsx bench/resp-codec.ts`.
 * Targets: >= 3,000,000 small replies/s (writer), >= 1,000,000 `LPUSH key value` commands/s
 * (command parser).
 */
import { ReplyWriter, RespCommandParser, RespReplyParser } from '../src/protocols/resp/index.js';

function rate(name: string, ops: number, fn: () => void): void {
  fn(); // warm up
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  runs.sort((a, b) => a - b);
  const best = ops / (runs[0] as number);
  const median = ops / (runs[2] as number);
  process.stdout.write(`${name.padEnd(48)} ${(median / 1e6).toFixed(2).padStart(7)} M/s median, ${(best / 1e6).toFixed(2)} M/s best\n`);
}

const N = 2_000_000;
const w = new ReplyWriter();
rate('writer: simple("OK"), take() per 1000', N, () => {
  for (let i = 0; i < N; i++) {
    w.simple('OK');
    if (i % 1000 === 999) w.take();
  }
  w.take();
});
rate('writer: integer(i), take() per 1000', N, () => {
  for (let i = 0; i < N; i++) {
    w.integer(i);
    if (i % 1000 === 999) w.take();
  }
  w.take();
});
const val = Buffer.from('value-0123456789');
rate('writer: bulk(16-byte Buffer), take() per 1000', N, () => {
  for (let i = 0; i < N; i++) {
    w.bulk(val);
    if (i % 1000 === 999) w.take();
  }
  w.take();
});
rate('writer: bulk("short string"), take() per 1000', N, () => {
  for (let i = 0; i < N; i++) {
    w.bulk('short string');
    if (i % 1000 === 999) w.take();
  }
  w.take();
});
const w3 = new ReplyWriter({ protocol: 3 });
rate('writer RESP3: nullBulk()/boolean()/double() mix', N, () => {
  for (let i = 0; i < N; i++) {
    const k = i % 3;
    if (k === 0) w3.nullBulk();
    else if (k === 1) w3.boolean(true);
    else w3.double(1.5);
    if (i % 1000 === 999) w3.take();
  }
  w3.take();
});

function pipeline(count: number, one: (i: number) => string): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(one(i));
  return Buffer.from(parts.join(''), 'latin1');
}
const lpush = pipeline(1000, (i) => {
  const k = `key${i % 10}`;
  return `*3\r\n$5\r\nLPUSH\r\n$${k.length}\r\n${k}\r\n$5\r\nvalue\r\n`;
});

function parseRate(name: string, wire: Buffer, cmdsPerWire: number, chunkSize: number, copyArgs = false): void {
  const reps = Math.ceil(N / cmdsPerWire);
  const chunks: Buffer[] = [];
  for (let i = 0; i < wire.length; i += chunkSize) chunks.push(wire.subarray(i, i + chunkSize));
  const p = new RespCommandParser({ copyArgs });
  rate(name, reps * cmdsPerWire, () => {
    let n = 0;
    for (let r = 0; r < reps; r++) {
      for (const c of chunks) {
        p.push(c);
        while (p.next() !== undefined) n++;
      }
    }
    if (n !== reps * cmdsPerWire) throw new Error(`parsed ${n}`);
  });
}
parseRate('parser: LPUSH key value, 1000/chunk', lpush, 1000, lpush.length);
parseRate('parser: LPUSH key value, 1000 in 4 KiB chunks', lpush, 1000, 4096);
parseRate('parser: LPUSH key value, 1000/chunk, copyArgs', lpush, 1000, lpush.length, true);
const firstLen = lpush.indexOf('*3', 1);
parseRate('parser: one LPUSH per chunk (no pipelining)', lpush.subarray(0, firstLen), 1, firstLen);
parseRate('parser: inline PING (redis-benchmark PING_INLINE)', pipeline(1000, () => 'PING\r\n'), 1000, 6000);

const replies = (() => {
  const rw = new ReplyWriter({ protocol: 3 });
  for (let i = 0; i < 1000; i++) {
    if (i % 4 === 0) rw.simple('OK');
    else if (i % 4 === 1) rw.integer(i);
    else if (i % 4 === 2) rw.bulk('value-0123456789');
    else rw.arrayHeader(2).bulk('k').bulk('v');
  }
  return Buffer.from(rw.take());
})();
const rp = new RespReplyParser();
rate('reply parser: mixed small replies', N, () => {
  const reps = N / 1000;
  let n = 0;
  for (let r = 0; r < reps; r++) {
    rp.push(replies);
    while (rp.next() !== undefined) n++;
  }
  if (n !== N) throw new Error(`parsed ${n}`);
});
