#!/usr/bin/env bash
# skr_faults_test.sh - skr's failure paths end to end against azure-emu: bad requests (truncated
# JSON -> 400 "unexpected EOF", empty body, missing fields, unknown route), a key whose release
# policy pins another container group's hostdata (403 naming the failing claim), a wrong kid
# (404 cause chain), an expired and a wrong-audience access_token (AKV's 401 in the chain),
# injected upstream faults (azure-emu POST /emu/faults): 429 with Retry-After then success on
# MAA and Key Vault, 503 until skr's retries are exhausted on MAA and Key Vault (one error
# object quoting the upstream body, the exact number of attempts in the emulator's access log),
# truncated and empty upstream bodies (403 with a message, never a crash or an empty 500),
# dropped connections (once on MAA: retried, the key is released; every time on Key Vault and
# on MAA: 4 attempts, then 403 naming the failing step and "Empty reply from server").
#
# Not reachable through the emulator (its fault `body` can only be error/malformed/empty, and it
# signs every release JWS with a certificate for the host that was asked): a JWS with a bad
# signature, a chain for another host, an unknown root, a missing x5c - covered by
# tests/unit/skr/akv_test.c (test_jws_negatives). The hung-upstream timeout is
# skr_timeout_test.sh.
#
# Usage: skr_faults_test.sh /path/to/skr /path/to/azure-emu
set -euo pipefail

SKR=${1:?usage: $0 /path/to/skr /path/to/azure-emu}
EMU=${2:?usage: $0 /path/to/skr /path/to/azure-emu}
# shellcheck source=skr_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/skr_lib.sh"

skr_it_init
if [[ $SKR_IT_WRAPPED == 1 ]]; then
    # Each release costs ~10 s under valgrind (the RSA-2048 wrapping key): one of each kind.
    echo "skr_faults_test: SHD_TEST_WRAPPER set: reduced set (9 releases instead of 19)"
fi
skr_start F
T=tcp:$PORT_F

error_is() { # WHAT STATUS PREFIX SUBSTRING...
    local what=$1 status=$2
    shift 2
    expect_json "$what" "$status"
    "${CHECK[@]}" check-error "$WORK/body" "$@" || skr_fail "$what: error message"
}
SRF='secure key release failed'
IRF='invalid request format'

# ---- bad requests (no upstream call) ----
call "$T" POST /key/release '{"maa_endpoint":"'"$MAA_HOST"'","akv_endpoint":"'"$VAULT_HOST"'","kid":"k'
error_is "truncated /key/release" 400 "$IRF" '=unexpected EOF'
call "$T" POST /attest/raw '{"runtime_data":"e30='
error_is "truncated /attest/raw" 400 "$IRF" '=unexpected EOF'
call "$T" POST /attest/maa '{"maa_endpoint":'
error_is "truncated /attest/maa" 400 "$IRF" '=unexpected EOF'
call "$T" POST /key/release ''
error_is "empty /key/release" 400 "$IRF" '=EOF'
call "$T" POST /key/release '{"maa_endpoint":"'"$MAA_HOST"'","akv_endpoint":"'"$VAULT_HOST"'"}'
error_is "missing kid" 400 "$IRF" \
    "=Key: 'KeyReleaseData.KID' Error:Field validation for 'KID' failed on the 'required' tag"
call "$T" POST /attest/raw '{"runtime_data":"%%%"}'
error_is "bad base64" 400 'decoding base64-encoded runtime data of request failed' \
    '=illegal base64 data at input byte 0'
call "$T" GET /key/release
expect_eq "GET /key/release" "$CODE $CTYPE $(cat "$WORK/body")" '404 text/plain 404 page not found'

# ---- keys: one with our policy, one pinned to another group's hostdata ----
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/k.pem" 2>/dev/null
"${CHECK[@]}" jwk-from-pem "$WORK/k.pem" >"$WORK/k.jwk"
import_key "$VAULT_HOST" good "$WORK/k.jwk" "$POLICY"
import_key "$VAULT_HOST" pinned-elsewhere "$WORK/k.jwk" "$OTHER_POLICY"

release "$T" "$VAULT_HOST" pinned-elsewhere
error_is "policy mismatch" 403 "$SRF" \
    "=releasing the key pinned-elsewhere failed: pulling AKV response body failed: {\"error\":{\"code\":\"Forbidden\",\"message\":\"Key release policy not satisfied for authority '$AUTHORITY': claim 'x-ms-sevsnpvm-hostdata' is '$HOSTDATA': condition equals '$OTHER_HOSTDATA' not met\"}}: http response status equal to 403 Forbidden"

release "$T" "$VAULT_HOST" no-such-key
error_is "wrong kid" 403 "$SRF" \
    '=releasing the key no-such-key failed: pulling AKV response body failed: {"error":{"code":"KeyNotFound","message":"A key with (name/id) no-such-key was not found in this key vault."}}: http response status equal to 404 Not Found'
if [[ $SKR_IT_WRAPPED == 0 ]]; then
    release "$T" "$MHSM_HOST" good # the key lives in the vault, not in the HSM
    error_is "key in another service" 403 "$SRF" 'KeyNotFound' 'status equal to 404 Not Found'
    release "$T" "$VAULT_HOST" 'good/0123456789abcdef0123456789abcdef'
    error_is "wrong version" 403 "$SRF" 'KeyNotFound' 'status equal to 404 Not Found'
fi

# ---- access tokens ----
TOKEN=$(emu_token https%3A%2F%2Fvault.azure.net)
EXPIRED=$("${CHECK[@]}" mint-expired "$TOKEN" "$STATE/aad-issuer.key")
release "$T" "$VAULT_HOST" good "$EXPIRED"
error_is "expired access_token" 403 "$SRF" \
    'releasing the key good failed: pulling AKV response body failed: {"error":{"code":"Unauthorized","message":"Token validation failed: lifetime: token expired at ' \
    ': http response status equal to 401 Unauthorized'
if [[ $SKR_IT_WRAPPED == 0 ]]; then
    release "$T" "$MHSM_HOST" good "$TOKEN"
    error_is "vault token at the HSM" 403 "$SRF" \
        'AKV10022: Invalid audience. Expected https://managedhsm.azure.net, found: https://vault.azure.net.' \
        'http response status equal to 401 Unauthorized'
    release "$T" "$VAULT_HOST" good "$TOKEN"
    expect_json "release with a good access_token" 200
    "${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "release with a good token"
fi

# ---- injected faults ----
# 429 with Retry-After: 1, twice on MAA, then the real answer: skr waits and succeeds.
fault_add '{"service":"maa","path_prefix":"/attest/","count":2,"status":429,"retry_after":1}'
t0=$(now_ms)
release "$T" "$VAULT_HOST" good
elapsed=$(($(now_ms) - t0))
expect_json "release after MAA 429 x2" 200
"${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "release after MAA 429"
expect_eq "MAA 429 answers" "$(access_count maa /attest/ 429)" 2
((elapsed >= 2000)) || skr_fail "Retry-After: 1 not honoured (2 retries in ${elapsed} ms)"
expect_eq "faults used up" "$(curl -sS "$IMDS/emu/faults")" '[]'

if [[ $SKR_IT_WRAPPED == 0 ]]; then
    fault_add '{"service":"akv","path_prefix":"/keys/good/release","count":1,"status":429,"retry_after":1}'
    release "$T" "$VAULT_HOST" good
    expect_json "release after AKV 429" 200
    "${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "release after AKV 429"
    expect_eq "AKV 429 answers" "$(access_count akv /keys/good/release 429)" 1
fi

# 503 until the retries are exhausted: 4 attempts (D6), then the last answer is quoted.
INJ503='{"error":{"code":"InjectedFault","message":"azure-emu injected status 503"}}: http response status equal to 503 Service Unavailable'
fault_add '{"service":"akv","path_prefix":"/keys/","status":503,"retry_after":1}'
t0=$(now_ms)
release "$T" "$VAULT_HOST" good
elapsed=$(($(now_ms) - t0))
fault_clear
error_is "AKV 503 exhausted" 403 "$SRF" \
    "=releasing the key good failed: pulling AKV response body failed: $INJ503"
expect_eq "AKV 503 attempts" "$(access_count akv /keys/good/release 503)" 4
((elapsed >= 3000)) || skr_fail "AKV 503 x4 with Retry-After: 1 took only ${elapsed} ms"

if [[ $SKR_IT_WRAPPED == 0 ]]; then
    fault_add '{"service":"maa","path_prefix":"/attest/","status":503}'
    release "$T" "$VAULT_HOST" good
    fault_clear
    error_is "MAA 503 exhausted" 403 "$SRF" \
        "=attestation failed: Retrieving MAA token from MAA endpoint failed: pulling maa post response failed: $INJ503"
    expect_eq "MAA 503 attempts" "$(access_count maa /attest/ 503)" 4
    call "$T" POST /attest/maa '{"maa_endpoint":"'"$MAA_HOST"'","runtime_data":"e30="}'
    expect_json "attest/maa after the faults" 200
fi

# Dropped connections (no byte back, curl's "Empty reply from server"): a transport failure that
# skr's upstream policy retries (SHD_HTTP_RETRY_DEFAULT: 4 attempts, backoff under 2 s in all).
# Once on MAA: the second attempt attests and the key is released.
fault_add '{"service":"maa","method":"POST","path_prefix":"/attest/","count":1,"drop":true}'
release "$T" "$VAULT_HOST" good
expect_json "release after one MAA drop" 200
"${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "release after one MAA drop"
expect_eq "MAA drops" "$(access_count maa /attest/ 0)" 1
expect_eq "drop used up" "$(curl -sS "$IMDS/emu/faults")" '[]'

# Every time on Key Vault's release: 4 attempts, then one error naming the step and the cause.
EMPTY_REPLY='giving up after 4 attempts: Empty reply from server'
fault_add '{"service":"akv","method":"POST","path_prefix":"/keys/good/release","drop":true}'
t0=$(now_ms)
release "$T" "$VAULT_HOST" good
elapsed=$(($(now_ms) - t0))
fault_clear
error_is "AKV drops exhausted" 403 "$SRF" \
    "=releasing the key good failed: AKV post request failed: HTTP GET failed: Post \"https://$VAULT_HOST/keys/good/release?api-version=7.4\": $EMPTY_REPLY"
expect_eq "AKV drop attempts" "$(access_count akv /keys/good/release 0)" 4
if [[ $SKR_IT_WRAPPED == 0 ]]; then
    ((elapsed < 15000)) || skr_fail "AKV drops x4 took ${elapsed} ms (retry budget: 4 attempts)"
    fault_add '{"service":"maa","method":"POST","path_prefix":"/attest/","drop":true}'
    release "$T" "$VAULT_HOST" good
    fault_clear
    error_is "MAA drops exhausted" 403 "$SRF" \
        "=attestation failed: Retrieving MAA token from MAA endpoint failed: maa post request failed: HTTP GET failed: Post \"https://$MAA_HOST/attest/SevSnpVM?api-version=2020-10-01\": $EMPTY_REPLY"
    expect_eq "MAA drop attempts" "$(access_count maa /attest/ 0)" 5 # 1 above + 4
fi

# Truncated and empty upstream bodies: 403 with a message (the original could panic here).
fault_add '{"service":"akv","path_prefix":"/keys/good/release","count":1,"body":"malformed"}'
release "$T" "$VAULT_HOST" good
error_is "AKV answer cut in half" 403 "$SRF" \
    'releasing the key good failed: unmarshalling http response to releasekey response failed: '
if [[ $SKR_IT_WRAPPED == 0 ]]; then
    fault_add '{"service":"akv","path_prefix":"/keys/good/release","count":1,"status":200,"body":"empty"}'
    release "$T" "$VAULT_HOST" good
    error_is "AKV empty 200" 403 "$SRF" \
        'releasing the key good failed: unmarshalling http response to releasekey response failed: '
    fault_add '{"service":"maa","path_prefix":"/attest/","count":1,"body":"malformed"}'
    release "$T" "$VAULT_HOST" good
    error_is "MAA answer cut in half" 403 "$SRF" \
        'attestation failed: Retrieving MAA token from MAA endpoint failed: unmarshalling maa http response body failed: '
    fault_add '{"service":"maa","path_prefix":"/attest/","count":1,"status":400}'
    release "$T" "$VAULT_HOST" good
    error_is "MAA 400 (not retried)" 403 "$SRF" \
        'attestation failed: Retrieving MAA token from MAA endpoint failed: pulling maa post response failed: {"error":{"code":"InjectedFault","message":"azure-emu injected status 400"}}: http response status equal to 400 Bad Request'
    expect_eq "MAA 400 attempts" "$(access_count maa /attest/ 400)" 1
fi

# Everything still works afterwards, and SIGTERM exits 0.
release "$T" "$VAULT_HOST" good
expect_json "release after the faults" 200
"${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "release after the faults"
skr_stop F
echo "skr_faults_test: ok"
