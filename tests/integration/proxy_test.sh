#!/bin/sh
# proxy_test.sh - skr-proxy as a real process between skr-proxy-client (and curl) and
# sample-workload: readiness, encrypted round trips (file body, headers, gzip, exit codes),
# plain requests refused with 400, pass-through mode, no decrypted data in the log, SIGTERM.
#
# Usage: proxy_test.sh SKR_PROXY SKR_PROXY_CLIENT SAMPLE_WORKLOAD
set -eu
PROXY=$1
CLIENT=$2
WORKLOAD=$3
export SHD_DONT_MLOCK=1
DIR=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- proxy log" >&2; cat "$DIR"/proxy*.log >&2 || true; exit 1; }

wait_for() { # wait_for FILE PATTERN
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 200 ] || fail "timeout waiting for '$2' in $1"; sleep 0.05
    done
}

"$WORKLOAD" --port 0 > "$DIR/wl.out" 2>&1 &
PIDS="$PIDS $!"
wait_for "$DIR/wl.out" "listening on"
WL_PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$DIR/wl.out")

start_proxy() { # start_proxy NAME INPUT OUTPUT
    POLARIS_CONTAINER_WORKLOAD_BASE_URL="http://127.0.0.1:$WL_PORT" \
    POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION=$2 \
    POLARIS_CONTAINER_ENABLE_OUTPUT_ENCRYPTION=$3 \
    POLARIS_CONTAINER_ENABLE_LOGGING=true POLARIS_CONTAINER_LOG_LEVEL=trace \
        "$PROXY" --listen 127.0.0.1 --port 0 > "$DIR/$1.log" 2>&1 &
    LAST_PID=$!
    PIDS="$PIDS $LAST_PID"
    wait_for "$DIR/$1.log" 'msg="listening"'
    LAST_PORT=$(sed -n 's/.*msg="listening" host=127.0.0.1 port=\([0-9]*\).*/\1/p' "$DIR/$1.log")
    i=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LAST_PORT/polaris-container/health")" = 200 ]; do
        i=$((i + 1)); [ $i -lt 400 ] || fail "proxy $1 never became ready"; sleep 0.05
    done
}

start_proxy proxy true true
PX_PID=$LAST_PID
PX="http://127.0.0.1:$LAST_PORT"

# Encrypted round trip with a file body and a header.
printf 'SECRETBODY-line1\nSECRETBODY-line2\n' > "$DIR/body.txt"
"$CLIENT" -H 'X-Test: SECRETHEADER' --data-binary @"$DIR/body.txt" "$PX/SECRETPATH/x?q=SECRETQUERY" \
    > "$DIR/out.json" || fail "client round trip"
grep -q '"path":"/SECRETPATH/x"' "$DIR/out.json" || fail "path not forwarded"
grep -q '"q":"SECRETQUERY"' "$DIR/out.json" || fail "query not forwarded"
grep -q '"x-test":"SECRETHEADER"' "$DIR/out.json" || fail "header not forwarded"
grep -q '"body_len":34' "$DIR/out.json" || fail "body not forwarded"
grep -q '"method":"POST"' "$DIR/out.json" || fail "method"

# gzip responses, 12-byte IVs, stdin bodies, -X.
printf 'SECRETBODY' | "$CLIENT" --iv-len 12 -X PUT -d @- "$PX/gz?gzip=1" > "$DIR/gz.json" \
    || fail "gzip round trip"
grep -q '"method":"PUT"' "$DIR/gz.json" || fail "gzip answer not decrypted"

# Exit status: 22 for >= 400 (the body is still written), 7 when the proxy is unreachable.
set +e
"$CLIENT" "$PX/status/404" > "$DIR/404.json"; rc=$?
"$CLIENT" http://127.0.0.1:1/ > /dev/null 2>&1; rc7=$?
set -e
[ "$rc" = 22 ] || fail "exit status $rc for a 404 (want 22)"
grep -q '"path":"/status/404"' "$DIR/404.json" || fail "404 body not decrypted"
[ "$rc7" = 7 ] || fail "exit status $rc7 for an unreachable proxy (want 7)"

# A plain request is refused without reaching the workload.
code=$(curl -s -o "$DIR/plain.txt" -w '%{http_code}' -H "polaris-response-public-key: eA==" "$PX/x")
[ "$code" = 400 ] || fail "plain request answered $code"
grep -q '^Error processing request: ' "$DIR/plain.txt" || fail "error text"

# Pass-through mode (the Polaris default): what curl sends arrives as is.
start_proxy passthrough false false
PT="http://127.0.0.1:$LAST_PORT"
curl -s -H 'X-Test: plain' -d 'hello' "$PT/pt/y?q=7" > "$DIR/pt.json" || fail "pass-through"
grep -q '"path":"/pt/y"' "$DIR/pt.json" || fail "pass-through path"
grep -q '"q":"7"' "$DIR/pt.json" || fail "pass-through query"
grep -q '"x-test":"plain"' "$DIR/pt.json" || fail "pass-through header"

# Never a decrypted path, header or body in the log, even at trace.
if grep -q 'SECRET' "$DIR/proxy.log"; then fail "decrypted data in the log"; fi
grep -q 'msg="request"' "$DIR/proxy.log" || fail "no access log"

# SIGTERM: drained and exit 0.
kill -TERM "$PX_PID"
wait "$PX_PID" || fail "proxy exit status $? after SIGTERM"
echo "proxy integration: ok"
