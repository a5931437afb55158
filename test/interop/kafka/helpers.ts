/** Shared setup for the Kafka interop tests: an in-process listener on a free port over an engine. */
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { startKafkaServer, type KafkaServer, type KafkaServerOptions } from '../../../src/protocols/kafka/listener.js';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { decodeResponse, encodeRequest } from '../../../src/protocols/kafka/index.js';

export interface Broker {
  engine: Engine;
  server: KafkaServer;
  /** "127.0.0.1:port" */
  bootstrap: string;
  kafka(cfg?: Partial<KafkaConfig>): Kafka;
  close(): Promise<void>;
}

export async function startBroker(opts: KafkaServerOptions & { engine?: Engine } = {}): Promise<Broker> {
  const engine = opts.engine ?? (await Engine.open({ storage: new MemoryStorage() }));
  const server = await startKafkaServer(engine, { port: 0, ...opts });
  const bootstrap = `127.0.0.1:${server.port}`;
  return {
    engine,
    server,
    bootstrap,
    kafka: (cfg = {}) => new Kafka({ clientId: 'test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 }, ...cfg }),
    async close() {
      await server.close();
      if (!opts.engine) await engine.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `fn` returns a truthy value (polling), or rejects after `ms`. */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Debian's Python, which sees the python3-* client packages (the python3 on PATH may not). */
export const PY = '/usr/bin/python3';

/** Whether Debian's Python can import `mod`. */
export function pyHas(mod: string): boolean {
  if (!existsSync(PY)) return false;
  try {
    execFileSync(PY, ['-c', `import ${mod}`], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a client tool, streaming its stdout into `onData` and writing `input` to its stdin;
 * resolves with the exit code and the tail of stderr, rejects (after SIGKILL) past `timeoutMs`.
 */
export function runTool(
  cmd: string,
  args: string[],
  opts: { onData?: (d: Buffer) => void; input?: string | Buffer; timeoutMs?: number } = {},
): Promise<{ code: number | null; stderr: string }> {
  const { onData = () => {}, input, timeoutMs = 300_000 } = opts;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stderr = '';
    p.stdout!.on('data', onData);
    p.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    if (input !== undefined) p.stdin!.end(input);
  });
}

/** Runs a Python script with Debian's Python; resolves with the JSON of its last stdout line. */
export async function runPython(script: string, args: string[], timeoutMs = 90_000): Promise<unknown> {
  let stdout = '';
  const { code, stderr } = await runTool(PY, ['-c', script, ...args], { onData: (d) => (stdout += d.toString()), timeoutMs });
  if (code !== 0) throw new Error(`python exited ${code}: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? 'null');
}

/** runTool with stdout collected as text. */
export async function runCapture(cmd: string, args: string[], input?: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  const r = await runTool(cmd, args, { onData: (d) => (stdout += d.toString()), timeoutMs, ...(input === undefined ? {} : { input }) });
  return { ...r, stdout };
}

/** Runs kcat, streaming stdout into `onData`; resolves with exit code and stderr tail. */
export function kcat(args: string[], onData?: (d: Buffer) => void): Promise<{ code: number | null; stderr: string }> {
  return runTool('kcat', args, onData ? { onData } : {});
}

/**
 * `kcat -C -e` of one partition from the beginning, one record per line: the bytes read and
 * their SHA-256 (hex), to compare with the input file the records were produced from.
 */
export async function kcatReadPartition(bootstrap: string, topic: string, partition: number): Promise<{ code: number | null; stderr: string; bytes: number; sha: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const r = await kcat(['-b', bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q', '-D', '\n'], (d) => {
    hash.update(d);
    bytes += d.length;
  });
  return { ...r, bytes, sha: hash.digest('hex') };
}

/**
 * One raw request (generated codec) on a fresh connection to `b`: the decoded response body,
 * loosely typed (tests index into it), or 'closed' if the connection closed first.
 */
export async function rawCall(b: Broker, apiKey: number, version: number, body: unknown): Promise<any> {
  const s = net.connect(b.server.port, '127.0.0.1');
  try {
    const resp = await new Promise<Buffer | 'closed'>((resolve, reject) => {
      let acc = Buffer.alloc(0);
      s.on('error', reject);
      s.on('close', () => resolve('closed'));
      s.on('data', (d: Buffer) => {
        acc = Buffer.concat([acc, d]);
        if (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) resolve(acc.subarray(4, 4 + acc.readInt32BE(0)));
      });
      s.write(encodeRequest(apiKey as never, version, 1, 'raw', body as never));
    });
    return resp === 'closed' ? resp : decodeResponse(apiKey as never, version, resp).body;
  } finally {
    s.destroy();
  }
}
