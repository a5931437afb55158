/**
 * bench/kafka-null-broker.mjs (the measuring instrument for kcat's own ceiling) still speaks
 * enough Kafka for kcat: a produce is acknowledged (the ListOffsets high watermark counts it) and
 * a consume of N records gets N records of the configured size in the seed payload scheme.
 * Needs dist/ (the instrument imports the built codecs). Skipped without kcat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hasKcat, kcat } from './helpers.js';

const skip = hasKcat() ? false : 'kcat is not installed';

test('kcat produces to and consumes from the null broker: acknowledged counts and records of the configured size', { skip, timeout: 60_000 }, async () => {
  const SIZE = 200;
  const N = 20_000;
  const proc = spawn(process.execPath, ['bench/kafka-null-broker.mjs', '--port', '0', '--size', String(SIZE)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-null-broker-'));
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        const m = /listening on (\S+)/.exec(l);
        if (m) resolve(m[1]!);
      });
      proc.once('exit', (c) => reject(new Error(`null broker exited ${c}`)));
    });
    const file = join(dir, 'in.txt');
    writeFileSync(file, Array.from({ length: N }, (_, i) => String(i).padStart(10, '0') + 'x'.repeat(SIZE - 10)).join('\n') + '\n');
    const prod = await kcat(['-b', addr, '-P', '-t', 'nb', '-p', '0', '-X', 'acks=1', '-l', file]);
    assert.equal(prod.code, 0, prod.stderr);
    const q: Buffer[] = [];
    const hw = await kcat(['-b', addr, '-Q', '-t', 'nb:0:-1'], (d) => q.push(d));
    assert.equal(hw.code, 0, hw.stderr);
    assert.match(Buffer.concat(q).toString(), new RegExp(`nb \\[0\\] offset ${N}\\b`));

    let count = 0;
    let bad = 0;
    let rest = '';
    const cons = await kcat(['-b', addr, '-C', '-t', 'nb', '-p', '0', '-o', 'beginning', '-c', String(N), '-q'], (d) => {
      const parts = (rest + d.toString('latin1')).split('\n');
      rest = parts.pop()!;
      for (const l of parts) {
        count++;
        if (l.length !== SIZE || !/^\d{10}/.test(l)) bad++;
      }
    });
    assert.equal(cons.code, 0, cons.stderr);
    assert.equal(count, N);
    assert.equal(bad, 0);
  } finally {
    proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
