/**
 * Registers the transports to real brokers. Each factory imports its module (and the module its
 * client library) only when its scheme is used: importing Omnibus loads no broker client, and a
 * missing optional package fails only `connect()` for that scheme, with MQ_ERR_MISSING_DEPENDENCY.
 */
import { registerTransport, type ConnectOptions } from '../core/registry.js';

registerTransport('redis', async (u: URL, o: ConnectOptions) => (await import('./redis.js')).connectRedis(u, o));
registerTransport('rediss', async (u: URL, o: ConnectOptions) => (await import('./redis.js')).connectRedis(u, o));
registerTransport('amqp', async (u: URL, o: ConnectOptions) => (await import('./amqp.js')).connectAmqp(u, o));
registerTransport('amqps', async (u: URL, o: ConnectOptions) => (await import('./amqp.js')).connectAmqp(u, o));
registerTransport('zmq+tcp', async (u: URL, o: ConnectOptions) => (await import('./zeromq.js')).connectZmq(u, o));
registerTransport('mqtt', async (u: URL, o: ConnectOptions) => (await import('./mqtt.js')).connectMqtt(u, o));
registerTransport('mqtts', async (u: URL, o: ConnectOptions) => (await import('./mqtt.js')).connectMqtt(u, o));
