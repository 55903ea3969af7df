#!/usr/bin/env bash
# Runs every test Coffer has: formatting and lint gates, Rust unit and integration tests,
# the real-SDK suites (Python: oss2, alibabacloud-oss-v2; Node: ali-oss) and the kill -9 crash
# test. Needs Rust, Python 3 and Node.js 20+ with npm; installs the rest by itself (a Python
# venv and node_modules, both with pinned SDK versions).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build"
cargo build --workspace --locked

step "Rust tests"
cargo test --workspace --locked

step "performance guard (callgrind instruction count)"
bench/guard/run.sh

export COFFER_BIN="$PWD/target/debug/coffer"

step "SDK tests (oss2, alibabacloud-oss-v2)"
tests/sdk/run.sh

# The same suite over HTTPS: certificates from `coffer cert self-signed`, verified by the SDKs.
step "SDK tests over TLS (COFFER_TLS=1)"
COFFER_TLS=1 tests/sdk/run.sh

step "Node SDK tests (ali-oss)"
tests/node/run.sh

step "crash test (kill -9 during writes)"
tests/crash/run.sh
