#!/usr/bin/env bash
# bench/proxy/run.sh - encrypted requests per second and latency of skr-proxy, next to a direct
# connection to the workload and to the RSA limit measured in the same run. See README.md.
#
# Usage: bench/proxy/run.sh [BIN_DIR]   (default build/bin; needs skr-proxy, sample-workload and
#        skr-proxy-load, i.e. a build with bench/ added to the root CMakeLists.txt)
# Environment: BENCH_SCALE=N multiplies the request counts (default 1: about 1-2 minutes).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$(cd "${1:-$HERE/../../build/bin}" && pwd)
SCALE=${BENCH_SCALE:-1}
for b in skr-proxy sample-workload skr-proxy-load; do
    [[ -x "$BIN/$b" ]] || { echo "run.sh: $BIN/$b is missing" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-proxy.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export SHD_DONT_MLOCK=1

wait_line() { # FILE SED_EXPR
    local i out
    for ((i = 0; i < 300; i++)); do
        out=$(sed -n "$2" "$1" 2>/dev/null | head -n 1)
        kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "run.sh: a process exited: $(cat "$1")" >&2; exit 1; }
        [[ -n "$out" ]] && { echo "$out"; return 0; }
        sleep 0.1
    done
    echo "run.sh: timed out waiting in $1" >&2
    exit 1
}

"$BIN/sample-workload" --listen 127.0.0.1 --port 0 --max-body 67108864 >"$WORK/wl.log" 2>&1 &
PIDS+=($!)
WL_PORT=$(wait_line "$WORK/wl.log" 's/^listening on \([0-9]*\)$/\1/p')
# The proxy with an ephemeral RSA-4096 key (the key size of Polaris's Azure and GCP keys),
# output encryption on, errors-only logging.
POLARIS_CONTAINER_WORKLOAD_BASE_URL="http://127.0.0.1:$WL_PORT" \
    POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION=true POLARIS_CONTAINER_ENABLE_OUTPUT_ENCRYPTION=true \
    "$BIN/skr-proxy" --listen 127.0.0.1 --port 0 --max-body 16M --max-response 16M \
    --log all+info >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
PX_PORT=$(wait_line "$WORK/proxy.log" 's/.*msg="listening" host=127\.0\.0\.1 port=\([0-9]*\).*/\1/p')
for ((i = 0; i < 300; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PX_PORT/polaris-container/health") == 200 ]] && break
    sleep 0.1
done

# RSA-4096 private operations per second on all cores, measured now.
CORES=$(nproc)
RSA_OPS=$(openssl speed -seconds 3 -multi "$CORES" rsa4096 2>/dev/null |
    awk '/^rsa 4096 bits/ {print $(NF-1)}')
[[ -n "$RSA_OPS" ]] || { echo "run.sh: openssl speed gave no rsa4096 figure" >&2; exit 1; }
# Each request carries 3 envelopes (url, headers, body), each unwrapped with 2 RSA private
# operations (AES key and IV): 6 per request.
LIMIT=$(awk -v o="$RSA_OPS" 'BEGIN {printf "%.1f", o / 6}')

load() { # TARGET_URL EXTRA_ARGS...: prints the key=value line
    "$BIN/skr-proxy-load" --url "$@" || { echo "run.sh: skr-proxy-load $*" >&2; exit 1; }
}
kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $2"; }

echo "skr-proxy benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $CORES cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(openssl version | cut -d' ' -f1-2)"
echo "RSA-4096 private ops/s on $CORES cores (openssl speed -multi $CORES -seconds 3 rsa4096): $RSA_OPS"
echo "RSA limit = ops/s / 6 (3 envelopes x 2 RSA-OAEP unwraps per request) = $LIMIT req/s"
echo
echo "| body | concurrency | proxy req/s | proxy p50 ms | proxy p99 ms | direct req/s | direct p50 ms | direct p99 ms | proxy / RSA limit |"
echo "|---|---|---|---|---|---|---|---|---|"
for body in 1024 1048576; do
    for c in 1 8 32; do
        case "$c" in 1) n=40 ;; 8) n=160 ;; *) n=256 ;; esac
        n=$((n * SCALE))
        nd=$((body == 1024 ? n * 5 : n))
        p=$(load "http://127.0.0.1:$PX_PORT" --requests "$n" --concurrency "$c" --body "$body" --warmup 1)
        d=$(load "http://127.0.0.1:$WL_PORT" --direct --requests "$nd" --concurrency "$c" --body "$body" --warmup 1)
        label=$([[ $body == 1024 ]] && echo "1 KiB" || echo "1 MiB")
        ratio=$(awk -v r="$(kv rps "$p")" -v l="$LIMIT" 'BEGIN {printf "%.0f%%", 100 * r / l}')
        echo "| $label | $c | $(kv rps "$p") | $(kv p50_ms "$p") | $(kv p99_ms "$p") | $(kv rps "$d") | $(kv p50_ms "$d") | $(kv p99_ms "$d") | $ratio |"
    done
done
