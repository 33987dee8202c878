#!/usr/bin/env bash
# wif_tpm_test.sh - gcp-wif --mode tpm end to end against gcp-emu (vTPM on swtpm) under the real
# Google host names:
#   /status, /token twice (one STS exchange and one IAM call: the second answer is cached),
#   /identity (the cached default-audience verifier token) and /identity?audience=A (a fresh one),
#   /kms/publicKey (RSA-4096), /kms/asymmetricDecrypt of data encrypted with that key by openssl
#   (OAEP SHA-256), `gcp-wif wrap-key` with the state's symmetric key and /key/release of an
#   RSA PKCS#8 key (wrapped_key_file) and of a 32-byte raw key (--raw --base64, wrapped_key):
#   the JWKs equal the originals; bad requests; the metadata look-alike (Metadata-Flavor both
#   ways, the same token); no token in any log; exit 0 on SIGTERM. Under `./run test`'s valgrind
#   pass this is the full flow checked for memory errors and leaks.
#
# Usage: wif_tpm_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

wif_it_init
MPORT=$(free_port)
wif_start T --metadata-port "$MPORT"
wif_wait_attested T

# ---- status ----
call_ok T GET /status
expect_eq "status mode" "$(body_get mode)" tpm
expect_eq "status failures" "$(body_get refresh_failures)" 0

# ---- /token twice: the second from the cache ----
call_ok T GET /token
TOKEN=$(body_get access_token)
[[ "$TOKEN" == ya29.gemu.* ]] || wif_fail "access token '$TOKEN'"
expect_eq "token_type" "$(body_get token_type)" Bearer
exp1=$(body_get expires_in)
((exp1 > 3500 && exp1 <= 3600)) || wif_fail "expires_in $exp1"
call_ok T GET /token
expect_eq "cached token" "$(body_get access_token)" "$TOKEN"
expect_eq "STS exchanges for two /token" "$(access_count sts POST /v1/token 200)" 1
expect_eq "IAM calls for two /token" "$(access_count iam POST "$IAM_SA" 200)" 1

# ---- /identity: the default token (cached) and one for another audience (fresh) ----
verify0=$(access_count verifier POST "$CHALLENGES/" 200)
call_ok T GET /identity
"${CHECK[@]}" check-attestation "$(body_get token)" https://sts.googleapis.com ||
    wif_fail "default identity token"
expect_eq "verifyAttestation calls for the cached identity" \
    "$(access_count verifier POST "$CHALLENGES/" 200)" "$verify0"
call_ok T GET '/identity?audience=https%3A%2F%2Fexample.com%2Fwif-it'
"${CHECK[@]}" check-attestation "$(body_get token)" https://example.com/wif-it ||
    wif_fail "custom-audience identity token"
expect_eq "verifyAttestation calls for a custom audience" \
    "$(access_count verifier POST "$CHALLENGES/" 200)" "$((verify0 + 1))"

# ---- KMS: public key, then decrypt what openssl encrypted with it ----
call_ok T GET "/kms/publicKey?name=$RSA_VERSION"
expect_eq "publicKey algorithm" "$(body_get algorithm)" RSA_DECRYPT_OAEP_4096_SHA256
body_get pem >"$WORK/rsa-pub.pem"
openssl pkey -pubin -in "$WORK/rsa-pub.pem" -noout -text 2>/dev/null | grep -q '4096 bit' ||
    wif_fail "publicKey is not an RSA-4096 SPKI: $(cat "$WORK/body")"
head -c 190 /dev/urandom >"$WORK/secret.bin"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa-pub.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/secret.bin" \
    -out "$WORK/secret.enc" || wif_fail "openssl OAEP encryption"
call_ok T POST /kms/asymmetricDecrypt \
    '{"name":"'"$RSA_VERSION"'","ciphertext":"'"$(base64 -w0 "$WORK/secret.enc")"'"}'
expect_eq "asymmetricDecrypt plaintext" "$(body_get plaintext)" "$(base64 -w0 "$WORK/secret.bin")"

# ---- wrap-key + /key/release: an RSA PKCS#8 key from a file, a raw 32-byte key inline ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.pem" 2>/dev/null
${SHD_TEST_WRAPPER:-} "$WIF" wrap-key --kms-key "$SYM_KEY" --in "$WORK/rsa.pem" \
    --out "$WORK/rsa.blob" >"$WORK/wrap-rsa.log" 2>&1 || wif_fail "wrap-key (RSA)"
[[ "$(head -c 4 "$WORK/rsa.blob")" == GKMS ]] || wif_fail "rsa.blob is not a KMS ciphertext"
call_ok T POST /key/release '{"kms_key":"'"$SYM_KEY"'","wrapped_key_file":"'"$WORK/rsa.blob"'"}'
"${CHECK[@]}" check-key "$WORK/body" "$WORK/rsa.pem" || wif_fail "released RSA key"

head -c 32 /dev/urandom >"$WORK/raw.bin"
# --kms-key defaults to kms_sym_key of endpoints.json
${SHD_TEST_WRAPPER:-} "$WIF" wrap-key --raw --base64 --in "$WORK/raw.bin" \
    --out "$WORK/raw.b64" >"$WORK/wrap-raw.log" 2>&1 || wif_fail "wrap-key (raw)"
call_ok T POST /key/release '{"kms_key":"'"$SYM_KEY"'","wrapped_key":"'"$(cat "$WORK/raw.b64")"'"}'
"${CHECK[@]}" check-key "$WORK/body" "$WORK/raw.bin" raw || wif_fail "released raw key"

# ---- bad requests ----
call T POST /key/release '{"wrapped_key":"AAAA"}'
"${CHECK[@]}" check-error "$WORK/body" "$CODE" 400 request kms_key || wif_fail "no kms_key"
call T POST /key/release '{"kms_key":"'"$SYM_KEY"'","wrapped_key":"R0tNUwEAAAAB"}'
"${CHECK[@]}" check-error "$WORK/body" "$CODE" 502 KMS "Decryption failed" ||
    wif_fail "forged ciphertext"
call T GET /nope
expect_eq "unknown path" "$CODE" 404

# ---- metadata look-alike: the same token for unmodified SDKs ----
M=http://127.0.0.1:$MPORT/computeMetadata/v1
out=$(curl -sS --max-time "$WIF_IT_CURL_S" -D "$WORK/mds-headers" -H 'Metadata-Flavor: Google' \
    "$M/instance/service-accounts/default/token")
expect_eq "look-alike token" "$(printf '%s' "$out" | "${CHECK[@]}" get access_token)" "$TOKEN"
grep -qi '^Metadata-Flavor: Google' "$WORK/mds-headers" || wif_fail "no Metadata-Flavor answer"
code=$(curl -sS --max-time "$WIF_IT_CURL_S" -o /dev/null -w '%{http_code}' "$M/project/project-id")
expect_eq "look-alike without Metadata-Flavor" "$code" 403
out=$(curl -sS --max-time "$WIF_IT_CURL_S" -H 'Metadata-Flavor: Google' "$M/project/project-id")
expect_eq "look-alike project" "$out" gemu-project

# ---- tokens and keys never reach a log ----
for f in "$WORK"/*.log; do
    if grep -q "$TOKEN" "$f"; then wif_fail "the access token reached $(basename "$f")"; fi
done

wif_stop T
wif_it_finish
echo "wif_tpm_test: ok"
