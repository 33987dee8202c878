#!/usr/bin/env bash
# make-attribute-condition.sh - prints the Workload Identity Federation provider's
# attributeCondition (one CEL expression, gcp-identity.md §4.5) for our deployment, built from
# the project, instance and image values. It never prints an empty or partial condition: every
# value must be given and match a strict pattern, else the script fails.
#
#   make-attribute-condition.sh --confidential-vm --project-number N --instance-id ID[,ID...]
#                               [--hwmodel GCP_AMD_SEV|GCP_AMD_SEV_ES|GCP_INTEL_TDX|GCP_SHIELDED_VM]
#       gcp-wif in tpm mode on a Confidential VM (swname GCE): the token must come from one of
#       these instances of this project, with secure boot, on that hardware model.
#   make-attribute-condition.sh --confidential-space --project-number N --image-digest sha256:HEX
#       gcp-wif in launcher mode inside a Confidential Space workload: policies/
#       gcp-attribute-condition.cel with the project number and the workload image digest.
#
# An empty condition would let every token the issuer signs for the audience through (any
# Confidential Space workload or VM of any project): see policies/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CEL_TEMPLATE=$ROOT/policies/gcp-attribute-condition.cel
CEL_MAX=4096

die() {
    echo "make-attribute-condition: $*" >&2
    exit 2
}

MODE='' PROJECT_NUMBER='' INSTANCES='' HWMODEL=GCP_AMD_SEV DIGEST=''
while [[ $# -gt 0 ]]; do
    case "$1" in
    --confidential-vm) MODE=vm; shift ;;
    --confidential-space) MODE=cs; shift ;;
    --project-number) PROJECT_NUMBER=${2-}; shift 2 || die "$1 needs a value" ;;
    --instance-id) INSTANCES=${2-}; shift 2 || die "$1 needs a value" ;;
    --hwmodel) HWMODEL=${2-}; shift 2 || die "$1 needs a value" ;;
    --image-digest) DIGEST=${2-}; shift 2 || die "$1 needs a value" ;;
    *) die "unknown option $1" ;;
    esac
done

[[ "$PROJECT_NUMBER" =~ ^[1-9][0-9]{0,19}$ ]] ||
    die "--project-number: the numeric project number is required (got '$PROJECT_NUMBER')"

case "$MODE" in
vm)
    [[ -z "$DIGEST" ]] || die "--image-digest belongs to --confidential-space"
    [[ "$HWMODEL" =~ ^(GCP_AMD_SEV|GCP_AMD_SEV_ES|GCP_INTEL_TDX|GCP_SHIELDED_VM)$ ]] ||
        die "--hwmodel: unknown model '$HWMODEL'"
    [[ -n "$INSTANCES" ]] || die "--instance-id: at least one instance id is required"
    list=''
    IFS=, read -r -a ids <<<"$INSTANCES"
    for id in "${ids[@]}"; do
        [[ "$id" =~ ^[1-9][0-9]{0,19}$ ]] || die "--instance-id: '$id' is not a numeric instance id"
        list+="${list:+, }'$id'"
    done
    cond="assertion.swname == 'GCE' && assertion.hwmodel == '$HWMODEL'"
    cond+=" && assertion.secboot == true"
    cond+=" && assertion.submods.gce.project_number == '$PROJECT_NUMBER'"
    cond+=" && assertion.submods.gce.instance_id in [$list]"
    ;;
cs)
    [[ -z "$INSTANCES" ]] || die "--instance-id belongs to --confidential-vm"
    [[ "$DIGEST" =~ ^sha256:[0-9a-f]{64}$ ]] ||
        die "--image-digest: sha256:<64 lowercase hex> of the workload image is required"
    [[ -f "$CEL_TEMPLATE" ]] || die "$CEL_TEMPLATE is missing"
    cond=$(cat "$CEL_TEMPLATE")
    [[ "$cond" == *@GCP_PROJECT_NUMBER@* && "$cond" == *@IMAGE_DIGEST@* ]] ||
        die "$CEL_TEMPLATE lacks its substitution tokens"
    cond=${cond//@GCP_PROJECT_NUMBER@/$PROJECT_NUMBER}
    cond=${cond//@IMAGE_DIGEST@/$DIGEST}
    ;;
*) die "choose --confidential-vm or --confidential-space" ;;
esac

[[ "$cond" != *@*@* ]] || die "unfilled token in the condition"
((${#cond} <= CEL_MAX)) || die "condition longer than $CEL_MAX characters (${#cond})"
printf '%s\n' "$cond"
