#!/usr/bin/env bash
# Load figure for POST /v1/sessions with keystroke-only evidence, on loopback, release build,
# on SQLite (WAL, synchronous=FULL) and on a throwaway PostgreSQL (fsync=on,
# synchronous_commit=on). Every request: API-key check, one read of the tenant + customer
# state, the decision, and one durable commit (the session row and its ledger entry in the
# ledger's group-commit batch), acknowledged only after that commit.
#
# Tool: wrk (Debian package `wrk`), -t2 --latency for the percentiles. wrk runs on the same
# 2-core machine as the server, so the figure includes its CPU.
#
# Baseline, in the same run and with the same wrk settings and body: `trustline bench
# bare-http` (bare axum, one group-committed durable insert per request, same database
# settings) on a fresh database of the same backend; the last lines print decisions/s divided
# by the baseline's requests/s.
#
# Usage: scripts/load-sessions.sh [--backend sqlite|postgres|both] [--scored] [--profile]
#                                 [--connections N] [--seconds S] [--bin PATH]
#   --profile samples the service during the measured run with `perf record` (Debian package
#             `linux-perf`; cpu-clock, 999 Hz, whole system so wrk and the database count
#             too) and prints where the time goes: per process/DSO and the top symbols.
#   --scored  enrol the customer's free-text typing profile first (consent granted through the
#             privacy centre, as the customer would), so every request runs the keystroke model;
#             without it the customer has no profile and the sample is not scored
#             (reason keystroke_free_not_enrolled).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=both
SCORED=0
PROFILE=0
CONNS=32
SECS=20
BIN=${CARGO_TARGET_DIR:-target}/release/trustline
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKENDS=$2; shift 2 ;;
    --scored) SCORED=1; shift ;;
    --profile) PROFILE=1; shift ;;
    --connections) CONNS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$BACKENDS" in sqlite|postgres) ;; both) BACKENDS="sqlite postgres" ;;
  *) echo "--backend is sqlite, postgres or both" >&2; exit 2 ;; esac

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
if [ ! -x "$BIN" ]; then
  echo "building the release binary…"
  cargo build --release --locked --bin trustline
fi
scripts/install-onnxruntime.sh >/dev/null
# `wrk -v` prints "wrk debian/4.1.0-3+b2 [epoll] …" and exits 1.
WRK_VERSION=$( (wrk -v 2>&1 || true) | head -1 | awk '{sub(".*/", "", $2); print "wrk-" $2}')

WORK=$(mktemp -d /tmp/trustline-load.XXXXXX)
PIDS=()
PGBIN="" PGTMP="" RUNAS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$PGTMP" ]; then
    "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A throwaway PostgreSQL on loopback, as scripts/test.sh starts it.
start_postgres() {
  PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
  PGTMP=$(mktemp -d /tmp/trustline-loadpg.XXXXXX)
  PGPORT=$(free_port)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGTMP"; RUNAS=(runuser -u postgres --); fi
  "${RUNAS[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres >/dev/null
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w \
    -o "-k $PGTMP -p $PGPORT -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c synchronous_commit=on" \
    start >/dev/null
  echo "throwaway PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT (fsync=on, synchronous_commit=on)"
}

# 60 keystrokes of free text as the chat widget sends them (press/release ms, key class);
# `n` keystrokes per segment, `segments` segments.
keystrokes() {
  python3 - "$1" "$2" <<'PY'
import json, sys
n, segments = int(sys.argv[1]), int(sys.argv[2])
classes = ["left_top", "right_home", "space", "left_home", "right_top", "left_bottom",
           "right_bottom", "modifier", "edit"]
out = []
for s in range(segments):
    events, t = [], 0.0
    for k in range(n):
        t += 150 + 30 * ((k * 7 + s) % 5)
        events.append({"press_ms": t, "release_ms": t + 80 + ((k * 3) % 4) * 10,
                       "class": classes[(k * 5 + s) % len(classes)]})
    out.append(events)
print(json.dumps(out))
PY
}

# wrk script posting file $2 with API key $3, written to $1.
post_lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $3"
local f = io.open("$2", "r")
wrk.body = f:read("*a")
f:close()
LUA
}

run_one() {
  local backend=$1 dir="$WORK/$1" port db_url
  mkdir -p "$dir"
  port=$(free_port)
  if [ "$backend" = postgres ]; then
    [ -n "$PGTMP" ] || start_postgres
    "${RUNAS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE load_$$" >/dev/null
    db_url="postgres://postgres@127.0.0.1:$PGPORT/load_$$"
  else
    db_url="sqlite://$dir/trustline.db?mode=rwc"
  fi
  local base=http://127.0.0.1:$port
  (
    export TRUSTLINE_DATA_DIR=$dir TRUSTLINE_LISTEN=127.0.0.1:$port TRUSTLINE_LOG_FORMAT=json \
      RUST_LOG=${RUST_LOG:-warn} DATABASE_URL=$db_url TRUSTLINE_PUBLIC_URL=$base
    "$BIN" migrate >/dev/null
    "$BIN" tenant create --id shop --name "Load Shop" --sector retail >/dev/null
    "$BIN" api-key create --tenant shop --scopes "sessions enrol" --label load \
      | sed -n 's/^API key (shown once, store it now): //p' > "$dir/key"
    exec "$BIN" serve > "$dir/serve.log" 2>&1
  ) &
  PIDS+=($!)
  local server_pid=$!
  for _ in $(seq 1 300); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "$base/healthz" >/dev/null || { echo "server did not start:"; tail "$dir/serve.log"; exit 1; }
  local key
  key=$(cat "$dir/key")
  curl -fs -X PUT "$base/v1/customers/c-load" -H "authorization: Bearer $key" \
    -H 'content-type: application/json' -d '{"methods":["typing"]}' >/dev/null
  # A PIN, so the decision has a step-up to offer (the same customer in every request).
  curl -fs -X PUT "$base/v1/customers/c-load/factors/pin" -H "authorization: Bearer $key" \
    -H 'content-type: application/json' -d '{"pin":"482916"}' >/dev/null
  if [ "$SCORED" = 1 ]; then
    # The customer's own consent, through the privacy centre (a signed single-use link, the
    # session cookie, the form's CSRF token), then a 300-keystroke free-text enrolment.
    local link cookie csrf
    link=$(curl -fs -X POST "$base/v1/customers/c-load/privacy-link" -H "authorization: Bearer $key" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
    cookie=$(curl -s -o /dev/null -D - "$link" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
    csrf=$(curl -fs -H "cookie: $cookie" "$base/privacy" \
      | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
    curl -fs -o /dev/null -H "cookie: $cookie" -H "origin: $base" \
      --data-urlencode "csrf=$csrf" --data-urlencode purpose=keystroke_enrolment --data-urlencode action=grant \
      "$base/privacy/consents"
    printf '{"segments": %s}' "$(keystrokes 50 6)" > "$dir/enrol.json"
    curl -fs -X PUT "$base/v1/customers/c-load/keystroke/free" -H "authorization: Bearer $key" \
      -H 'content-type: application/json' --data-binary @"$dir/enrol.json" >/dev/null \
      || { echo "keystroke enrolment failed"; exit 1; }
  fi
  printf '{"customer_ref": "c-load", "channel": "chat", "evidence": {"keystroke_free": {"segments": %s}}}' \
    "$(keystrokes 60 1)" > "$dir/body.json"
  echo "== $backend: one request:"
  curl -s -X POST "$base/v1/sessions" -H "authorization: Bearer $key" -H 'content-type: application/json' \
    --data-binary @"$dir/body.json" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["decision"]; print(json.dumps({k: d[k] for k in ("outcome","reasons","biometrics")}))'
  post_lua "$dir/post.lua" "$dir/body.json" "$key"
  # A short warm-up (connections, page cache, WAL file), then the measured run.
  wrk -t2 -c"$CONNS" -d3s -s "$dir/post.lua" "$base/v1/sessions" >/dev/null
  echo "wrk -t2 -c$CONNS -d${SECS}s --latency (body $(wc -c < "$dir/body.json") bytes)"
  local load_before load_after
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  local perf_pid=""
  if [ "$PROFILE" = 1 ]; then
    command -v perf >/dev/null || { echo "--profile needs perf: apt-get install linux-perf" >&2; exit 1; }
    perf record -e cpu-clock -F 999 -a -o "$dir/perf.data" -- sleep "$SECS" 2>"$dir/perf.log" &
    perf_pid=$!
  fi
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$dir/post.lua" "$base/v1/sessions" | tee "$dir/wrk.out"
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    echo "== $backend profile: CPU samples per command (whole machine, during the measured run)"
    perf report -i "$dir/perf.data" --stdio --no-children --sort comm 2>/dev/null \
      | grep -E '^ +[0-9]' | head -12
    echo "== $backend profile: top symbols of the trustline process (self time)"
    perf report -i "$dir/perf.data" --stdio --no-children --comm trustline,tokio-runtime-w \
      --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' | head -40
  fi
  echo "status codes seen by the server (metrics):"
  curl -s "$base/metrics" | grep 'trustline_http_requests_total{' | grep '/v1/sessions"' || true
  echo "ledger group commit (batches, entries; seconds in commits):"
  curl -s "$base/metrics" | grep -E '^trustline_ledger_(batch_size|commit_seconds)_(sum|count)' || true
  local rps p99 non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.out")
  echo "RESULT tool=$WRK_VERSION backend=$backend scored=$SCORED connections=$CONNS seconds=$SECS req/s=$rps p99=$p99 non-2xx=${non2xx:-0} loadavg_before=\"$load_before\" loadavg_after=\"$load_after\" cores=$(nproc)"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  SUMMARY+=("$backend trustline req/s=$rps p99=$p99 non-2xx=${non2xx:-0} loadavg=\"$load_before\"")
  run_bare "$backend" "$dir/body.json" "$rps"
}

# The baseline: bare axum + one group-committed durable insert per request, same load.
run_bare() {
  local backend=$1 body=$2 service_rps=$3 dir="$WORK/$1-bare" port db_url
  mkdir -p "$dir"
  port=$(free_port)
  if [ "$backend" = postgres ]; then
    "${RUNAS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE bare_$$" >/dev/null
    db_url="postgres://postgres@127.0.0.1:$PGPORT/bare_$$"
  else
    db_url="sqlite://$dir/bare.db?mode=rwc"
  fi
  local base=http://127.0.0.1:$port
  (
    export TRUSTLINE_DATA_DIR=$dir TRUSTLINE_LISTEN=127.0.0.1:$port RUST_LOG=${RUST_LOG:-warn} \
      DATABASE_URL=$db_url
    exec "$BIN" bench bare-http > "$dir/bare.log" 2>&1
  ) &
  PIDS+=($!)
  local bare_pid=$!
  for _ in $(seq 1 300); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "$base/healthz" >/dev/null || { echo "baseline did not start:"; tail "$dir/bare.log"; exit 1; }
  # The same request bytes as the service got (the baseline ignores the key).
  post_lua "$dir/post.lua" "$body" "$(cat "$WORK/$backend/key")"
  wrk -t2 -c"$CONNS" -d3s -s "$dir/post.lua" "$base/v1/sessions" >/dev/null
  echo "== $backend baseline (bare axum + group-committed durable insert): wrk -t2 -c$CONNS -d${SECS}s --latency"
  local load_before
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$dir/post.lua" "$base/v1/sessions" | tee "$dir/wrk.out"
  local rps p99 non2xx ratio
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.out")
  ratio=$(python3 -c "print(f'{float(\"$service_rps\") / float(\"$rps\"):.3f}')")
  echo "BASELINE tool=$WRK_VERSION backend=$backend connections=$CONNS seconds=$SECS req/s=$rps p99=$p99 non-2xx=${non2xx:-0} loadavg_before=\"$load_before\" ratio_service_to_bare=$ratio"
  SUMMARY+=("$backend bare      req/s=$rps p99=$p99 non-2xx=${non2xx:-0} loadavg=\"$load_before\" ratio=$ratio")
  kill "$bare_pid" 2>/dev/null || true
  wait "$bare_pid" 2>/dev/null || true
}

SUMMARY=()
for b in $BACKENDS; do run_one "$b"; done
echo "== summary ($(nproc) cores, shared machine; wrk on the same cores)"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
