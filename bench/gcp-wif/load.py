#!/usr/bin/env python3
"""load.py - the measuring half of bench/gcp-wif/run.sh (python3 standard library only).

Starts gcp-wif processes itself (the environment that points gcp-wif at gcp-emu comes from
run.sh), talks to them over their Unix socket with keep-alive connections (one per client
thread), and prints a markdown report. Every number stands next to a baseline measured in the
same run, interleaved with it: GET /status for the cached GET /token, the TPM part alone
(tpm2-tools against the same swtpm) and gcp-emu's handler time for the time to first token,
gcp-emu's KMS handler time for asymmetricDecrypt. See README.md for what each number means.
"""
import argparse
import base64
import http.client
import json
import os
import re
import socket
import statistics
import struct
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


HANDLER = re.compile(r'msg="request" service=\S+ method=\S+ path=\S+ status=\d+ us=(\d+)')


def emu_handler_us(log_path, offset):
    """(number of calls, summed handler us) of every request gcp-emu logged since offset."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        data = f.read()
    us = [int(m.group(1)) for m in HANDLER.finditer(data.decode(errors="replace"))]
    return len(us), sum(us)


# The GCE AK gcp-wif creates by default (gcp-identity.md 2.1): RSA-2048, RSASSA-SHA256, the
# attributes of gcp-emu's NV template (0x00050072), empty unique, under the endorsement
# hierarchy. Same template, same seed: the same key, which Tpm.check_same_ak verifies.
PCRS = ",".join(str(i) for i in range(24))  # gcp-wif quotes PCRs 0-23 of each bank
AK_NV_TEMPLATE = "0x01c10001"
AK_NV_CERT = "0x01c10000"
AK_ARGS = ["-C", "e", "-g", "sha256", "-G", "rsa2048:rsassa-sha256:null", "-a",
           "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"]


class Tpm:
    """tpm2-tools against gcp-emu's swtpm, run between gcp-wif starts (never concurrently)."""

    def __init__(self, tcti, work):
        self.env = dict(os.environ, TPM2TOOLS_TCTI=tcti)
        self.dir = os.path.join(work, "bench-tpm")
        os.makedirs(self.dir, exist_ok=True)
        self.ak = os.path.join(self.dir, "ak.ctx")
        self.banks = self.pcr_banks()
        self.steps = {}

    def run(self, *argv):
        """Runs one tool; returns its wall time in ms (spawn, TCTI connect, commands, exit)."""
        t = time.monotonic()
        p = subprocess.run(list(argv), env=self.env, cwd=self.dir, capture_output=True)
        ms = (time.monotonic() - t) * 1000.0
        if p.returncode != 0:
            sys.exit("%s: %s" % (" ".join(argv), p.stderr.decode(errors="replace")[:400]))
        return ms

    def pcr_banks(self):
        """The banks gcp-wif quotes: those with a non-empty selection (tpm2_getcap pcrs)."""
        out = subprocess.run(["tpm2_getcap", "pcrs"], env=self.env, check=True,
                             capture_output=True).stdout.decode()
        banks = [m.group(1) for m in re.finditer(r"^\s*-\s*(sha1|sha256|sha384|sha512|sm3_256)"
                                                 r":\s*\[\s*\d", out, re.M)]
        if not banks:
            sys.exit("tpm2_getcap pcrs: no allocated bank in %r" % out)
        return banks

    def check_same_ak(self):
        """tpm2_createprimary with AK_ARGS yields the key of the AK certificate in NV."""
        self.run("tpm2_nvread", "-C", "o", "-o", "akcert.der", AK_NV_CERT)
        self.run("tpm2_createprimary", *AK_ARGS, "-c", self.ak, "-f", "pem", "-o", "ak.pem")
        self.run("tpm2_flushcontext", "-t")
        cert = subprocess.run(["openssl", "x509", "-inform", "der", "-in", "akcert.der",
                               "-noout", "-pubkey"], cwd=self.dir, check=True,
                              capture_output=True).stdout
        with open(os.path.join(self.dir, "ak.pem"), "rb") as f:
            mine = f.read()
        if cert.strip() != mine.strip():
            sys.exit("tpm2_createprimary did not recreate the GCE AK of the certificate")

    def attest(self):
        """gcp-wif's TPM steps as tpm2-tools calls: (total ms, quote ms, tool calls); the time
        of each tool goes to self.steps too."""
        nonce = os.urandom(32).hex()
        times = [("tpm2_nvread (template)",
                  self.run("tpm2_nvread", "-C", "o", "-o", "tmpl.bin", AK_NV_TEMPLATE)),
                 ("tpm2_createprimary", self.run("tpm2_createprimary", *AK_ARGS, "-c", self.ak)),
                 ("tpm2_nvread (AK cert)",
                  self.run("tpm2_nvread", "-C", "o", "-o", "akcert.der", AK_NV_CERT))]
        for bank in self.banks:
            times.append(("tpm2_quote", self.run(
                "tpm2_quote", "-c", self.ak, "-l", bank + ":" + PCRS, "-q", nonce, "-g", "sha256",
                "-m", "quote.msg", "-s", "quote.sig", "-o", "quote.pcrs")))
            # Without a resource manager each tool's objects outlive it (3 slots): flush them
            # after every quote, as gcp-wif flushes its AK once.
            times.append(("tpm2_flushcontext", self.run("tpm2_flushcontext", "-t")))
        for name, ms in times:
            self.steps.setdefault(name, []).append(ms)
        quote = sum(ms for name, ms in times if name == "tpm2_quote")
        return sum(ms for _, ms in times), quote, len(times)

    def floor(self):
        """One tpm2-tools process doing almost nothing: spawn, TCTI connect, GetRandom(8)."""
        return self.run("tpm2_getrandom", "--hex", "8")


class RawTpm:
    """The TPM commands gcp-wif sends for one attestation (gcp-wif/src/tpm.c, tpm_quote.c),
    marshalled here and sent raw over one connection to the swtpm server port: the TPM's own
    time plus loopback, with no library or process around it."""

    ST_NO_SESSIONS, ST_SESSIONS = 0x8001, 0x8002
    RH_OWNER, RH_ENDORSEMENT, RS_PW = 0x40000001, 0x4000000B, 0x40000009
    ALGS = {"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D,
            "sm3_256": 0x0012}

    def __init__(self, tcti, banks):
        m = re.match(r"swtpm:host=([^,]+),port=(\d+)$", tcti)
        if not m:
            sys.exit("unexpected TCTI %r (want swtpm:host=H,port=P)" % tcti)
        self.addr = (m.group(1), int(m.group(2)))
        self.banks = [self.ALGS[b] for b in banks]

    def cmd(self, code, handles=(), params=b"", auth=False):
        body = b"".join(struct.pack(">I", h) for h in handles)
        if auth:  # one password session with an empty password
            pw = struct.pack(">IHBH", self.RS_PW, 0, 0, 0)
            body += struct.pack(">I", len(pw)) + pw
        body += params
        tag = self.ST_SESSIONS if auth else self.ST_NO_SESSIONS
        self.sock.sendall(struct.pack(">HII", tag, 10 + len(body), code) + body)
        head = self.recv(10)
        _, size, rc = struct.unpack(">HII", head)
        rest = self.recv(size - 10)
        if rc != 0:
            sys.exit("raw TPM command 0x%x: rc 0x%x" % (code, rc))
        return rest

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                sys.exit("swtpm closed the connection")
            buf += chunk
        return buf

    def nv_read(self, index):
        """Esys_TR_FromTPMPublic + NV_ReadPublic, GetCapability(NV_BUFFER_MAX), NV_Read."""
        for _ in range(2):
            pub = self.cmd(0x169, (index,))  # NV_ReadPublic
        # TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy (TPM2B), dataSize.
        policy = struct.unpack(">H", pub[12:14])[0]
        size = struct.unpack(">H", pub[14 + policy:16 + policy])[0]
        cap = self.cmd(0x17A, params=struct.pack(">III", 6, 0x12C, 1))  # PT_NV_BUFFER_MAX
        prop, chunk = struct.unpack(">II", cap[-8:])
        if prop != 0x12C or not 64 <= chunk <= 2048:
            chunk = 512
        data = b""
        while len(data) < size:
            want = min(chunk, size - len(data))
            out = self.cmd(0x14E, (self.RH_OWNER, index), struct.pack(">HH", want, len(data)),
                           auth=True)
            data += out[4 + 2:4 + 2 + want]  # parameterSize, TPM2B size, bytes
        return data

    def attest(self):
        """One attestation's TPM work; returns its wall time in ms."""
        t = time.monotonic()
        self.sock = socket.create_connection(self.addr)
        try:
            tmpl = self.nv_read(int(AK_NV_TEMPLATE, 16))
            sens = struct.pack(">HHH", 4, 0, 0)
            params = sens + struct.pack(">H", len(tmpl)) + tmpl + struct.pack(">HI", 0, 0)
            ak = struct.unpack(">I", self.cmd(0x131, (self.RH_ENDORSEMENT,), params,
                                              auth=True)[:4])[0]  # CreatePrimary
            self.nv_read(int(AK_NV_CERT, 16))
            self.cmd(0x17A, params=struct.pack(">III", 5, 0, 1))  # GetCapability(PCRS)
            nonce = os.urandom(32)
            for alg in self.banks:
                sel = struct.pack(">IHB3B", 1, alg, 3, 0xFF, 0xFF, 0xFF)
                self.cmd(0x158, (ak,), struct.pack(">H", len(nonce)) + nonce +
                         struct.pack(">H", 0x0010) + sel, auth=True)  # Quote, scheme NULL
                for g in range(3):
                    bits = [0xFF if i == g else 0 for i in range(3)]
                    self.cmd(0x17E, params=struct.pack(">IHB3B", 1, alg, 3, *bits))  # PCR_Read
            self.cmd(0x165, params=struct.pack(">I", ak))  # FlushContext
        finally:
            self.sock.close()
        return (time.monotonic() - t) * 1000.0


def fmt(x):
    return "%.2f" % x if x < 10 else "%.1f" % x if x < 100 else "%.0f" % x


def p50(xs):
    return percentile(xs, 50)


def row(name, runs, base_name, base_runs):
    """One measurement and its same-run baseline (lists of per-run sample lists), pooled."""
    pooled = [x for r in runs for x in r]
    base = [x for r in base_runs for x in r]
    meds = " / ".join(fmt(statistics.median(r)) for r in runs)
    return "| %s | %d | %s | %s | %s | %s | %s | %.1fx | %s |" % (
        name, len(pooled), fmt(p50(pooled)), fmt(percentile(pooled, 99)), base_name,
        fmt(p50(base)), fmt(percentile(base, 99)), p50(pooled) / p50(base), meds)


def main():
    ap = argparse.ArgumentParser()
    for a in ("--wif", "--work", "--emu-log", "--rsa-version", "--tcti"):
        ap.add_argument(a, required=True)
    for a, d in (("--runs", 5), ("--starts", 5), ("--n1", 2000), ("--n8", 4000), ("--nd", 60)):
        ap.add_argument(a, type=int, default=d)
    args = ap.parse_args()

    tpm = Tpm(args.tcti, args.work)
    tpm.check_same_ak()
    raw = RawTpm(args.tcti, tpm.banks)

    # Time to first token: each start is a full quote + verifyAttestation + STS + IAM. After
    # each start, with gcp-wif stopped: gcp-emu's handler time for that start's calls, then
    # gcp-wif's TPM steps done by tpm2-tools, then the floor of one tpm2-tools process.
    ready, emu_ms, raw_ms, tpm_ms, quote_ms, floor_ms = [], [], [], [], [], []
    calls = tools = 0
    for i in range(args.starts):
        off = os.path.getsize(args.emu_log)
        w = Wif(args, "start%d" % i)
        ready.append(w.ready_ms)
        w.stop()
        calls, us = emu_handler_us(args.emu_log, off)
        emu_ms.append(us / 1000.0)
        raw_ms.append(raw.attest())
        total, quote, tools = tpm.attest()
        tpm_ms.append(total)
        quote_ms.append(quote)
        floor_ms.append(tpm.floor())

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

    # Each run: /token and /status (the floor: same client, socket, server, peer check, router
    # and a small JSON reply) back to back at each concurrency, alternating which goes first.
    lat = {k: [] for k in ("tok1", "st1", "tok8", "st8", "dec", "emu_dec")}
    thr = {k: [] for k in ("tok1", "st1", "tok8", "st8")}
    for r in range(args.runs):
        for conc, n in ((1, args.n1), (8, args.n8)):
            order = (("tok", "/token"), ("st", "/status"))
            for key, path in order if r % 2 == 0 else reversed(order):
                samples, wall = run_load(w, "GET", path, None, n, conc)
                lat["%s%d" % (key, conc)].append(samples)
                thr["%s%d" % (key, conc)].append(n / wall)
        off = os.path.getsize(args.emu_log)
        samples, _ = run_load(w, "POST", "/kms/asymmetricDecrypt", dbody, args.nd, 1)
        lat["dec"].append(samples)
        lat["emu_dec"].append([u / 1000.0 for u in emu_decrypt_us(args.emu_log, off)])
    busy_rss = rss_kib(w.proc.pid)
    w.stop()

    print("| measurement | samples | p50 | p99 | baseline (same run) | baseline p50 | "
          "baseline p99 | p50 / baseline p50 | per-run medians |")
    print("|---|---|---|---|---|---|---|---|---|")
    banks = "+".join(tpm.banks)
    print(row("time to first token after start", [ready],
              "TPM part alone: gcp-wif's TPM commands (AK template, CreatePrimary RSA-2048 AK, "
              "AK cert, a quote of PCRs 0-23 and 3 PCR_Reads per bank (%s), flush) sent raw "
              "to the same swtpm" % banks, [raw_ms]))
    print(row("time to first token after start", [ready],
              "the same TPM steps as %d tpm2-tools calls" % tools, [tpm_ms]))
    print(row("time to first token after start", [ready],
              "... of which the %d `tpm2_quote` calls" % len(tpm.banks), [quote_ms]))
    print(row("time to first token after start", [ready],
              "gcp-emu's handler time for the same starts (%d calls each: MDS, verifier, "
              "JWKS, STS, IAM)" % calls, [emu_ms]))
    print(row("cached `GET /token`, concurrency 1", lat["tok1"],
              "`GET /status`, concurrency 1", lat["st1"]))
    print(row("cached `GET /token`, concurrency 8", lat["tok8"],
              "`GET /status`, concurrency 8", lat["st8"]))
    print(row("`POST /kms/asymmetricDecrypt` (RSA-4096 OAEP), concurrency 1", lat["dec"],
              "gcp-emu's KMS handler for the same calls (the RSA-4096 private-key operation)",
              lat["emu_dec"]))
    print()
    print("Times in ms. Samples of all runs pooled for p50/p99; per-run medians show the spread.")
    print()
    print("| other | value |")
    print("|---|---|")
    print("| throughput, concurrency 1: `/token` / `/status` | %.0f / %.0f req/s (median of runs) |"
          % (statistics.median(thr["tok1"]), statistics.median(thr["st1"])))
    print("| throughput, concurrency 8: `/token` / `/status` | %.0f / %.0f req/s (median of runs) |"
          % (statistics.median(thr["tok8"]), statistics.median(thr["st8"])))
    print("| TPM steps with tpm2-tools, p50 per call | %s |" % ", ".join(
        "%s %s ms" % (name, fmt(p50(ms))) for name, ms in tpm.steps.items()))
    print("| floor of one tpm2-tools call (spawn, TCTI connect, GetRandom), p50 / p99 | "
          "%s / %s ms |" % (fmt(p50(floor_ms)), fmt(percentile(floor_ms, 99))))
    print("| idle RSS (1 s after the first token) | %d KiB |" % idle_rss)
    print("| RSS after the load | %d KiB |" % busy_rss)


if __name__ == "__main__":
    main()
