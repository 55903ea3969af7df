#!/usr/bin/env bash
# Run the Node SDK test suite (ali-oss, pinned in package-lock.json) against a Coffer binary.
#
#   tests/node/run.sh [extra node --test args...] [test files...]
#
# With no file argument every tests/node/*.test.js runs; e.g.
#   tests/node/run.sh --test-name-pattern=multipart
#   tests/node/run.sh tests/node/object.test.js
#
# COFFER_BIN: server binary (default: <repo>/target/debug/coffer; build it first).
# COFFER_TLS=1: the servers serve HTTPS, and the clients verify their certificate.
# Installs node_modules with `npm ci` when package-lock.json changed since the last install.
# Exit code is node --test's.
set -euo pipefail

NODE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$NODE_DIR/../.." && pwd)"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "tests/node/run.sh: $tool not found; the Node SDK tests need Node.js 20+ and npm" >&2
        exit 2
    fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
    echo "tests/node/run.sh: Node.js $(node --version) is too old; 20 or newer is needed" >&2
    exit 2
fi

LOCK="$NODE_DIR/package-lock.json"
STAMP="$NODE_DIR/node_modules/.package-lock.sha256"

want="$(sha256sum "$LOCK" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$STAMP"
fi

export COFFER_BIN="${COFFER_BIN:-$REPO_ROOT/target/debug/coffer}"
case "$COFFER_BIN" in
    /*) ;;
    *) COFFER_BIN="$REPO_ROOT/$COFFER_BIN" ;;
esac

# COFFER_TLS=1: every server of the run serves HTTPS with one certificate made here; the CA
# goes into NODE_EXTRA_CA_CERTS (read by Node at start-up), so every client verifies it.
if [ -n "${COFFER_TLS:-}" ] && [ "${COFFER_TLS}" != 0 ]; then
    COFFER_TLS_DIR="$(mktemp -d)"
    trap 'rm -rf "$COFFER_TLS_DIR"' EXIT
    # ali-oss names the bucket's virtual host in SNI for an IP endpoint: the certificate covers
    # the region's virtual-hosted names too.
    "$COFFER_BIN" cert self-signed --out "$COFFER_TLS_DIR" \
        --host '*.oss-cn-hangzhou.aliyuncs.com' --host oss-cn-hangzhou.aliyuncs.com >/dev/null
    export COFFER_TLS_DIR NODE_EXTRA_CA_CERTS="$COFFER_TLS_DIR/ca.pem"
fi

# Test files named on the command line replace the default set.
args=()
files=()
for a in "$@"; do
    case "$a" in
        *.test.js) files+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")") ;;
        *) args+=("$a") ;;
    esac
done
if [ "${#files[@]}" -eq 0 ]; then
    files=("$NODE_DIR"/*.test.js)
fi

cd "$NODE_DIR"
set +e
node --test --test-reporter=spec "${args[@]}" "${files[@]}"
rc=$?
set -e
exit "$rc"
