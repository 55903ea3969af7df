#!/usr/bin/env bash
# Crash/durability tests: SIGKILL Coffer mid-write, restart, check the invariants.
#
#   tests/crash/run.sh [extra pytest args...]      (e.g. -s to see per-round progress)
#
# COFFER_BIN:          server binary (default: <repo>/target/debug/coffer; build it first).
# COFFER_CRASH_ROUNDS: kill/restart rounds (default 12).
# COFFER_CRASH_SEED:   random seed to replay a failing run (printed on failure).
# COFFER_CRASH_KEEP:   keep the work directory (data dir + server log) even on success.
# Uses the venv of the SDK suite (tests/sdk/.venv; create it with tests/sdk/run.sh).
# Exit code is pytest's.
set -euo pipefail

CRASH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CRASH_DIR/../.." && pwd)"
cd "$REPO_ROOT"

PY="$REPO_ROOT/tests/sdk/.venv/bin/python"
if [ ! -x "$PY" ]; then
    echo "missing $PY: run tests/sdk/run.sh once to create the venv" >&2
    exit 2
fi

export COFFER_BIN="${COFFER_BIN:-$REPO_ROOT/target/debug/coffer}"
case "$COFFER_BIN" in
    /*) ;;
    *) COFFER_BIN="$REPO_ROOT/$COFFER_BIN" ;;
esac

set +e
"$PY" -m pytest -q tests/crash "$@"
rc=$?
set -e
exit "$rc"
