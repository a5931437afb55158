/** Starts the RESP listener in-process over a fresh engine, on a free port. */
import { connect } from '../../../src/index.js';
import type { EmbeddedTransport } from '../../../src/transports/embedded.js';
import type { Engine } from '../../../src/engine/engine.js';
import { createRespListener, type RespListenerOptions } from '../../../src/protocols/resp/listener.js';
import type { RunningListener } from '../../../src/server/listener.js';

export interface TestServer {
  port: number;
  engine: Engine;
  transport: EmbeddedTransport;
  listener: RunningListener;
  logs: string[];
  close(): Promise<void>;
}

export async function startServer(url = 'memory://', opts: RespListenerOptions = {}): Promise<TestServer> {
  const transport = (await connect(url)) as EmbeddedTransport;
  const ac = new AbortController();
  const logs: string[] = [];
  const listener = await createRespListener({ password: undefined, users: new Map(), ...opts }).start(
    { transport, storage: url.startsWith('file') ? 'file' : 'memory', dataDir: undefined, signal: ac.signal, log: (l) => logs.push(l) },
    { host: '127.0.0.1', port: 0 },
  );
  const port = Number(listener.address.split(':').pop());
  return {
    port,
    engine: transport.engine,
    transport,
    listener,
    logs,
    async close() {
      ac.abort();
      await listener.close();
      await transport.close();
    },
  };
}

import net from 'node:net';

/** Sends `input` on a raw socket and collects what comes back until `until` matches or the socket closes. */
export function raw(port: number, input: string | Buffer, until: RegExp = /\r\n$/, timeoutMs = 2000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (until.test(text)) done();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.write(input);
  });
}
