#!/usr/bin/env bash
# Run the real-client SDK test suite (oss2 + alibabacloud-oss-v2) against a Coffer binary.
#
#   tests/sdk/run.sh [extra pytest args...]
#
# COFFER_BIN: server binary (default: <repo>/target/debug/coffer; build it first).
# PYTHON:     interpreter used to create the venv (default: python3).
# Exit code is pytest's.
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SDK_DIR/../.." && pwd)"
cd "$REPO_ROOT"

VENV="$SDK_DIR/.venv"
REQ="$SDK_DIR/requirements.txt"
STAMP="$VENV/.requirements.sha256"

if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    echo "$want" > "$STAMP"
fi

export COFFER_BIN="${COFFER_BIN:-$REPO_ROOT/target/debug/coffer}"
case "$COFFER_BIN" in
    /*) ;;
    *) COFFER_BIN="$REPO_ROOT/$COFFER_BIN" ;;
esac

set +e
"$VENV/bin/python" -m pytest -q tests/sdk "$@"
rc=$?
set -e
exit "$rc"
