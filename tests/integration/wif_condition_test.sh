#!/usr/bin/env bash
# wif_condition_test.sh - the workload identity provider's attribute condition rejects the VM:
# two more providers in the emulator's config.json (edited before `serve`), one pinning another
# project, one pinning a container image digest (a Confidential VM token has no container
# submods). gcp-wif surfaces STS's refusal as 403 naming the step and STS's error and
# error_description, without retrying it as invalid_grant (one STS call per /token); the default
# provider in the same emulator keeps working, and the attestation itself is fine (/identity).
#
# Usage: wif_condition_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

DIGEST=sha256:0d2b2e5b3a4bb0e5c9a0b3f1f1c6a7c7f1d4f1e9e2b7d2c1a0f9e8d7c6b5a4f3
add_providers() {
    "${CHECK[@]}" add-provider "$STATE/config.json" other-project \
        "assertion.submods.gce.project_id == 'other-project' && assertion.secboot == true" &&
        "${CHECK[@]}" add-provider "$STATE/config.json" pinned-image \
            "assertion.submods.container.image_digest == '$DIGEST'"
}
wif_it_init add_providers
POOL=${AUDIENCE%/providers/*}

for p in other_project pinned_image; do
    wif_start "$p" --audience "$POOL/providers/${p/_/-}"
    wif_wait_attested "$p"
    sts400=$(access_count sts POST /v1/token 400)
    call "$p" GET /token
    "${CHECK[@]}" check-error "$WORK/body" "$CODE" 403 credentials "STS token exchange" \
        unauthorized_client "The given credential is rejected by the attribute condition." ||
        wif_fail "provider $p"
    expect_eq "STS calls for one /token ($p)" "$(access_count sts POST /v1/token 400)" \
        "$((sts400 + 1))"
    expect_eq "no IAM call ($p)" "$(access_count iam POST /v1/ '[0-9]*')" 0
    call_ok "$p" GET /identity
    "${CHECK[@]}" check-attestation "$(body_get token)" https://sts.googleapis.com ||
        wif_fail "identity with provider $p"
    wif_stop "$p"
done

# The default provider of the same emulator accepts the same VM.
wif_start ok
call_ok ok GET /token
[[ "$(body_get access_token)" == ya29.gemu.* ]] || wif_fail "default provider"
wif_stop ok
wif_it_finish
echo "wif_condition_test: ok"
