#!/usr/bin/env python3
"""wif_load.py - concurrent requests to gcp-wif's Unix socket for a while (python3 standard
library only), for the refresh test.

  wif_load.py SOCKET SECONDS THREADS PERIOD_MS METHOD:PATH[:BODY_FILE]...

Each thread cycles through the requests, one every PERIOD_MS, until SECONDS have passed. Prints
one JSON object: {"requests","failures":[first few "status body"],"statuses":{code:n},
"tokens": distinct access tokens from /token, "min_expires_in", "max_expires_in"}. Exits 0.
"""
import http.client
import json
import socket
import sys
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def main(argv):
    sock, seconds, threads, period = argv[1], float(argv[2]), int(argv[3]), int(argv[4]) / 1000.0
    reqs = []
    for spec in argv[5:]:
        parts = spec.split(":", 2)
        body = None
        if len(parts) == 3:
            with open(parts[2], "rb") as f:
                body = f.read()
        reqs.append((parts[0], parts[1], body))
    lock = threading.Lock()
    stats = {"requests": 0, "failures": [], "statuses": {}, "tokens": set(),
             "min_expires_in": None, "max_expires_in": None}
    end = time.monotonic() + seconds

    def worker(idx):
        i = idx
        while time.monotonic() < end:
            method, path, body = reqs[i % len(reqs)]
            i += 1
            try:
                c = UnixHTTPConnection(sock, 60)
                c.request(method, path, body=body)
                r = c.getresponse()
                data = r.read()
                status = r.status
                c.close()
            except OSError as e:
                status, data = 0, str(e).encode()
            with lock:
                stats["requests"] += 1
                stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
                if status != 200:
                    if len(stats["failures"]) < 5:
                        stats["failures"].append("%d %s" % (status, data[:300].decode("latin-1")))
                elif path == "/token":
                    doc = json.loads(data)
                    stats["tokens"].add(doc["access_token"])
                    e = doc["expires_in"]
                    lo, hi = stats["min_expires_in"], stats["max_expires_in"]
                    stats["min_expires_in"] = e if lo is None else min(lo, e)
                    stats["max_expires_in"] = e if hi is None else max(hi, e)
            time.sleep(period)

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stats["tokens"] = len(stats["tokens"])
    print(json.dumps(stats, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
