/**
 * SaslAuthenticate (36): checks a PLAIN token ("authzid\0user\0password") against the configured
 * users. Failure answers SASL_AUTHENTICATION_FAILED and closes the connection, as Kafka does.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ApiHandler, SessionView } from '../handler.js';
import type { KafkaBroker } from '../broker.js';
import { KafkaError } from '../error-codes.js';

/** Verifies a PLAIN token; on success marks the session authenticated. */
export function authenticatePlain(session: SessionView, broker: KafkaBroker, token: Buffer): boolean {
  const parts = token.toString('utf8').split('\0');
  if (parts.length !== 3 || !broker.users) return false;
  const user = parts[1]!;
  const expected = broker.users.get(user);
  if (expected === undefined) return false;
  const a = Buffer.from(parts[2]!, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return false;
  session.authenticated = true;
  session.user = user;
  return true;
}

export const handleSaslAuthenticate: ApiHandler<36> = (ctx, req) => {
  const { broker, session } = ctx;
  if (session.saslMechanism !== 'PLAIN' || session.authenticated) {
    session.closeAfterResponse();
    return { errorCode: KafkaError.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate without a PLAIN handshake', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
  }
  if (!authenticatePlain(session, broker, req.authBytes)) {
    session.closeAfterResponse();
    return { errorCode: KafkaError.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: Invalid username or password', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
  }
  return { errorCode: KafkaError.NONE, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
};
