/**
 * Small TCP helpers every protocol listener shares.
 */
import { Socket, type AddressInfo, type Server, type SocketConstructorOpts } from 'node:net';

/**
 * Binds `server` to host:port and resolves with the bound port (the OS's choice for port 0).
 * Rejects (e.g. EADDRINUSE) without leaving anything bound or an error listener behind.
 */
export function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * A paused net.Socket keeps reading until its readable buffer holds the high-water mark (16 KiB by
 * default), so a pause meant to let input pile up in the kernel (MQTT's ack coalescing, STOMP's
 * read coalescing) would not stop the reads and wake-ups it is meant to save. With a mark of 1 byte
 * a paused socket stops its read handle after at most one more read; a flowing socket is
 * unaffected (its reads go straight to 'data'). net.Server's `highWaterMark` option would set the
 * writable side's mark too (every write would then report backpressure and emit 'drain'), so only
 * the readable state is changed: a plain field of Node's ReadableState, left alone if absent.
 */
export function stopReadingWhenPaused(socket: Socket): void {
  const rs = (socket as unknown as { _readableState?: { highWaterMark?: unknown } })._readableState;
  if (rs !== undefined && typeof rs.highWaterMark === 'number') rs.highWaterMark = 1;
}

/**
 * Where every socket adopted by `adoptSharedRead` reads into. One buffer serves them all: reads
 * and their callbacks run one at a time on the event loop, and each read is copied out before its
 * callback returns.
 */
const SHARED_READ = Buffer.allocUnsafe(64 * 1024);

/**
 * Re-wraps a socket accepted with `pauseOnConnect` so that its reads skip Node's readable-stream
 * path: the kernel fills one shared buffer (net.Socket's `onread` option) and `onChunk` gets each
 * read as a Buffer of its own (the pool's for reads under 4 KiB), which a parser may keep as long
 * as it likes. Returns undefined when the socket has no handle to adopt (then use 'data').
 *
 * Why: a 'data' event costs per read a fresh 64 KiB allocation shrunk to the bytes read (here a
 * read under 4 KiB takes a slice of the buffer pool instead), a Readable push, an emit and a
 * maybeReadMore tick. For a client that sends one command and waits
 * for the reply (RESP without pipelining) that was ~2 µs of the broker's ~32 µs of CPU per round
 * trip (redis-benchmark -P 1, LPUSH and RPOP, medians of 10 alternating runs: 32.0 → 30.0 and
 * 33.0 → 31.5 µs). A full 64 KiB read costs its own allocation and copy: 4–5 µs measured warm
 * (11 µs while the heap's memory is first touched), under 0.01 µs per pipelined command.
 *
 * net.Server has no `onread` option, so the accepted socket's handle (`_handle`) is taken over
 * by a new net.Socket, built from it with `new Socket({ handle })` as net.Server builds the
 * accepted one, and the original is destroyed without it: that only takes it off the server's
 * connection count, so `server.close()` no longer waits for adopted sockets and the caller must.
 * pause()/resume() still work (they stop and start the handle's reads); 'end', 'close', writes
 * and backpressure are the socket's as before.
 */
export function adoptSharedRead(accepted: Socket, onChunk: (chunk: Buffer) => void): Socket | undefined {
  const a = accepted as unknown as { _handle?: object | null };
  const handle = a._handle;
  if (handle === null || typeof handle !== 'object') return undefined;
  a._handle = null;
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    onread: {
      buffer: SHARED_READ,
      callback: (n: number): void => {
        const chunk = Buffer.allocUnsafe(n);
        SHARED_READ.copy(chunk, 0, 0, n);
        onChunk(chunk);
      },
    },
  } as SocketConstructorOpts);
  accepted.destroy();
  return socket;
}
