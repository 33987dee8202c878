#!/usr/bin/env bash
# make-release-policy.sh - prints the SKR key release policy for one MAA authority and one ACI
# security policy, from the template policies/skr-release-policy.json.
#
# x-ms-sevsnpvm-hostdata is pinned to the lowercase hex SHA-256 of the DECODED security policy
# (the Rego text bytes): that is what the ACI host writes into HOST_DATA of the SEV-SNP report and
# what MAA reports back (azure-formats.md §3.5, skr-sidecar.md §1.4/§3.1). The input file is the
# base64 form: the ACI security-context file `security-policy-base64`, or the `ccePolicy` value
# that `az confcom acipolicygen` writes into an ARM template, saved to a file.
#
# The template's substitution tokens (see policies/README.md):
#   https://sharedeus.eus.attest.azure.net  -> --authority
#   @HOSTDATA_SHA256_HEX@                   -> SHA-256 of the decoded security policy
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATE="$ROOT/policies/skr-release-policy.json"
AUTHORITY_TOKEN='https://sharedeus.eus.attest.azure.net'
HOSTDATA_TOKEN='@HOSTDATA_SHA256_HEX@'

usage() {
    cat <<'EOF'
usage: make-release-policy.sh --authority URL --security-policy-base64 FILE [--template FILE]

  --authority URL               MAA instance the key trusts (https, host[:port] and an optional
                                plain path; no query), e.g. https://sharedeus.eus.attest.azure.net
  --security-policy-base64 FILE base64 of the ACI CCE (Rego) security policy: the security-context
                                file security-policy-base64 or the ccePolicy of the ARM template
  --template FILE               policy template (default: policies/skr-release-policy.json)

Prints the release policy JSON on stdout.
EOF
}

die() {
    echo "make-release-policy.sh: $*" >&2
    exit 1
}

authority=''
policy_file=''
while [ $# -gt 0 ]; do
    case "$1" in
    --authority)
        [ $# -ge 2 ] || die "--authority needs a value"
        authority=$2
        shift 2
        ;;
    --security-policy-base64)
        [ $# -ge 2 ] || die "--security-policy-base64 needs a value"
        policy_file=$2
        shift 2
        ;;
    --template)
        [ $# -ge 2 ] || die "--template needs a value"
        TEMPLATE=$2
        shift 2
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done
if [ -z "$authority" ] || [ -z "$policy_file" ]; then
    usage >&2
    exit 2
fi

# Only characters that are safe both in JSON and in the sed replacement below.
url_re='^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$'
[[ "$authority" =~ $url_re ]] || die "authority '$authority' is not a plain https URL"
[ -r "$policy_file" ] || die "cannot read '$policy_file'"
[ -r "$TEMPLATE" ] || die "cannot read template '$TEMPLATE'"
[ "$(grep -c -F "$AUTHORITY_TOKEN" "$TEMPLATE")" = 1 ] || die "template lacks $AUTHORITY_TOKEN"
[ "$(grep -c -F "$HOSTDATA_TOKEN" "$TEMPLATE")" = 1 ] || die "template lacks $HOSTDATA_TOKEN"

# The file is one base64 string; line breaks are ignored (as the sidecar's decoder does).
encoded=$(tr -d '\r\n' <"$policy_file")
[ -n "$encoded" ] || die "'$policy_file' is empty"
if ! digest=$(printf '%s' "$encoded" | base64 -d | sha256sum); then
    die "'$policy_file' is not valid base64"
fi
if [ "$(printf '%s' "$encoded" | base64 -d | wc -c)" -eq 0 ]; then
    die "'$policy_file' decodes to an empty security policy"
fi
hostdata=${digest%% *}
[[ "$hostdata" =~ ^[0-9a-f]{64}$ ]] || die "unexpected sha256sum output"

sed -e "s|${AUTHORITY_TOKEN//./\\.}|$authority|" -e "s|$HOSTDATA_TOKEN|$hostdata|" "$TEMPLATE"
