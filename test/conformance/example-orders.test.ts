/**
 * The orders example (examples/orders) runs unchanged on every transport: file:// always,
 * redis:// and amqp:// against real brokers started for this file (skipped with the reason when
 * the broker is not installed), and kafka:// against Omnibus' own Kafka listener started in this
 * process over a memory engine (there is no Kafka broker here; see docs/transports/kafka.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { demoOrders, runOrders, type OrdersResult } from '../../examples/orders/orders.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryStorage } from '../../src/engine/storage/memory.js';
import { startKafkaServer } from '../../src/protocols/kafka/listener.js';
import { startRabbit, startRedis, unavailable, type Broker } from './brokers.js';

function check(r: OrdersResult): void {
  assert.deepEqual([...r.billed].sort(), ['o-1', 'o-2', 'o-5']);
  const dead = new Map(r.deadLettered.map((d) => [d.id, d]));
  assert.deepEqual([...dead.keys()].sort(), ['o-3', 'o-4']);
  assert.match(dead.get('o-3')!.reason, /invalid amount -5/);
  assert.equal(dead.get('o-3')!.attempts, 1);
  assert.equal(dead.get('o-4')!.attempts, 3, 'dead-lettered after maxAttempts');
  assert.equal(r.attempts['o-2'], 2, 'retried once after a transient failure');
  assert.equal(r.attempts['o-4'], 3);
}

const prefix = () => `ex-${Date.now()}-${Math.floor(Math.random() * 1e6)}-`;

test('orders example on file://', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-orders-'));
  try {
    check(await runOrders(`file://${dir}`, demoOrders, { prefix: prefix() }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const brokers: [string, () => Promise<Broker | string>][] = [
  ['redis://', startRedis],
  ['amqp://', startRabbit],
];
for (const [scheme, start] of brokers) {
  const b = await start();
  if (typeof b !== 'string') after(() => b.stop());
  test(`orders example on ${scheme}`, { skip: unavailable(b) }, async () => {
    check(await runOrders((b as Broker).url, demoOrders, { prefix: prefix() }));
  });
}

test('orders example on kafka:// (Omnibus Kafka listener)', async () => {
  const engine = await Engine.open({ storage: new MemoryStorage() });
  const server = await startKafkaServer(engine, { port: 0 });
  try {
    check(await runOrders(`kafka://127.0.0.1:${server.port}`, demoOrders, { prefix: prefix() }));
  } finally {
    await server.close();
    await engine.close();
  }
});
