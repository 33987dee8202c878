#!/usr/bin/env bash
# wif_timeout_test.sh - hung upstreams: gcp-wif gives up on a silent server instead of hanging,
# retries, and keeps serving meanwhile. ~60 s.
#   verifier hung once (35 s delay on the challenge) -> the first attempt times out after 30 s,
#     the retry succeeds: /identity?audience=.. answers 200 after 30..45 s; /status answers
#     within a second throughout
#   metadata server hung (8 s delay on every call) -> 5 s per attempt x 4 attempts: a clear 502
#     naming the step and the timeout, after 20..40 s
#
# gcp-wif has no setting that lowers its timeouts: the Google APIs client waits 30 s per attempt
# for up to 4 attempts, so a verifier hung until the retries are exhausted would take over two
# minutes; the metadata-server client (5 s) exercises the same timeout-and-give-up path.
#
# Usage: wif_timeout_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

wif_it_init
wif_start H
wif_wait_attested H

# status_meanwhile PID: /status answers quickly while the request PID is pending.
status_meanwhile() {
    local s0
    sleep 2
    while kill -0 "$1" 2>/dev/null; do
        s0=$(now_ms)
        curl -sS --max-time 5 -o /dev/null --unix-socket "$WORK/H.sock" http://localhost/status ||
            wif_fail "/status did not answer during the hung request"
        (($(now_ms) - s0 < 1000 || WIF_IT_WRAPPED)) ||
            wif_fail "/status slow during the hung request"
        sleep 2
    done
}

# ---- verifier hung once: timeout after 30 s, the retry succeeds ----
fault_add '{"service":"verifier","method":"POST","path_prefix":"'"$CHALLENGES"'","count":1,
            "delay_ms":35000}'
t0=$(now_ms)
(call_ok H GET '/identity?audience=https%3A%2F%2Fexample.com%2Fhung' &&
    cp "$WORK/body" "$WORK/hung.json") >"$WORK/hung.out" 2>&1 &
REQ=$!
status_meanwhile "$REQ"
wait "$REQ" || wif_fail "identity with a hung verifier: $(cat "$WORK/hung.out")"
ms=$(($(now_ms) - t0))
((ms >= 30000 && (ms < 45000 || WIF_IT_WRAPPED))) ||
    wif_fail "the hung verifier was given up after ${ms} ms, want 30..45 s"
"${CHECK[@]}" check-attestation "$("${CHECK[@]}" get token <"$WORK/hung.json")" \
    https://example.com/hung || wif_fail "identity token after the retry"

# ---- metadata server hung: timeouts until the retries are exhausted -> clear error ----
fault_add '{"service":"mds","path_prefix":"/computeMetadata/","count":0,"delay_ms":8000}'
t0=$(now_ms)
(call H GET '/identity?audience=https%3A%2F%2Fexample.com%2Fmds' &&
    echo "$CODE" >"$WORK/mds.code" && cp "$WORK/body" "$WORK/mds.json") >"$WORK/mds.out" 2>&1 &
REQ=$!
status_meanwhile "$REQ"
wait "$REQ" || wif_fail "identity with a hung MDS: $(cat "$WORK/mds.out")"
ms=$(($(now_ms) - t0))
((ms >= 20000 && (ms < 40000 || WIF_IT_WRAPPED))) ||
    wif_fail "the hung metadata server was given up after ${ms} ms, want 20..40 s"
"${CHECK[@]}" check-error "$WORK/mds.json" "$(cat "$WORK/mds.code")" 502 identity attestation \
    "http://metadata.google.internal/computeMetadata/v1/" "giving up after 4 attempts" \
    "timed out" ||
    wif_fail "hung metadata server"
fault_clear
sleep 8 # the emulator's last delayed answer
call_ok H GET /token
wif_stop H
wif_it_finish
echo "wif_timeout_test: ok"
