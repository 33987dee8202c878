#!/usr/bin/env bash
# demo.sh - `./run demo`: the whole key-release stack on the local emulators.
#
#   Azure: azure-emu (MAA, Key Vault, IMDS, SEV-SNP simulator) + skr on a Unix socket; an RSA-4096
#          key created in the emulated Key Vault with the release policy of the emulated container
#          group; skr-proxy obtains it through skr (key source `skr`).
#   GCP:   gcp-emu (verifier, STS, IAM, KMS, metadata server, swtpm vTPM) + gcp-wif in tpm mode;
#          a throw-away RSA-4096 key wrapped with the emulator's KMS symmetric key; skr-proxy
#          obtains it through gcp-wif (key source `gcp-wif`), and a second proxy keeps the key in
#          KMS and decrypts per request (key source `gcp-kms`, Polaris's model).
#   Each proxy sits in front of sample-workload; skr-proxy-client sends encrypted requests.
#
# Ends with `demo: ok azure_release_ms=N gcp_release_ms=N proxy_roundtrip_ms=N`:
#   azure_release_ms / gcp_release_ms: from starting the proxy to its key being ready (the
#     attested release through skr or gcp-wif included);
#   proxy_roundtrip_ms: median wall time of 5 encrypted requests through the Azure-keyed proxy
#     (measured by bench's skr-proxy-load when built; otherwise by skr-proxy-client, which then
#     includes generating its RSA-2048 response key and process start-up).
# Stops everything it started, also on Ctrl-C or failure; exits non-zero with a message then.
# All files live in one work folder on /dev/shm (when available) and are removed at exit; every
# key in it is a test key made for this run. STACK_KEEP=1 keeps the folder for inspection.
#
# Usage: scripts/demo.sh [BIN_DIR]   (default: build/bin)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-$HERE/../build/bin}
BIN=$(cd "$BIN" 2>/dev/null && pwd) || {
    echo "demo: $1 is not a folder (build first: ./run build)" >&2
    exit 1
}
# shellcheck source=stack.sh
. "$HERE/stack.sh"

trap stack_cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

say() { printf 'demo: %s\n' "$*"; }

# median_ms URL: median of 5 sequential encrypted 1 KiB requests (after one warm-up).
median_ms() {
    local url=$1 out i t0 times=()
    if [[ -x "$BIN/skr-proxy-load" ]]; then
        out=$("$BIN/skr-proxy-load" --url "$url" --requests 5 --concurrency 1 --body 1024 \
            --warmup 1) || stack_die "skr-proxy-load against $url"
        sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out" | cut -d. -f1
        return 0
    fi
    head -c 1024 /dev/zero | tr '\0' 'x' >"$STACK_WORK/body-1k"
    for ((i = 0; i < 6; i++)); do
        t0=$(stack_now_ms)
        "$BIN/skr-proxy-client" --key-bits 2048 -d @"$STACK_WORK/body-1k" -o /dev/null \
            "$url/echo" || stack_die "encrypted request to $url"
        ((i > 0)) && times+=($(($(stack_now_ms) - t0)))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

# show NAME FILE: one line about the workload's decrypted echo.
show() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[2]))
print("demo: %-8s -> workload saw %s %s, body %d bytes, x-request-id=%s; answer decrypted by the client"
      % (sys.argv[1], d["method"], d["path"], d["body_len"], d["headers"].get("x-request-id")))
EOF
}

stack_init "$BIN"
say "work folder $STACK_WORK (in memory when /dev/shm exists; removed at exit)"
stack_workload_up
say "sample-workload on 127.0.0.1:$STACK_WL_PORT"

# ---- Azure ----
stack_azure_up
say "azure-emu up (MAA 127.0.0.1:$STACK_AZ_MAA_PORT, Key Vault 127.0.0.1:$STACK_AZ_AKV_PORT); skr on $STACK_SKR_SOCK (SEV-SNP simulator)"
stack_azure_key demo-key
say "Key Vault: created RSA-HSM 4096 '$STACK_AZ_KID' in $STACK_VAULT_HOST with the container group's release policy"
stack_proxy_up proxy-azure skr
AZ_MS=$(stack_ready_ms proxy-azure)
say "proxy-azure: key released by skr (SNP report -> MAA token -> Key Vault release) in ${AZ_MS} ms"
stack_send proxy-azure "/azure/hello?q=1" "hello from the Azure path" "$STACK_WORK/azure.json"
show proxy-azure "$STACK_WORK/azure.json"
RT_MS=$(median_ms "$(stack_proxy_url proxy-azure)")

# ---- GCP ----
stack_gcp_up
say "gcp-emu up with a vTPM on swtpm; gcp-wif (tpm mode) on $STACK_WIF_SOCK"
stack_gcp_wrap_key
say "KMS: wrapped a fresh RSA-4096 key under $(basename "$STACK_GCP_SYM_KEY") (the clear copy is gone)"
stack_proxy_up proxy-gcp gcp-wif
GCP_MS=$(stack_ready_ms proxy-gcp)
say "proxy-gcp: key released by gcp-wif (vTPM quote -> attestation token -> STS -> IAM -> KMS decrypt) in ${GCP_MS} ms"
stack_send proxy-gcp "/gcp/hello?q=2" "hello from the GCP path" "$STACK_WORK/gcp.json"
show proxy-gcp "$STACK_WORK/gcp.json"
stack_proxy_up proxy-kms gcp-kms
KMS_KEY=$(sed 's#.*/cryptoKeys/\([^/]*\)/cryptoKeyVersions/\(.*\)#\1 version \2#' <<<"$STACK_GCP_RSA_VERSION")
say "proxy-kms: per-request KMS mode on $KMS_KEY: public key cached, the private key stays in KMS"
stack_send proxy-kms "/gcp-kms/hello?q=3" "hello from the KMS path" "$STACK_WORK/kms.json"
show proxy-kms "$STACK_WORK/kms.json"
say "proxy-kms: one request = 6 KMS asymmetricDecrypt calls (key and IV of the url, headers and body envelopes), ${STACK_SEND_MS} ms with the client's start-up"

# ---- stop ----
for n in proxy-kms proxy-gcp proxy-azure; do
    stack_stop "$n" || stack_die "$n did not exit cleanly"
done
say "proxies stopped (keys wiped); stopping gcp-wif, skr, the emulators and the workload"
echo "demo: ok azure_release_ms=$AZ_MS gcp_release_ms=$GCP_MS proxy_roundtrip_ms=$RT_MS"
