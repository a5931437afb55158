/**
 * SaslHandshake (17): PLAIN only, and only when users are configured (OMNIBUS_USERS); otherwise
 * UNSUPPORTED_SASL_MECHANISM with an empty list. v0 means the token follows as a bare frame
 * (kafka-python 2.0.2 does this); v1 means it follows in SaslAuthenticate.
 */
import type { ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

export const handleSaslHandshake: ApiHandler<17> = (ctx, req) => {
  const { broker, session } = ctx;
  if (!broker.users) return { errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms: [] };
  if (session.authenticated && session.saslMechanism !== undefined) return { errorCode: KafkaError.ILLEGAL_SASL_STATE, mechanisms: ['PLAIN'] };
  if (req.mechanism !== 'PLAIN') return { errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['PLAIN'] };
  session.saslMechanism = 'PLAIN';
  if (ctx.apiVersion === 0) session.rawSaslNext = true;
  return { errorCode: KafkaError.NONE, mechanisms: ['PLAIN'] };
};
