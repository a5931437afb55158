/**
 * Runs `omnibus bench` (this checkout's bin/omnibus.js) as a child process with `--json` and
 * `--quiet`, and returns its report: the one way the TypeScript bench scripts that compare
 * several targets run each of them. Rejects with the child's last output if it fails, writes no
 * report, or reports a loss (`ok: false`).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BenchRun {
  driver: string;
  target: string;
  count: number;
  sizes: string;
  brokerPid?: number;
}

export function runBench<R extends { ok: boolean }>(run: BenchRun): Promise<R> {
  const json = path.join(os.tmpdir(), `omnibus-bench-${process.pid}-${Date.now()}.json`);
  const args = [path.join(root, 'bin', 'omnibus.js'), 'bench', '--driver', run.driver, '--target', run.target, '--count', String(run.count), '--sizes', run.sizes, '--json', json, '--quiet'];
  if (run.brokerPid !== undefined) args.push('--broker-pid', String(run.brokerPid));
  const what = `bench ${run.driver} ${run.target}`;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('close', (code) => {
      try {
        const r = JSON.parse(readFileSync(json, 'utf8')) as R;
        rmSync(json, { force: true });
        if (code !== 0 || !r.ok) reject(new Error(`${what} failed (exit ${code}): ${err.slice(-2000)}`));
        else resolve(r);
      } catch (e) {
        reject(new Error(`${what} wrote no report (exit ${code}): ${err.slice(-2000)} ${String(e)}`));
      }
    });
  });
}
