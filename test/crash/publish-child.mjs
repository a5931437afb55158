// Child for publish-crash.test.ts: publishes with confirms through the public API on
// file://DIR (fsync always), while a consumer acks a fraction of them, and reports each confirm
// ("C producer seq count partitionKey") and each ack ("A producer seq") on stdout.
// Runs the compiled library (dist/) so that twenty restarts stay fast.
import { connect } from '../../dist/index.js';

const [dir, round] = process.argv.slice(2);
const mq = await connect(`file://${dir}?fsync=always&partitions=2`);
const out = (s) => process.stdout.write(s + '\n');
out('R');

async function producer(id) {
  for (let seq = 0; ; ) {
    const n = 1 + ((seq * 7 + id) % 5);
    const msgs = [];
    const key = `k${id}`;
    for (let i = 0; i < n; i++) msgs.push({ key, body: `${round}:${id}:${seq + i}`, headers: { p: String(id) } });
    await mq.publish('crash', msgs);
    out(`C ${round}:${id} ${seq} ${n}`);
    seq += n;
  }
}

async function consumer() {
  for await (const d of mq.subscribe('crash', { group: 'acker', prefetch: 50 })) {
    const s = d.body.toString();
    // Ack most, leave some unacked so that recovery must redeliver them.
    if (s.endsWith('3')) continue;
    await d.ack();
    out(`A ${s}`);
  }
}

for (let i = 0; i < 4; i++) void producer(i);
void consumer();
