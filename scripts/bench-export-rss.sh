#!/usr/bin/env bash
# Export benchmark: resident memory of the trustline process while a compliance officer
# downloads the whole log (1 M entries by default) as JSON Lines and as CSV from the console.
#
#   scripts/bench-export-rss.sh            # ENTRIES=1000000 by default; SQLite in a temp dir
#
# 1. `trustline bench ledger` appends ENTRIES real entries (hash chain, group commit) to a
#    fresh tenant; 2. a staff session row is written for that tenant (the console's login is
#    tested elsewhere); 3. `trustline serve` starts; after one warm-up export of a small range
#    its RSS is the baseline; 4. each full export is read by a client in this script while the
#    server's VmRSS is sampled every 10 ms from /proc. Target (DESIGN.md): RSS grows <= 30 MB,
#    >= 100,000 rows/s. Figures are printed (JSON), never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-onnxruntime.sh >/dev/null
cargo build --release --locked --quiet --bin trustline
WORK=$(mktemp -d /tmp/trustline-export-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Copy out of the (possibly shared) target dir so a concurrent build cannot swap it.
cp "${CARGO_TARGET_DIR:-target}/release/trustline" "$WORK/trustline"
python3 - "$WORK" "${ENTRIES:-1000000}" <<'PY'
import hashlib, json, os, secrets, socket, sqlite3, subprocess, sys, threading, time, urllib.request
work, entries = sys.argv[1], int(sys.argv[2])
binary = os.path.join(work, "trustline")
data = os.path.join(work, "data")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

port = free_port()
base = f"http://127.0.0.1:{port}"
env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTLINE_") and k != "DATABASE_URL"}
env.update(TRUSTLINE_DATA_DIR=data, TRUSTLINE_LISTEN=f"127.0.0.1:{port}", TRUSTLINE_PUBLIC_URL=base,
           TRUSTLINE_COOKIE_SECURE="false", TRUSTLINE_LOG_FORMAT="json", RUST_LOG="warn")

t = time.perf_counter()
seeded = subprocess.run([binary, "bench", "ledger", "--writers", "64", "--appends", str(entries),
                         "--unbatched-appends", "1", "--proof-entries", "1"],
                        env=env, check=True, capture_output=True, text=True)
seed_seconds = time.perf_counter() - t
db = sqlite3.connect(os.path.join(data, "trustline.db"))
tenant, size = db.execute("SELECT tenant_id, size FROM ledger_tips ORDER BY size DESC LIMIT 1").fetchone()
token = secrets.token_urlsafe(32)
db.execute("INSERT INTO web_sessions (session_hash, tenant_id, realm, subject, roles, csrf_token, created_at, expires_at) "
           "VALUES (?, ?, 'staff', 'bench-officer', 'compliance_officer', ?, ?, ?)",
           (hashlib.sha256(token.encode()).hexdigest(), tenant, secrets.token_urlsafe(16),
            int(time.time() * 1000), int(time.time() * 1000) + 3600_000))
db.commit(); db.close()

server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:
                if r.status == 200: break
        except Exception:
            time.sleep(0.05)

    def rss_mb():
        with open(f"/proc/{server.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def get(path):
        req = urllib.request.Request(base + path, headers={"cookie": f"tl_session={token}"})
        return urllib.request.urlopen(req, timeout=600)

    # Warm-up: one small export (allocator pools, first queries, page code paths).
    with get("/console/export.jsonl?to=1970-01-02") as r:
        r.read()
    time.sleep(0.5)
    results = []
    for fmt in ("jsonl", "csv"):
        baseline = rss_mb()
        peak = [baseline]
        done = threading.Event()
        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb()); time.sleep(0.01)
        sampler = threading.Thread(target=sample); sampler.start()
        rows = nbytes = 0
        t = time.perf_counter()
        with get(f"/console/export.{fmt}") as r:
            while True:
                chunk = r.read(1 << 20)
                if not chunk: break
                nbytes += len(chunk); rows += chunk.count(b"\n")
        seconds = time.perf_counter() - t
        done.set(); sampler.join()
        if fmt == "csv": rows -= 1  # header line
        results.append({"format": fmt, "rows": rows, "bytes": nbytes, "seconds": round(seconds, 2),
                        "rows_per_sec": round(rows / seconds), "rss_baseline_mb": round(baseline, 1),
                        "rss_peak_mb": round(peak[0], 1), "rss_growth_mb": round(peak[0] - baseline, 1)})
    print(json.dumps({"tool": "scripts/bench-export-rss.sh", "backend": "sqlite", "log_entries": size,
                      "seed_seconds": round(seed_seconds, 1), "seed": [json.loads(l) for l in seeded.stdout.splitlines()[:1]],
                      "exports": results}, indent=1))
finally:
    server.terminate(); server.wait(timeout=30)
PY
