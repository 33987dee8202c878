#!/usr/bin/env python3
"""no_tcp_listener.py PID - exit 0 when process PID holds no listening TCP socket (IPv4 or
IPv6) but does hold a Unix socket; 1 when it listens on TCP; 2 when it holds no Unix socket
at all, since then the inode lookup below would be blind. Used for skr -tcp=false by the
integration and deploy tests."""
import os
import sys


def main():
    pid = sys.argv[1]
    links = (os.readlink(f"/proc/{pid}/fd/{f}") for f in os.listdir(f"/proc/{pid}/fd"))
    inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
    rows = open(f"/proc/{pid}/net/unix").read().splitlines()[1:]
    if not any(r.split()[6] in inodes for r in rows if len(r.split()) > 6):
        return 2
    for table in ("tcp", "tcp6"):
        for row in open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]:
            c = row.split()
            if c[3] == "0A" and c[9] in inodes:  # 0A: LISTEN
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
