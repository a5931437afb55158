/**
 * Omnibus public API.
 *
 *   import { connect } from 'omnibus';
 *   const mq = await connect();                        // in memory; 'file://./data' for durable
 *   await mq.publish('orders', [{ body: 'hello' }]);
 *   for await (const d of mq.subscribe('orders', { group: 'billing' })) { await d.ack(); }
 */
import './transports/embedded.js';
import './transports/index.js';

export { connect, registerTransport, registeredSchemes, type ConnectOptions, type TransportFactory } from './core/registry.js';
export { OmnibusError, isOmnibusError, ErrorCodes, type ErrorCode } from './core/errors.js';
export { ManualClock, systemClock, type Clock } from './core/clock.js';
export type {
  Capabilities,
  Delivery,
  Headers,
  Message,
  OutgoingMessage,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  BatchOptions,
  Transport,
} from './core/types.js';
export { Engine, type EngineOptions, type GroupOptions } from './engine/engine.js';
export { EmbeddedTransport } from './transports/embedded.js';
