/** DISCONNECT: RECEIPT once every earlier publish is durable, then close (unacked messages return). */
import { header, type StompFrame } from '../codec/frame.js';
import type { StompConnection } from './connection.js';

export async function handleDisconnect(c: StompConnection, f: StompFrame): Promise<void> {
  const r = header(f, 'receipt');
  if (r !== undefined) await c.receipt(r);
  else await c.whenDurable();
  await c.close(true);
}
