#!/usr/bin/env python3
"""Argon2 memory under a PIN burst (issue 15): RSS of a running `trustline serve` before, at
peak and after N concurrent PIN verifications, each of which runs Argon2id (19 MiB).

Every attempt goes to its own customer (a first, free attempt) so the lockout does not refuse
it before Argon2. Standard library only.

usage: pin_burst.py BASE_URL API_KEY PID [N]
"""
import concurrent.futures
import json
import sys
import time
import urllib.request


def call(base, key, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("authorization", "Bearer " + key)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for pid {pid}")


def main():
    base, key, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 150
    run = str(int(time.time()))
    def setup(i):
        cref = f"burst-{run}-{i}"
        status, body = call(base, key, "PUT", f"/v1/customers/{cref}", {"methods": ["code_only"]})
        assert status in (200, 201, 204), (status, body)
        status, _ = call(base, key, "PUT", f"/v1/customers/{cref}/factors/pin", {"pin": "493817"})
        assert status == 204, status
        status, body = call(base, key, "POST", "/v1/sessions", {"customer_ref": cref, "channel": "voice"})
        assert status == 201, (status, body)
        return json.loads(body)["session_id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        sessions = list(pool.map(setup, range(n)))
    time.sleep(1)
    before = rss_kib(pid, "VmRSS")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        codes = list(pool.map(
            lambda sid: call(base, key, "POST", f"/v1/sessions/{sid}/factors/pin", {"code": "493817"})[0],
            sessions))
    elapsed = time.monotonic() - started
    peak = rss_kib(pid, "VmHWM")
    time.sleep(1)
    after = rss_kib(pid, "VmRSS")
    print(json.dumps({
        "concurrent_pins": n,
        "statuses": {str(c): codes.count(c) for c in sorted(set(codes))},
        "burst_seconds": round(elapsed, 2),
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
    }))


if __name__ == "__main__":
    main()
