#!/usr/bin/env bash
# skr_release_test.sh - skr end to end against azure-emu, over TCP (127.0.0.1, -port) and over
# the Unix socket (-socket): /status, /attest/raw (REPORT_DATA and HOST_DATA bytes of the
# report), /attest/combined, /attest/maa (the token's claims), and /key/release for keys that
# the test generated with openssl and imported (PUT /keys/{name}) or had the service create
# (POST /keys/{name}/create), each carrying the release policy made by
# scripts/make-release-policy.sh for the state's security policy: oct-HSM 256 (Managed HSM
# only), RSA-HSM 2048/3072/4096 and EC-HSM P-256/P-384/P-521 in Key Vault and Managed HSM. The
# released JWK must equal the imported key (all private members), or for a created key match
# its public members. Also: key_ops copied, a kid with a version, a caller-supplied
# access_token, the key pool (SKR_KEY_POOL), SIGTERM -> exit 0.
#
# Wrapping keys: skr sends no `enc` (like the original), so every release here is
# CKM_RSA_AES_KEY_WRAP (RSA-OAEP-SHA1 + RFC 5649); RSA_AES_KEY_WRAP_256/384 are covered by the
# unit tests (tests/unit/skr/unwrap_test.c, tests/unit/azure-emu/akv_keystore_test.c).
#
# Under valgrind (SHD_TEST_WRAPPER set by `./run test`) a reduced matrix runs: every endpoint
# once and three releases, so the pass stays within minutes.
#
# Usage: skr_release_test.sh /path/to/skr /path/to/azure-emu
set -euo pipefail

SKR=${1:?usage: $0 /path/to/skr /path/to/azure-emu}
EMU=${2:?usage: $0 /path/to/skr /path/to/azure-emu}
# shellcheck source=skr_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/skr_lib.sh"

skr_it_init
if [[ $SKR_IT_WRAPPED == 1 ]]; then
    echo "skr_release_test: SHD_TEST_WRAPPER set: reduced matrix (3 releases)"
fi

SOCKDIR=$WORK/run
mkdir -m 0750 "$SOCKDIR"
SOCK=$SOCKDIR/skr.sock
skr_start A -socket "$SOCK"
TCP=tcp:$PORT_A
UNIX=unix:$SOCK
expect_eq "socket mode" "$(stat -c '%a %F' "$SOCK")" "660 socket"

# ---- /status, /attest/* on both transports ----
for t in "$TCP" "$UNIX"; do
    call "$t" GET /status
    expect_json "status via $t" 200
    expect_eq "status body via $t" "$(cat "$WORK/body")" '{"message":"Status OK"}'
done

RT_VECTOR='ewogICAiYWtleSIgOiAiYXZhbHVlIgp9Cg==' # skr-sidecar.md §3.1 test vector
RT_JSON=$(printf '{"nonce":"%s","who":"skr_release_test"}' "$RANDOM$RANDOM" | base64 -w0)
POL64=$SECCTX/security-policy-base64
for t in "$TCP" "$UNIX"; do
    for rt in "$RT_VECTOR" "$RT_JSON"; do
        call "$t" POST /attest/raw '{"runtime_data":"'"$rt"'"}'
        expect_json "attest/raw via $t" 200
        "${CHECK[@]}" check-raw "$WORK/body" "$rt" "$POL64" || skr_fail "attest/raw via $t"
    done
    call "$t" POST /attest/combined '{"runtime_data":"'"$RT_JSON"'"}'
    expect_json "attest/combined via $t" 200
    "${CHECK[@]}" check-combined "$WORK/body" "$RT_JSON" "$STATE/snp/thim.json" \
        "$SECCTX/reference-info-base64" "$POL64" || skr_fail "attest/combined via $t"
    call "$t" POST /attest/maa '{"maa_endpoint":"'"$MAA_HOST"'","runtime_data":"'"$RT_JSON"'"}'
    expect_json "attest/maa via $t" 200
    "${CHECK[@]}" check-maa "$WORK/body" "$RT_JSON" "$POL64" "$AUTHORITY" ||
        skr_fail "attest/maa via $t"
    [[ $SKR_IT_WRAPPED == 1 ]] && break # the socket path is covered by the releases below
done
# Another MAA instance name reaches the same emulator; the token names the host skr used.
call "$TCP" POST /attest/maa '{"maa_endpoint":"localhost:'"$MAA_PORT"'","runtime_data":"e30="}'
expect_json "attest/maa via localhost" 200
[[ "$("${CHECK[@]}" get token <"$WORK/body")" == ey*.*.* ]] || skr_fail "maa token shape"

# ---- keys ----
gen_rsa() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$1" -out "$WORK/$2.pem" \
    2>/dev/null && "${CHECK[@]}" jwk-from-pem "$WORK/$2.pem" >"$WORK/$2.jwk"; }
gen_ec() { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$1" -out "$WORK/$2.pem" \
    2>/dev/null && "${CHECK[@]}" jwk-from-pem "$WORK/$2.pem" >"$WORK/$2.jwk"; }
gen_oct() { "${CHECK[@]}" oct-jwk "$(openssl rand -hex 32)" >"$WORK/$1.jwk"; }

# released TARGET HOST KID EXPECTED_JWK|- [BUNDLE] [KEY_OPS]: one release that must succeed.
released() {
    release "$1" "$2" "$3"
    expect_json "release of $3 from $2 via $1" 200
    "${CHECK[@]}" check-key "$WORK/body" "$4" "${5:-}" ${6:+"$6"} ||
        skr_fail "released key $3 from $2 via $1"
    RELEASES=$((RELEASES + 1))
}
RELEASES=0

if [[ $SKR_IT_WRAPPED == 1 ]]; then
    gen_rsa 2048 rsa2048
    gen_ec P-384 ec384
    gen_oct oct1
    import_key "$VAULT_HOST" rsa2048 "$WORK/rsa2048.jwk" "$POLICY"
    released "$TCP" "$VAULT_HOST" rsa2048 "$WORK/rsa2048.jwk"
    import_key "$MHSM_HOST" oct1 "$WORK/oct1.jwk" "$POLICY" wrapKey,unwrapKey
    released "$UNIX" "$MHSM_HOST" oct1 "$WORK/oct1.jwk" '' wrapKey,unwrapKey
    import_key "$MHSM_HOST" ec384 "$WORK/ec384.jwk" "$POLICY"
    released "$UNIX" "$MHSM_HOST" ec384 "$WORK/ec384.jwk"
    skr_stop A
    echo "skr_release_test: ok (reduced matrix under valgrind, $RELEASES releases)"
    exit 0
fi

for b in 2048 3072 4096; do gen_rsa "$b" "rsa$b"; done
for c in 256 384 521; do gen_ec "P-$c" "ec$c"; done
gen_oct oct1
gen_oct oct2

# Imported keys: Key Vault over TCP, Managed HSM over the Unix socket, both with every RSA/EC
# size; oct only in Managed HSM.
for k in rsa2048 rsa3072 rsa4096 ec256 ec384 ec521; do
    import_key "$VAULT_HOST" "v-$k" "$WORK/$k.jwk" "$POLICY"
    released "$TCP" "$VAULT_HOST" "v-$k" "$WORK/$k.jwk"
    import_key "$MHSM_HOST" "m-$k" "$WORK/$k.jwk" "$POLICY"
    released "$UNIX" "$MHSM_HOST" "m-$k" "$WORK/$k.jwk"
done
import_key "$MHSM_HOST" m-oct "$WORK/oct1.jwk" "$POLICY"
released "$UNIX" "$MHSM_HOST" m-oct "$WORK/oct1.jwk"
released "$TCP" "$MHSM_HOST" m-oct "$WORK/oct1.jwk"
# key_ops are copied from the released key.
import_key "$MHSM_HOST" m-oct-ops "$WORK/oct2.jwk" "$POLICY" wrapKey,unwrapKey
released "$UNIX" "$MHSM_HOST" m-oct-ops "$WORK/oct2.jwk" '' wrapKey,unwrapKey
import_key "$VAULT_HOST" v-rsa-ops "$WORK/rsa2048.jwk" "$POLICY" decrypt,unwrapKey
released "$TCP" "$VAULT_HOST" v-rsa-ops "$WORK/rsa2048.jwk" '' decrypt,unwrapKey

# Created keys (the service generates them): public members must match GET /keys/{name}.
create_key "$VAULT_HOST" v-created-rsa RSA-HSM 3072 "$POLICY"
released "$TCP" "$VAULT_HOST" v-created-rsa - "$WORK/bundle-v-created-rsa.json"
create_key "$VAULT_HOST" v-created-ec EC-HSM P-521 "$POLICY"
released "$TCP" "$VAULT_HOST" v-created-ec - "$WORK/bundle-v-created-ec.json"
create_key "$MHSM_HOST" m-created-oct oct-HSM 256 "$POLICY"
released "$UNIX" "$MHSM_HOST" m-created-oct - "$WORK/bundle-m-created-oct.json"
create_key "$MHSM_HOST" m-created-rsa RSA-HSM 4096 "$POLICY"
released "$UNIX" "$MHSM_HOST" m-created-rsa - "$WORK/bundle-m-created-rsa.json"

# A kid with a version: two versions under one name; the bare name releases the newest.
import_key "$VAULT_HOST" versioned "$WORK/ec256.jwk" "$POLICY"
V1=$("${CHECK[@]}" get key.kid <"$WORK/akv.json")
V1=${V1##*/}
import_key "$VAULT_HOST" versioned "$WORK/ec384.jwk" "$POLICY"
released "$TCP" "$VAULT_HOST" versioned "$WORK/ec384.jwk"
released "$TCP" "$VAULT_HOST" "versioned/$V1" "$WORK/ec256.jwk"

skr_stop A

# A fresh instance: a caller-supplied access_token is used verbatim (no IMDS call), then the
# key pool (SKR_KEY_POOL: wrapping keys generated ahead, each used once).
SKR_KEY_POOL=2 skr_start P
TOKEN=$(emu_token https%3A%2F%2Fmanagedhsm.azure.net)
IMDS_BEFORE=$(access_count imds /metadata/identity 200)
release "tcp:$PORT_P" "$MHSM_HOST" m-ec256 "$TOKEN"
expect_json "release with access_token" 200
"${CHECK[@]}" check-key "$WORK/body" "$WORK/ec256.jwk" || skr_fail "release with access_token"
expect_eq "IMDS calls for a supplied token" "$(access_count imds /metadata/identity 200)" \
    "$IMDS_BEFORE"
for _ in 1 2 3; do
    released "tcp:$PORT_P" "$VAULT_HOST" v-rsa2048 "$WORK/rsa2048.jwk"
done
skr_stop P

echo "skr_release_test: ok ($RELEASES releases)"
