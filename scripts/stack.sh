# stack.sh - starts and stops the local key-release stack (sourced, bash): azure-emu, skr,
# gcp-emu (with its swtpm vTPM), gcp-wif, sample-workload and skr-proxy, all on loopback and
# Unix sockets, with the emulators' test CAs (no "insecure" switch anywhere). Shared by
# scripts/demo.sh (`./run demo`) and the e2e tests in tests/e2e/.
#
# Use:
#   . scripts/stack.sh
#   stack_init BIN_DIR          work folder (in /dev/shm when possible), STACK_* variables
#   trap stack_cleanup EXIT     stops everything started here, removes the work folder
#   stack_azure_up              azure-emu + skr (Unix socket, SEV-SNP simulator)
#   stack_azure_key NAME        RSA-HSM 4096 key created inside the emulated Key Vault with the
#                               release policy of the emulated container group
#   stack_gcp_up                gcp-emu --vtpm + gcp-wif (tpm mode, Unix socket)
#   stack_gcp_wrap_key          a fresh RSA-4096 key wrapped with the emulator's KMS symmetric key
#   stack_workload_up           sample-workload on a kernel-chosen port
#   stack_proxy_up NAME SOURCE  skr-proxy with that key source; waits until its key is ready
#   stack_send NAME [ARGS...]   one encrypted request through proxy NAME (skr-proxy-client)
#
# Every failure calls stack_die, which prints the message and the tail of each log, then exits
# non-zero (the EXIT trap cleans up). Nothing here writes a key to a disk-backed path: the work
# folder is on /dev/shm when that exists (the released and wrapped test keys, the sockets, the
# emulators' state with their test service keys); otherwise under $TMPDIR with mode 0700.
# All keys are throw-away test keys made for this run.

STACK_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STACK_ROOT=$(cd "$STACK_HERE/.." && pwd)

# Real host names the emulators answer to (reached through connect-to mappings).
STACK_MAA_HOST=sharedeus.eus.attest.azure.net
STACK_VAULT_HOST=demo-vault.vault.azure.net

STACK_NAMES=()
STACK_READY_S=${STACK_READY_S:-60}

stack_log() { printf '%s\n' "$*"; }

stack_die() {
    local f
    echo "FAILED: $*" >&2
    if [[ -n "${STACK_WORK:-}" && -d "$STACK_WORK/logs" ]]; then
        for f in "$STACK_WORK"/logs/*.log; do
            [[ -f "$f" ]] || continue
            echo "--- $(basename "$f") (last 25 lines) ---" >&2
            tail -n 25 "$f" >&2
        done
    fi
    exit 1
}

stack_now_ms() { date +%s%3N; }

# stack_json_get FILE KEY: one top-level member of a JSON file (strings as is).
stack_json_get() {
    python3 -c 'import json,sys
v=json.load(open(sys.argv[1])).get(sys.argv[2])
if v is None: sys.exit(1)
print(v if isinstance(v,str) else json.dumps(v))' "$1" "$2"
}

stack_init() {
    STACK_BIN=${1:?stack_init BIN_DIR}
    local b
    for b in azure-emu skr gcp-emu gcp-wif skr-proxy skr-proxy-client sample-workload; do
        [[ -x "$STACK_BIN/$b" ]] || stack_die "$STACK_BIN/$b is missing (build first: ./run build)"
    done
    local base=${TMPDIR:-/tmp}
    if [[ -d /dev/shm && -w /dev/shm ]]; then
        base=/dev/shm
    fi
    STACK_WORK=$(mktemp -d "$base/skr-stack.XXXXXX") || stack_die "cannot create a work folder"
    chmod 0700 "$STACK_WORK"
    mkdir -m 0700 "$STACK_WORK/logs" "$STACK_WORK/run"
    export SHD_DONT_MLOCK=${SHD_DONT_MLOCK:-1}
}

# stack_start NAME CMD [ARGS...]: a background process whose output goes to logs/NAME.log.
stack_start() {
    local name=$1
    shift
    "$@" >"$STACK_WORK/logs/$name.log" 2>&1 &
    eval "STACK_PID_${name//-/_}=$!"
    STACK_NAMES+=("$name")
}

stack_pid() {
    local v="STACK_PID_${1//-/_}"
    echo "${!v:-}"
}

# stack_stop NAME: SIGTERM, wait up to 15 s, then SIGKILL. Returns the exit status.
stack_stop() {
    local pid rc=0 i
    pid=$(stack_pid "$1")
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$1 did not stop within 15 s of SIGTERM: killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    eval "STACK_PID_${1//-/_}="
    return "$rc"
}

# Stops everything still running, newest first; removes the work folder unless STACK_KEEP=1.
stack_cleanup() {
    local i
    trap - INT TERM
    for ((i = ${#STACK_NAMES[@]} - 1; i >= 0; i--)); do
        stack_stop "${STACK_NAMES[$i]}" || true
    done
    if [[ -n "${STACK_WORK:-}" && -d "$STACK_WORK" ]]; then
        if [[ "${STACK_KEEP:-0}" == 1 ]]; then
            echo "work folder kept: $STACK_WORK" >&2
        else
            rm -rf "$STACK_WORK"
        fi
    fi
}

# stack_wait_file NAME PATH: waits for PATH while process NAME lives.
stack_wait_file() {
    local pid i
    pid=$(stack_pid "$1")
    for ((i = 0; i < STACK_READY_S * 10; i++)); do
        [[ -e "$2" ]] && return 0
        kill -0 "$pid" 2>/dev/null || stack_die "$1 exited during start-up"
        sleep 0.1
    done
    stack_die "$1: $2 did not appear within ${STACK_READY_S}s"
}

# stack_wait_log NAME SED_EXPR: waits until the sed expression prints something from the log of
# NAME; echoes it.
stack_wait_log() {
    local pid i out
    pid=$(stack_pid "$1")
    for ((i = 0; i < STACK_READY_S * 10; i++)); do
        out=$(sed -n "$2" "$STACK_WORK/logs/$1.log" 2>/dev/null | head -n 1)
        if [[ -n "$out" ]]; then
            echo "$out"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || stack_die "$1 exited during start-up"
        sleep 0.1
    done
    stack_die "$1 did not get ready within ${STACK_READY_S}s"
}

# ---- Azure: azure-emu + skr ----

stack_azure_up() {
    local st=$STACK_WORK/azure-state
    "$STACK_BIN/azure-emu" init --state "$st" >"$STACK_WORK/logs/azure-emu-init.log" 2>&1 ||
        stack_die "azure-emu init"
    stack_start azure-emu "$STACK_BIN/azure-emu" serve --state "$st"
    stack_wait_file azure-emu "$st/endpoints.json"
    local ep=$st/endpoints.json
    STACK_AZ_STATE=$st
    STACK_AZ_CA=$st/ca.pem
    STACK_AZ_MAA_PORT=$(stack_json_get "$ep" maa) || stack_die "endpoints.json: maa"
    STACK_AZ_MAA_PORT=${STACK_AZ_MAA_PORT##*:}
    STACK_AZ_AKV_PORT=$(stack_json_get "$ep" akv) || stack_die "endpoints.json: akv"
    STACK_AZ_AKV_PORT=${STACK_AZ_AKV_PORT##*:}
    STACK_AZ_IMDS=$(stack_json_get "$ep" imds) || stack_die "endpoints.json: imds"

    STACK_SKR_SOCK=$STACK_WORK/run/skr.sock
    stack_start skr env SSL_CERT_FILE="$STACK_AZ_CA" \
        SKR_CONNECT_TO="$STACK_MAA_HOST:443:127.0.0.1:$STACK_AZ_MAA_PORT,$STACK_VAULT_HOST:443:127.0.0.1:$STACK_AZ_AKV_PORT" \
        AZURE_POD_IDENTITY_AUTHORITY_HOST="$STACK_AZ_IMDS" SKR_SNP_SIMULATOR="$st" \
        UVM_SECURITY_CONTEXT_DIR="$st/security-context" \
        "$STACK_BIN/skr" -port 0 -socket "$STACK_SKR_SOCK" -loglevel info
    stack_wait_file skr "$STACK_SKR_SOCK"
    curl -sf --max-time 10 --unix-socket "$STACK_SKR_SOCK" -o /dev/null http://localhost/status ||
        stack_die "skr does not answer /status on its socket"
}

# stack_azure_curl ARGS...: curl to the emulated Key Vault under its real host name.
stack_azure_curl() {
    curl -sS --max-time 60 --cacert "$STACK_AZ_CA" \
        --connect-to "$STACK_VAULT_HOST:443:127.0.0.1:$STACK_AZ_AKV_PORT" "$@"
}

# stack_azure_key NAME: creates RSA-HSM 4096 NAME in the emulated Key Vault, exportable, with the
# release policy of scripts/make-release-policy.sh for the emulated container group's security
# policy. The private key is generated inside the emulator and never touches a file here.
stack_azure_key() {
    local name=$1 policy=$STACK_WORK/release-policy.json token body code
    "$STACK_ROOT/scripts/make-release-policy.sh" --authority "https://$STACK_MAA_HOST" \
        --security-policy-base64 "$STACK_AZ_STATE/security-context/security-policy-base64" \
        >"$policy" || stack_die "make-release-policy.sh"
    token=$(curl -sS --max-time 10 -H 'Metadata: true' \
        "$STACK_AZ_IMDS/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
        stack_die "no IMDS token from azure-emu"
    body=$(python3 -c 'import base64,json,sys
data=base64.urlsafe_b64encode(open(sys.argv[1],"rb").read()).decode().rstrip("=")
print(json.dumps({"kty":"RSA-HSM","key_size":4096,"attributes":{"exportable":True},
                  "release_policy":{"contentType":"application/json; charset=utf-8",
                                    "data":data,"immutable":False}}))' "$policy")
    code=$(stack_azure_curl -o "$STACK_WORK/akv-create.json" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data-binary "$body" "https://$STACK_VAULT_HOST/keys/$name/create?api-version=7.4") ||
        stack_die "Key Vault create of $name: transport"
    [[ "$code" == 200 ]] || stack_die "Key Vault create of $name: $code $(cat "$STACK_WORK/akv-create.json")"
    STACK_AZ_KID=$name
}

# ---- GCP: gcp-emu (with swtpm) + gcp-wif ----

stack_gcp_up() {
    local st=$STACK_WORK/gcp-state
    command -v swtpm >/dev/null || stack_die "swtpm is not installed (./run bootstrap)"
    "$STACK_BIN/gcp-emu" init --state "$st" >"$STACK_WORK/logs/gcp-emu-init.log" 2>&1 ||
        stack_die "gcp-emu init"
    stack_start gcp-emu "$STACK_BIN/gcp-emu" serve --state "$st" --vtpm
    stack_wait_file gcp-emu "$st/endpoints.json"
    STACK_GCP_STATE=$st
    STACK_GCP_EP=$st/endpoints.json
    STACK_GCP_CA=$st/ca.pem
    # The firmware event log of the emulated vTPM (what /sys/kernel/security holds on a VM).
    STACK_GCP_EVENTLOG=$st/vtpm/binary_bios_measurements
    STACK_GCP_SYM_KEY=$(stack_json_get "$STACK_GCP_EP" kms_sym_key) || stack_die "endpoints.json: kms_sym_key"
    STACK_GCP_RSA_VERSION=$(stack_json_get "$STACK_GCP_EP" kms_rsa_key_version) ||
        stack_die "endpoints.json: kms_rsa_key_version"

    # Real Google host names through connect-to: the AK certificate's AIA URL names a storage
    # host that the emulator's MDS listener serves, and the verifier's discovery document names
    # its real issuer (gcp-wif checks it against the verifier URL, so that URL must be the real
    # one too), with its JWKS on www.googleapis.com.
    local mds ver
    mds=$(stack_json_get "$STACK_GCP_EP" mds) || stack_die "endpoints.json: mds"
    ver=$(stack_json_get "$STACK_GCP_EP" verifier) || stack_die "endpoints.json: verifier"
    STACK_GCP_CONNECT_TO="privateca-content-gemu.storage.googleapis.com:80:127.0.0.1:${mds##*:}"
    STACK_GCP_CONNECT_TO+=",confidentialcomputing.googleapis.com:443:127.0.0.1:${ver##*:}"
    STACK_GCP_CONNECT_TO+=",www.googleapis.com:443:127.0.0.1:${ver##*:}"
    STACK_GCP_WIF_FLAGS=(--endpoints "$STACK_GCP_EP" --event-log "$STACK_GCP_EVENTLOG"
        --verifier-url https://confidentialcomputing.googleapis.com)
    STACK_WIF_SOCK=$STACK_WORK/run/gcp-wif.sock
    stack_start gcp-wif env SSL_CERT_FILE="$STACK_GCP_CA" GCP_WIF_CONNECT_TO="$STACK_GCP_CONNECT_TO" \
        "$STACK_BIN/gcp-wif" "${STACK_GCP_WIF_FLAGS[@]}" --socket "$STACK_WIF_SOCK"
    stack_wait_file gcp-wif "$STACK_WIF_SOCK"
    local i
    for ((i = 0; i < STACK_READY_S * 10; i++)); do
        curl -sf --max-time 10 --unix-socket "$STACK_WIF_SOCK" -o /dev/null \
            http://localhost/status && return 0
        kill -0 "$(stack_pid gcp-wif)" 2>/dev/null || stack_die "gcp-wif exited during start-up"
        sleep 0.2
    done
    stack_die "gcp-wif did not answer /status within ${STACK_READY_S}s"
}

# stack_gcp_wrap_key: generates a throw-away RSA-4096 key in the work folder (on /dev/shm), wraps
# it with `gcp-wif wrap-key` under the emulator's KMS symmetric key and removes the clear copy.
# Sets STACK_GCP_BLOB; the public key stays in STACK_GCP_PUB for checks.
stack_gcp_wrap_key() {
    local pem=$STACK_WORK/run/gcp-key.pem
    STACK_GCP_BLOB=$STACK_WORK/run/gcp-key.blob
    STACK_GCP_PUB=$STACK_WORK/gcp-key.pub.pem
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$pem" \
        2>/dev/null) || stack_die "openssl genpkey"
    openssl pkey -in "$pem" -pubout -out "$STACK_GCP_PUB" 2>/dev/null || stack_die "openssl pkey"
    env SSL_CERT_FILE="$STACK_GCP_CA" GCP_WIF_CONNECT_TO="$STACK_GCP_CONNECT_TO" \
        "$STACK_BIN/gcp-wif" wrap-key "${STACK_GCP_WIF_FLAGS[@]}" --kms-key "$STACK_GCP_SYM_KEY" --in "$pem" --out "$STACK_GCP_BLOB" \
        >"$STACK_WORK/logs/gcp-wif-wrap.log" 2>&1 || {
        rm -f "$pem"
        stack_die "gcp-wif wrap-key"
    }
    # Keep the clear key only while the e2e test needs it to look for leaks (STACK_KEEP_CLEAR).
    if [[ "${STACK_KEEP_CLEAR:-0}" == 1 ]]; then
        STACK_GCP_CLEAR=$pem
    else
        rm -f "$pem"
    fi
}

# ---- workload, proxy, client ----

stack_workload_up() {
    stack_start workload "$STACK_BIN/sample-workload" --listen 127.0.0.1 --port 0
    STACK_WL_PORT=$(stack_wait_log workload 's/^listening on \([0-9]*\)$/\1/p')
}

# stack_proxy_up NAME SOURCE: skr-proxy on a kernel-chosen port with key source SOURCE (skr,
# gcp-wif, gcp-kms) and the settings of the stack; returns once /polaris-container/health says
# 200. Sets STACK_PROXY_URL_<NAME> and STACK_READY_MS_<NAME> (start to key ready).
stack_proxy_up() {
    local name=$1 source=$2 env=() t0 port i code
    case "$source" in
    skr)
        env=(POLARIS_CONTAINER_AZURE_SKR_KEY_RELEASE_ENDPOINT="unix:$STACK_SKR_SOCK"
            POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT="$STACK_MAA_HOST"
            POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT="$STACK_VAULT_HOST"
            POLARIS_CONTAINER_AZURE_SKR_KID="$STACK_AZ_KID")
        ;;
    gcp-wif)
        env=(PROXY_KEY_GCP_WIF_SOCKET="$STACK_WIF_SOCK" PROXY_KEY_GCP_KMS_KEY="$STACK_GCP_SYM_KEY"
            PROXY_KEY_GCP_WRAPPED_KEY_FILE="$STACK_GCP_BLOB")
        ;;
    gcp-kms)
        env=(PROXY_KEY_GCP_WIF_SOCKET="$STACK_WIF_SOCK"
            PROXY_KEY_GCP_KMS_KEY_VERSION="$STACK_GCP_RSA_VERSION")
        ;;
    *) stack_die "unknown key source $source" ;;
    esac
    t0=$(stack_now_ms)
    stack_start "$name" env POLARIS_CONTAINER_WORKLOAD_BASE_URL="http://127.0.0.1:$STACK_WL_PORT" \
        POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION=true \
        POLARIS_CONTAINER_ENABLE_OUTPUT_ENCRYPTION=true \
        POLARIS_CONTAINER_ENABLE_LOGGING=true POLARIS_CONTAINER_LOG_LEVEL=info \
        "${env[@]}" "$STACK_BIN/skr-proxy" --listen 127.0.0.1 --port 0 --key-source "$source" \
        --key-attempts 5 --key-retry-base-ms 200 --key-retry-max-ms 2000
    port=$(stack_wait_log "$name" 's/.*msg="listening" host=127\.0\.0\.1 port=\([0-9]*\).*/\1/p')
    for ((i = 0; i < STACK_READY_S * 50; i++)); do
        code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
            "http://127.0.0.1:$port/polaris-container/health" || true)
        [[ "$code" == 200 ]] && break
        kill -0 "$(stack_pid "$name")" 2>/dev/null || stack_die "$name exited: no key"
        sleep 0.02
    done
    [[ "$code" == 200 ]] || stack_die "$name has no key after ${STACK_READY_S}s"
    eval "STACK_READY_MS_${name//-/_}=$(($(stack_now_ms) - t0))"
    eval "STACK_PROXY_URL_${name//-/_}=http://127.0.0.1:$port"
}

stack_proxy_url() {
    local v="STACK_PROXY_URL_${1//-/_}"
    echo "${!v:-}"
}

stack_ready_ms() {
    local v="STACK_READY_MS_${1//-/_}"
    echo "${!v:-}"
}

# stack_send NAME PATH BODY OUT: one encrypted POST through proxy NAME; the decrypted answer
# goes to OUT; STACK_SEND_MS gets the round-trip time of the client process.
stack_send() {
    local url t0
    url=$(stack_proxy_url "$1")
    t0=$(stack_now_ms)
    printf '%s' "$3" | "$STACK_BIN/skr-proxy-client" -H 'Content-Type: text/plain' \
        -H 'X-Request-Id: stack' -d @- -o "$4" "$url$2" ||
        stack_die "encrypted request through $1 failed"
    STACK_SEND_MS=$(($(stack_now_ms) - t0))
}
