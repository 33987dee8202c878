#!/usr/bin/env bash
# gcp_interop_test.sh - the real Google SDKs from npm (tests/interop/package.json) against
# `gcp-emu serve --vtpm`, under the real Google host names with the emulator's test CA and no
# "insecure" switch (specs/real-clients.md §1.5-§2):
#   gcp/wif_kms.mjs  google-auth-library with an external_account credential file whose
#                    file-sourced subject token is the verifier's attestation JWT for a real
#                    tpm2_quote of the emulated vTPM: STS + IAM Credentials give a token the
#                    emulator's KMS accepts; @google-cloud/kms over REST: symmetric round trip
#                    and getPublicKey + asymmetricDecrypt with CRC32C; STS invalid_grant (other
#                    audience) and invalid_target, IAM 403 (service account without our binding)
#
# Usage: gcp_interop_test.sh /path/to/gcp-emu
# Needs node >= 20, tests/interop/node_modules (`./run test` runs `npm ci` there first), swtpm
# and tpm2-tools. A missing prerequisite FAILS the test with the reason; it is never skipped.
set -euo pipefail

EMU=${1:?usage: $0 /path/to/gcp-emu}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

# A service account the test adds to config.json: its policy binds another subject only.
NO_BINDING_SA=no-binding@gemu-project.iam.gserviceaccount.com

die() {
    echo "FAIL: $*" >&2
    exit 1
}

# ---- prerequisites: fail loudly, never skip ----
command -v node >/dev/null 2>&1 ||
    die "node is not installed (Node >= 20 is needed; ./run test installs it)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ "$node_major" =~ ^[0-9]+$ && "$node_major" -ge 20 ]] ||
    die "node $(node --version) is too old: the pinned Google SDKs need Node >= 20"
for pkg in google-auth-library @google-cloud/kms jose; do
    [[ -f "$HERE/node_modules/$pkg/package.json" ]] ||
        die "$HERE/node_modules/$pkg is missing: run 'npm ci' in $HERE (./run test does it)"
done
command -v swtpm >/dev/null 2>&1 || die "swtpm is not installed (gcp-emu serve --vtpm needs it)"
for tool in tpm2_nvread tpm2_createprimary tpm2_readpublic tpm2_quote tpm2_flushcontext; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (tpm2-tools is needed)"
done
[[ -x "$EMU" ]] || die "gcp-emu '$EMU' is not executable"

WORK=$(shd_work_dir)
STATE=$WORK/state
# shellcheck disable=SC2034 # read through ${!pidvar} by lib.sh
PID_emu=''

cleanup() {
    kill_all emu
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- serve log (last 40 lines) ---" >&2
    tail -n 40 "$WORK/serve.log" >&2 || true
    exit 1
}

# ---- emulator: the ready default plus a service account binding another subject only ----
"$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 ||
    { cat "$WORK/init.log" >&2; die "gcp-emu init"; }
node -e '
const fs = require("fs");
const [file, email] = process.argv.slice(1);
const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
const pool = cfg.workloadIdentityPools[0].name;
cfg.serviceAccounts.push({ email, uniqueId: "108765432109876543299", iamPolicy: { bindings: [{
    role: "roles/iam.workloadIdentityUser",
    members: ["principal://iam.googleapis.com/" + pool + "/subject/another-workload"] }] } });
fs.writeFileSync(file, JSON.stringify(cfg));' "$STATE/config.json" "$NO_BINDING_SA" ||
    die "could not add $NO_BINDING_SA to config.json"
start_plain emu "$WORK/serve.log" "$EMU" serve --state "$STATE" --vtpm
wait_for_file "$STATE/endpoints.json" 60 || fail "gcp-emu wrote no endpoints.json"

endpoint() {
    node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
             process.stdout.write(String(e[process.argv[2]]));' "$STATE/endpoints.json" "$1"
}
port() { local e; e=$(endpoint "$1"); echo "${e##*:}"; }
VP=$(port verifier)
SP=$(port sts)
IP=$(port iam)
KP=$(port kms)
for p in "$VP" "$SP" "$IP" "$KP"; do
    [[ "$p" =~ ^[0-9]+$ ]] || fail "unexpected endpoints.json: $(cat "$STATE/endpoints.json")"
done
[[ "$(endpoint tcti)" =~ ^swtpm:host=127\.0\.0\.1,port=[0-9]+$ ]] ||
    fail "no swtpm tcti in endpoints.json: $(cat "$STATE/endpoints.json")"

# ---- the Node test (a clean HOME: no gcloud application-default credentials) ----
mkdir -p "$WORK/home" "$WORK/node"
rc=0
(cd "$HERE/gcp" && env -u GOOGLE_APPLICATION_CREDENTIALS -u GCE_METADATA_HOST -u GCE_METADATA_IP \
    HOME="$WORK/home" CLOUDSDK_CONFIG="$WORK/home/gcloud" NODE_EXTRA_CA_CERTS="$STATE/ca.pem" \
    GEMU_STATE="$STATE" WORK_DIR="$WORK/node" NO_BINDING_SA="$NO_BINDING_SA" \
    GOOGLE_CLOUD_PROJECT="$(endpoint project)" \
    node --require ../cloud-dns.cjs --test-reporter=tap wif_kms.mjs) \
    >"$WORK/wif_kms.out" 2>&1 || rc=$?
if [[ "$rc" -ne 0 ]]; then
    cat "$WORK/wif_kms.out" >&2
    fail "wif_kms.mjs exited with $rc"
fi
grep -q '^# fail 0$' "$WORK/wif_kms.out" || fail "wif_kms.mjs reported failures"
grep -q '^# pass 9$' "$WORK/wif_kms.out" ||
    { cat "$WORK/wif_kms.out" >&2; fail "wif_kms.mjs did not run its 9 tests"; }
echo "wif_kms: $(sed -n 's/^# pass //p' "$WORK/wif_kms.out") passed"

# ---- the SDK requests reached the services they name (TLS verified the real host names) ----
access() { # SVC METHOD PATH STATUS WHAT [MIN_COUNT]
    local n
    n=$(grep -cF "service=$1 method=$2 path=$3 status=$4 " "$WORK/serve.log" || true)
    [[ "$n" -ge "${6:-1}" ]] || fail "access log: $n of $5 ($1 $2 $3 -> $4), want >= ${6:-1}"
}
SA=$(endpoint service_account)
SYM=$(endpoint kms_sym_key)
RSA=$(endpoint kms_rsa_key_version)
access verifier POST /v1/projects/gemu-project/locations/us-central1/challenges 200 "challenges" 2
access sts POST /v1/token 200 "successful STS exchanges" 3
access sts POST /v1/token 400 "refused STS exchanges" 2
access iam POST "/v1/projects/-/serviceAccounts/$SA:generateAccessToken" 200 "impersonation"
access iam POST "/v1/projects/-/serviceAccounts/$NO_BINDING_SA:generateAccessToken" 403 \
    "refused impersonation"
access kms POST "/v1/$SYM:encrypt" 200 "SDK encrypt"
access kms POST "/v1/$SYM:decrypt" 200 "SDK decrypt"
access kms GET "/v1/$RSA/publicKey" 200 "getPublicKey" 2
access kms POST "/v1/$RSA:asymmetricDecrypt" 200 "asymmetricDecrypt"
# No token or subject token reached the log.
if grep -qE 'ya29\.gemu\.|eyJ[A-Za-z0-9_-]{20,}' "$WORK/serve.log"; then
    fail "a token reached the emulator log"
fi

# ---- clean stop: exit 0 on SIGTERM ----
stop_daemon emu 0 || fail "gcp-emu did not stop cleanly"
echo "gcp_interop_test: ok"
