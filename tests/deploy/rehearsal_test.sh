#!/usr/bin/env bash
# rehearsal_test.sh - a rehearsal of the ACI container group of deploy/aci/template.json on this
# machine: the skr, skr-proxy and sample-workload IMAGES run together under `buildah run
# --isolation chroot` (which shares the host's network, like the containers of a group share
# one), each with the command line and environment the template gives it (arm_render.py), and
# skr and the proxy share one host folder as their in-memory socket volume (/run/skr). Against
# azure-emu on the host:
#   - an RSA-HSM 4096 key is created in the emulated Key Vault with the release policy of
#     scripts/make-release-policy.sh for the emulated group's security policy (hostdata);
#   - the proxy gets its key from skr over the shared socket (key source azure-skr), and its
#     public key is that Key Vault key;
#   - skr's SO_PEERCRED allow-list admits the proxy's uid (65532) only: root on the host is
#     refused on the same socket;
#   - an encrypted request from skr-proxy-client on the host comes back decrypted from the
#     workload;
#   - SIGTERM stops each container's program and each exits 0.
# It prints the peak resident memory of each container's process (deploy/README.md).
#
# Test-only additions to the template's settings: skr gets the emulator's CA, connect-to
# mapping, IMDS address and SEV-SNP simulator (its state folder mounted read-only at /state),
# and -port 0; the proxy and the workload listen on 127.0.0.1 with kernel-chosen ports, and the
# proxy logs at info.
#
# Usage: rehearsal_test.sh BIN_DIR WORK_DIR   (WORK_DIR: the fixture of images_test.sh)
set -euo pipefail

BIN_DIR=${1:?usage: $0 BIN_DIR WORK_DIR}
DEPLOY_WORK=${2:?usage: $0 BIN_DIR WORK_DIR}
# shellcheck source=deploy_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/deploy_lib.sh"
deploy_need_root

TEMPLATE=$DEPLOY_ROOT/deploy/aci/template.json
MAA_HOST=sharedeus.eus.attest.azure.net
VAULT_HOST=rehearsal-vault.vault.azure.net
KEY_NAME=proxy-key
READY_S=60

base=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
W=$(mktemp -d "$base/deploy-rehearsal.XXXXXX")
chmod 0711 "$W"
mkdir -m 0700 "$W/logs"

declare -A BPID=() CTR=()
PID_EMU=''

rfail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$W"/logs/*.log; do
        [[ -f "$f" ]] || continue
        echo "--- $(basename "$f") (last 30 lines) ---" >&2
        tail -n 30 "$f" >&2
    done
    exit 1
}

# descendants PID: every process below PID.
descendants() {
    local c
    for c in $(pgrep -P "$1" || true); do
        echo "$c"
        descendants "$c"
    done
}

# program_pid NAME COMM: the pid of the program (by command name) that container NAME runs.
program_pid() {
    local p
    for p in $(descendants "${BPID[$1]}"); do
        if [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == "$2" ]]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

cleanup() {
    local n p
    for n in "${!BPID[@]}"; do
        for p in $(descendants "${BPID[$n]}"); do
            kill -KILL "$p" 2>/dev/null || true
        done
        kill -KILL "${BPID[$n]}" 2>/dev/null || true
    done
    if [[ -n "$PID_EMU" ]]; then
        kill -TERM "$PID_EMU" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    for n in "${!CTR[@]}"; do
        "${BUILDAH[@]}" rm "${CTR[$n]}" >/dev/null 2>&1 || true
    done
    [[ -n "${DEPLOY_KEEP:-}" ]] || rm -rf "$W"
}
trap cleanup EXIT

json_get() { # FILE KEY
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# ---- azure-emu on the host ----
STATE=$W/state
"$BIN_DIR/azure-emu" init --state "$STATE" >"$W/logs/emu-init.log" 2>&1 || rfail "azure-emu init"
"$BIN_DIR/azure-emu" serve --state "$STATE" >"$W/logs/azure-emu.log" 2>&1 &
PID_EMU=$!
for ((i = 0; i < READY_S * 10; i++)); do
    [[ -f "$STATE/endpoints.json" ]] && break
    kill -0 "$PID_EMU" 2>/dev/null || rfail "azure-emu exited"
    sleep 0.1
done
[[ -f "$STATE/endpoints.json" ]] || rfail "azure-emu: no endpoints.json"
MAA_PORT=$(json_get "$STATE/endpoints.json" maa)
MAA_PORT=${MAA_PORT##*:}
AKV_PORT=$(json_get "$STATE/endpoints.json" akv)
AKV_PORT=${AKV_PORT##*:}
IMDS=$(json_get "$STATE/endpoints.json" imds)

# The key, created inside the emulated vault with the release policy for this group's hostdata.
"$DEPLOY_ROOT/scripts/make-release-policy.sh" --authority "https://$MAA_HOST" \
    --security-policy-base64 "$STATE/security-context/security-policy-base64" \
    >"$W/release-policy.json" || rfail "make-release-policy.sh"
token_url="$IMDS/metadata/identity/oauth2/token?api-version=2018-02-01"
token_url+="&resource=https%3A%2F%2Fvault.azure.net"
token=$(curl -sS --max-time 10 -H 'Metadata: true' "$token_url" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
    rfail "no IMDS token from azure-emu"
python3 - "$W/release-policy.json" >"$W/create.json" <<'EOF'
import base64, json, sys
data = base64.urlsafe_b64encode(open(sys.argv[1], "rb").read()).decode().rstrip("=")
print(json.dumps({"kty": "RSA-HSM", "key_size": 4096, "attributes": {"exportable": True},
                  "release_policy": {"contentType": "application/json; charset=utf-8",
                                     "data": data, "immutable": False}}))
EOF
code=$(curl -sS --max-time 120 --cacert "$STATE/ca.pem" \
    --connect-to "$VAULT_HOST:443:127.0.0.1:$AKV_PORT" -o "$W/bundle.json" -w '%{http_code}' \
    -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary "@$W/create.json" "https://$VAULT_HOST/keys/$KEY_NAME/create?api-version=7.4") ||
    rfail "Key Vault create: transport"
[[ "$code" == 200 ]] || rfail "Key Vault create: $code $(cat "$W/bundle.json")"

# ---- the container group ----
SOCKDIR=$W/skr-socket # the emptyDir volume
mkdir -m 0711 "$SOCKDIR"

PARAMS=(identityId=/subscriptions/x registryServer=localhost ccePolicy=rehearsal
    skrImage=localhost/skr proxyImage=localhost/skr-proxy workloadImage=localhost/sample-workload
    "maaEndpoint=$MAA_HOST" "akvEndpoint=$VAULT_HOST" "keyName=$KEY_NAME")
render() { # CONTAINER [EXTRA PARAMS...]
    python3 "$DEPLOY_HERE/arm_render.py" "$TEMPLATE" "$@" "${PARAMS[@]}" || rfail "arm_render $1"
}

# start NAME IMAGE RENDERED_JSON EXTRA_ENV_JSON EXTRA_ARGS_JSON: buildah run in the background.
start() {
    local name=$1 image=$2 spec args=()
    CTR[$name]=$(deploy_container "$image") || rfail "buildah from $image"
    spec=$W/$name.args
    # Without a command in the template, the image's entrypoint and cmd run (as ACI does;
    # buildah run itself ignores them).
    "${BUILDAH[@]}" inspect --type image "localhost/$image:$(deploy_version)" >"$W/$name.image.json"
    python3 - "$3" "$4" "$5" "$SOCKDIR" "$STATE" "$W/$name.image.json" >"$spec" <<'EOF' ||
import json, sys
r, extra_env, extra_args, sockdir, state = json.loads(sys.argv[1]), json.loads(sys.argv[2]), \
    json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
cfg = json.load(open(sys.argv[6]))["OCIv1"]["config"]
if r["command"] is None:
    r["command"] = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
out = []
for vol, path in r["mounts"].items():
    assert vol == "skr-socket", vol
    out += ["-v", f"{sockdir}:{path}"]
if "SKR_SNP_SIMULATOR" in extra_env:
    out += ["-v", f"{state}:/state:ro"]
for k, v in {**r["env"], **extra_env}.items():
    out += ["-e", f"{k}={v}"]
out.append("--")
out += (r["command"] or []) + extra_args
print("\0".join(out), end="")
EOF
        rfail "spec of $name"
    mapfile -d '' -t args <"$spec"
    local i opts=() cmd=()
    for ((i = 0; i < ${#args[@]}; i++)); do
        if [[ "${args[$i]}" == -- ]]; then
            cmd=("${args[@]:$((i + 1))}")
            break
        fi
        opts+=("${args[$i]}")
    done
    "${BUILDAH[@]}" run --isolation chroot "${opts[@]}" "${CTR[$name]}" -- "${cmd[@]}" \
        >"$W/logs/$name.log" 2>&1 &
    BPID[$name]=$!
}

wait_log() { # NAME SED_EXPR
    local i out
    for ((i = 0; i < READY_S * 10; i++)); do
        out=$(sed -n "$2" "$W/logs/$1.log" 2>/dev/null | head -n 1)
        [[ -n "$out" ]] && { echo "$out"; return 0; }
        kill -0 "${BPID[$1]}" 2>/dev/null || rfail "$1 exited during start-up"
        sleep 0.1
    done
    rfail "$1 did not get ready within ${READY_S}s"
}

# The workload: the template's default command, on a kernel-chosen port.
wl=$(render workload 'workloadCommand=["/bin/sample-workload","--listen","127.0.0.1","--port","0"]')
start workload sample-workload "$wl" '{}' '[]'
WL_PORT=$(wait_log workload 's/^listening on \([0-9]*\)$/\1/p')

# skr: the template's command line plus the emulator settings.
skr=$(render skr)
skr_env=$(python3 -c 'import json,sys; print(json.dumps({
  "SSL_CERT_FILE": "/state/ca.pem",
  "SKR_CONNECT_TO": sys.argv[1],
  "AZURE_POD_IDENTITY_AUTHORITY_HOST": sys.argv[2],
  "SKR_SNP_SIMULATOR": "/state",
  "UVM_SECURITY_CONTEXT_DIR": "/state/security-context"}))' \
    "$MAA_HOST:443:127.0.0.1:$MAA_PORT,$VAULT_HOST:443:127.0.0.1:$AKV_PORT" "$IMDS")
start skr skr "$skr" "$skr_env" '[]'
wait_log skr 's/.*msg="listening" host=none port=0 socket=\([^ ]*\).*/\1/p' >/dev/null
# -tcp=false: skr holds no listening TCP socket (the workload shares its network namespace).
python3 "$DEPLOY_ROOT/tests/integration/no_tcp_listener.py" "$(program_pid skr skr)" ||
    rfail "skr listens on TCP despite -tcp=false (or the check saw no socket)"
SOCK=$SOCKDIR/skr.sock
[[ -S "$SOCK" ]] || rfail "skr's socket is not in the shared volume"
[[ "$(stat -c '%a %u %g' "$SOCK")" == "660 0 65532" ]] ||
    rfail "socket mode/owner: $(stat -c '%a %u %g' "$SOCK") (want 660, root, the proxy's group)"
# The allow-list: uid 0 on the same socket is refused (only the proxy's 65532 may talk to skr).
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" \
    http://localhost/status || true)
[[ "$code" != 200 ]] || rfail "skr answered a peer outside its allow-list"

# The proxy: the template's environment (its key from skr over the shared socket).
px=$(render skr-proxy "workloadPort=$WL_PORT")
mlock_env='"POLARIS_CONTAINER_ENABLE_LOGGING": "true", "POLARIS_CONTAINER_LOG_LEVEL": "info"'
memlock=$(ulimit -l)
if [[ "$memlock" != unlimited ]] && ((memlock < 8192)); then
    echo "rehearsal: RLIMIT_MEMLOCK ${memlock} KiB is below what the proxy locks: SHD_DONT_MLOCK=1"
    mlock_env+=', "SHD_DONT_MLOCK": "1"'
fi
t0=$(date +%s%3N)
start skr-proxy skr-proxy "$px" "{$mlock_env}" \
    '["--listen", "127.0.0.1", "--port", "0", "--key-attempts", "3", "--key-retry-base-ms", "500"]'
PX_PORT=$(wait_log skr-proxy 's/.*msg="listening" host=127\.0\.0\.1 port=\([0-9]*\).*/\1/p')
for ((i = 0; i < READY_S * 10; i++)); do
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$PX_PORT/polaris-container/health" || true)
    [[ "$code" == 200 ]] && break
    kill -0 "${BPID[skr-proxy]}" 2>/dev/null || rfail "the proxy exited: no key from skr"
    sleep 0.1
done
[[ "$code" == 200 ]] || rfail "the proxy has no key after ${READY_S}s"
echo "rehearsal: proxy key released by skr over the shared socket in $(($(date +%s%3N) - t0)) ms"

# The proxy's public key is the Key Vault key.
curl -sS --max-time 10 "http://127.0.0.1:$PX_PORT/polaris-container/publicKey" >"$W/pub.json" ||
    rfail "publicKey"
python3 - "$W/pub.json" "$W/bundle.json" <<'EOF' || rfail "the proxy's key is not the Key Vault key"
import base64, json, subprocess, sys
pem = json.load(open(sys.argv[1]))["publicKey"]
n_kv = json.load(open(sys.argv[2]))["key"]["n"]
n_kv = int.from_bytes(base64.urlsafe_b64decode(n_kv + "=" * (-len(n_kv) % 4)), "big")
out = subprocess.run(["openssl", "rsa", "-pubin", "-noout", "-modulus"], input=pem.encode(),
                     capture_output=True, check=True).stdout.decode()
n_px = int(out.strip().split("=", 1)[1], 16)
sys.exit(0 if n_px == n_kv and n_kv.bit_length() == 4096 else 1)
EOF

# One encrypted request through the proxy container to the workload container.
BODY="rehearsal $RANDOM$RANDOM"
printf '%s' "$BODY" | "$BIN_DIR/skr-proxy-client" -H 'Content-Type: text/plain' \
    -H 'X-Request-Id: rehearsal' -d @- -o "$W/answer.json" \
    "http://127.0.0.1:$PX_PORT/echo?q=deploy" >"$W/logs/client.log" 2>&1 ||
    rfail "encrypted request failed"
python3 - "$W/answer.json" "$BODY" <<'EOF' || rfail "workload answer: $(cat "$W/answer.json")"
import json, sys
a = json.load(open(sys.argv[1]))
ok = (a["method"] == "POST" and a["path"] == "/echo" and a["q"] == "deploy"
      and a["body"] == sys.argv[2] and a["headers"].get("x-request-id") == "rehearsal"
      and "polaris-secure" not in a["headers"])
sys.exit(0 if ok else 1)
EOF
echo "rehearsal: encrypted request answered by the workload container"

# Peak resident memory of each container's program.
mem=''
declare -A COMM=([skr]=skr [skr-proxy]=skr-proxy [workload]=sample-workload)
declare -A PROG=()
for n in skr skr-proxy workload; do
    PROG[$n]=$(program_pid "$n" "${COMM[$n]}") || rfail "no process for $n"
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/${PROG[$n]}/status")
    mem+=" $n=${hwm}kB"
done
echo "rehearsal: peak RSS:$mem"

# SIGTERM to each program: each exits 0, and so does its buildah run.
for n in skr-proxy skr workload; do
    kill -TERM "${PROG[$n]}"
    rc=0
    wait "${BPID[$n]}" || rc=$?
    unset "BPID[$n]"
    [[ $rc == 0 ]] || rfail "$n exited with $rc after SIGTERM"
done
# skr served exactly one release (the proxy's), successfully, and refused the host's root.
[[ $(grep -c 'path=/key/release status=200' "$W/logs/skr.log") == 1 ]] ||
    rfail "skr: want exactly one successful /key/release"
echo "rehearsal: ok"
