#!/usr/bin/env bash
# skr_timeout_test.sh - a hung upstream (D6): azure-emu delays every IMDS token answer beyond
# skr's IMDS timeout (10 s per attempt, 3 attempts), so /key/release fails after ~31 s with a
# clear timeout error instead of hanging; /status keeps answering meanwhile; once the fault is
# cleared the same release succeeds. ~35 s.
#
# Why IMDS: skr has no setting that lowers its timeouts, and the MAA / Key Vault client uses
# 30 s per attempt x 4 attempts (shd_http_client defaults), which would make this test take
# about 2 minutes; the IMDS client exercises the same timeout-and-retry code with shorter
# limits.
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
# The server is not blocked by the hung request.
sleep 2
for _ in 1 2 3; do
    s0=$(now_ms)
    curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT_H/status" ||
        skr_fail "/status did not answer during the hung release"
    (($(now_ms) - s0 < 5000)) || skr_fail "/status slow during the hung release"
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
echo "skr_timeout_test: ok (hung IMDS failed after ${elapsed} ms)"
