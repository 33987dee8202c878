#!/usr/bin/env bash
# skr_timeout_test.sh - a hung upstream (D6): azure-emu delays every IMDS token answer beyond
# skr's IMDS timeout (10 s per attempt, 3 attempts), so /key/release fails after ~31 s with a
# clear timeout error instead of hanging; /status keeps answering meanwhile; once the fault is
# cleared the same release succeeds. ~35 s.
#
# Then a hung MAA with SKR_UPSTREAM_TIMEOUT_MS=2000 and SKR_UPSTREAM_ATTEMPTS=2 (the defaults,
# 30 s x 4, would take about 2 minutes): a 403 naming the timeout after ~4 s, exactly two MAA
# requests; out-of-range values are refused at start-up.
#
# Usage: skr_timeout_test.sh /path/to/skr /path/to/azure-emu
set -euo pipefail

SKR=${1:?usage: $0 /path/to/skr /path/to/azure-emu}
EMU=${2:?usage: $0 /path/to/skr /path/to/azure-emu}
# shellcheck source=skr_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/skr_lib.sh"

skr_it_init
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/k.pem" 2>/dev/null
"${CHECK[@]}" jwk-from-pem "$WORK/k.pem" >"$WORK/k.jwk"
import_key "$VAULT_HOST" k "$WORK/k.jwk" "$POLICY"

skr_start H
T=tcp:$PORT_H
fault_add '{"service":"imds","path_prefix":"/metadata/identity/","delay_ms":12000}'
t0=$(now_ms)
(release "$T" "$VAULT_HOST" k && echo "$CODE $CTYPE" >"$WORK/code") >"$WORK/release.out" 2>&1 &
REL=$!
# The server is not blocked by the hung request. Under valgrind (one thread at a time, next to
# other valgrind processes on a loaded machine) an answer can take seconds even so.
status_s=5
[[ $SKR_IT_WRAPPED == 1 ]] && status_s=25
sleep 2
for _ in 1 2 3; do
    s0=$(now_ms)
    curl -sS --max-time "$status_s" -o /dev/null "http://127.0.0.1:$PORT_H/status" ||
        skr_fail "/status did not answer within ${status_s}s during the hung release"
    (($(now_ms) - s0 < status_s * 1000)) || skr_fail "/status slow during the hung release"
    sleep 1
done
wait "$REL" || skr_fail "release call: $(cat "$WORK/release.out")"
elapsed=$(($(now_ms) - t0))
# call ran in a subshell: its status and content type are in $WORK/code, the body in $WORK/body.
read -r CODE CTYPE <"$WORK/code"
expect_json "hung IMDS" 403
URL="$IMDS/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
"${CHECK[@]}" check-error "$WORK/body" 'secure key release failed' \
    "retrieving authentication token failed: http get authentication token failed for $URL: HTTP GET failed: Get \"$URL\": giving up after 3 attempts: Operation timed out after " ||
    skr_fail "hung IMDS: error message"
# Under valgrind the wrapping key and the attestation before the token call take much longer.
limit=50000
[[ $SKR_IT_WRAPPED == 1 ]] && limit=200000
((elapsed >= 29000 && elapsed < limit)) || skr_fail "hung IMDS: failed after ${elapsed} ms"
fault_clear
# The emulator logs a delayed request once it has answered it: the last one ~2 s from now.
hung() { grep -c 'svc=imds method=GET host=[^ ]* path=/metadata/identity/oauth2/token status=200 .*fault=true' "$WORK/emu.log" || true; }
for _ in $(seq 1 100); do
    [[ "$(hung)" -ge 3 ]] && break
    sleep 0.1
done
expect_eq "IMDS attempts" "$(hung)" 3

release "$T" "$VAULT_HOST" k
expect_json "release once IMDS answers again" 200
"${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "release after the hang"
skr_stop H

# ---- a hung MAA with the operator's limits: SKR_UPSTREAM_TIMEOUT_MS / SKR_UPSTREAM_ATTEMPTS ----
export SKR_UPSTREAM_TIMEOUT_MS=2000 SKR_UPSTREAM_ATTEMPTS=2
skr_start M
unset SKR_UPSTREAM_TIMEOUT_MS SKR_UPSTREAM_ATTEMPTS
fault_add '{"service":"maa","path_prefix":"/attest/","delay_ms":5000}'
t0=$(now_ms)
release "tcp:$PORT_M" "$VAULT_HOST" k
maa_elapsed=$(($(now_ms) - t0))
expect_json "hung MAA" 403
"${CHECK[@]}" check-error "$WORK/body" 'secure key release failed' \
    "giving up after 2 attempts: Operation timed out after " || skr_fail "hung MAA: error message"
limit=20000
[[ $SKR_IT_WRAPPED == 1 ]] && limit=120000
((maa_elapsed >= 4000 && maa_elapsed < limit)) || skr_fail "hung MAA: failed after ${maa_elapsed} ms"
fault_clear
maa_hung() { grep -c 'svc=maa method=POST host=[^ ]* path=/attest/SevSnpVM status=200 .*fault=true' "$WORK/emu.log" || true; }
for _ in $(seq 1 100); do
    [[ "$(maa_hung)" -ge 2 ]] && break
    sleep 0.1
done
expect_eq "MAA attempts with SKR_UPSTREAM_ATTEMPTS=2" "$(maa_hung)" 2
skr_stop M

# Values out of range are refused at start-up with the variable named.
for bad in SKR_UPSTREAM_ATTEMPTS=0 SKR_UPSTREAM_ATTEMPTS=11 SKR_UPSTREAM_TIMEOUT_MS=999 \
    SKR_UPSTREAM_TIMEOUT_MS=2s; do
    rc=0
    env "$bad" "$SKR" -port 0 >"$WORK/bad.log" 2>&1 || rc=$?
    ((rc != 0)) || skr_fail "$bad was accepted"
    grep -q "${bad%%=*} must be a number from" "$WORK/bad.log" ||
        skr_fail "$bad: no clear reason: $(cat "$WORK/bad.log")"
done
echo "skr_timeout_test: ok (hung IMDS failed after ${elapsed} ms, hung MAA after ${maa_elapsed} ms)"
