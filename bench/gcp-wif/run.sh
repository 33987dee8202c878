#!/usr/bin/env bash
# bench/gcp-wif/run.sh - gcp-wif performance against gcp-emu (vTPM on swtpm): time to first
# token after start, cached /token p50/p99 at concurrency 1 and 8, /kms/asymmetricDecrypt p50/p99,
# idle RSS, each next to a baseline measured in the same run (the TPM part alone with tpm2-tools,
# gcp-emu's handler times, GET /status). Prints a markdown table. Not a test.
#
# Usage: bench/gcp-wif/run.sh [BUILD_DIR]   (default: build; needs bin/gcp-wif and bin/gcp-emu)
# Knobs (environment): RUNS (5), STARTS (15), N1 (2000), N8 (4000), ND (100).
# Takes about 25 seconds on 2 cores. Needs swtpm and tpm2-tools (tpm2_quote & co.).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
WIF=$BUILD/bin/gcp-wif
EMU=$BUILD/bin/gcp-emu
if [[ ! -x "$WIF" || ! -x "$EMU" ]]; then
    echo "run.sh: build gcp-wif and gcp-emu first ($BUILD/bin)" >&2
    exit 2
fi
unset SHD_TEST_WRAPPER # the bench measures the plain binaries
# shellcheck source=tests/integration/wif_lib.sh
. "$ROOT/tests/integration/wif_lib.sh"

for t in tpm2_getcap tpm2_createprimary tpm2_nvread tpm2_quote tpm2_flushcontext tpm2_getrandom; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "run.sh: $t is missing (Debian: tpm2-tools); the TPM baseline needs it" >&2
        exit 2
    fi
done
wif_it_init # exits 77 without swtpm
TCTI=$("${CHECK[@]}" endpoint tcti <"$EP") || wif_fail "no tcti in $EP"
# The bench's gcp-wif processes log at warning: an info line per request would be measured too.
export GCP_WIF_LOG_LEVEL=warning

echo "# gcp-wif bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r))"
echo
python3 "$HERE/load.py" --wif "$WIF" --work "$WORK" --emu-log "$WORK/emu.log" \
    --rsa-version "$RSA_VERSION" --tcti "$TCTI" --runs "${RUNS:-5}" --starts "${STARTS:-15}" \
    --n1 "${N1:-2000}" --n8 "${N8:-4000}" --nd "${ND:-100}" || wif_fail "load.py"
wif_it_finish
