/**
 * CONNECT / STOMP → CONNECTED: version negotiation (highest common of `accept-version`; absent =
 * 1.0), login/passcode against the configured users (none configured = anyone), `client-id`
 * (unique among live connections, needed for durable subscriptions), `host` accepted and ignored
 * (one virtual host), and heart-beat negotiation:
 *
 *   client sends cx,cy; server answers sx,sy with sx = cy ? max(cy, min) : 0 and
 *   sy = cx ? max(cx, min) : 0, so both sides compute the same intervals: server→client every sx,
 *   client→server every sy (the server closes after 2·sy of silence).
 */
import { header, type StompFrame, type StompVersion } from '../codec/frame.js';
import type { StompConnection } from './connection.js';
import { StompError } from './errors.js';

const SUPPORTED: StompVersion[] = ['1.2', '1.1', '1.0'];

export function negotiateVersion(accept: string | undefined): StompVersion | undefined {
  if (accept === undefined || accept.trim() === '') return '1.0';
  const offered = new Set(accept.split(',').map((s) => s.trim()));
  for (const v of SUPPORTED) if (offered.has(v)) return v;
  return undefined;
}

function parseHeartbeat(v: string | undefined): [number, number] {
  if (v === undefined) return [0, 0];
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(v);
  if (!m) throw new StompError(`invalid heart-beat header "${v.slice(0, 40)}"`, 'expected two comma-separated non-negative integers');
  return [Number(m[1]), Number(m[2])];
}

export function handleConnect(c: StompConnection, f: StompFrame): void {
  const version = negotiateVersion(header(f, 'accept-version'));
  if (version === undefined) {
    throw new StompError('Supported protocol versions are 1.0,1.1,1.2', `the client accepts only ${header(f, 'accept-version')}`, [['version', '1.0,1.1,1.2']]);
  }
  const login = header(f, 'login');
  const users = c.broker.opts.users;
  if (users.size > 0) {
    const pass = login === undefined ? undefined : users.get(login);
    if (pass === undefined || pass !== header(f, 'passcode')) {
      throw new StompError(`User name [${login ?? ''}] or password is invalid.`, 'authentication failed');
    }
  }
  const clientId = header(f, 'client-id');
  if (clientId !== undefined && clientId !== '') {
    const holder = c.broker.clientIds.get(clientId);
    if (holder !== undefined && holder !== c) throw new StompError(`Client ID "${clientId}" is already connected`, 'a client-id may be used by one connection at a time');
    c.broker.clientIds.set(clientId, c);
    c.clientId = clientId;
  }
  const [cx, cy] = parseHeartbeat(header(f, 'heart-beat'));
  const min = c.broker.opts.minHeartbeatMs;
  const sx = cy > 0 ? Math.max(cy, min) : 0;
  const sy = cx > 0 ? Math.max(cx, min) : 0;
  c.login = login;
  c.version = version;
  c.parser.version = version;
  c.connected = true;
  c.send('CONNECTED', [
    ['version', version],
    ['session', `ID:omnibus-${c.broker.id}-${c.id}`],
    ['server', 'Omnibus/0.1.0'],
    ['heart-beat', `${sx},${sy}`],
  ]);
  c.startHeartbeats(sx, sy);
}
