#!/usr/bin/env bash
# API conformance (issue 15): schemathesis (PyPI, pinned) against /openapi.json of a real
# `trustline serve` on a throwaway SQLite data dir, with a valid API key (every scope), every
# operation, `--checks all`.
#
#   scripts/conformance.sh [MAX_EXAMPLES=25] [MAX_SECONDS=240]
#
# CI (scripts/test.sh) runs it with a small budget; a larger run is, for example,
#   scripts/conformance.sh 500 3600
# The binary is target/debug/trustline (built here if missing). Exit 0 only with 0 failures.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES="${1:-25}"; MAX_SECONDS="${2:-240}"
VERSION=4.32.5
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/trustline/schemathesis-$VERSION"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi
scripts/install-onnxruntime.sh >/dev/null
BIN="${TRUSTLINE_BIN:-${CARGO_TARGET_DIR:-target}/debug/trustline}"
[ -x "$BIN" ] || cargo build --locked --quiet --bin trustline
DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
# Generous rate limits: the run sends thousands of writes for a handful of customers, and a
# 429 is documented but would crowd out the other answers.
TRUSTLINE_DATA_DIR="$DIR" TRUSTLINE_LISTEN="127.0.0.1:$PORT" TRUSTLINE_LOG_FORMAT=json \
  TRUSTLINE_PUBLIC_URL="http://127.0.0.1:$PORT" \
  TRUSTLINE_RATE_LIMIT_PER_KEY=100000000 TRUSTLINE_RATE_LIMIT_PER_CUSTOMER=100000000 \
  "$BIN" serve >"$DIR/out" 2>"$DIR/log" &
PID=$!
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$DIR/log" >&2; exit 1; }
  sleep 0.1
done
KEY="$(grep -o 'tlk_[A-Za-z0-9_-]*' "$DIR/out" | head -1)"
[ -n "$KEY" ] || { echo "no demo key printed" >&2; exit 1; }
set +e
"$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
  --header "Authorization: Bearer $KEY" --checks all --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_SECONDS" --seed 15 --workers 2 --request-timeout 20 \
  --no-color --output-truncate true 2>&1 | tee "$DIR/schemathesis.txt"
status=${PIPESTATUS[0]}
set -e
grep -iE "server error|panicked" "$DIR/log" | head -5 || true
exit "$status"
