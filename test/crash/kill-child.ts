/**
 * The kill -9 loop every crash test shares: start a child process, wait until it prints a line
 * `R` (ready: its store is open and it is working), SIGKILL it `killAfterMs` later, and hand back
 * what it printed. Each test gives its child's own line protocol meaning (confirms, acks…).
 */
import { spawn } from 'node:child_process';

export interface KilledChild {
  /** Complete stdout lines; the last one is dropped because the kill may have cut it. */
  lines: string[];
  stderr: string;
}

const READY = /(^|\n)R\n/;

/**
 * Runs `node ...args`; rejects if the child never prints `R`, or ends by itself instead of by the
 * kill. `guardMs` kills a child that hangs before becoming ready.
 */
export function runUntilKilled(args: readonly string[], killAfterMs: number, guardMs = 30_000): Promise<KilledChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let ready = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), guardMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (!ready && READY.test(out)) {
        ready = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (!ready) return reject(new Error(`child never became ready (code ${code}, signal ${signal}): ${stderr}`));
      if (signal !== 'SIGKILL') return reject(new Error(`child ended on its own (code ${code}, signal ${signal}): ${stderr}`));
      const lines = out.split('\n');
      lines.pop();
      resolve({ lines, stderr });
    });
  });
}
