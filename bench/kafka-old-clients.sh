#!/bin/bash
# Broker CPU of two Kafka paths, read from /proc/PID/stat (utime+stime) of a listener process:
#
#   bench/kafka-old-clients.sh fetch [N]
#       kafka-python (Debian /usr/bin/python3) consumes N records (default 200000, ~95 B, produced by
#       kcat in 1 MB batches, uncompressed and gzip) with Fetch v4 (ApiVersions), v3 (api_version
#       0.10.1, magic 1) and v1 (0.9, magic 0): µs of broker CPU per record. v1/v3 pay the
#       down-conversion; v4 is served zero-copy.
#   bench/kafka-old-clients.sh txn [N] [ROOT...]
#       kafkajs runs N transactions of one record (default 300) against a listener on file storage
#       for each source tree ROOT (default: this one; pass an old build's worktree first for an A/B:
#       git worktree add /tmp/old <rev> && ln -s $PWD/node_modules /tmp/old/node_modules):
#       wall seconds and ms of broker CPU (fsync time included) per transaction.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/srv.mts" <<'TS'
const [root, dir] = process.argv.slice(2);
const { Engine } = await import(`${root}/src/engine/engine.ts`);
const { MemoryStorage } = await import(`${root}/src/engine/storage/memory.ts`);
const { FileStorage } = await import(`${root}/src/engine/storage/file/index.ts`);
const { startKafkaServer } = await import(`${root}/src/protocols/kafka/listener.ts`);
const engine = await Engine.open({ storage: dir ? await FileStorage.open(dir) : new MemoryStorage() });
const s = await startKafkaServer(engine, { port: 0 });
console.log(`127.0.0.1:${s.port}`);
setInterval(() => {}, 1 << 30);
TS
start() { # root [dir] -> sets PID, BS
  (cd "$1" && exec node --import tsx "$T/srv.mts" "$1" "${2:-}" > "$T/srv.out" 2>&1) &
  PID=$!
  BS=''
  for _ in $(seq 60); do BS=$(head -1 "$T/srv.out" 2>/dev/null || true); [ -n "$BS" ] && break; sleep 1; done
  # the subshell execs node, so $! is the listener itself
}
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
mode=${1:-fetch}
if [ "$mode" = fetch ]; then
  N=${2:-200000}
  cat > "$T/consume.py" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
bs, ver, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kw = {} if ver == 'auto' else {'api_version': tuple(int(x) for x in ver.split('.'))}
c = KafkaConsumer(bootstrap_servers=bs, auto_offset_reset='earliest', enable_auto_commit=False, consumer_timeout_ms=10000, max_partition_fetch_bytes=1 << 20, **kw)
c.assign([TopicPartition(topic, 0)])
got = 0
for m in c:
    got += 1
    if got == n: break
assert got == n, got
PY
  start "$HERE"
  for comp in none gzip; do
    seq 1 "$N" | awk '{printf "k%d:%090d\n",$1,$1}' | kcat -b "$BS" -P -t "b-$comp" -K: -z $comp -X linger.ms=50
    for ver in auto 0.10.1 0.9 auto 0.10.1 0.9; do
      a=$(cpu); /usr/bin/python3 "$T/consume.py" "$BS" $ver "b-$comp" "$N"; b=$(cpu)
      echo "codec=$comp api_version=$ver broker_us_per_record=$(echo "($b-$a)*10000/$N" | bc -l | cut -c1-5)"
    done
  done
  kill $PID
else
  N=${2:-300}
  shift $(( $# >= 2 ? 2 : $# ))
  ROOTS=("${@:-$HERE}")
  cat > "$T/tx.mjs" <<JS
import { Kafka, logLevel } from '$HERE/node_modules/kafkajs/index.js';
const [bs, n] = [process.argv[2], Number(process.argv[3])];
const kafka = new Kafka({ brokers: [bs], logLevel: logLevel.NOTHING });
const admin = kafka.admin(); await admin.connect(); await admin.createTopics({ topics: [{ topic: 'txbench' }] }); await admin.disconnect();
const p = kafka.producer({ transactionalId: 'txbench', idempotent: true, maxInFlightRequests: 1 });
await p.connect();
const t0 = Date.now();
for (let i = 0; i < n; i++) { const t = await p.transaction(); await t.send({ topic: 'txbench', messages: [{ value: 'v' + i }] }); await t.commit(); }
console.log(((Date.now() - t0) / 1000).toFixed(2));
await p.disconnect();
JS
  for round in 1 2; do
    for root in "${ROOTS[@]}"; do
      D=$(mktemp -d -p "$T"); start "$root" "$D"
      a=$(cpu); s=$(node "$T/tx.mjs" "$BS" "$N"); b=$(cpu)
      echo "root=$root transactions=$N wall_s=$s broker_cpu_ms_per_txn=$(echo "($b-$a)*10/$N" | bc -l | cut -c1-5)"
      kill $PID; wait $PID 2>/dev/null || true
    done
  done
fi
