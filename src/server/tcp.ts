/**
 * Small TCP helpers every protocol listener shares.
 */
import type { AddressInfo, Server } from 'node:net';

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
