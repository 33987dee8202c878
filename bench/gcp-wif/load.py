#!/usr/bin/env python3
"""load.py - the measuring half of bench/gcp-wif/run.sh (python3 standard library only).

Starts gcp-wif processes itself (the environment that points gcp-wif at gcp-emu comes from
run.sh), talks to them over their Unix socket with keep-alive connections (one per client
thread), and prints a markdown report. See README.md for what each number means.
"""
import argparse
import base64
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
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
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
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Wif:
    """One gcp-wif process on a Unix socket; ready_ms = spawn to the first GET /token 200."""

    def __init__(self, args, name):
        self.sock = os.path.join(args.work, "bench-%s.sock" % name)
        self.log = open(os.path.join(args.work, "bench-%s.log" % name), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([args.wif, "--socket", self.sock], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = t0 + 60
        while True:
            if self.proc.poll() is not None:
                sys.exit("gcp-wif exited during start-up (see %s)" % self.log.name)
            status = 0
            try:
                conn = UnixConnection(self.sock, timeout=60)
                status, data = request(conn, "GET", "/token")
                conn.close()
            except OSError:
                pass
            if status == 200:
                break
            if status != 0:
                sys.exit("gcp-wif /token during start-up: %d %s" % (status, data[:300]))
            if time.monotonic() > deadline:
                sys.exit("gcp-wif gave no token within 60 s")
            time.sleep(0.002)
        self.ready_ms = (time.monotonic() - t0) * 1000.0

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.log.close()
        if rc != 0:
            sys.exit("gcp-wif exited with %d on SIGTERM" % rc)


def run_load(wif, method, path, body, total, conc):
    """total requests spread over conc threads; returns (latencies ms, wall s)."""
    lat = []
    errors = []
    lock = threading.Lock()
    counter = [total]

    def worker():
        conn = UnixConnection(wif.sock)
        mine = []
        while True:
            with lock:
                if counter[0] == 0:
                    break
                counter[0] -= 1
            t = time.monotonic()
            try:
                status, data = request(conn, method, path, body)
            except (OSError, http.client.HTTPException) as e:
                status, data = 0, str(e).encode()
                conn.close()
                conn = UnixConnection(wif.sock)
            mine.append((time.monotonic() - t) * 1000.0)
            if status != 200:
                with lock:
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
        sys.exit("%d failed %s, first: %s" % (len(errors), path, errors[0]))
    return lat, wall


ACCESS = re.compile(r'service=kms method=POST path=\S+:asymmetricDecrypt status=200 us=(\d+)')


def emu_decrypt_us(log_path, offset):
    """The emulator's handler times of asymmetricDecrypt calls logged since offset."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        data = f.read()
    return [int(m.group(1)) for m in ACCESS.finditer(data.decode(errors="replace"))]


def fmt(x):
    return "%.2f" % x if x < 10 else "%.1f" % x if x < 100 else "%.0f" % x


def row(name, runs, unit="ms"):
    """runs: list of per-run latency lists -> p50/p99 over all samples, per-run medians."""
    pooled = [x for r in runs for x in r]
    meds = " / ".join(fmt(statistics.median(r)) for r in runs)
    return "| %s | %d | %s | %s | %s %s |" % (name, len(pooled), fmt(percentile(pooled, 50)),
                                           fmt(percentile(pooled, 99)), meds, unit)


def main():
    ap = argparse.ArgumentParser()
    for a in ("--wif", "--work", "--emu-log", "--rsa-version"):
        ap.add_argument(a, required=True)
    for a, d in (("--runs", 5), ("--starts", 5), ("--n1", 2000), ("--n8", 4000), ("--nd", 60)):
        ap.add_argument(a, type=int, default=d)
    args = ap.parse_args()

    # Time to first token: each start is a full quote + verifyAttestation + STS + IAM.
    ready = []
    for i in range(args.starts):
        w = Wif(args, "start%d" % i)
        ready.append(w.ready_ms)
        w.stop()

    w = Wif(args, "load")
    time.sleep(1.0)
    idle_rss = rss_kib(w.proc.pid)

    # The decrypt body: OAEP-SHA256 ciphertext of 32 bytes under the KMS key's public key.
    conn = UnixConnection(w.sock)
    status, data = request(conn, "GET", "/kms/publicKey?name=" + args.rsa_version)
    conn.close()
    if status != 200:
        sys.exit("publicKey: %d %s" % (status, data[:300]))
    pem = os.path.join(args.work, "bench-pub.pem")
    with open(pem, "w") as f:
        f.write(json.loads(data)["pem"])
    secret = os.urandom(32)
    ct = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pem,
                         "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                         "-pkeyopt", "rsa_mgf1_md:sha256"], input=secret, check=True,
                        capture_output=True).stdout
    dbody = json.dumps({"name": args.rsa_version,
                        "ciphertext": base64.b64encode(ct).decode()}).encode()

    tok1, tok8, dec, emu_dec = [], [], [], []
    thr1, thr8 = [], []
    for _ in range(args.runs):
        lat, wall = run_load(w, "GET", "/token", None, args.n1, 1)
        tok1.append(lat)
        thr1.append(args.n1 / wall)
        lat, wall = run_load(w, "GET", "/token", None, args.n8, 8)
        tok8.append(lat)
        thr8.append(args.n8 / wall)
        off = os.path.getsize(args.emu_log)
        lat, _ = run_load(w, "POST", "/kms/asymmetricDecrypt", dbody, args.nd, 1)
        dec.append(lat)
        emu_dec.append([u / 1000.0 for u in emu_decrypt_us(args.emu_log, off)])
    busy_rss = rss_kib(w.proc.pid)
    w.stop()

    print("| measurement | samples | p50 | p99 | per-run medians |")
    print("|---|---|---|---|---|")
    print("| time to first token after start (quote, verifier, STS, IAM) | %d | %s | %s | "
          "max %s ms |" % (len(ready), fmt(statistics.median(ready)),
                           fmt(percentile(ready, 99)), fmt(max(ready))))
    print(row("cached `GET /token`, concurrency 1", tok1))
    print(row("cached `GET /token`, concurrency 8", tok8))
    print(row("`POST /kms/asymmetricDecrypt` (RSA-4096 OAEP), concurrency 1", dec))
    print(row("... of which gcp-emu's KMS handler", emu_dec))
    print()
    print("| other | value |")
    print("|---|---|")
    print("| cached `/token` throughput, concurrency 1 / 8 | %.0f / %.0f req/s (median of runs) |"
          % (statistics.median(thr1), statistics.median(thr8)))
    print("| idle RSS (1 s after the first token) | %d KiB |" % idle_rss)
    print("| RSS after the load | %d KiB |" % busy_rss)


if __name__ == "__main__":
    main()
