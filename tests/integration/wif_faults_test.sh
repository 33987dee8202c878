#!/usr/bin/env bash
# wif_faults_test.sh - gcp-wif (tpm mode) against faults injected into gcp-emu at run time:
#   STS 429 with Retry-After: 1, then success -> /token 200 after >= 1 s (one 429, one 200)
#   503 on the verifier until cleared -> /identity?audience=.. fails after 4 attempts with a
#     clear 502 naming the step, the verifier URL and the status; /status keeps answering
#   STS invalid_grant once (STS cannot fetch the verifier's discovery document: 404) -> the
#     broker earns a fresh attestation token (one more quote and verifyAttestation) and succeeds
#   verifier connection dropped once (no answer) -> retried, the identity token is earned
#   KMS answer cut in half (malformed JSON) once -> a clear 502 KMS error; the next call works
#
# Usage: wif_faults_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

wif_it_init

# ---- STS: 429 with Retry-After, then success ----
wif_start F
wif_wait_attested F
fault_add '{"service":"sts","method":"POST","path_prefix":"/v1/token","count":1,"status":429,
            "retry_after":1}'
t0=$(now_ms)
call_ok F GET /token
ms=$(($(now_ms) - t0))
((ms >= 1000)) || wif_fail "Retry-After: 1 not honoured (${ms} ms)"
[[ "$(body_get access_token)" == ya29.gemu.* ]] || wif_fail "token after 429"
expect_eq "STS 429 answers" "$(access_count sts POST /v1/token 429)" 1
expect_eq "STS 200 answers" "$(access_count sts POST /v1/token 200)" 1

# ---- verifier: 503 until the retries are exhausted ----
fault_add '{"service":"verifier","count":0,"status":503}'
call F GET '/identity?audience=https%3A%2F%2Fexample.com%2Ffaults'
"${CHECK[@]}" check-error "$WORK/body" "$CODE" 502 identity attestation \
    "giving up after 4 attempts" \
    "https://confidentialcomputing.googleapis.com/v1/projects/gemu-project/locations/us-central1" \
    503 || wif_fail "verifier 503"
expect_eq "verifier calls (all faulted)" \
    "$(grep -c 'service=verifier .*status=503 .*fault=injected' "$WORK/emu.log")" 4
call_ok F GET /status
fault_clear
call_ok F GET '/identity?audience=https%3A%2F%2Fexample.com%2Ffaults'
"${CHECK[@]}" check-attestation "$(body_get token)" https://example.com/faults ||
    wif_fail "identity after the fault was cleared"

# ---- verifier: the connection dropped once (no answer at all) -> retried, then success ----
fault_add '{"service":"verifier","count":1,"drop":true}'
call_ok F GET '/identity?audience=https%3A%2F%2Fexample.com%2Fdrop'
"${CHECK[@]}" check-attestation "$(body_get token)" https://example.com/drop ||
    wif_fail "identity after a dropped connection"
expect_eq "verifier connections dropped" \
    "$(grep -c 'service=verifier .*status=0 .*fault=drop' "$WORK/emu.log")" 1

# ---- KMS: a malformed answer once ----
fault_add '{"service":"kms","method":"GET","count":1,"body":"malformed"}'
call F GET "/kms/publicKey?name=$RSA_VERSION"
"${CHECK[@]}" check-error "$WORK/body" "$CODE" 502 KMS || wif_fail "malformed KMS answer"
call_ok F GET "/kms/publicKey?name=$RSA_VERSION"
expect_eq "publicKey after the fault" "$(body_get algorithm)" RSA_DECRYPT_OAEP_4096_SHA256
wif_stop F

# ---- STS invalid_grant once: a fresh attestation token, then success ----
wif_start G
wif_wait_attested G
verify0=$(access_count verifier POST "$CHALLENGES/" 200)
sts400=$(access_count sts POST /v1/token 400)
sts200=$(access_count sts POST /v1/token 200)
fault_discovery_404 1
call_ok G GET /token
[[ "$(body_get access_token)" == ya29.gemu.* ]] || wif_fail "token after invalid_grant"
expect_eq "STS invalid_grant" "$(access_count sts POST /v1/token 400)" "$((sts400 + 1))"
expect_eq "STS success after it" "$(access_count sts POST /v1/token 200)" "$((sts200 + 1))"
expect_eq "fresh attestation (verifyAttestation calls)" \
    "$(access_count verifier POST "$CHALLENGES/" 200)" "$((verify0 + 1))"
grep -q 'invalid_grant' "$WORK/wif-G.log" || wif_fail "the retry after invalid_grant was not logged"
call_ok G GET /status
expect_eq "refresh failures" "$(body_get refresh_failures)" 0
wif_stop G

wif_it_finish
echo "wif_faults_test: ok"
