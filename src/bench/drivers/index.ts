/**
 * Opens a protocol driver by name. The drivers (and through them their client libraries) are
 * imported only when asked for, so `omnibus bench` runs where ioredis, amqplib, stompit, mqtt or kafkajs is missing.
 * The transport driver is not opened here: it wraps a Transport the caller connects
 * (drivers/transport.ts).
 */
import type { BenchDriver, DriverMode } from '../driver.js';

export interface ProtocolDriverOptions {
  /** amqp: a durable queue and persistent messages (default: non-durable, transient). */
  durable?: boolean;
}

export async function openProtocolDriver(kind: 'redis' | 'amqp' | 'stomp' | 'mqtt' | 'kafka', url: string, mode: DriverMode, opts: ProtocolDriverOptions = {}): Promise<BenchDriver> {
  if (kind === 'kafka') {
    const { kafkaDriver } = await import('./kafka.js');
    // kafka://host:port (or a bare host:port) is the bootstrap server.
    const bootstrap = url.replace(/^kafka:\/\//, '').replace(/\/.*$/, '');
    if (mode !== 'kcat' && mode !== 'kafkajs') throw new Error(`kafka driver has no mode "${mode}"`);
    return kafkaDriver(bootstrap, mode);
  }
  if (kind === 'stomp') {
    const { stompDriver } = await import('./stomp.js');
    return stompDriver(url, mode);
  }
  if (kind === 'mqtt') {
    const { mqttDriver } = await import('./mqtt.js');
    return mqttDriver(url, mode);
  }
  if (kind === 'redis') {
    const { redisDriver } = await import('./redis.js');
    return redisDriver(url, mode);
  }
  const { amqpDriver } = await import('./amqp.js');
  return amqpDriver(url, mode, { durable: opts.durable === true });
}
