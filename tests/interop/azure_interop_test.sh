#!/usr/bin/env bash
# azure_interop_test.sh - the real Azure SDKs from npm (tests/interop/package.json) against
# `azure-emu serve` and `skr`, under the real cloud host names with the emulator's test CA and no
# "insecure" switch (specs/real-clients.md §2):
#   azure/keyvault_release.mjs  @azure/identity managed identity + @azure/keyvault-keys: create,
#                               get, releaseKey with an MAA token from skr; the JWS is verified
#                               and unwrapped in Node; a policy pinning other hostdata gets 403;
#                               Managed HSM oct-HSM import/create and release
#   azure/attestation.mjs       @azure/attestation: signers from /certs, OpenID metadata, the
#                               skr token verified with those signers
#   azure/tls_untrusted.mjs     the same SDK calls without the test CA fail verification
#
# Usage: azure_interop_test.sh /path/to/azure-emu /path/to/skr
# Needs node >= 20 and tests/interop/node_modules (`./run test` runs `npm ci` there first). A
# missing prerequisite FAILS the test with the reason; it is never skipped.
set -euo pipefail

EMU=${1:?usage: $0 /path/to/azure-emu /path/to/skr}
SKR=${2:?usage: $0 /path/to/azure-emu /path/to/skr}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

MAA_HOST=sharedeus.eus.attest.azure.net
MAA_AUTHORITY=https://$MAA_HOST
VAULT_HOST=myvault.vault.azure.net
MHSM_HOST=myhsm.managedhsm.azure.net

die() {
    echo "FAIL: $*" >&2
    exit 1
}

# ---- prerequisites: fail loudly, never skip ----
command -v node >/dev/null 2>&1 ||
    die "node is not installed (Node >= 20 is needed; ./run test installs it)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ "$node_major" =~ ^[0-9]+$ && "$node_major" -ge 20 ]] ||
    die "node $(node --version) is too old: the pinned Azure SDKs need Node >= 20"
for pkg in @azure/identity @azure/keyvault-keys @azure/attestation jose; do
    [[ -f "$HERE/node_modules/$pkg/package.json" ]] ||
        die "$HERE/node_modules/$pkg is missing: run 'npm ci' in $HERE (./run test does it)"
done
[[ -x "$EMU" ]] || die "azure-emu '$EMU' is not executable"
[[ -x "$SKR" ]] || die "skr '$SKR' is not executable"

WORK=$(shd_work_dir)
STATE=$WORK/state
# shellcheck disable=SC2034 # read through ${!pidvar} by lib.sh
PID_emu='' PID_skr=''

cleanup() {
    kill_all skr emu
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for log in serve skr; do
        echo "--- $log log (last 40 lines) ---" >&2
        tail -n 40 "$WORK/$log.log" >&2 || true
    done
    exit 1
}

# ---- emulator ----
"$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 ||
    { cat "$WORK/init.log" >&2; die "azure-emu init"; }
start_plain emu "$WORK/serve.log" "$EMU" serve --state "$STATE"
wait_for_file "$STATE/endpoints.json" 30 || fail "azure-emu wrote no endpoints.json"

endpoint() {
    node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
             process.stdout.write(String(e[process.argv[2]]));' "$STATE/endpoints.json" "$1"
}
MAA_PORT=$(endpoint maa)
MAA_PORT=${MAA_PORT#localhost:}
AKV_PORT=$(endpoint akv)
AKV_PORT=${AKV_PORT#localhost:}
MHSM_PORT=$(endpoint mhsm)
MHSM_PORT=${MHSM_PORT#localhost:}
IMDS=$(endpoint imds)
for p in "$MAA_PORT" "$AKV_PORT" "$MHSM_PORT"; do
    [[ "$p" =~ ^[0-9]+$ ]] || fail "unexpected endpoints.json: $(cat "$STATE/endpoints.json")"
done
[[ "$IMDS" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "unexpected IMDS endpoint '$IMDS'"

# ---- skr (wrapped by $SHD_TEST_WRAPPER when set), MAA under its real name on port 443 ----
export SKR_SNP_SIMULATOR=$STATE
export UVM_SECURITY_CONTEXT_DIR=$STATE/security-context
export SSL_CERT_FILE=$STATE/ca.pem
export SKR_CONNECT_TO=$MAA_HOST:443:127.0.0.1:$MAA_PORT
export AZURE_POD_IDENTITY_AUTHORITY_HOST=$IMDS
SKR_SOCKET=$WORK/skr.sock
start_daemon skr "$WORK/skr.log" "$SKR" -port 0 -loglevel info -socket "$SKR_SOCKET"
wait_for_file "$SKR_SOCKET" 60 || fail "skr did not create $SKR_SOCKET"
# skr fetches the THIM certificates in the background: wait until an attestation goes through.
ready=0
for _ in $(seq 1 120); do
    kill -0 "$PID_skr" 2>/dev/null || fail "skr exited during start-up"
    status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 --unix-socket "$SKR_SOCKET" \
        -X POST -d "{\"maa_endpoint\":\"$MAA_HOST\",\"runtime_data\":\"e30=\"}" \
        http://localhost/attest/maa || true)
    if [[ "$status" == 200 ]]; then
        ready=1
        break
    fi
    sleep 0.5
done
[[ "$ready" == 1 ]] || fail "skr /attest/maa never answered 200 (last status '$status')"

# ---- release policies: ours (hostdata of the simulated chip's security policy) and another ----
"$ROOT/scripts/make-release-policy.sh" --authority "$MAA_AUTHORITY" \
    --security-policy-base64 "$STATE/security-context/security-policy-base64" \
    >"$WORK/policy-good.json" || fail "make-release-policy.sh (good)"
printf 'package policy\n\napi_version := "0.10.0"\n# another container group\n' |
    base64 -w0 >"$WORK/other-policy.b64"
"$ROOT/scripts/make-release-policy.sh" --authority "$MAA_AUTHORITY" \
    --security-policy-base64 "$WORK/other-policy.b64" \
    >"$WORK/policy-other.json" || fail "make-release-policy.sh (other)"

# ---- the Node tests ----
run_node() { # NAME [ENV...] : runs azure/NAME.mjs; 0 or the test fails
    local name=$1 rc=0
    shift
    (cd "$HERE/azure" && env "$@" node --require ../cloud-dns.cjs "$name.mjs") \
        >"$WORK/$name.out" 2>&1 || rc=$?
    if [[ "$rc" -ne 0 ]]; then
        cat "$WORK/$name.out" >&2
        fail "$name.mjs exited with $rc"
    fi
    grep -q '^# fail 0$' "$WORK/$name.out" || fail "$name.mjs reported failures"
    echo "$name: $(sed -n 's/^# pass //p' "$WORK/$name.out") passed"
}

common=(EMU_STATE="$STATE" SKR_SOCKET="$SKR_SOCKET" NODE_EXTRA_CA_CERTS="$STATE/ca.pem"
        AZURE_POD_IDENTITY_AUTHORITY_HOST="$IMDS"
        MAA_URL="https://$MAA_HOST:$MAA_PORT" VAULT_URL="https://$VAULT_HOST:$AKV_PORT"
        MHSM_URL="https://$MHSM_HOST:$MHSM_PORT")
run_node keyvault_release "${common[@]}" \
    POLICY_GOOD="$WORK/policy-good.json" POLICY_OTHER="$WORK/policy-other.json"
run_node attestation "${common[@]}"
run_node tls_untrusted -u NODE_EXTRA_CA_CERTS AZURE_POD_IDENTITY_AUTHORITY_HOST="$IMDS" \
    MAA_URL="https://$MAA_HOST:$MAA_PORT" VAULT_URL="https://$VAULT_HOST:$AKV_PORT"

# The SDK requests reached the emulator under the real names: challenge, then release.
access() { # SVC METHOD HOST PATH STATUS WHAT
    grep -qF "svc=$1 method=$2 host=$3 path=$4 status=$5 " "$WORK/serve.log" ||
        fail "access log: no $6 ($1 $2 $3$4 -> $5)"
}
access akv POST "$VAULT_HOST:$AKV_PORT" /keys/interop-rsa/create 401 "challenge for the first request"
access akv POST "$VAULT_HOST:$AKV_PORT" /keys/interop-rsa/release 200 "versionless release"
access akv POST "$VAULT_HOST:$AKV_PORT" /keys/interop-rsa-other/release 403 "refused release"
access mhsm POST "$MHSM_HOST:$MHSM_PORT" /keys/interop-oct/release 200 "Managed HSM release"
access imds GET "127.0.0.1:${IMDS##*:}" /metadata/identity/oauth2/token/ 200 "MSAL token request"

# ---- clean stop: both exit 0 on SIGTERM ----
stop_daemon skr 0 || fail "skr did not stop cleanly"
stop_daemon emu 0 || fail "azure-emu did not stop cleanly"
echo "azure_interop_test: ok"
