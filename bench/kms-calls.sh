#!/usr/bin/env bash
# Counts KMS calls (from the KMS audit log, one line per call) for 1,000 SSE-KMS PUTs
# and 1,000 GETs, without and with the bucket data-key cache. Counted, not inferred.
# Uses served from the cache have audit lines too, marked "served_from":"cache": counted
# apart, so the figures show both the calls saved and that every use is still audited.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -p coffer
BIN=target/debug/coffer
PY=tests/sdk/.venv/bin/python
PORT=${PORT:-17370}
export OSS_ACCESS_KEY_ID=bench OSS_ACCESS_KEY_SECRET=bench-secret

run() { # $1 = cache seconds
  local data; data=$(mktemp -d)
  $BIN serve --listen 127.0.0.1:$PORT --admin-listen 127.0.0.1:$((PORT + 1)) --data-dir "$data" \
    --kms-data-key-cache-seconds "$1" >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  $PY - "$PORT" <<'PY'
import sys, oss2
b = oss2.Bucket(oss2.Auth('bench', 'bench-secret'), f'http://127.0.0.1:{sys.argv[1]}', 'kms-calls')
b.create_bucket()
for i in range(1000):
    b.put_object(f'k{i}', b'x' * 1024, headers={'x-oss-server-side-encryption': 'KMS'})
for i in range(1000):
    b.get_object(f'k{i}').read()
PY
  kill $server; wait $server 2>/dev/null || true
  local log="$data/kms/audit.log" gen dec cgen cdec
  gen=$(grep '"operation":"GenerateDataKey"' "$log" | grep -vc '"served_from":"cache"' || true)
  dec=$(grep '"operation":"Decrypt"' "$log" | grep -vc '"served_from":"cache"' || true)
  cgen=$(grep '"operation":"GenerateDataKey"' "$log" | grep -c '"served_from":"cache"' || true)
  cdec=$(grep '"operation":"Decrypt"' "$log" | grep -c '"served_from":"cache"' || true)
  echo "cache ${1}s: 1000 PUTs -> $gen GenerateDataKey calls (+$cgen audited from cache);" \
    "1000 GETs -> $dec Decrypt calls (+$cdec audited from cache)"
  rm -rf "$data"
}
run 0
run 300
