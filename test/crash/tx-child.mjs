// Child for tx-crash.test.ts: runs engine transactions on file storage (fsync always) until it is
// killed. Each transaction leases one job from topic "in" (group "workers"), publishes two records
// to topic "a" and one to topic "b" (two partitions, keyed), and acks the job, all in one commit.
// stdout lines: "R" ready, "J job" job publish confirmed, "S tx job" commit started,
// "C tx" commit resolved. Runs the compiled library (dist/) so that restarts stay fast.
import { Engine } from '../../dist/engine/engine.js';
import { FileStorage } from '../../dist/engine/storage/file/index.js';

const [dir, round] = process.argv.slice(2);
const engine = await Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' });
await engine.topic('a', { partitions: 1 });
await engine.topic('b', { partitions: 2 });
const group = await engine.group('in', 'workers', { leaseMs: 600_000 });
const out = (s) => process.stdout.write(s + '\n');
const rec = (body, key) => ({ body: Buffer.from(body), key, timestamp: Date.now(), priority: 0 });

// Jobs for this round, confirmed before transactions start (plus more while they run).
async function jobs(from, n) {
  for (let i = from; i < from + n; i++) {
    const job = `J${round}.${i}`;
    await engine.publish('in', [rec(job)]);
    out(`J ${job}`);
  }
}
await jobs(0, 20);
out('R');
void jobs(20, 200);

// One consumer; each delivery becomes one transaction, several in flight at once.
let n = 0;
const inflight = new Set();
group.addConsumer({
  prefetch: 8,
  push: (d) => {
    const id = `T${round}.${n++}`;
    const job = d.body.toString();
    const tx = engine.transaction();
    tx.publish('a', [rec(`${id}|a1|${job}`), rec(`${id}|a2|${job}`)]);
    tx.publish('b', [rec(`${id}|b1|${job}`, id)]);
    tx.ack(d);
    out(`S ${id} ${job}`);
    const p = tx.commit().then(
      () => out(`C ${id}`),
      (e) => out(`E ${id} ${e.code ?? e.message}`),
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  },
});
