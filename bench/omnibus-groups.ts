/**
 * omnibus:// on its native layout (log queue per topic, group queue per group) against amqp://
 * on the same `omnibus serve` (a queue per group bound to a fanout exchange) and amqp:// on a real
 * RabbitMQ, in one run: `omnibus bench --driver transport` (enqueue N, then a new group "bench"
 * dequeues and acks them: on omnibus:// the group is created after the publishes and replays them;
 * the other two create it first, as the bench does for transports without replay).
 *
 * Both brokers are started here (test/conformance/brokers.ts: free loopback ports, temp dirs,
 * stopped by pid); Omnibus with file storage and `--fsync always`, as RabbitMQ durable queues with
 * confirms. The three targets alternate, `--rounds` times; the table gives the medians of the
 * broker's CPU per message (its /proc stat, the primary metric on a shared machine), the bench
 * client's CPU per message and the rates.
 *
 *   npx tsc -p . && node --import tsx bench/omnibus-groups.ts [--count 20000] [--sizes 128,10240] [--rounds 3]
 */
import { startOmnibus, startRabbit, type Broker } from '../test/conformance/brokers.js';
import { runBench } from './bench-process.js';

const argv = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const count = Number(flag('count', '20000'));
const sizes = flag('sizes', '128,10240');
const rounds = Number(flag('rounds', '3'));

interface Phase {
  msgsPerSec: number;
  cpuSec: number;
  brokerCpuSec?: number;
}
interface Report {
  ok: boolean;
  results: { size: number; count: number; enqueue: Phase; dequeue: Phase; loadavg?: number[] }[];
  loadavgAtStart: number[];
}

function bench(target: string, brokerPid: number | undefined): Promise<Report> {
  return runBench<Report>({ driver: 'transport', target, count, sizes, brokerPid });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const started: Broker[] = [];
try {
  const rabbit = await startRabbit();
  if (typeof rabbit === 'string') throw new Error(rabbit);
  started.push(rabbit);
  const omni = await startOmnibus(['amqp'], { fsync: 'always' });
  if (typeof omni === 'string') throw new Error(omni);
  started.push(omni);
  const targets: [string, string, Broker][] = [
    ['RabbitMQ amqp://', rabbit.url, rabbit],
    ['Omnibus amqp://', omni.url, omni],
    ['Omnibus omnibus://', omni.url.replace(/^amqp:/, 'omnibus:'), omni],
  ];
  const runs = new Map<string, Report[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [label, url, b] of targets) {
      const rep = await bench(url, b.pid());
      runs.set(label, [...(runs.get(label) ?? []), rep]);
      process.stderr.write(`round ${r + 1} ${label}: load ${rep.loadavgAtStart[0]}\n`);
    }
  }
  const us = (sec: number | undefined, n: number): number => ((sec ?? NaN) * 1e6) / n;
  const lines = [
    `count ${count} per size, ${rounds} rounds, medians; broker and client CPU in µs per message`,
    '',
    '| target | size B | enq broker CPU | deq broker CPU | enq client CPU | deq client CPU | enq msg/s | deq msg/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [label] of targets) {
    const reps = runs.get(label)!;
    for (const [i, s] of reps[0]!.results.entries()) {
      const col = (f: (x: Report['results'][number]) => number): string => median(reps.map((rp) => f(rp.results[i]!))).toFixed(1);
      lines.push(
        `| ${label} | ${s.size} | ${col((x) => us(x.enqueue.brokerCpuSec, x.count))} | ${col((x) => us(x.dequeue.brokerCpuSec, x.count))} | ${col((x) => us(x.enqueue.cpuSec, x.count))} | ${col((x) => us(x.dequeue.cpuSec, x.count))} | ${median(reps.map((rp) => rp.results[i]!.enqueue.msgsPerSec)).toFixed(0)} | ${median(reps.map((rp) => rp.results[i]!.dequeue.msgsPerSec)).toFixed(0)} |`,
      );
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  for (const b of started.reverse()) await b.stop();
}
