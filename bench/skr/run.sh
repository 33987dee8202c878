#!/usr/bin/env bash
# bench/skr/run.sh - skr performance against azure-emu: start-to-ready time, idle RSS, RSS after
# 1000 releases, /key/release p50/p99 at concurrency 1 and 8 with and without the wrapping-key
# pool (SKR_KEY_POOL), and the emulator's own share of each release (its access-log handler
# times for the MAA attest and Key Vault release calls). Prints a markdown table. Not a test.
#
# Usage: bench/skr/run.sh [BUILD_DIR]   (default: build; needs bin/skr and bin/azure-emu)
# Knobs (environment): RUNS (3), N1 (20), N8 (64), RSS_RELEASES (1000), POOL (8), STARTS (5).
# Takes about 3-5 minutes on 2 cores.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
SKR=$BUILD/bin/skr
EMU=$BUILD/bin/azure-emu
[[ -x "$SKR" && -x "$EMU" ]] || { echo "run.sh: build skr and azure-emu first ($BUILD/bin)" >&2; exit 2; }
unset SHD_TEST_WRAPPER # the bench measures the plain binaries
# shellcheck source=tests/integration/skr_lib.sh
. "$ROOT/tests/integration/skr_lib.sh"

skr_it_init
# The key Polaris deployments release (terraform-azure-polaris: RSA-HSM 4096), created by the
# vault with our release policy.
create_key "$VAULT_HOST" bench RSA-HSM 4096 "$POLICY"

echo "# skr bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), skr $("$SKR" -version 2>&1 | head -1))"
echo
python3 "$HERE/load.py" --skr "$SKR" --work "$WORK" --emu-log "$WORK/emu.log" \
    --maa "$MAA_HOST" --akv "$VAULT_HOST" --kid bench --runs "${RUNS:-3}" --n1 "${N1:-20}" \
    --n8 "${N8:-64}" --rss-releases "${RSS_RELEASES:-1000}" --pool "${POOL:-8}" \
    --starts "${STARTS:-5}" || skr_fail "load.py"
