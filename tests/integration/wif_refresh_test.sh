#!/usr/bin/env bash
# wif_refresh_test.sh - access tokens refreshed across short lifetimes with no failed request:
# gcp-wif impersonates with --sa-lifetime 302, so each access token may be served for 2 s (it is
# replaced 5 minutes before it expires). Four clients call /token, /kms/asymmetricDecrypt and
# /key/release for 10 s: every answer is 200, /token never hands out a token with less than the
# 5-minute margin left, the token changes every ~2 s, and each change is one STS exchange plus
# one IAM call (no exchange per request, no thundering herd).
#
# The attestation token's own refresh (U(0.7, 0.9) of its lifetime) is not covered here: the
# emulator's verifier issues 1-hour tokens and has no setting to shorten them.
#
# Usage: wif_refresh_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

wif_it_init
wif_start R --sa-lifetime 302
wif_wait_attested R

# Request bodies: a decrypt of openssl's OAEP ciphertext and a release of a wrapped raw key.
call_ok R GET "/kms/publicKey?name=$RSA_VERSION"
body_get pem >"$WORK/rsa-pub.pem"
head -c 32 /dev/urandom >"$WORK/raw.bin"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa-pub.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/raw.bin" \
    -out "$WORK/raw.enc" || wif_fail "openssl OAEP encryption"
printf '{"name":"%s","ciphertext":"%s"}' "$RSA_VERSION" "$(base64 -w0 "$WORK/raw.enc")" \
    >"$WORK/decrypt.json"
"$WIF" wrap-key --raw --base64 --in "$WORK/raw.bin" --out "$WORK/raw.b64" >"$WORK/wrap.log" 2>&1 ||
    wif_fail "wrap-key"
printf '{"kms_key":"%s","wrapped_key":"%s"}' "$SYM_KEY" "$(cat "$WORK/raw.b64")" \
    >"$WORK/release.json"

sts0=$(access_count sts POST /v1/token 200)
iam0=$(access_count iam POST "$IAM_SA" 200)
python3 "$WIF_IT_HERE/wif_load.py" "$WORK/R.sock" 10 4 100 GET:/token \
    "POST:/kms/asymmetricDecrypt:$WORK/decrypt.json" "POST:/key/release:$WORK/release.json" \
    >"$WORK/load.json" || wif_fail "load client"
echo "wif_refresh_test: $(cat "$WORK/load.json")"
get() { "${CHECK[@]}" get "$1" <"$WORK/load.json"; }
expect_eq "failed requests" "$(get failures)" "[]"
expect_eq "statuses" "$(get statuses | sed 's/[0-9]*}$/N}/')" '{"200": N}'
tokens=$(get tokens)
min_tokens=4
[[ "$WIF_IT_WRAPPED" == 1 ]] && min_tokens=2
((tokens >= min_tokens)) || wif_fail "only $tokens access tokens in 10 s with 2-s reuse"
lo=$(get min_expires_in)
hi=$(get max_expires_in)
((lo >= 299 && hi <= 302)) || wif_fail "expires_in from $lo to $hi, want 299..302"
sts=$(($(access_count sts POST /v1/token 200) - sts0))
iam=$(($(access_count iam POST "$IAM_SA" 200) - iam0))
expect_eq "IAM calls = STS exchanges" "$iam" "$sts"
# One exchange per token: the first token was earned before the counts were taken (publicKey),
# and at most one more exchange may have refreshed a token no /token call saw.
((sts >= tokens - 1 && sts <= tokens + 1)) || wif_fail "$sts STS exchanges for $tokens tokens"
expect_eq "STS errors" "$(access_count sts POST /v1/token 4[0-9][0-9])" 0
call_ok R GET /status
expect_eq "refresh failures" "$(body_get refresh_failures)" 0

wif_stop R
wif_it_finish
echo "wif_refresh_test: ok"
