#!/usr/bin/env bash
# Performance regression guard: counts the instructions of a fixed workload under callgrind
# and compares them with the committed baseline. Not a timed test: instruction counts do not
# depend on machine load, clock speed or other processes, so the check is stable on shared CI.
#
#   bench/guard/run.sh            # check; fails if a count is more than the tolerance above
#   bench/guard/run.sh --update   # measure and rewrite bench/guard/baseline.txt
#
# The workload is crates/coffer-guard (see its main.rs): seal and open 4 MiB with AES-256-GCM
# and with SM4-GCM, verify 1,000 V4 signatures, render a 1,000-key listing plain and
# URL-encoded, route 1,000 small requests. callgrind dumps its counters as each step
# returns (--dump-after), so every step is checked on its own as well as the total. Method and numbers: docs/performance.md.
#
# Environment: GUARD_TOLERANCE_PCT (10): allowed increase per count, in percent;
# CARGO_TARGET_DIR (target): the guard builds in its own $CARGO_TARGET_DIR/guard.
# Needs valgrind (3.19 or later).
set -euo pipefail
cd "$(dirname "$0")/../.."

MODE=check
case "${1:-}" in
"") ;;
--update) MODE=update ;;
*)
    echo "usage: $0 [--update]" >&2
    exit 2
    ;;
esac

TOLERANCE_PCT=${GUARD_TOLERANCE_PCT:-10}
BASELINE=bench/guard/baseline.txt
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}/guard
BIN=$TARGET_DIR/release/coffer-guard
# The steps, in order; "exit" (printing, freeing, process exit) is reported but not checked.
STEPS="setup seal_open_aes seal_open_sm4 v4_verify xml_plain xml_url route"

if ! command -v valgrind >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # CI machines run as root with Debian's packages reachable: install what is missing.
    apt-get update -qq >/dev/null && apt-get install -y -qq valgrind >/dev/null || true
fi
if ! command -v valgrind >/dev/null; then
    echo "error: valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
fi

# The counted binary must be built the same way everywhere: the release profile, in a target
# directory of its own, without the caller's RUSTFLAGS (-C target-cpu=native would emit
# AVX-512, which valgrind cannot run) or incremental compilation. Crates the workload links
# but never executes (the async server stack and the metadata store) are compiled without
# optimisation: the cold build takes a third of the time and the counts barely change
# (docs/performance.md has the comparison).
unused=(redb coffer-storage coffer-service coffer-iam tokio hyper multer encoding_rs crc-fast
    futures-util quick-xml metrics rand)
config=()
for crate in "${unused[@]}"; do
    config+=(--config "profile.release.package.$crate.opt-level=0")
done
started=$SECONDS
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_INCREMENTAL \
    CARGO_TARGET_DIR="$TARGET_DIR" \
    cargo build --release --locked -p coffer-guard "${config[@]}"
build_secs=$((SECONDS - started))

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# An empty environment and a fixed relative program path: the client's initial stack then
# has the same size everywhere, so stack alignment cannot shift a few instructions per call.
cp "$BIN" "$OUT/coffer-guard"
VALGRIND=$(command -v valgrind)
started=$SECONDS
if ! (cd "$OUT" && env -i "$VALGRIND" --tool=callgrind --callgrind-out-file=callgrind.out \
    --dump-after='coffer_guard::guard_*' ./coffer-guard >stdout 2>valgrind.log); then
    cat "$OUT/stdout" "$OUT/valgrind.log" >&2
    echo "error: the workload failed under valgrind" >&2
    exit 1
fi
run_secs=$((SECONDS - started))

# One dump file per step: its trigger names the step, its summary is the step's Ir.
measured=$OUT/measured
for f in "$OUT"/callgrind.out*; do
    awk '
        /^desc: Trigger: --dump-after=coffer_guard::guard_/ { sub(/.*::guard_/, ""); step = $0 }
        /^desc: Trigger: Program termination/ { step = "exit" }
        /^summary:/ { ir = $2 }
        END { print step, ir }
    ' "$f"
done >"$measured"
backend=$(awk '$1 == "sm4_backend" { print $2 }' "$OUT/stdout")
ghash_backend=$(awk '$1 == "ghash_backend" { print $2 }' "$OUT/stdout")
for step in $STEPS exit; do
    if ! grep -q "^$step " "$measured"; then
        echo "error: callgrind reported no count for step $step; dumps:" >&2
        cat "$measured" >&2
        exit 1
    fi
done
total=$(awk '{ s += $2 } END { print s }' "$measured")

if [ "$MODE" = update ]; then
    {
        echo "# Instruction counts (callgrind Ir) of crates/coffer-guard, per step and in total."
        echo "# Written by bench/guard/run.sh --update; checked by bench/guard/run.sh."
        echo "# Measured with $(rustc --version), $(valgrind --version)."
        echo "sm4_backend $backend"
        echo "ghash_backend $ghash_backend"
        echo "total $total"
        for step in $STEPS exit; do
            grep "^$step " "$measured"
        done
    } >"$BASELINE"
    echo "baseline written to $BASELINE (build ${build_secs} s, callgrind ${run_secs} s):"
    cat "$BASELINE"
    exit 0
fi

if [ ! -f "$BASELINE" ]; then
    echo "error: $BASELINE is missing; create it with $0 --update" >&2
    exit 1
fi
base_backend=$(awk '$1 == "sm4_backend" { print $2 }' "$BASELINE")
if [ "$backend" != "$base_backend" ]; then
    echo "error: SM4 backend under valgrind is $backend, the baseline was taken with" \
        "$base_backend; counts are not comparable (see docs/performance.md)" >&2
    exit 1
fi
base_ghash=$(awk '$1 == "ghash_backend" { print $2 }' "$BASELINE")
if [ -n "$base_ghash" ] && [ "$ghash_backend" != "$base_ghash" ]; then
    echo "error: GHASH backend under valgrind is $ghash_backend, the baseline was taken with" \
        "$base_ghash; counts are not comparable (see docs/performance.md)" >&2
    exit 1
fi
if ! grep -qF "$(rustc --version)" "$BASELINE"; then
    echo "note: the baseline was measured with another compiler ($(grep -o 'rustc [^,]*' "$BASELINE"));" \
        "a toolchain change alone can move the counts"
fi

echo "total $total" >>"$measured"
awk -v tol="$TOLERANCE_PCT" '
    FNR == NR { now[$1] = $2; next }
    /^#/ || $1 == "sm4_backend" || $1 == "ghash_backend" { next }
    {
        name = $1; base = $2; count = now[name]; ratio = count / base
        status = "ok"
        if (name == "exit") status = "(not checked)"
        else if (count > base * (1 + tol / 100)) { status = "REGRESSION"; failed = 1 }
        else if (count < base * (1 - tol / 100)) status = "ok, much cheaper: consider --update"
        printf "%-15s %13d %13d %7.4f  %s\n", name, base, count, ratio, status
    }
    BEGIN { printf "%-15s %13s %13s %7s\n", "step", "baseline Ir", "now Ir", "ratio" }
    END {
        printf "tolerance +%s%%, backends %s\n", tol, backend
        exit failed
    }
' backend="$backend, GHASH $ghash_backend" "$measured" "$BASELINE" || {
    echo "FAILED: instruction count above the baseline by more than ${TOLERANCE_PCT}%." >&2
    echo "If the cost is intended, run bench/guard/run.sh --update and commit the baseline." >&2
    exit 1
}
echo "performance guard passed (build ${build_secs} s, callgrind ${run_secs} s)"
