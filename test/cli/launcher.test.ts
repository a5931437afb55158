/**
 * bin/omnibus, the installed command: it runs the CLI under the same pid (so a supervisor or a test
 * can stop the broker by the pid it started) with glibc's allocator tuned as bin/glibc-tunables
 * says, and leaves a GLIBC_TUNABLES the caller set alone. Needs dist/ (npm run build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, waitForOutput } from './helpers.js';

const launcher = path.join(repoRoot, 'bin', 'omnibus');
const built = existsSync(path.join(repoRoot, 'dist', 'cli', 'main.js')) ? undefined : 'dist/ is not built (npm run build)';

function environOf(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

async function serveAndInspect(env: NodeJS.ProcessEnv): Promise<{ comm: string; tunables: string | undefined }> {
  const child = spawn(launcher, ['serve', '--memory', '--health-port', 'off', '--amqp-port', '0', '--no-resp', '--no-stomp', '--no-mqtt', '--no-kafka'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitForOutput(child, /listening/);
    const pid = child.pid!;
    return { comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), tunables: environOf(pid).get('GLIBC_TUNABLES') };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

test('the omnibus command serves under the pid it was started with, with the tuned allocator', { skip: built }, async () => {
  const env = { ...process.env };
  delete env['GLIBC_TUNABLES'];
  const r = await serveAndInspect(env);
  assert.equal(r.comm, 'node', 'the shell launcher exec()s node: same pid');
  // glibc parses the tunables in place, ending each at its ':' with a NUL: /proc shows the first.
  const first = readFileSync(path.join(repoRoot, 'bin', 'glibc-tunables'), 'utf8').trim().split(':')[0];
  assert.equal(r.tunables, first);
});

test('the omnibus command keeps GLIBC_TUNABLES when the caller set it, even empty', { skip: built }, async () => {
  const r = await serveAndInspect({ ...process.env, GLIBC_TUNABLES: '' });
  assert.equal(r.tunables, '');
});
