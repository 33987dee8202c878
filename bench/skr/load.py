#!/usr/bin/env python3
"""load.py - the measuring half of bench/skr/run.sh (python3 standard library only).

Starts skr instances itself (the environment that points skr at azure-emu comes from run.sh),
talks to them over their Unix socket with keep-alive connections (one per client thread), and
prints a markdown report. See README.md for what each number means.
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def request(conn, method, path, body=None):
    conn.request(method, path, body=body,
                 headers={"Content-Type": "application/json"} if body else {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def percentile(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Skr:
    """One skr process on a Unix socket (plus a kernel-chosen TCP port)."""

    def __init__(self, args, name, pool):
        self.sock = os.path.join(args.work, "bench-%s.sock" % name)
        env = dict(os.environ)
        env["SKR_KEY_POOL"] = str(pool)
        self.log = open(os.path.join(args.work, "bench-%s.log" % name), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([args.skr, "-port", "0", "-socket", self.sock],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = t0 + 30
        while True:
            if self.proc.poll() is not None:
                sys.exit("skr exited during start-up (see %s)" % self.log.name)
            try:
                conn = UnixConnection(self.sock, timeout=5)
                status, _ = request(conn, "GET", "/status")
                conn.close()
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("skr not ready within 30 s")
            time.sleep(0.002)
        self.ready_ms = (time.monotonic() - t0) * 1000.0

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.log.close()
        if rc != 0:
            sys.exit("skr exited with %d on SIGTERM" % rc)


def release_body(args):
    return json.dumps({"maa_endpoint": args.maa, "akv_endpoint": args.akv,
                       "kid": args.kid}).encode()


def run_load(skr, args, total, conc):
    """total releases spread over conc threads; returns (latencies ms, wall s)."""
    body = release_body(args)
    lat = []
    errors = []
    lock = threading.Lock()
    counter = [total]

    def worker():
        conn = UnixConnection(skr.sock)
        mine = []
        while True:
            with lock:
                if counter[0] == 0:
                    break
                counter[0] -= 1
            t = time.monotonic()
            try:
                status, data = request(conn, "POST", "/key/release", body)
            except (OSError, http.client.HTTPException) as e:
                status, data = 0, str(e).encode()
                conn.close()
                conn = UnixConnection(skr.sock)
            mine.append((time.monotonic() - t) * 1000.0)
            if status != 200:
                errors.append("%d %s" % (status, data[:200]))
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    if errors:
        sys.exit("%d failed releases, first: %s" % (len(errors), errors[0]))
    return lat, wall


ACCESS = re.compile(r'svc=(\w+) method=(\w+) host=\S+ path=(\S+) status=(\d+) ms=(\d+)')


def emu_ms(log_path, offset):
    """Handler time the emulator logged since offset: (maa ms, akv ms, other ms), new offset."""
    maa = akv = other = 0
    with open(log_path, "rb") as f:
        f.seek(offset)
        data = f.read()
    for line in data.decode(errors="replace").splitlines():
        m = ACCESS.search(line)
        if not m or "module=access" not in line:
            continue
        svc, path, ms = m.group(1), m.group(3), int(m.group(5))
        if svc == "maa" and path.lower().startswith("/attest/"):
            maa += ms
        elif svc in ("akv", "mhsm") and path.endswith("/release"):
            akv += ms
        elif not path.startswith("/emu/"):
            other += ms
    return maa, akv, other, offset + len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skr", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--emu-log", required=True)
    ap.add_argument("--maa", required=True)
    ap.add_argument("--akv", required=True)
    ap.add_argument("--kid", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n1", type=int, default=20, help="releases per run at concurrency 1")
    ap.add_argument("--n8", type=int, default=64, help="releases per run at concurrency 8")
    ap.add_argument("--rss-releases", type=int, default=1000)
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()

    out = []
    # ---- start-up and memory ----
    ready = []
    for i in range(args.starts):
        s = Skr(args, "start%d" % i, 0)
        ready.append(s.ready_ms)
        s.stop()
    out.append("| metric | value |")
    out.append("|---|---|")
    out.append("| start-to-ready (spawn to first `/status` 200), median / max of %d | %.1f / %.1f ms |"
               % (len(ready), statistics.median(ready), max(ready)))
    s = Skr(args, "rss", 0)
    time.sleep(1.0)
    idle = rss_kib(s.proc.pid)
    run_load(s, args, args.rss_releases, 8)
    time.sleep(0.5)
    after = rss_kib(s.proc.pid)
    run_load(s, args, args.rss_releases // 5, 8)
    after2 = rss_kib(s.proc.pid)
    s.stop()
    out.append("| RSS idle | %.1f MiB |" % (idle / 1024.0))
    out.append("| RSS after %d releases (concurrency 8) / after %d more | %.1f / %.1f MiB |"
               % (args.rss_releases, args.rss_releases // 5, after / 1024.0, after2 / 1024.0))
    rss_at = len(out)
    rss_rows = []
    out.append("")

    # ---- latency ----
    out.append("| SKR_KEY_POOL | concurrency | releases | p50 ms | p99 ms | run p50s ms | "
               "releases/s | emulator ms/release (MAA + AKV) | emulator share of p50 |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for pool in (0, args.pool):
        s = Skr(args, "lat%d" % pool, pool)
        time.sleep(1.0)
        pool_rss = [rss_kib(s.proc.pid)]
        run_load(s, args, 4, 1)  # warm-up: token cache, first keys
        time.sleep(0.2)
        offset = os.path.getsize(args.emu_log)
        for conc, n in ((1, args.n1), (8, args.n8)):
            allx, p50s, walls, em = [], [], [], [0, 0]
            for _ in range(args.runs):
                if pool:
                    time.sleep(1.5)  # let the pool refill between runs
                _, _, _, offset = emu_ms(args.emu_log, offset)
                lat, wall = run_load(s, args, n, conc)
                time.sleep(0.2)
                maa, akv, _, offset = emu_ms(args.emu_log, offset)
                em[0] += maa
                em[1] += akv
                allx.extend(lat)
                p50s.append(statistics.median(lat))
                walls.append(n / wall)
            per = (em[0] + em[1]) / float(len(allx))
            p50 = statistics.median(allx)
            out.append("| %d | %d | %d | %.1f | %.1f | %s | %.1f | %.1f (%.1f + %.1f) | %.0f%% |"
                       % (pool, conc, len(allx), p50, percentile(allx, 99),
                          " / ".join("%.0f" % x for x in p50s), statistics.median(walls), per,
                          em[0] / float(len(allx)), em[1] / float(len(allx)),
                          100.0 * per / p50))
        pool_rss.append(rss_kib(s.proc.pid))
        s.stop()
        rss_rows.append("| RSS idle / after the latency runs, SKR_KEY_POOL=%d | %.1f / %.1f MiB |"
                        % (pool, pool_rss[0] / 1024.0, pool_rss[1] / 1024.0))
    out[rss_at:rss_at] = rss_rows
    print("\n".join(out))


if __name__ == "__main__":
    main()
