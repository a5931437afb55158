/** Shared helpers for the CLI tests: in-process runs with captured output, and child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main, type CliIO } from '../../src/cli/main.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main() in-process with string-capturing streams. */
export async function runCli(argv: string[], extra: Partial<CliIO> = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    handleSignals: false,
    ...extra,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Starts the CLI as a child process (source via tsx, no build needed). */
export function spawnCli(argv: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI as a child process to completion. */
export function execCli(argv: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<RunResult> {
  const child = spawnCli(argv, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`omnibus ${argv.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

/** Resolves with the first match of `re` in the child's stdout (accumulated), or rejects on exit/timeout. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let errBuf = '';
    const onErr = (s: Buffer): void => void (errBuf += s.toString());
    const onData = (s: Buffer): void => {
      buf += s.toString();
      const m = re.exec(buf);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`exited (${code}) before printing ${re}; stdout: ${buf}; stderr: ${errBuf}`));
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}; stdout: ${buf}; stderr: ${errBuf}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(t);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** One line, starting with "omnibus: ", and no stack frame. */
export function isOneErrorLine(stderr: string): boolean {
  const lines = stderr.split('\n').filter((l) => l !== '');
  return lines.length === 1 && lines[0]!.startsWith('omnibus: ') && !/\n\s+at /.test(stderr);
}
