#!/usr/bin/env bash
# Before/after: two Coffer builds on the same workloads, alternated, in one run.
#
#   bench/ab.sh BEFORE_BINARY AFTER_BINARY ["SIZE CONCURRENCY SSE OP" ...]
#   BENCH_ROUNDS=3 BENCH_DURATION=8s bench/ab.sh /tmp/coffer-old target/release/coffer "4KiB 16 aes256 put"
#
# Each run starts the binary fresh on a random loopback port with an empty data dir and
# drives it with coffer-bench (--prepare, closed loop), then stops it. Besides the rates,
# it prints the server's CPU time per request, which a busy machine disturbs far less.
# Workloads default to the ones docs/performance.md reports; each is run BENCH_ROUNDS
# times (default 2) per binary, alternating, followed by `coffer-bench md5` (the bound of
# one PUT stream).
# Build a "before" binary with e.g. `git worktree add /tmp/before <commit>` and
# `cargo build --release -p coffer` there. Needs coffer-bench in target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=${CARGO_TARGET_DIR:-$ROOT/target}/release/coffer-bench
ROUNDS=${BENCH_ROUNDS:-2}
DURATION=${BENCH_DURATION:-5s}
[[ $# -ge 2 ]] || { sed -n '2,14p' "$0" >&2; exit 2; }
BEFORE=$1 AFTER=$2
shift 2
WORKLOADS=("$@")
if [[ ${#WORKLOADS[@]} -eq 0 ]]; then
  WORKLOADS=("4KiB 16 aes256 put" "4KiB 16 sm4 put" "4KiB 16 aes256 get"
    "64MiB 1 aes256 put" "64MiB 1 none put" "64MiB 2 none get" "64MiB 2 aes256 get"
    "64MiB 2 sm4 get")
fi
[[ -x $BENCH ]] || { echo "build coffer-bench first: cargo build --release -p coffer-bench" >&2; exit 2; }

WORK=$(mktemp -d /tmp/coffer-ab.XXXXXX)
SERVER=
cleanup() {
  if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# run BINARY SIZE CONCURRENCY SSE OP: prints "ops/s MB/s p50-ms errors"
run() {
  local bin=$1 size=$2 conc=$3 sse=$4 op=$5 port data
  # A random port pair that nothing is listening on.
  while :; do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null && continue
    break
  done
  data=$(mktemp -d "$WORK/data.XXXX")
  OSS_ACCESS_KEY_ID=ab OSS_ACCESS_KEY_SECRET=ab-secret-key "$bin" serve \
    --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$((port + 1))" \
    --data-dir "$data" >"$data.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$data.log" >&2; return 1; }
    sleep 0.1
  done
  BENCH_ACCESS_KEY=ab BENCH_SECRET_KEY=ab-secret-key "$BENCH" --json \
    --endpoint "http://127.0.0.1:$port" --dialect oss --sse "$sse" --bucket ab-bench \
    --prefix x/ --op "$op" --prepare --object-size "$size" --concurrency "$conc" \
    --duration "$DURATION" --warmup 1s --server-pid "$SERVER" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)
print("{:10.1f} ops/s {:9.1f} MB/s  p50 {:8.2f} ms  errors {}  server CPU {:.3f} ms/op".format(
    r["ops_per_sec"], r["mb_per_sec"], r["latency_ms"]["p50"], r["errors"],
    r["server_cpu_ms_per_op"] or float("nan")))'
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=
  rm -rf "$data" "$data.log"
}

for w in "${WORKLOADS[@]}"; do
  read -r size conc sse op <<<"$w"
  for _ in $(seq "$ROUNDS"); do
    printf '%-22s before %s\n' "$w" "$(run "$BEFORE" "$size" "$conc" "$sse" "$op")"
    printf '%-22s after  %s\n' "$w" "$(run "$AFTER" "$size" "$conc" "$sse" "$op")"
  done
  printf '%-22s %s\n' "$w" "$("$BENCH" md5 --duration 1s)"
done
