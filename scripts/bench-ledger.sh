#!/usr/bin/env bash
# Ledger benchmark: durable appends/s (with and without group commit) on SQLite and on a
# throwaway PostgreSQL (fsync=on, synchronous_commit=on), plus proof construction at 1 M
# entries. Figures are printed as JSON lines. Usage: scripts/bench-ledger.sh [bench args...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin trustline
BIN=${CARGO_TARGET_DIR:-target}/release/trustline
# A private copy: a shared target dir may be rebuilt by another checkout while this runs.
WORK=$(mktemp -d /tmp/trustline-bench.XXXXXX)
cp "$BIN" "$WORK/trustline"
BIN="$WORK/trustline"

echo "== SQLite (WAL, synchronous=FULL) on $(df -P "$WORK" | awk 'NR==2 {print $1}')"
TRUSTLINE_DATA_DIR="$WORK/sqlite" TRUSTLINE_LOG_FORMAT=json RUST_LOG=warn "$BIN" bench ledger "$@"

PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUNAS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; RUNAS=(runuser -u postgres --); fi
stop_pg() {
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap stop_pg EXIT
"${RUNAS[@]}" "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
  -o "-k $WORK -p $PGPORT -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on" start >/dev/null
echo "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (fsync=on, synchronous_commit=on)"
DATABASE_URL="postgres://postgres@127.0.0.1:${PGPORT}/postgres" TRUSTLINE_DATA_DIR="$WORK/pgdata" \
  TRUSTLINE_LOG_FORMAT=json RUST_LOG=warn "$BIN" bench ledger --proof-entries 1024 "$@"
