#!/usr/bin/env bash
# Start-up benchmark: time from exec to /readyz = 200 with every model loaded, and the
# process's RSS then. Baseline in the same run: the same binary's `--version` (process start
# without models or database). Target (DESIGN.md): <= 2 s, RSS <= 250 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-onnxruntime.sh >/dev/null
cargo build --release --locked --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/trustline
RUNS=${RUNS:-5}
python3 - "$BIN" "$RUNS" <<'PY'
import os, socket, subprocess, sys, tempfile, time, urllib.request, statistics
binary, runs = sys.argv[1], int(sys.argv[2])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

base = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run([binary, "--version"], check=True, capture_output=True); base.append(time.perf_counter() - t)

ready, rss = [], []
for i in range(runs):
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        env = dict(os.environ, TRUSTLINE_LISTEN=f"127.0.0.1:{port}", TRUSTLINE_DATA_DIR=d, TRUSTLINE_LOG_FORMAT="json")
        env.pop("DATABASE_URL", None)
        t = time.perf_counter()
        p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200: break
            except Exception:
                time.sleep(0.01)
            if time.perf_counter() - t > 60: raise SystemExit("not ready after 60 s")
        ready.append(time.perf_counter() - t)
        rss.append(rss_mb(p.pid))
        p.terminate(); p.wait()
print(f"baseline (--version)        median {statistics.median(base)*1000:8.1f} ms")
print(f"serve -> /readyz 200        median {statistics.median(ready)*1000:8.1f} ms  (min {min(ready)*1000:.1f}, max {max(ready)*1000:.1f}, {runs} runs, fresh SQLite each)")
print(f"ratio ready/baseline        {statistics.median(ready)/statistics.median(base):8.1f}x")
print(f"RSS when ready              median {statistics.median(rss):8.1f} MB  (max {max(rss):.1f})")
PY
