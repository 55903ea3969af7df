#!/usr/bin/env bash
# Measures the server's peak RSS while it takes a 5 GiB PUT and serves a 5 GiB GET.
# The body is streamed from /dev/zero and the download discarded, so the only large
# memory user would be the server itself. Needs the SDK venv (tests/sdk/run.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p coffer
BIN=target/release/coffer
PY=tests/sdk/.venv/bin/python
DATA=$(mktemp -d)
PORT=${PORT:-17170}
export OSS_ACCESS_KEY_ID=bench OSS_ACCESS_KEY_SECRET=bench-secret
$BIN serve --listen 127.0.0.1:$PORT --admin-listen 127.0.0.1:$((PORT + 1)) --data-dir "$DATA" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
hwm() { awk '/VmHWM/ {print $2}' /proc/$SERVER/status; }
urls=$($PY - "$PORT" <<'PY'
import sys, oss2
b = oss2.Bucket(oss2.Auth('bench', 'bench-secret'), f'http://127.0.0.1:{sys.argv[1]}', 'rss-bench')
b.create_bucket()
print(b.sign_url('PUT', 'big', 3600))
print(b.sign_url('GET', 'big', 3600))
PY
)
put_url=$(echo "$urls" | sed -n 1p)
get_url=$(echo "$urls" | sed -n 2p)
echo "idle peak RSS: $(hwm) KiB"
size=$((5 * 1024 * 1024 * 1024))
start=$(date +%s.%N)
head -c $size /dev/zero | curl -sf -T - -H 'Content-Type:' -o /dev/null "$put_url"
mid=$(date +%s.%N)
echo "after 5 GiB PUT, peak RSS: $(hwm) KiB"
curl -sf -o /dev/null "$get_url"
end=$(date +%s.%N)
echo "after 5 GiB GET, peak RSS: $(hwm) KiB"
awk -v a="$start" -v b="$mid" -v c="$end" -v s=$size 'BEGIN { printf "PUT %.0f MB/s, GET %.0f MB/s\n", s/(b-a)/1e6, s/(c-b)/1e6 }'
