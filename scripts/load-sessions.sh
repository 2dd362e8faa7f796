#!/usr/bin/env bash
# Load figure for POST /v1/sessions with keystroke-only evidence, on loopback, release build,
# SQLite (synchronous=FULL, WAL) with the durable ledger append per decision.
# Tool: wrk (Debian package `wrk`), --latency for the percentiles.
# Usage: scripts/load-sessions.sh [path/to/trustline] [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/trustline}
CONNS=${2:-32}
SECS=${3:-20}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
DIR=$(mktemp -d /tmp/trustline-load.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TRUSTLINE_DATA_DIR=$DIR TRUSTLINE_LISTEN=127.0.0.1:$PORT TRUSTLINE_LOG_FORMAT=json RUST_LOG=${RUST_LOG:-warn}
BASE=http://127.0.0.1:$PORT
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

"$BIN" migrate >/dev/null
"$BIN" tenant create --id shop --name "Load Shop" --sector retail >/dev/null
KEY=$("$BIN" api-key create --tenant shop --scopes "sessions enrol" --label load | sed -n 's/^API key (shown once, store it now): //p')
"$BIN" serve > "$DIR/serve.log" 2>&1 & PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -fs -X PUT "$BASE/v1/customers/c-load" -H "authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d '{"methods":["typing"]}' >/dev/null
BODY=$(python3 - <<'PY'
import json
# 60 keystrokes of free text as the chat widget sends them (press/release ms, key class).
events = []
t = 0.0
for i in range(60):
    events.append({"press_ms": t, "release_ms": t + 80 + (i % 7) * 5, "class": "letter"})
    t += 150 + (i % 5) * 20
print(json.dumps({"customer_ref": "c-load", "channel": "chat",
                  "evidence": {"keystroke_free": {"segments": [events]}}}))
PY
)
echo "one request:"
curl -s -X POST "$BASE/v1/sessions" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d "$BODY" | python3 -c 'import json,sys; d=json.load(sys.stdin)["decision"]; print(json.dumps({k: d[k] for k in ("outcome","reasons","policy")}))'
printf '%s' "$BODY" > "$DIR/body.json"
cat > "$DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
local f = io.open("$DIR/body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA
echo "wrk -t2 -c$CONNS -d${SECS}s --latency (body $(echo -n "$BODY" | wc -c) bytes)"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$DIR/post.lua" "$BASE/v1/sessions"
echo "status codes seen by the server (metrics):"
curl -s "$BASE/metrics" | grep 'trustline_http_requests_total{' | grep 'sessions' || true
echo "ledger group commit (batches, entries, seconds in commits):"
curl -s "$BASE/metrics" | grep -E '^trustline_ledger_(batch_size|commit_seconds)_(sum|count)' || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores, shared)"
