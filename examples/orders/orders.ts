/**
 * Orders: a tiny producer and consumer with retry and a dead-letter topic, written only against
 * the public API, so the same code runs on file://, amqp://, redis://, kafka:// (and the others):
 *
 *   node --import tsx examples/orders/main.ts file://./orders-data
 *   node --import tsx examples/orders/main.ts amqp://guest:guest@127.0.0.1:5672
 *   node --import tsx examples/orders/main.ts redis://127.0.0.1:6379
 *   node --import tsx examples/orders/main.ts kafka://127.0.0.1:9092
 *
 * (An application imports from 'omnibus'; inside this repository the example imports the source.)
 *
 * The consumer: valid orders are billed and acked; an order whose payment service fails
 * transiently is retried with exponential backoff (nack with a delay: 100 ms, 200 ms, ...); an
 * order that keeps failing is dead-lettered after 3 attempts by the group's `maxAttempts`; an
 * invalid order is rejected at once with the reason. The dead-letter topic shows how many
 * attempts were made and why (x-attempts, x-death-reason, x-error-message headers).
 */
import { connect, type Delivery } from '../../src/index.js';

export interface Order {
  id: string;
  amount: number;
  /** How many times the (simulated) payment service fails before succeeding; ≥ 3 = dead-lettered. */
  failures?: number;
}

export interface OrdersResult {
  billed: string[];
  deadLettered: { id: string; reason: string; attempts: number }[];
  /** Attempts per order id, as seen by the consumer. */
  attempts: Record<string, number>;
}

const MAX_ATTEMPTS = 3;

export async function runOrders(url: string, orders: readonly Order[], opts: { prefix?: string; timeoutMs?: number } = {}): Promise<OrdersResult> {
  const topic = `${opts.prefix ?? ''}orders`;
  const dlq = `${topic}.dlq`;
  const mq = await connect(url);
  const result: OrdersResult = { billed: [], deadLettered: [], attempts: {} };
  try {
    // Subscribe before publishing: on brokers without replay (RabbitMQ) a group's queue starts
    // with its first subscription.
    const billing = mq.subscribe(topic, { group: 'billing', maxAttempts: MAX_ATTEMPTS, deadLetterTopic: dlq, prefetch: 10 });
    const ops = mq.subscribe(dlq, { group: 'ops' });

    await mq.publish(
      topic,
      orders.map((o) => ({ body: JSON.stringify(o), key: o.id, headers: { 'content-type': 'application/json' } })),
    );

    const expectedDead = orders.filter((o) => o.amount <= 0 || (o.failures ?? 0) >= MAX_ATTEMPTS).length;
    const expectedBilled = orders.length - expectedDead;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(result)}`)), opts.timeoutMs ?? 30_000);
      const check = (): void => {
        if (result.billed.length >= expectedBilled && result.deadLettered.length >= expectedDead) {
          clearTimeout(timer);
          resolve();
        }
      };
      const consume = async (): Promise<void> => {
        for await (const d of billing) {
          await handleOrder(d, result);
          check();
        }
      };
      const watchDead = async (): Promise<void> => {
        for await (const d of ops) {
          const o = JSON.parse(Buffer.from(d.body).toString('utf8')) as Order;
          if (!result.deadLettered.some((x) => x.id === o.id)) {
            result.deadLettered.push({ id: o.id, reason: d.headers['x-error-message'] ?? d.headers['x-death-reason'] ?? '', attempts: Number(d.headers['x-attempts'] ?? 0) });
          }
          await d.ack();
          check();
        }
      };
      consume().catch(reject);
      watchDead().catch(reject);
      check();
    });
    await done;
    await billing.close();
    await ops.close();
    return result;
  } finally {
    await mq.close();
  }
}

/** The handler: bill, retry with backoff, or reject. */
async function handleOrder(d: Delivery, result: OrdersResult): Promise<void> {
  const order = JSON.parse(Buffer.from(d.body).toString('utf8')) as Order;
  result.attempts[order.id] = Math.max(result.attempts[order.id] ?? 0, d.attempt);
  if (!(order.amount > 0)) {
    await d.reject(`invalid amount ${order.amount}`);
    return;
  }
  if (d.attempt <= (order.failures ?? 0)) {
    // Transient failure: try again later, 100 ms × 2^(attempt-1). After MAX_ATTEMPTS the group
    // dead-letters it instead.
    await d.nack({ delayMs: 100 * 2 ** (d.attempt - 1) });
    return;
  }
  if (!result.billed.includes(order.id)) result.billed.push(order.id); // at-least-once: idempotent
  await d.ack();
}

/** The orders of the demo and the test. */
export const demoOrders: readonly Order[] = [
  { id: 'o-1', amount: 42 },
  { id: 'o-2', amount: 7, failures: 1 },
  { id: 'o-3', amount: -5 },
  { id: 'o-4', amount: 13, failures: 99 },
  { id: 'o-5', amount: 99 },
];
