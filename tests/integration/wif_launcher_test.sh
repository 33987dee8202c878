#!/usr/bin/env bash
# wif_launcher_test.sh - gcp-wif --mode launcher end to end against gcp-emu: the Confidential
# Space launcher's token file is played by verifier tokens that a tpm-mode gcp-wif (the
# "launcher", unwrapped) earns from the emulator's vTPM and hands out on /identity.
#   - default audience: /identity answers the file's token; /token, /kms/asymmetricDecrypt and
#     /key/release work with it
#   - STS invalid_grant once: the launcher replaced the file (rename) after the broker cached its
#     token and STS refuses the cached one (an injected 404 on the issuer's discovery document):
#     /token reads the new token and succeeds; STS saw one 400 and one 200; /identity then
#     answers the new token
#   - STS refusing every time: one retry, then a clear 403 naming the STS step and STS's
#     error_description
#   - no token file: refused at start-up with the reason
# Custom audiences in launcher mode need the launcher's teeserver socket (unit tests cover it).
#
# Usage: wif_launcher_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

wif_it_init

# ---- the "launcher": a tpm-mode gcp-wif (infrastructure here: not wrapped) ----
WIF_NAMES+=(L)
rm -f "$WORK/L.sock"
start_plain L "$WORK/wif-L.log" "$WIF" --socket "$WORK/L.sock"
wait_for_file "$WORK/L.sock" 20 || wif_fail "launcher gcp-wif did not create its socket"
# verifier_token AUDIENCE FILE: a fresh verifier token for AUDIENCE written like the launcher
# does (temp file + rename, no newline).
verifier_token() {
    local q
    q="?audience=$(urlenc "$1")"
    call L GET "/identity$q"
    [[ "$CODE" == 200 ]] || wif_fail "launcher /identity$q: $CODE $(cat "$WORK/body")"
    body_get token | tr -d '\n' >"$2.tmp"
    mv -f "$2.tmp" "$2"
}
TOKFILE=$WORK/launcher/attestation_verifier_claims_token
mkdir -p "$WORK/launcher"

# ---- default audience: /identity, /token, KMS and a key release with the file's token ----
verifier_token https://sts.googleapis.com "$TOKFILE"
wif_start A --mode launcher --launcher-token "$TOKFILE"
wif_wait_attested A
call_ok A GET /status
expect_eq "status mode" "$(body_get mode)" launcher
call_ok A GET /identity
expect_eq "identity is the file's token" "$(body_get token)" "$(cat "$TOKFILE")"
call_ok A GET /token
TOKEN=$(body_get access_token)
[[ "$TOKEN" == ya29.gemu.* ]] || wif_fail "access token '$TOKEN'"
head -c 64 /dev/urandom >"$WORK/secret.bin"
call_ok A GET "/kms/publicKey?name=$RSA_VERSION"
body_get pem >"$WORK/rsa-pub.pem"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa-pub.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/secret.bin" \
    -out "$WORK/secret.enc" || wif_fail "openssl OAEP encryption"
call_ok A POST /kms/asymmetricDecrypt \
    '{"name":"'"$RSA_VERSION"'","ciphertext":"'"$(base64 -w0 "$WORK/secret.enc")"'"}'
expect_eq "asymmetricDecrypt" "$(body_get plaintext)" "$(base64 -w0 "$WORK/secret.bin")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ec.pem" 2>/dev/null
"$WIF" wrap-key --kms-key "$SYM_KEY" --in "$WORK/ec.pem" --out "$WORK/ec.blob" \
    >"$WORK/wrap.log" 2>&1 || wif_fail "wrap-key"
call_ok A POST /key/release '{"kms_key":"'"$SYM_KEY"'","wrapped_key_file":"'"$WORK/ec.blob"'"}'
"${CHECK[@]}" check-key "$WORK/body" "$WORK/ec.pem" || wif_fail "released EC key"
wif_stop A

# ---- STS invalid_grant once: the launcher replaced the file after the broker cached its token,
# and STS refuses the cached one (it cannot fetch the issuer's discovery document once: 404) ->
# the broker reads the file again, exchanges the new token and succeeds ----
wif_start B --mode launcher --launcher-token "$TOKFILE"
wif_wait_attested B
old=$(cat "$TOKFILE")
sleep 1 # another iat, so the new token differs
verifier_token https://sts.googleapis.com "$TOKFILE"
[[ "$(cat "$TOKFILE")" != "$old" ]] || wif_fail "the launcher handed out the same token twice"
call_ok B GET /identity
expect_eq "identity before the exchange (cached)" "$(body_get token)" "$old"
sts400=$(access_count sts POST /v1/token 400)
sts200=$(access_count sts POST /v1/token 200)
fault_discovery_404 1
call_ok B GET /token
[[ "$(body_get access_token)" == ya29.gemu.* ]] || wif_fail "token after invalid_grant"
expect_eq "STS 400 (invalid_grant) for the cached token" "$(access_count sts POST /v1/token 400)" \
    "$((sts400 + 1))"
expect_eq "STS 200 with the fresh token" "$(access_count sts POST /v1/token 200)" "$((sts200 + 1))"
grep -q 'invalid_grant' "$WORK/wif-B.log" || wif_fail "the retry after invalid_grant was not logged"
call_ok B GET /identity
expect_eq "identity after invalid_grant: the new file's token" "$(body_get token)" \
    "$(cat "$TOKFILE")"
wif_stop B

# ---- STS refuses every time: 403 naming the step and STS's error_description, after exactly
# one retry with the token read again ----
wif_start C --mode launcher --launcher-token "$TOKFILE"
wif_wait_attested C
fault_discovery_404 0
sts400=$(access_count sts POST /v1/token 400)
call C GET /token
expect_eq "STS calls for a refused /token" "$(access_count sts POST /v1/token 400)" \
    "$((sts400 + 2))"
VERIFIER=https://confidentialcomputing.googleapis.com
"${CHECK[@]}" check-error "$WORK/body" "$CODE" 403 credentials "STS token exchange" \
    invalid_grant "Unable to fetch $VERIFIER$DISCOVERY: HTTP 404" || wif_fail "rejected token"
fault_clear
wif_stop C

# ---- no token file: refused at start-up (exit 1) with the reason ----
WIF_NAMES+=(D)
start_daemon D "$WORK/wif-D.log" "$WIF" --socket "$WORK/D.sock" --mode launcher \
    --launcher-token "$WORK/launcher/missing"
for ((i = 0; i < WIF_IT_READY_S * 10; i++)); do
    kill -0 "$PID_D" 2>/dev/null || break
    sleep 0.1
done
stop_daemon D 1 || wif_fail "a missing launcher token file was not refused with exit 1"
grep -q 'launcher token file .*/launcher/missing is missing' "$WORK/wif-D.log" ||
    wif_fail "no reason given for the missing token file"

stop_daemon L 0 || wif_fail "launcher gcp-wif did not stop cleanly"
wif_it_finish
echo "wif_launcher_test: ok"
