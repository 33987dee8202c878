#!/usr/bin/env bash
# gcp_emu_test.sh - `gcp-emu init` + `gcp-emu serve` as a real process, driven with curl under
# the real Google host names (--connect-to + the state CA, no "insecure" switch): endpoints.json,
# the metadata server (Metadata-Flavor both ways, token, identity token), the verifier's
# discovery document and JWKS, STS and IAM error bodies, KMS provisioning over REST and its
# 401/403 envelopes, an injected fault (503 with Retry-After, then OK), the access log without
# tokens, and a clean exit 0 on SIGTERM. With swtpm installed, also `serve --vtpm` (tcti in
# endpoints.json, the event log on the MDS listener).
#
# Usage: gcp_emu_test.sh /path/to/gcp-emu
set -euo pipefail

EMU=${1:?usage: $0 /path/to/gcp-emu}
WORK=$(mktemp -d /tmp/gcp-emu-it-XXXXXX)
STATE=$WORK/state
PID=

cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- serve log ---" >&2
    cat "$WORK/serve.log" >&2 || true
    exit 1
}

expect_eq() { # what got want
    [[ "$2" == "$3" ]] || fail "$1: got '$2', want '$3'"
}

expect_has() { # what haystack needle
    [[ "$2" == *"$3"* ]] || fail "$1: '$2' does not contain '$3'"
}

start_serve() {
    rm -f "$STATE/endpoints.json"
    "$EMU" serve --state "$STATE" "$@" >"$WORK/serve.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do
        [[ -f "$STATE/endpoints.json" ]] && return 0
        kill -0 "$PID" 2>/dev/null || fail "serve exited early"
        sleep 0.1
    done
    fail "no endpoints.json after 30 s"
}

stop_serve() {
    kill -TERM "$PID"
    local rc=0
    wait "$PID" || rc=$?
    PID=
    expect_eq "exit status after SIGTERM" "$rc" 0
}

# endpoints.json is one compact JSON object of string members.
field() { grep -o "\"$1\":\"[^\"]*\"" "$STATE/endpoints.json" | sed 's/^"[^"]*":"\(.*\)"$/\1/'; }
port_of() { sed 's/.*:\([0-9]*\)$/\1/' <<<"$1"; }

"$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; exit 1; }
start_serve

MDS=$(field mds)
CA=$(field ca)
VP=$(port_of "$(field verifier)")
SP=$(port_of "$(field sts)")
IP=$(port_of "$(field iam)")
KP=$(port_of "$(field kms)")
[[ "$MDS" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "mds endpoint '$MDS'"
[[ "$(field kms)" =~ ^https://localhost:[0-9]+$ ]] || fail "kms endpoint"
expect_eq audience "$(field audience)" \
    "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/gemu-pool/providers/attestation-verifier"
expect_eq service_account "$(field service_account)" "kms-user@gemu-project.iam.gserviceaccount.com"
RSA=$(field kms_rsa_key_version)
SYM=$(field kms_sym_key)
expect_eq rsa "$RSA" "projects/gemu-project/locations/global/keyRings/gemu-ring/cryptoKeys/gemu-rsa/cryptoKeyVersions/1"

CURL=(curl -sS --max-time 10 --cacert "$CA"
      --connect-to "confidentialcomputing.googleapis.com:443:127.0.0.1:$VP"
      --connect-to "www.googleapis.com:443:127.0.0.1:$VP"
      --connect-to "sts.googleapis.com:443:127.0.0.1:$SP"
      --connect-to "iamcredentials.googleapis.com:443:127.0.0.1:$IP"
      --connect-to "cloudkms.googleapis.com:443:127.0.0.1:$KP")

# --- metadata server -------------------------------------------------------------------------
out=$("${CURL[@]}" -i "$MDS/computeMetadata/v1/project/project-id")
expect_has "mds without flavor" "$out" "403"
expect_has "mds flavor header on 403" "$out" "Metadata-Flavor: Google"
out=$("${CURL[@]}" -H 'Metadata-Flavor: Google' "$MDS/computeMetadata/v1/instance/zone")
expect_eq zone "$out" "projects/123456789012/zones/us-central1-a"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Metadata-Flavor: Google' "$MDS/computeMetadata/v1/nope")
expect_eq "mds unknown path" "$code" 404
out=$("${CURL[@]}" -H 'Metadata-Flavor: Google' "$MDS/computeMetadata/v1/instance/service-accounts/default/token")
TOK=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$out")
[[ "$TOK" == ya29.gemu.* ]] || fail "mds token: $out"
out=$("${CURL[@]}" -H 'Metadata-Flavor: Google' \
      "$MDS/computeMetadata/v1/instance/service-accounts/default/identity?audience=x&format=full")
[[ "$out" =~ ^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$ ]] || fail "identity token '$out'"

# --- verifier's OIDC documents under the real names ------------------------------------------
out=$("${CURL[@]}" https://confidentialcomputing.googleapis.com/.well-known/openid-configuration)
expect_has discovery "$out" '"issuer":"https://confidentialcomputing.googleapis.com"'
out=$("${CURL[@]}" "https://www.googleapis.com/service_accounts/v1/metadata/jwk/signer@confidentialspace-sign.iam.gserviceaccount.com")
expect_has jwks "$out" '"alg":"RS256"'

# --- STS and IAM error bodies ----------------------------------------------------------------
out=$("${CURL[@]}" -X POST https://sts.googleapis.com/v1/token \
      --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
      --data-urlencode "audience=$(field audience)x" \
      --data-urlencode subject_token=a.b.c \
      --data-urlencode subject_token_type=urn:ietf:params:oauth:token-type:jwt)
expect_has "sts invalid_target" "$out" '"error":"invalid_target"'
out=$("${CURL[@]}" -X POST https://sts.googleapis.com/v1/token \
      --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
      --data-urlencode "audience=$(field audience)" \
      --data-urlencode subject_token=a.b.c \
      --data-urlencode subject_token_type=urn:ietf:params:oauth:token-type:jwt)
expect_has "sts invalid_grant" "$out" '"error":"invalid_grant"'
out=$("${CURL[@]}" -X POST -H 'Content-Type: application/json' -d '{}' \
      "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/kms-user%40gemu-project.iam.gserviceaccount.com:generateAccessToken")
expect_has "iam 401" "$out" '"status":"UNAUTHENTICATED"'
out=$("${CURL[@]}" -X POST -H "Authorization: Bearer $TOK" -d '{}' \
      "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/kms-user@gemu-project.iam.gserviceaccount.com:generateAccessToken")
expect_has "iam 403" "$out" "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."

# --- KMS: REST provisioning with the VM token, 401 and 403 -----------------------------------
KMS=https://cloudkms.googleapis.com/v1
out=$("${CURL[@]}" -X POST -H "Authorization: Bearer $TOK" -d '{}' \
      "$KMS/projects/gemu-project/locations/global/keyRings?keyRingId=it-ring")
expect_has "keyRings.create" "$out" '"name":"projects/gemu-project/locations/global/keyRings/it-ring"'
out=$("${CURL[@]}" -X POST -H "Authorization: Bearer $TOK" \
      -d '{"purpose":"ENCRYPT_DECRYPT","versionTemplate":{"algorithm":"GOOGLE_SYMMETRIC_ENCRYPTION"}}' \
      "$KMS/projects/gemu-project/locations/global/keyRings/it-ring/cryptoKeys?cryptoKeyId=k")
expect_has "cryptoKeys.create" "$out" '"purpose":"ENCRYPT_DECRYPT"'
out=$("${CURL[@]}" -X POST -d '{"plaintext":"YQ=="}' "$KMS/$SYM:encrypt?\$alt=json%3Benum-encoding=int")
expect_has "kms 401" "$out" '"code":401'
out=$("${CURL[@]}" -X POST -H "Authorization: Bearer $TOK" -d '{"plaintext":"YQ=="}' "$KMS/$SYM:encrypt")
expect_has "kms 403" "$out" "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '$SYM' (or it may not exist)."
"${CURL[@]}" -H "Authorization: Bearer $TOK" "$KMS/$RSA/publicKey" >"$WORK/pk.json"
sed -n 's/.*"pem":"\([^"]*\)".*/\1/p' "$WORK/pk.json" | sed 's/\\n/\n/g' >"$WORK/pk.pem"
openssl pkey -pubin -in "$WORK/pk.pem" -noout -text 2>/dev/null | grep -q "4096 bit" \
    || fail "publicKey is not an RSA-4096 SPKI: $(cat "$WORK/pk.json")"

# --- fault injection on the KMS listener -----------------------------------------------------
"${CURL[@]}" -X POST -d '{"service":"kms","path_prefix":"/v1/","count":1,"status":503,"retry_after":1}' \
    "$MDS/emu/faults" >/dev/null
out=$("${CURL[@]}" -i -H "Authorization: Bearer $TOK" "$KMS/$RSA/publicKey")
expect_has "fault status" "$out" "503"
expect_has "fault Retry-After" "$out" "Retry-After: 1"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$KMS/$RSA/publicKey")
expect_eq "after the fault" "$code" 200

# --- access log: requests are logged, tokens never -------------------------------------------
grep -q 'module=gemu-access.*service=kms.*status=503.*fault=injected' "$WORK/serve.log" \
    || fail "access log lacks the faulted request"
if grep -q "$TOK" "$WORK/serve.log"; then fail "a token reached the log"; fi

stop_serve

# --- with the vTPM (swtpm) -------------------------------------------------------------------
if command -v swtpm >/dev/null 2>&1; then
    start_serve --vtpm
    TCTI=$(field tcti)
    [[ "$TCTI" =~ ^swtpm:host=127\.0\.0\.1,port=[0-9]+$ ]] || fail "tcti '$TCTI'"
    MDS=$(field mds)
    code=$("${CURL[@]}" -o "$WORK/eventlog" -w '%{http_code}' "$MDS/gemu/eventlog")
    expect_eq "event log" "$code" 200
    [[ -s "$WORK/eventlog" ]] || fail "empty event log"
    code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
           --connect-to "privateca-content-gemu.storage.googleapis.com:80:127.0.0.1:$(port_of "$MDS")" \
           http://privateca-content-gemu.storage.googleapis.com/gemu/ak/intermediate.crt)
    expect_eq "AIA through the real-looking host" "$code" 200
    stop_serve
else
    echo "gcp_emu_test: swtpm not installed, --vtpm part skipped"
fi
echo "gcp_emu_test: ok"
