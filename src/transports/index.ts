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
registerTransport('stomp', async (u: URL, o: ConnectOptions) => (await import('./stomp.js')).connectStomp(u, o));
registerTransport('kafka', async (u: URL, o: ConnectOptions) => (await import('./kafka.js')).connectKafka(u, o));
registerTransport('kafkas', async (u: URL, o: ConnectOptions) => (await import('./kafka.js')).connectKafka(u, o));
/**
 * omnibus:// — a remote Omnibus server, through its AMQP 0-9-1 listener (default port 5672).
 * Why AMQP: of the server's protocols it is the one whose model matches the API one to one —
 * exchanges + a durable queue per group (fan-out across groups, competition within), per-delivery
 * ack/nack/reject, prefetch, confirms, priorities, TTL and dead-lettering — and amqplib is a
 * mature client. RESP (Redis) lacks priorities and nack; Kafka lacks per-message settlement.
 * When the server says it is Omnibus (connection.start product), topics are its log queues and
 * groups its group queues, so a new group replays what the topic still holds (capability replay).
 */
registerTransport('omnibus', async (u: URL, o: ConnectOptions) => {
  const { connectAmqp } = await import('./amqp.js');
  const url = new URL(u.href.replace(/^omnibus:/i, 'amqp:'));
  if (url.port === '') url.port = '5672';
  return connectAmqp(url, o, { scheme: 'omnibus', omnibusQueues: true });
});
