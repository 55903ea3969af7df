#!/usr/bin/env bash
# Latency the key manager adds to SSE-KMS requests, per backend: p50/p99 of 4 KiB PUTs and
# GETs (coffer-bench, one request in flight, so the figures are per-request latency and not
# queueing) with no SSE, SSE-KMS on the built-in KMS, SSE-KMS on OpenBao Transit (a dev
# server on loopback: the network and Transit's own work, no disk) and SSE-KMS on PyKMIP
# (KMIP over mutual TLS, a Python server with SQLite), each also with the bucket-key cache
# (--kms-data-key-cache-seconds 300). Added latency = SSE-KMS minus no SSE on the same
# backend.
#
#   bench/kms-latency.sh                   # 5 s per run, about 2 minutes
#   BENCH_PROFILE=release bench/kms-latency.sh
#
# Environment: BENCH_DURATION (5s), BENCH_PROFILE (debug: the dev profile optimises
# dependencies but not Coffer's own crates; release for published figures), BENCH_PORT
# (17470), COFFER_BAO_BIN (else tests/engines/openbao.sh installs the pinned OpenBao),
# COFFER_PYKMIP (else tests/engines/pykmip.sh installs the pinned PyKMIP).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${BENCH_DURATION:-5s}
PROFILE=${BENCH_PROFILE:-debug}
PORT=${BENCH_PORT:-17470}
BAO_PORT=$((PORT + 5))
if [ "$PROFILE" = release ]; then
  cargo build --locked --release -p coffer -p coffer-bench
else
  cargo build --locked -p coffer -p coffer-bench
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
COFFER=$TARGET_DIR/$PROFILE/coffer
BENCH=$TARGET_DIR/$PROFILE/coffer-bench
BAO=${COFFER_BAO_BIN:-$(tests/engines/openbao.sh)}
PY=${PYTHON:-python3}
export OSS_ACCESS_KEY_ID=bench OSS_ACCESS_KEY_SECRET=bench-secret-key
WORK=$(mktemp -d /tmp/coffer-kms-latency.XXXXXX)
export COFFER_PYKMIP=${COFFER_PYKMIP:-$(tests/engines/pykmip.sh)}
BAO_PID=
KMIP_PID=
SERVER=

cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  [ -n "$KMIP_PID" ] && kill "$KMIP_PID" 2>/dev/null && wait "$KMIP_PID" 2>/dev/null
  [ -n "$BAO_PID" ] && kill "$BAO_PID" 2>/dev/null && wait "$BAO_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "nothing listens on $1" >&2; exit 1
}

# OpenBao dev server: keys in memory, Transit enabled; stopped by its PID at exit.
export BAO_ADDR=http://127.0.0.1:$BAO_PORT BAO_TOKEN=bench-root
HOME="$WORK" "$BAO" server -dev -dev-root-token-id=bench-root \
  -dev-listen-address=127.0.0.1:$BAO_PORT >"$WORK/bao.log" 2>&1 &
BAO_PID=$!
wait_port "$BAO_PORT"
for _ in $(seq 100); do HOME="$WORK" "$BAO" status >/dev/null 2>&1 && break; sleep 0.1; done
HOME="$WORK" "$BAO" secrets enable transit >/dev/null

# PyKMIP, started (certificates, config, SQLite) by the SDK suite's own helper, which writes
# the serve flags that reach it; SIGTERM stops it by its PID.
"$PY" - "$WORK" "$WORK/kmip-args" <<'PY' >"$WORK/kmip-launcher.log" 2>&1 &
import signal, sys, time
sys.path.insert(0, "tests/sdk")
from pykmip import PyKmip
server = PyKmip(sys.argv[1])
server.start()
signal.signal(signal.SIGTERM, lambda *_: (server.stop(), sys.exit(0)))
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("\n".join(server.server_args()) + "\n")
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
while True:
    time.sleep(1)
PY
KMIP_PID=$!
for _ in $(seq 300); do [ -f "$WORK/kmip-args" ] && break; sleep 0.1; done
[ -f "$WORK/kmip-args" ] || { cat "$WORK/kmip-launcher.log" >&2; exit 1; }
mapfile -t KMIP_ARGS <"$WORK/kmip-args"

# $1 label, $2 cache seconds, then extra serve flags; prints "label op sse p50 p99" lines.
measure() {
  local label=$1 cache=$2; shift 2
  local data="$WORK/data-$label"
  VAULT_TOKEN=bench-root "$COFFER" serve --listen 127.0.0.1:$PORT \
    --admin-listen 127.0.0.1:$((PORT + 1)) --data-dir "$data" \
    --kms-data-key-cache-seconds "$cache" "$@" >"$WORK/$label.log" 2>&1 &
  SERVER=$!
  wait_port "$PORT"
  for sse in none kms; do
    for op in put get; do
      "$BENCH" --endpoint http://127.0.0.1:$PORT --access-key bench --secret-key bench-secret-key \
        --bucket "b-$sse-$op" --op "$op" --sse "$sse" --object-size 4KiB -c 1 \
        --warmup 1s --duration "$DURATION" --prepare --json >"$WORK/r.json"
      "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["latency_ms"] if "latency_ms" in r else r["latency"]; print(sys.argv[2], sys.argv[3], sys.argv[4], "%.3f" % l["p50"], "%.3f" % l["p99"], r.get("errors", 0))' \
        "$WORK/r.json" "$label" "$op" "$sse"
    done
  done
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  SERVER=
}

{
  measure builtin 0
  measure builtin-cache 300
  measure openbao 0 --kms-backend vault --vault-addr "$BAO_ADDR"
  measure openbao-cache 300 --kms-backend vault --vault-addr "$BAO_ADDR"
  measure pykmip 0 "${KMIP_ARGS[@]}"
  measure pykmip-cache 300 "${KMIP_ARGS[@]}"
} >"$WORK/all.txt"

echo "profile $PROFILE, 4 KiB, 1 in flight, $DURATION per run; ms"
"$PY" - "$WORK/all.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
fig = {(b, op, sse): (float(p50), float(p99), int(err)) for b, op, sse, p50, p99, err in rows}
print("| backend | op | p50 no SSE | p50 SSE-KMS | added p50 | p99 no SSE | p99 SSE-KMS | added p99 |")
print("|---|---|---|---|---|---|---|---|")
for b in ("builtin", "builtin-cache", "openbao", "openbao-cache", "pykmip", "pykmip-cache"):
    for op in ("put", "get"):
        n, k = fig[(b, op, "none")], fig[(b, op, "kms")]
        assert n[2] == 0 and k[2] == 0, "errors in %s %s" % (b, op)
        print("| %s | %s | %.2f | %.2f | %+.2f | %.2f | %.2f | %+.2f |"
              % (b, op.upper(), n[0], k[0], k[0] - n[0], n[1], k[1], k[1] - n[1]))
PY
