/** Shared setup for the STOMP interop tests: an in-process listener on a free port over an engine. */
import net from 'node:net';
import { spawnSync, spawn } from 'node:child_process';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import { startStompServer, type StompServer, type StompServerOptions } from '../../../src/protocols/stomp/listener.js';
import { StompParser, encodeFrame, header, type StompFrame, type StompVersion } from '../../../src/protocols/stomp/codec/index.js';

export interface Broker {
  engine: Engine;
  server: StompServer;
  port: number;
  close(): Promise<void>;
}

export async function startBroker(opts: StompServerOptions & { engine?: Engine } = {}): Promise<Broker> {
  const engine = opts.engine ?? (await Engine.open({ storage: new MemoryStorage() }));
  const server = await startStompServer(engine, { port: 0, ...opts });
  return {
    engine,
    server,
    port: server.port,
    async close() {
      await server.close();
      await engine.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}

/** A minimal STOMP client over our codec: exact frames in, every frame out. For precise protocol checks. */
export class RawClient {
  readonly frames: StompFrame[] = [];
  closed = false;
  readonly socket: net.Socket;
  readonly parser = new StompParser();
  version: StompVersion = '1.2';
  #seen = 0;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d) => this.parser.push(d, (f) => this.frames.push(f)));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => {});
  }
  static async connect(port: number, headers: [string, string][] = [], version: StompVersion = '1.2'): Promise<RawClient> {
    const c = new RawClient(port);
    c.version = version;
    c.frame('CONNECT', [['accept-version', version], ['host', '/'], ...headers]);
    const f = await c.next();
    if (f.command !== 'CONNECTED') throw new Error(`connect failed: ${header(f, 'message')}`);
    c.parser.version = version;
    return c;
  }
  frame(command: string, headers: [string, string][], body?: Buffer | string): void {
    const b = body === undefined ? undefined : Buffer.from(body);
    this.socket.write(encodeFrame(command, headers, b, this.version));
  }
  /** The next frame not yet returned by next() (optionally of `command`). */
  async next(command?: string, ms = 5000): Promise<StompFrame> {
    return waitFor(() => {
      while (this.#seen < this.frames.length) {
        const f = this.frames[this.#seen++]!;
        if (command === undefined || f.command === command) return f;
      }
      return undefined;
    }, ms);
  }
  async receipt(command: string, headers: [string, string][], body?: string | Buffer): Promise<StompFrame> {
    const id = 'r' + Math.random().toString(36).slice(2);
    this.frame(command, [...headers, ['receipt', id]], body);
    const f = await waitFor(() => this.frames.find((x) => (x.command === 'RECEIPT' && header(x, 'receipt-id') === id) || x.command === 'ERROR'));
    if (f.command === 'ERROR') throw new Error(`ERROR: ${header(f, 'message')}`);
    return f;
  }
  messages(): StompFrame[] {
    return this.frames.filter((f) => f.command === 'MESSAGE');
  }
  close(): void {
    this.socket.destroy();
  }
}

let pythonOk: boolean | undefined;
/** Reason to skip the stomp.py tests, or undefined when `import stomp` works. */
export function stompPySkip(): string | false {
  if (pythonOk === undefined) pythonOk = spawnSync('/usr/bin/python3', ['-c', 'import stomp'], { stdio: 'ignore' }).status === 0;
  return pythonOk ? false : 'stomp.py is not installed (apt-get install python3-stomp)';
}

/** Runs a Python script (with PORT in the environment) and returns its stdout parsed as JSON (last line). */
export function runPython(script: string, env: Record<string, string>, ms = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errOut = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('close', (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`python exited ${code}: ${errOut}\n${out}`));
      const lines = out.trim().split('\n');
      try {
        resolve(JSON.parse(lines[lines.length - 1]!));
      } catch {
        reject(new Error(`bad python output: ${out}\n${errOut}`));
      }
    });
  });
}
