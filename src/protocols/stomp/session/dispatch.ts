/**
 * Command → handler. Before CONNECT only CONNECT/STOMP are accepted. ActiveMQ's legacy aliases
 * (SUB, UNSUB, KEEPALIVE) are accepted too; commands are case-sensitive as the spec says.
 */
import type { StompFrame } from '../codec/frame.js';
import { handleAck } from './ack.js';
import { handleConnect } from './connect.js';
import type { StompConnection } from './connection.js';
import { handleDisconnect } from './disconnect.js';
import { StompError } from './errors.js';
import { handleSend } from './send.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';
import { handleAbort, handleBegin, handleCommit } from './transaction.js';

export function dispatch(c: StompConnection, f: StompFrame): void | Promise<void> {
  if (!c.connected) {
    if (f.command === 'CONNECT' || f.command === 'STOMP') return handleConnect(c, f);
    throw new StompError(`${f.command} before CONNECT`, 'the first frame of a connection must be CONNECT or STOMP');
  }
  switch (f.command) {
    case 'SEND':
      return handleSend(c, f);
    case 'SUBSCRIBE':
    case 'SUB':
      return handleSubscribe(c, f);
    case 'UNSUBSCRIBE':
    case 'UNSUB':
      return handleUnsubscribe(c, f);
    case 'ACK':
      return handleAck(c, f, false);
    case 'NACK':
      if (c.version === '1.0') throw new StompError('NACK is not part of STOMP 1.0');
      return handleAck(c, f, true);
    case 'BEGIN':
      return handleBegin(c, f);
    case 'COMMIT':
      return handleCommit(c, f);
    case 'ABORT':
      return handleAbort(c, f);
    case 'DISCONNECT':
      return handleDisconnect(c, f);
    case 'KEEPALIVE':
      return;
    case 'CONNECT':
    case 'STOMP':
      throw new StompError('already connected');
    default:
      throw new StompError(`Unknown STOMP action: ${f.command}`);
  }
}
