#!/bin/sh
# entry.sh - entry point of the Confidential Space workload image (scripts/images.sh
# cs-workload): gcp-wif in launcher mode (the launcher's attestation token, no vTPM access
# needed), the workload on loopback, and skr-proxy in front of it with its KMS-wrapped key
# released through gcp-wif. The container lives as long as the proxy: when the proxy exits, the
# others are stopped and its exit status is the container's. SIGTERM/SIGINT are passed on.
set -eu

set -a
# shellcheck source=/dev/null
. /etc/skr-stack/cs.env
set +a

/bin/gcp-wif serve &
wif=$!
# WORKLOAD_CMD is a command line from cs.env (split on blanks on purpose).
# shellcheck disable=SC2086
$WORKLOAD_CMD &
wl=$!
/bin/skr-proxy --key-source gcp-wif &
px=$!

trap 'kill -TERM "$px" "$wl" "$wif" 2>/dev/null || true' TERM INT

rc=0
# A trapped signal interrupts wait (status > 128): wait again until the proxy is gone.
while kill -0 "$px" 2>/dev/null; do
    rc=0
    wait "$px" || rc=$?
done
kill -TERM "$wl" "$wif" 2>/dev/null || true
wait "$wl" 2>/dev/null || true
wait "$wif" 2>/dev/null || true
exit "$rc"
