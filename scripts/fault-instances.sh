#!/usr/bin/env bash
# Several instances with faults (issue 15), not part of CI: three `trustline serve` processes on
# one throwaway PostgreSQL (started here, on its own port: never the shared test server).
#
# 1. Scaling: wrk (Debian) drives POST /v1/sessions over 1, 2 and 3 instances; prints req/s
#    and p99 per configuration.
# 2. Faults: scripts/abuse/fault_load.py drives decisions, consent grants and withdrawals, PIN
#    attempts and recovery-code submissions (each code twice, on two instances) over all three
#    while instance 2 is SIGKILLed and restarted and PostgreSQL is restarted once.
# 3. Checks: every acknowledged decision, grant and withdrawal is in the log; `audit verify`
#    passes; one gapless order per tenant; the PIN lockout counter matches the acknowledged
#    failures; no recovery code was accepted twice.
#
# usage: scripts/fault-instances.sh [LOAD_SECONDS=40] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
LOAD_SECONDS="${1:-40}"; PROFILE="${2:-}"
scripts/install-onnxruntime.sh >/dev/null
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || apt-get install -y -qq postgresql >/dev/null
PGBIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -1)")"
if [ "$PROFILE" = "--release" ]; then
  cargo build --release --locked --quiet --bin trustline; BIN="$PWD/target/release/trustline"
else
  cargo build --locked --quiet --bin trustline; BIN="$PWD/target/debug/trustline"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK="$(mktemp -d)"; chown postgres "$WORK"
PGPORT="$(free_port)"
cleanup() {
  for f in "$WORK"/i*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
pg() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
  -o "-k $WORK -p $PGPORT -c listen_addresses=127.0.0.1 -c max_connections=300" "$@" >/dev/null; }
pg start
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export TRUSTLINE_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
export TRUSTLINE_LOG_FORMAT=json TRUSTLINE_DATABASE_CONNECT_ATTEMPTS=60
# The load would otherwise be throttled by the default per-key limit (6,000/min).
export TRUSTLINE_RATE_LIMIT_PER_KEY=100000000 TRUSTLINE_RATE_LIMIT_PER_CUSTOMER=100000000
psql() { "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -At "$@"; }

declare -A PORT PID
for n in 1 2 3; do PORT[$n]="$(free_port)"; done
start_instance() {
  local n=$1
  mkdir -p "$WORK/i$n"
  TRUSTLINE_DATA_DIR="$WORK/i$n" TRUSTLINE_LISTEN="127.0.0.1:${PORT[$n]}" \
    "$BIN" serve >>"$WORK/i$n.out" 2>>"$WORK/i$n.log" &
  PID[$n]=$!; echo "$!" > "$WORK/i$n.pid"
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:${PORT[$n]}/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "instance $n did not become ready" >&2; tail -5 "$WORK/i$n.log" >&2; exit 1
}
stop_instance() { kill "${PID[$1]}" 2>/dev/null || true; wait "${PID[$1]}" 2>/dev/null || true; }

start_instance 1
KEY="$(grep -o 'tlk_[A-Za-z0-9_-]*' "$WORK/i1.out" | head -1)"
[ -n "$KEY" ] || { echo "no demo key printed" >&2; exit 1; }
start_instance 2; start_instance 3
echo "binary: $BIN; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $PGPORT"

echo "== scaling: wrk, POST /v1/sessions (chat, no evidence), 10 s per configuration"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $KEY"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/sessions", nil, '{"customer_ref":"w-' .. (n % 100) .. '","channel":"chat"}')
end
LUA
printf '%-10s %12s %10s %10s\n' instances requests/s p99_ms non2xx
for count in 1 2 3; do
  conns=$((48 / count)); WRKS=()
  for n in $(seq 1 "$count"); do
    wrk -t1 -c"$conns" -d10s --latency -s "$WORK/post.lua" "http://127.0.0.1:${PORT[$n]}" \
      >"$WORK/wrk-$count-$n.txt" 2>&1 &
    WRKS+=("$!")
  done
  wait "${WRKS[@]}"
  python3 - "$count" "$WORK" <<'PY'
import re, sys, glob
count, work = sys.argv[1], sys.argv[2]
rps, p99, bad = 0.0, 0.0, 0
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
for f in sorted(glob.glob(f"{work}/wrk-{count}-*.txt")):
    t = open(f).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
    p99 = max(p99, ms(*m.groups()))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    bad += int(m.group(1)) if m else 0
print(f"{count:<10} {rps:12.1f} {p99:10.1f} {bad:10d}")
PY
done

echo "== faults: ${LOAD_SECONDS} s of mixed load over 3 instances"
(
  sleep "$(echo "$LOAD_SECONDS / 4" | bc)"
  echo "fault: SIGKILL instance 2 at +$(echo "$LOAD_SECONDS / 4" | bc) s"; kill -9 "${PID[2]}"
  sleep 3
  echo "fault: restart instance 2"; start_instance 2
  sleep "$(echo "$LOAD_SECONDS / 4" | bc)"
  echo "fault: restart PostgreSQL (fast shutdown)"; pg -m fast restart
) &
FAULTS=$!
python3 scripts/abuse/fault_load.py "$WORK/report.json" "$LOAD_SECONDS" "$KEY" \
  "http://127.0.0.1:${PORT[1]}" "http://127.0.0.1:${PORT[2]}" "http://127.0.0.1:${PORT[3]}"
wait "$FAULTS"

echo "== checks"
psql -c "SELECT session_id FROM ledger_entries WHERE kind = 'decision'" > "$WORK/logged_sessions"
psql -c "SELECT idx || ' ' || kind || ' ' || encode(leaf_hash, 'hex') FROM ledger_entries" > "$WORK/entries"
psql -c "SELECT l.tenant_id || ' ' || COUNT(*) || ' ' || MIN(l.idx) || ' ' || MAX(l.idx) || ' ' || t.size \
  FROM ledger_entries l JOIN ledger_tips t ON t.tenant_id = l.tenant_id GROUP BY l.tenant_id, t.size" > "$WORK/orders"
PIN_CUSTOMER="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pin_customer"])' "$WORK/report.json")"
psql -c "SELECT COALESCE(MAX(failures), 0) FROM lockout_factor WHERE customer_ref = '$PIN_CUSTOMER' AND factor = 'pin'" > "$WORK/pin_counter"
set +e
"$BIN" audit verify > "$WORK/verify.txt" 2>&1
VERIFY=$?
set -e
python3 - "$WORK" "$VERIFY" <<'PY'
import json, sys
work, verify = sys.argv[1], int(sys.argv[2])
r = json.load(open(f"{work}/report.json"))
logged = set(open(f"{work}/logged_sessions").read().split())
entries = {}
for line in open(f"{work}/entries"):
    idx, kind, leaf = line.split()
    entries.setdefault(int(idx), []).append((kind, leaf))
def logged_at(index, kind):
    return any(k == kind for k, _ in entries.get(index, []))
missing_sessions = [s for s in r["sessions"] if s not in logged]
missing_grants = [g for g in r["grants"] if not logged_at(g["index"], "consent_granted")]
missing_withdrawals = [w for w in r["withdrawals"] if not logged_at(w["index"], "consent_withdrawn")]
gapless = True
for line in open(f"{work}/orders"):
    tenant, count, lo, hi, size = line.split()
    gapless &= int(lo) == 0 and int(hi) == int(count) - 1 and int(size) == int(count)
counter = int(open(f"{work}/pin_counter").read().strip() or 0)
lo, hi = r["pin_failures_acked"], r["pin_failures_acked"] + r["pin_attempts_unacked"]
twice = sum(1 for v in r["recovery_accepts"].values() if v > 1)
rows = [
    ("decisions acknowledged / in log", len(r["sessions"]), len(r["sessions"]) - len(missing_sessions)),
    ("grants acknowledged / in log", len(r["grants"]), len(r["grants"]) - len(missing_grants)),
    ("withdrawals acknowledged / in log", len(r["withdrawals"]), len(r["withdrawals"]) - len(missing_withdrawals)),
]
print(f"{'check':40} {'acknowledged':>12} {'found':>8}")
for name, a, f in rows:
    print(f"{name:40} {a:12d} {f:8d}")
print(f"{'PIN failures acknowledged / counter':40} {lo:12d} {counter:8d}   (unacknowledged attempts: {r['pin_attempts_unacked']})")
print(f"recovery codes tried: {len(r['recovery_accepts'])}, accepted twice: {twice}")
print(f"one gapless order per tenant: {gapless}")
print(f"audit verify: {'passed' if verify == 0 else 'FAILED'}")
print(f"errors seen by the load (not acknowledged): {r['errors']}")
ok = not (missing_sessions or missing_grants or missing_withdrawals) and gapless and verify == 0 \
    and twice == 0 and lo <= counter <= hi
print("RESULT:", "all checks passed" if ok else "CHECKS FAILED")
sys.exit(0 if ok else 1)
PY
