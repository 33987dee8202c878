#!/usr/bin/env bash
# gcp_wif_test.sh - e2e, GCP path: gcp-emu --vtpm (swtpm) + gcp-wif in tpm mode. A throw-away
# RSA-4096 key wrapped with `gcp-wif wrap-key` under the emulator's KMS symmetric key:
#   released mode  (key source `gcp-wif`): the broker unwraps it once; the proxy serves its
#                  public part; an encrypted request round-trips; the key is in no log;
#   per-request    (key source `gcp-kms`): the proxy serves the KMS key's public key, and one
#                  request (url, headers and body envelopes) costs exactly 6 KMS
#                  asymmetricDecrypt calls in the emulator's access log.
# Both proxies log dumpable=false, keep decrypted data out of their logs, and exit 0 on SIGTERM.
# Skipped (77) without swtpm.
#
# Usage: gcp_wif_test.sh BIN_DIR
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/e2e_lib.sh"

if ! command -v swtpm >/dev/null; then
    echo "gcp_wif_test: swtpm is not installed: skipped"
    exit 77
fi
e2e_init "${1:-}"
stack_workload_up
stack_gcp_up
STACK_KEEP_CLEAR=1 stack_gcp_wrap_key

# ---- released mode ----
stack_proxy_up proxy-wif gcp-wif
e2e_roundtrip proxy-wif wif1
e2e_public_key_is proxy-wif "$STACK_GCP_PUB"
e2e_not_dumpable proxy-wif
python3 "$E2E_HERE/../integration/skr_check.py" jwk-from-pem "$STACK_GCP_CLEAR" \
    >"$STACK_WORK/run/gcp.jwk" || stack_die "jwk-from-pem"
e2e_no_key_in_logs "$STACK_WORK/run/gcp.jwk"
rm -f "$STACK_GCP_CLEAR"

# ---- per-request KMS mode ----
stack_proxy_up proxy-kms gcp-kms
curl -sf --max-time 30 --unix-socket "$STACK_WIF_SOCK" \
    "http://localhost/kms/publicKey?name=$STACK_GCP_RSA_VERSION" |
    python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["pem"])' \
        >"$STACK_WORK/kms.pub.pem" || stack_die "broker /kms/publicKey"
e2e_public_key_is proxy-kms "$STACK_WORK/kms.pub.pem"
count() { grep -c 'service=kms method=POST path=[^ ]*:asymmetricDecrypt status=200' \
    "$STACK_WORK/logs/gcp-emu.log" || true; }
before=$(count)
e2e_roundtrip proxy-kms kms1
after=$(count)
[[ $((after - before)) == 6 ]] ||
    stack_die "one request made $((after - before)) KMS decrypts, want 6 (3 envelopes x 2)"
e2e_not_dumpable proxy-kms

stack_stop proxy-kms || stack_die "proxy-kms did not exit 0 on SIGTERM"
stack_stop proxy-wif || stack_die "proxy-wif did not exit 0 on SIGTERM"
echo "gcp_wif_test: ok (released $(stack_ready_ms proxy-wif) ms, kms $(stack_ready_ms proxy-kms) ms)"
