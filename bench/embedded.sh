#!/bin/sh
# The embedded-engine table of docs/benchmarks.md: `omnibus bench` through the Transport API on
# memory://, file:// with fsync interval, and file:// with fsync always under 64 concurrent
# publishers, 1,000,000 messages at every size. One process per size, so each row's peak RSS
# belongs to that size alone (a process's peak cannot be reset). Run after `npx tsc -p .`.
#
#   sh bench/embedded.sh [OUT_DIR]          (default .bench; then: node bench/summarize.mjs OUT_DIR/embedded-*.json)
#
# ALWAYS_BATCH: messages per publish call for the fsync-always run (default 16: 64 publishers x 16
# = up to 1,024 messages per group commit).
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-.bench}
COUNT=${COUNT:-1000000}
SIZES=${SIZES:-128 512 1024 10240}
ALWAYS_BATCH=${ALWAYS_BATCH:-16}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
for size in $SIZES; do
  node bin/omnibus.js bench --count "$COUNT" --sizes "$size" --quiet \
    --json "$OUT/embedded-$STAMP-memory-$size.json"
  node bin/omnibus.js bench --storage file --fsync interval --count "$COUNT" --sizes "$size" --quiet \
    --json "$OUT/embedded-$STAMP-file-interval-$size.json"
  node bin/omnibus.js bench --storage file --fsync always --publishers 64 --batch "$ALWAYS_BATCH" \
    --count "$COUNT" --sizes "$size" --quiet --json "$OUT/embedded-$STAMP-file-always-$size.json"
done
echo "written $OUT/embedded-$STAMP-*.json"
