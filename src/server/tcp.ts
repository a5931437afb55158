/**
 * Small TCP helpers every protocol listener shares.
 */
import type { AddressInfo, Server, Socket } from 'node:net';

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
