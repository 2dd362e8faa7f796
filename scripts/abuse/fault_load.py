#!/usr/bin/env python3
"""Load over several trustline instances while faults happen (issue 15), then check.

Workers round-robin over the instances and drive: decisions (POST /v1/sessions), consent grants
and withdrawals, PIN attempts on one customer (lockout counters), and recovery-code submissions,
each code submitted twice on two different instances (single use). Every acknowledged answer is
recorded in a JSON report; `fault-instances.sh` checks it against the database afterwards.
Standard library only.

usage: fault_load.py REPORT.json SECONDS KEY URL [URL...]
"""
import concurrent.futures
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request


def call(base, key, method, path, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("authorization", "Bearer " + key)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None
    except (OSError, ValueError):
        return None, None  # connection refused/reset, timeout: not acknowledged


def main():
    report_path, seconds, key, urls = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
    run = str(int(time.time()))
    lock = threading.Lock()
    acked = {"sessions": [], "grants": [], "withdrawals": [], "pin_failures_acked": 0,
             "pin_attempts_unacked": 0, "recovery_accepts": {}, "errors": {}, "latencies_ms": []}

    def note_error(what, status):
        with lock:
            k = f"{what}:{status}"
            acked["errors"][k] = acked["errors"].get(k, 0) + 1

    # Setup (retried: an instance may be down).
    def setup(method, path, body=None):
        for _ in range(50):
            status, v = call(random.choice(urls), key, method, path, body)
            if status is not None and status < 500:
                return status, v
            time.sleep(0.2)
        raise SystemExit(f"setup {path} failed")

    pin_customer = f"pin-{run}"
    setup("PUT", f"/v1/customers/{pin_customer}", {"methods": ["code_only"]})
    assert setup("PUT", f"/v1/customers/{pin_customer}/factors/pin", {"pin": "493817"})[0] == 204
    codes = []
    for i in range(8):
        cref = f"rc-{run}-{i}"
        setup("PUT", f"/v1/customers/{cref}", {"methods": ["code_only"]})
        _, v = setup("POST", f"/v1/customers/{cref}/factors/recovery_codes", {})
        codes += [(cref, c) for c in v["codes"]]
    random.shuffle(codes)
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    def decision(i):
        url = urls[i % len(urls)]
        t = time.monotonic()
        status, v = call(url, key, "POST", "/v1/sessions",
                         {"customer_ref": f"d-{run}-{i % 50}", "channel": "chat"})
        if status == 201:
            with lock:
                acked["sessions"].append(v["session_id"])
                acked["latencies_ms"].append((time.monotonic() - t) * 1000)
        else:
            note_error("decision", status)

    def consent(i):
        url = urls[i % len(urls)]
        cref = f"cs-{run}-{i}"
        # A grant is for a registered customer (404 `customer_not_found` otherwise).
        status, _ = call(url, key, "PUT", f"/v1/customers/{cref}", {"methods": ["voiceprint"]})
        if status not in (200, 201):
            note_error("register", status)
            return
        status, v = call(url, key, "POST", "/v1/consents", {
            "customer_ref": cref, "purpose": "voiceprint_enrolment", "notice_version": "1.0.0",
            "capture": {"method": "dtmf", "ivr_call_id": f"call-{i}"}})
        if status != 201:
            note_error("grant", status)
            return
        with lock:
            acked["grants"].append({"consent_id": v["consent"]["consent_id"],
                                    "index": v["log"]["index"], "leaf_hash": v["log"]["leaf_hash"]})
        url = urls[(i + 1) % len(urls)]
        status, w = call(url, key, "POST", "/v1/consents/withdrawals",
                         {"customer_ref": cref, "purpose": "voiceprint_enrolment", "method": "dtmf"})
        if status == 200 and w.get("withdrawn"):
            with lock:
                acked["withdrawals"].append({"consent_id": w["withdrawn"][0]["consent_id"],
                                             "index": w["withdrawn"][0]["log_index"]})
        else:
            note_error("withdraw", status)

    def pin(i):
        url = urls[i % len(urls)]
        status, v = call(url, key, "POST", "/v1/sessions",
                         {"customer_ref": pin_customer, "channel": "voice"})
        if status != 201:
            return
        status, v = call(urls[(i + 1) % len(urls)], key, "POST",
                         f"/v1/sessions/{v['session_id']}/factors/pin", {"code": "000000"})
        with lock:
            if status == 200:
                acked["pin_failures_acked"] += 1
            elif status is None or status >= 500:
                acked["pin_attempts_unacked"] += 1

    def recovery(i):
        if not codes:
            return
        with lock:
            if not codes:
                return
            cref, code = codes.pop()
        results = []

        def submit(url):
            status, v = call(url, key, "POST", "/v1/sessions", {"customer_ref": cref, "channel": "chat"})
            if status != 201:
                return None
            return call(url, key, "POST", f"/v1/sessions/{v['session_id']}/factors/recovery_code",
                        {"code": code})
        with concurrent.futures.ThreadPoolExecutor(2) as two:
            results = list(two.map(submit, [urls[i % len(urls)], urls[(i + 1) % len(urls)]]))
        accepted = sum(1 for r in results if r and r[0] == 200 and r[1]["decision"]["outcome"] == "verified")
        with lock:
            acked["recovery_accepts"][f"{cref}/{code[:3]}"] = accepted

    kinds = [decision] * 6 + [consent] * 2 + [pin, recovery]

    def worker():
        while time.monotonic() < deadline:
            i = next(counter)
            kinds[i % len(kinds)](i)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for f in [pool.submit(worker) for _ in range(16)]:
            f.result()
    acked["elapsed_s"] = time.monotonic() - started
    acked["pin_customer"] = pin_customer
    with open(report_path, "w") as f:
        json.dump(acked, f)
    lat = sorted(acked["latencies_ms"])
    p99 = lat[int(len(lat) * 0.99) - 1] if lat else None
    print(json.dumps({"sessions": len(acked["sessions"]), "grants": len(acked["grants"]),
                      "withdrawals": len(acked["withdrawals"]),
                      "pin_failures_acked": acked["pin_failures_acked"],
                      "codes_tried": len(acked["recovery_accepts"]),
                      "codes_accepted_twice": sum(1 for v in acked["recovery_accepts"].values() if v > 1),
                      "decisions_per_s": round(len(lat) / acked["elapsed_s"], 1),
                      "decision_p99_ms": p99 and round(p99, 1), "errors": acked["errors"]}))


if __name__ == "__main__":
    main()
