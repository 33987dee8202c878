#!/usr/bin/env bash
# azure_skr_test.sh - e2e, Azure path: azure-emu + skr (Unix socket, SEV-SNP simulator) + a key
# created in the emulated Key Vault with the container group's release policy; skr-proxy with
# key source `skr` obtains it and an encrypted request round-trips through it to sample-workload.
# Checks: the proxy serves the public part of the released key; the released private key (as skr
# returns it) appears in no log; the proxy logged dumpable=false; no decrypted data in its log;
# a kid the vault does not know makes the proxy give up with the sidecar's 403 and exit 1;
# SIGTERM -> exit 0.
#
# Usage: azure_skr_test.sh BIN_DIR
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/e2e_lib.sh"

e2e_init "${1:-}"
stack_workload_up
stack_azure_up
stack_azure_key e2e-key
stack_proxy_up proxy-az skr
e2e_roundtrip proxy-az az1
e2e_roundtrip proxy-az az2
e2e_not_dumpable proxy-az

# The same key, released by skr to the test: the proxy's public key is its public part.
curl -sf --max-time 60 --unix-socket "$STACK_SKR_SOCK" -o "$STACK_WORK/run/release.json" \
    -d "{\"maa_endpoint\":\"$STACK_MAA_HOST\",\"akv_endpoint\":\"$STACK_VAULT_HOST\",\"kid\":\"$STACK_AZ_KID\"}" \
    http://localhost/key/release || stack_die "direct release through skr"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' \
    "$STACK_WORK/run/release.json" >"$STACK_WORK/run/az.jwk"
url=$(stack_proxy_url proxy-az)
curl -sf "$url/polaris-container/publicKey" |
    python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["publicKey"])' \
        >"$STACK_WORK/pk.pem" || stack_die "publicKey"
got=$(openssl rsa -pubin -in "$STACK_WORK/pk.pem" -noout -modulus | cut -d= -f2)
want=$(python3 -c 'import base64,json,sys
n=json.load(open(sys.argv[1]))["n"]
print(base64.urlsafe_b64decode(n+"="*(-len(n)%4)).hex().upper())' "$STACK_WORK/run/az.jwk")
[[ "$got" == "$want" ]] || stack_die "the proxy's public key is not the released key's"
e2e_no_key_in_logs "$STACK_WORK/run/az.jwk"

# A key that does not exist: bounded attempts, then exit 1 with the sidecar's answer logged.
STACK_AZ_KID=no-such-key
stack_start proxy-bad env POLARIS_CONTAINER_WORKLOAD_BASE_URL="http://127.0.0.1:$STACK_WL_PORT" \
    POLARIS_CONTAINER_AZURE_SKR_KEY_RELEASE_ENDPOINT="unix:$STACK_SKR_SOCK" \
    POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT="$STACK_MAA_HOST" \
    POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT="$STACK_VAULT_HOST" \
    POLARIS_CONTAINER_AZURE_SKR_KID=no-such-key \
    "$STACK_BIN/skr-proxy" --listen 127.0.0.1 --port 0 --key-source azure-skr \
    --key-attempts 2 --key-retry-base-ms 100 --key-retry-max-ms 200
rc=0
wait "$(stack_pid proxy-bad)" || rc=$?
eval "STACK_PID_proxy_bad="
[[ $rc == 1 ]] || stack_die "proxy with an unknown kid exited $rc, want 1"
grep -q 'giving up after 2 attempts: key source skr' "$STACK_WORK/logs/proxy-bad.log" ||
    stack_die "no 'giving up' in the log of the proxy with an unknown kid"
grep -q 'key service (skr) answered 403' "$STACK_WORK/logs/proxy-bad.log" ||
    stack_die "the sidecar's 403 is not in the log"

stack_stop proxy-az || stack_die "proxy-az did not exit 0 on SIGTERM"
echo "azure_skr_test: ok (release $(stack_ready_ms proxy-az) ms)"
