/**
 * The seam between the seed harness (seed.ts: payloads, marks, verification, report) and what it
 * measures. A driver is one way of putting messages into a queue and taking them out again: the
 * Omnibus Transport API (drivers/transport.ts), or a real broker's wire protocol through its usual
 * Node client (drivers/redis.ts, drivers/amqp.ts), so Omnibus and the real brokers are timed and
 * verified by the same code.
 *
 * A driver does not time, count or verify anything: it moves bytes and tells the harness what
 * arrived (DequeueSink.take). It holds no per-run state beyond its connections.
 */
import type { OutgoingMessage } from '../core/types.js';

export interface DequeueSink {
  /** Aborted when nothing arrived for the idle timeout: the driver stops and returns. */
  readonly signal: AbortSignal;
  /** Messages still expected (lets pull-based drivers size their last requests). */
  readonly remaining: number;
  /** Every expected message has been received: the driver settles what it holds and returns. */
  readonly done: boolean;
  /**
   * Records one received message. Returns true at a settle point (a 10 % mark is due, or the
   * last message arrived): the driver then settles (acks) everything received so far and calls
   * settled(), so a mark means "received and acknowledged".
   */
  take(body: Uint8Array): boolean;
  settled(): void;
  /** An acknowledgement failed; counted, and the run fails verification. */
  ackFailed(e: unknown): void;
}

export interface BenchDriver {
  /** What is measured, for the report, e.g. "transport", "redis pipelined". */
  readonly name: string;
  /** Largest payload the target accepts, bytes. */
  readonly maxPayload: number;
  /** Makes `queue` exist and empty. */
  setup(queue: string): Promise<void>;
  /**
   * Enqueues one batch; resolves when the target accepted all of it as far as the mode promises
   * (a reply, a publisher confirm, a Transport publish). The harness may call it concurrently
   * (SeedOptions.publishers); a driver that keeps its own in-flight window shares it between calls.
   */
  enqueue(queue: string, batch: readonly OutgoingMessage[]): Promise<void>;
  /** Takes messages from `queue` into the sink until sink.done or sink.signal is aborted. */
  dequeue(queue: string, sink: DequeueSink): Promise<void>;
  /** Removes what setup() created (best effort: the queue may hold leftovers of a failed run). */
  teardown(queue: string): Promise<void>;
  /** Disconnects. Idempotent. */
  close(): Promise<void>;
}

export type DriverKind = 'transport' | 'raw' | 'redis' | 'amqp' | 'stomp' | 'mqtt' | 'kafka';
export type DriverMode = 'naive' | 'pipelined' | 'batch' | 'kcat' | 'kafkajs';

/** The modes each driver implements (the anchors' client styles, research/anchors-measured.md). */
export const DRIVER_MODES: Readonly<Record<DriverKind, readonly DriverMode[]>> = {
  transport: ['batch'],
  raw: ['batch'],
  redis: ['naive', 'pipelined', 'batch'],
  amqp: ['naive', 'pipelined'],
  stomp: ['pipelined'],
  mqtt: ['pipelined'],
  kafka: ['kcat', 'kafkajs'],
};

/**
 * Harness settings that make a mode what the anchors measured: `publishers` concurrent enqueue
 * calls of `batch` messages. "2 pipelines in flight" is two publishers; naive drivers await each
 * message inside enqueue(), so the batch only sets how often the harness checks its marks.
 */
export function modeDefaults(kind: DriverKind, mode: DriverMode): { batch: number; publishers: number } {
  if (kind === 'redis' && mode !== 'naive') return { batch: 1000, publishers: 2 };
  // amqp pipelined: the driver's shared window keeps 1000 publishes unconfirmed; a second
  // publisher refills the window while the first waits for its batch's last confirms.
  if (kind === 'amqp' && mode === 'pipelined') return { batch: 1000, publishers: 2 };
  // stomp: a receipt on the last SEND of each 1000, two such windows in flight.
  if (kind === 'stomp') return { batch: 1000, publishers: 2 };
  // mqtt: like amqp pipelined, the driver's shared window of 1000 un-PUBACKed publishes.
  if (kind === 'mqtt') return { batch: 1000, publishers: 2 };
  // kafka kcat: a batch is confirmed by polling the high watermark (drivers/kafka.ts), so many
  // batches must be in flight or the poll paces the run; kafkajs: 4 produce requests in flight.
  if (kind === 'kafka') return mode === 'kcat' ? { batch: 1000, publishers: 100 } : { batch: 1000, publishers: 4 };
  return { batch: 1000, publishers: 1 };
}

/** A body as a Buffer view without copying (the client libraries want Buffers). */
export function asBuffer(body: Uint8Array | string): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
