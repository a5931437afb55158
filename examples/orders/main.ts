/** CLI of the orders example: `node --import tsx examples/orders/main.ts <url>` (default memory://). */
import { demoOrders, runOrders } from './orders.js';

const url = process.argv[2] ?? 'memory://';
const r = await runOrders(url, demoOrders, { prefix: `demo-${Date.now()}-` });
process.stdout.write(`billed: ${r.billed.join(', ')}\n`);
for (const d of r.deadLettered) process.stdout.write(`dead-lettered: ${d.id} after ${d.attempts} attempt(s): ${d.reason}\n`);
