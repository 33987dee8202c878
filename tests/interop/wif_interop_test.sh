#!/usr/bin/env bash
# wif_interop_test.sh - the real google-auth-library from npm (tests/interop/package.json)
# against gcp-wif's GCE metadata-server look-alike, with gcp-wif attested by `gcp-emu serve
# --vtpm` under the real Google host names (wif/metadata_token.mjs):
#   GoogleAuth with no credentials file -> Compute client -> the access token equals gcp-wif's
#   /token; project id and e-mail; an ID token for an audience verified against the verifier's
#   JWKS.
#
# Usage: wif_interop_test.sh /path/to/gcp-wif /path/to/gcp-emu
# Needs node >= 20, tests/interop/node_modules (`./run test` runs `npm ci` there first) and
# swtpm. A missing prerequisite FAILS the test with the reason; it is never skipped.
set -euo pipefail

WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

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
for pkg in google-auth-library jose; do
    [[ -f "$HERE/node_modules/$pkg/package.json" ]] ||
        die "$HERE/node_modules/$pkg is missing: run 'npm ci' in $HERE (./run test does it)"
done
command -v swtpm >/dev/null 2>&1 || die "swtpm is not installed (gcp-emu serve --vtpm needs it)"
[[ -x "$EMU" ]] || die "gcp-emu '$EMU' is not executable"
[[ -x "$WIF" ]] || die "gcp-wif '$WIF' is not executable"

WORK=$(shd_work_dir)
STATE=$WORK/state
# shellcheck disable=SC2034 # read through ${!pidvar} by lib.sh
PID_emu='' PID_wif=''

cleanup() {
    kill_all wif emu
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for log in serve wif; do
        echo "--- $log log (last 40 lines) ---" >&2
        tail -n 40 "$WORK/$log.log" >&2 || true
    done
    exit 1
}

# ---- emulator ----
"$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 ||
    { cat "$WORK/init.log" >&2; die "gcp-emu init"; }
start_plain emu "$WORK/serve.log" "$EMU" serve --state "$STATE" --vtpm
wait_for_file "$STATE/endpoints.json" 30 || fail "gcp-emu wrote no endpoints.json"

endpoint() {
    node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
             process.stdout.write(String(e[process.argv[2]]));' "$STATE/endpoints.json" "$1"
}
port() { local e; e=$(endpoint "$1"); echo "${e##*:}"; }
VP=$(port verifier)
SP=$(port sts)
IP=$(port iam)
KP=$(port kms)
MP=$(port mds)
for p in "$VP" "$SP" "$IP" "$KP" "$MP"; do
    [[ "$p" =~ ^[0-9]+$ ]] || fail "unexpected endpoints.json: $(cat "$STATE/endpoints.json")"
done

# ---- gcp-wif (wrapped by $SHD_TEST_WRAPPER when set) with its metadata look-alike ----
export SSL_CERT_FILE=$STATE/ca.pem
map=(
    "confidentialcomputing.googleapis.com:443:127.0.0.1:$VP"
    "www.googleapis.com:443:127.0.0.1:$VP"
    "sts.googleapis.com:443:127.0.0.1:$SP"
    "iamcredentials.googleapis.com:443:127.0.0.1:$IP"
    "cloudkms.googleapis.com:443:127.0.0.1:$KP"
    "metadata.google.internal:80:127.0.0.1:$MP"
    "privateca-content-gemu.storage.googleapis.com:80:127.0.0.1:$MP"
)
GCP_WIF_CONNECT_TO=$(IFS=,; echo "${map[*]}")
export GCP_WIF_CONNECT_TO
MPORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
                     process.stdout.write(String(s.address().port)); s.close(); });')
WIF_SOCKET=$WORK/wif.sock
start_daemon wif "$WORK/wif.log" "$WIF" --endpoints "$STATE/endpoints.json" \
    --verifier-url https://confidentialcomputing.googleapis.com \
    --sts-url https://sts.googleapis.com \
    --iam-url https://iamcredentials.googleapis.com --kms-url https://cloudkms.googleapis.com \
    --mds-url http://metadata.google.internal --event-log "$STATE/vtpm/binary_bios_measurements" \
    --socket "$WIF_SOCKET" --metadata-port "$MPORT"
wait_for_file "$WIF_SOCKET" 120 || fail "gcp-wif did not create $WIF_SOCKET"
wait_for_http "http://127.0.0.1:$MPORT/computeMetadata/v1/instance" 120 \
    -H 'Metadata-Flavor: Google' || fail "the metadata look-alike does not answer"

# ---- the Node test (a clean HOME: no gcloud application-default credentials) ----
mkdir -p "$WORK/home"
rc=0
(cd "$HERE/wif" && env -u GOOGLE_APPLICATION_CREDENTIALS -u GCE_METADATA_IP HOME="$WORK/home" \
    CLOUDSDK_CONFIG="$WORK/home/gcloud" NODE_EXTRA_CA_CERTS="$STATE/ca.pem" \
    GCE_METADATA_HOST="127.0.0.1:$MPORT" WIF_SOCKET="$WIF_SOCKET" VERIFIER_PORT="$VP" \
    PROJECT="$(endpoint project)" SERVICE_ACCOUNT="$(endpoint service_account)" \
    node --require ../cloud-dns.cjs --test-reporter=tap metadata_token.mjs) \
    >"$WORK/metadata_token.out" 2>&1 || rc=$?
if [[ "$rc" -ne 0 ]]; then
    cat "$WORK/metadata_token.out" >&2
    fail "metadata_token.mjs exited with $rc"
fi
grep -q '^# fail 0$' "$WORK/metadata_token.out" || fail "metadata_token.mjs reported failures"
echo "metadata_token: $(sed -n 's/^# pass //p' "$WORK/metadata_token.out") passed"

# The SDK took its token from the broker's cache: one STS exchange in all.
n=$(grep -c 'service=sts method=POST path=/v1/token status=200 ' "$WORK/serve.log" || true)
[[ "$n" == 1 ]] || fail "$n STS exchanges, want 1 (the SDK's token must come from the cache)"

# ---- clean stop: both exit 0 on SIGTERM ----
stop_daemon wif 0 || fail "gcp-wif did not stop cleanly"
stop_daemon emu 0 || fail "gcp-emu did not stop cleanly"
echo "wif_interop_test: ok"
