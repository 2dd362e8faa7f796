#!/usr/bin/env bash
# Command 2 of the README: the whole test suite, on SQLite and on a throwaway PostgreSQL.
# Installs what it needs (Debian's postgresql, the ONNX Runtime library) idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: PostgreSQL for the second backend; Chromium (+ driver) for the browser tests.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! [ -x /usr/bin/chromium ]; then
  echo "installing postgresql, chromium, chromium-driver (Debian packages)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql chromium chromium-driver >/dev/null
fi
# Go and Debian's copy of golang.org/x/mod (sumdb/note): the third-party verifier the tests
# run on the service's checkpoints (tests/tools/note-verify, built offline in GOPATH mode).
if ! command -v go >/dev/null 2>&1 || ! [ -f /usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go ]; then
  echo "installing golang-go, golang-golang-x-mod-dev (Debian packages)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends golang-go golang-golang-x-mod-dev >/dev/null
fi
scripts/install-onnxruntime.sh
# The passkey tests' software authenticator (python-fido2 from PyPI, in ./.venv).
scripts/install-test-python.sh

# A throwaway PostgreSQL on loopback, in a temp dir, stopped on exit.
PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
PGTMP=$(mktemp -d /tmp/trustline-pg.XXXXXX)
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUNAS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$PGTMP"; RUNAS=(runuser -u postgres --); fi
stop_pg() {
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap stop_pg EXIT
"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w \
  -o "-k $PGTMP -p $PGPORT -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c synchronous_commit=on" start >/dev/null
export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:${PGPORT}/postgres"
echo "throwaway PostgreSQL on 127.0.0.1:${PGPORT}"

# Unit, integration and end-to-end tests (doc tests are not used: examples live in tests/).
LOG="$PGTMP/cargo-test.log"
set +e
cargo test --locked --no-fail-fast --lib --bins --tests "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

# Browser tests (tests/e2e): real headless Chromium, a real OpenID provider (npm
# oidc-provider) and the real binary, on loopback. Run with the whole suite (no arguments).
# The binary is copied out of the (possibly shared) target dir before use.
e2e_status=0
if [ "$status" = 0 ] && [ "$#" = 0 ]; then
  cargo build --locked --bin trustline
  E2E_BIN="$PGTMP/trustline"
  cp "${CARGO_TARGET_DIR:-target}/debug/trustline" "$E2E_BIN"
  (cd tests/e2e && npm ci --no-audit --no-fund --silent)
  set +e
  (cd tests/e2e && TRUSTLINE_BIN="$E2E_BIN" node --test --test-concurrency=1 --test-reporter=spec run.mjs) 2>&1 \
    | tee "$PGTMP/e2e.log"
  e2e_status=${PIPESTATUS[0]}
  set -e
fi
sqlite=$(grep -cE '::sqlite \.\.\. ok$' "$LOG" || true)
postgres=$(grep -cE '::postgres \.\.\. ok$' "$LOG" || true)
echo "backend tests passed: sqlite ${sqlite}, postgresql ${postgres}"
browser_pass=0
browser_fail=0
if [ "$status" = 0 ] && [ "$#" = 0 ]; then
  browser_pass=$(awk '/^ℹ pass / { print $3 }' "$PGTMP/e2e.log" | tail -1)
  browser_fail=$(awk '/^ℹ fail / { print $3 }' "$PGTMP/e2e.log" | tail -1)
  echo "browser tests: ${browser_pass:-0} passed, ${browser_fail:-0} failed"
fi
# The closing line counts cargo tests and browser tests together.
awk -v bp="${browser_pass:-0}" -v bf="${browser_fail:-0}" \
  '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
   END { printf "tests: %d passed, %d failed\n", p + bp, f + bf }' "$LOG"
[ "$status" = 0 ] || exit "$status"
exit "$e2e_status"
