#!/usr/bin/env bash
# Argon2 memory under a burst of concurrent PIN verifications (issue 15), measured, not timed in
# a test: starts `trustline serve` on a throwaway SQLite data dir with the given
# `argon2_max_concurrent`, fires N concurrent correct PINs (one customer each, so every attempt
# runs Argon2id at 19 MiB) and prints RSS before / peak / after as JSON.
#
# usage: scripts/bench-pin-burst.sh [N=150] [ARGON2_MAX_CONCURRENT=2] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-150}"; PERMITS="${2:-2}"; PROFILE="${3:-}"
scripts/install-onnxruntime.sh >/dev/null
if [ "$PROFILE" = "--release" ]; then
  cargo build --release --locked --quiet --bin trustline; BIN=target/release/trustline
else
  cargo build --locked --quiet --bin trustline; BIN=target/debug/trustline
fi
DIR="$(mktemp -d)"; PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
TRUSTLINE_DATA_DIR="$DIR" TRUSTLINE_LISTEN="127.0.0.1:$PORT" TRUSTLINE_LOG_FORMAT=json \
  TRUSTLINE_ARGON2_MAX_CONCURRENT="$PERMITS" TRUSTLINE_RATE_LIMIT_PER_KEY=100000 \
  "$BIN" serve >"$DIR/out" 2>"$DIR/log" &
PID=$!
for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
KEY="$(grep -o 'tlk_[A-Za-z0-9_-]*' "$DIR/out" | head -1)"
[ -n "$KEY" ] || { echo "no demo key" >&2; cat "$DIR/log" >&2; exit 1; }
echo "binary: $BIN  argon2_max_concurrent: $PERMITS"
python3 scripts/abuse/pin_burst.py "http://127.0.0.1:$PORT" "$KEY" "$PID" "$N"
