/** A StompConnection over an in-process transport and a ManualClock engine: no sockets, no sleeps. */
import { ManualClock } from '../../../src/core/clock.js';
import { Engine } from '../../../src/engine/engine.js';
import { MemoryStorage } from '../../../src/engine/storage/memory.js';
import type { StorageEngine } from '../../../src/engine/storage/types.js';
import { StompBroker } from '../../../src/protocols/stomp/session/broker.js';
import { StompConnection } from '../../../src/protocols/stomp/session/connection.js';
import type { StompTransport } from '../../../src/protocols/stomp/session/transport.js';
import { StompParser, type StompFrame } from '../../../src/protocols/stomp/codec/index.js';

export interface Harness {
  clock: ManualClock;
  engine: Engine;
  conn: StompConnection;
  /** Whether the transport is reading now. */
  reading(): boolean;
  /** Frames the server wrote. */
  out: StompFrame[];
  close(): Promise<void>;
}

export async function setup(storage: StorageEngine = new MemoryStorage()): Promise<Harness> {
  const clock = new ManualClock();
  const engine = await Engine.open({ storage, clock });
  const broker = new StompBroker(engine, {});
  await broker.init();
  const out: StompFrame[] = [];
  const parser = new StompParser();
  parser.version = '1.2';
  let paused = false;
  const transport: StompTransport = {
    write(b, cb) {
      parser.push(b, (f) => out.push(f));
      cb?.();
    },
    bufferedBytes: 0,
    pauseReading: () => void (paused = true),
    resumeReading: () => void (paused = false),
    end() {},
    destroy() {},
    remoteAddress: 'test',
  };
  const conn = new StompConnection(broker, transport);
  conn.onData(Buffer.from('CONNECT\naccept-version:1.2\nhost:/\n\n\x00'));
  conn.parser.version = '1.2';
  return {
    clock,
    engine,
    conn,
    reading: () => !paused,
    out,
    async close() {
      await conn.close(false);
      await engine.close();
    },
  };
}

/** `n` SENDs to /queue/`queue` as one chunk; the last carries `receipt:<receiptOnLast>` if given. */
export function sends(n: number, receiptOnLast?: string, queue = 'c'): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`SEND\ndestination:/queue/${queue}\npersistent:true\n${receiptOnLast !== undefined && i === n - 1 ? `receipt:${receiptOnLast}\n` : ''}\nm${i}\x00\n`);
  return Buffer.from(parts.join(''));
}

/** Lets promise reactions and immediates run (the engine's appends, the receipt chain). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 20; j++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  }
}
