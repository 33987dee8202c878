# skr_lib.sh - shared set-up of the skr integration scripts (sourced, bash): a fresh azure-emu
# state and server (unwrapped, start_plain), the environment that points skr at it under the
# real Azure host names (SSL_CERT_FILE + SKR_CONNECT_TO, no "insecure" switch), skr instances
# started through start_daemon (so `./run test` can wrap them in valgrind via SHD_TEST_WRAPPER),
# requests over TCP or the Unix socket, Key Vault / Managed HSM key import, fault injection.
#
# The caller sets SKR and EMU (executables) and calls skr_it_init; every failure goes through
# skr_fail, which prints the logs. The EXIT trap kills what is left and removes the work folder.

# shellcheck shell=bash disable=SC2034 # (its variables are used by the scripts that source it)
SKR_IT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SKR_IT_ROOT=$(cd "$SKR_IT_HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$SKR_IT_HERE/lib.sh"

CHECK=(python3 "$SKR_IT_HERE/skr_check.py")
MAA_HOST=sharedeus.eus.attest.azure.net
VAULT_HOST=myvault.vault.azure.net
MHSM_HOST=myhsm.managedhsm.azure.net
AUTHORITY=https://$MAA_HOST
SKR_NAMES=()

# Under valgrind (SHD_TEST_WRAPPER) every skr call is 20-50x slower: wider time limits.
if [[ -n "${SHD_TEST_WRAPPER:-}" ]]; then
    SKR_IT_WRAPPED=1
    SKR_IT_READY_S=120
    SKR_IT_CURL_S=180
else
    SKR_IT_WRAPPED=0
    SKR_IT_READY_S=20
    SKR_IT_CURL_S=60
fi

skr_fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$WORK"/*.log; do
        [[ -f "$f" ]] || continue
        echo "--- $(basename "$f") (last 40 lines) ---" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
}

expect_eq() { # what got want
    [[ "$2" == "$3" ]] || skr_fail "$1: got '$2', want '$3'"
}

skr_it_cleanup() {
    kill_all "${SKR_NAMES[@]}" EMU
    if [[ -n "${WORK:-}" && -z "${SKR_IT_KEEP:-}" ]]; then
        rm -rf "$WORK"
    fi
}

# skr_it_init: work folder, emulator state + server, skr environment, release policies.
skr_it_init() {
    WORK=$(shd_work_dir)
    chmod 0711 "$WORK" # the Unix socket test runs a client as uid 65534
    trap skr_it_cleanup EXIT
    STATE=$WORK/state
    "$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 || skr_fail "azure-emu init"
    start_plain EMU "$WORK/emu.log" "$EMU" serve --state "$STATE"
    wait_for_file "$STATE/endpoints.json" 20 || skr_fail "no endpoints.json"
    local ep=$STATE/endpoints.json
    MAA_PORT=$("${CHECK[@]}" endpoint maa <"$ep")
    MAA_PORT=${MAA_PORT##*:}
    AKV_PORT=$("${CHECK[@]}" endpoint akv <"$ep")
    AKV_PORT=${AKV_PORT##*:}
    MHSM_PORT=$("${CHECK[@]}" endpoint mhsm <"$ep")
    MHSM_PORT=${MHSM_PORT##*:}
    IMDS=$("${CHECK[@]}" endpoint imds <"$ep")
    CA=$STATE/ca.pem
    SECCTX=$STATE/security-context
    export SSL_CERT_FILE=$CA
    export SKR_CONNECT_TO="$MAA_HOST:443:127.0.0.1:$MAA_PORT,$VAULT_HOST:443:127.0.0.1:$AKV_PORT,$MHSM_HOST:443:127.0.0.1:$MHSM_PORT"
    export AZURE_POD_IDENTITY_AUTHORITY_HOST=$IMDS
    export SKR_SNP_SIMULATOR=$STATE
    export UVM_SECURITY_CONTEXT_DIR=$SECCTX
    export SHD_DONT_MLOCK=1
    unset AZURE_CLIENT_ID AZURE_TENANT_ID AZURE_FEDERATED_TOKEN_FILE SKR_KEY_POOL SKR_LOG
    CURL_EMU=(curl -sS --max-time 30 --cacert "$CA"
              --connect-to "$VAULT_HOST:443:127.0.0.1:$AKV_PORT"
              --connect-to "$MHSM_HOST:443:127.0.0.1:$MHSM_PORT")
    # The release policy of the keys: our authority and the state's security policy (HOST_DATA).
    POLICY=$WORK/policy.json
    "$SKR_IT_ROOT/scripts/make-release-policy.sh" --authority "$AUTHORITY" \
        --security-policy-base64 "$SECCTX/security-policy-base64" >"$POLICY" ||
        skr_fail "make-release-policy.sh"
    # One that pins another container group's hostdata (the same template, another policy).
    printf 'package policy\nother := true\n' | base64 -w0 >"$WORK/other-policy-base64"
    OTHER_POLICY=$WORK/other-policy.json
    "$SKR_IT_ROOT/scripts/make-release-policy.sh" --authority "$AUTHORITY" \
        --security-policy-base64 "$WORK/other-policy-base64" >"$OTHER_POLICY" ||
        skr_fail "make-release-policy.sh (other)"
    OTHER_HOSTDATA=$(base64 -d <"$WORK/other-policy-base64" | sha256sum | cut -d' ' -f1)
    HOSTDATA=$(base64 -d <"$SECCTX/security-policy-base64" | sha256sum | cut -d' ' -f1)
}

# skr_start NAME [SKR FLAGS...]: starts skr on a kernel-chosen port and waits until it listens;
# sets PORT_<NAME>. Extra environment: prefix the call with VAR=value.
skr_start() {
    local name=$1 log i port=''
    shift
    log=$WORK/skr-$name.log
    SKR_NAMES+=("$name")
    start_daemon "$name" "$log" "$SKR" -port 0 -loglevel info "$@"
    local pidvar="PID_$name"
    for ((i = 0; i < SKR_IT_READY_S * 10; i++)); do
        # The log file appears once the background child has opened it.
        port=$(sed -n 's/.*msg="listening" host=127\.0\.0\.1 port=\([0-9]*\).*/\1/p' "$log" \
            2>/dev/null || true)
        [[ -n "$port" ]] && break
        kill -0 "${!pidvar}" 2>/dev/null || skr_fail "skr $name exited during start-up"
        sleep 0.1
    done
    [[ -n "$port" ]] || skr_fail "skr $name did not listen within ${SKR_IT_READY_S}s"
    eval "PORT_${name}=$port"
}

skr_stop() { # NAME: SIGTERM -> exit 0 (99 from valgrind = errors or leaks)
    stop_daemon "$1" 0 || skr_fail "skr $1 did not stop cleanly (valgrind errors exit 99)"
}

# call TARGET METHOD PATH [BODY] [CURL ARGS...]: TARGET is tcp:PORT or unix:PATH. Sets CODE and
# CTYPE; the body is in $WORK/body.
call() {
    local target=$1 method=$2 path=$3 body=${4-} out
    shift 3
    [[ $# -gt 0 ]] && shift
    local via=()
    case "$target" in
    tcp:*) via=("http://127.0.0.1:${target#tcp:}$path") ;;
    unix:*) via=(--unix-socket "${target#unix:}" "http://localhost$path") ;;
    *) skr_fail "bad call target $target" ;;
    esac
    local data=()
    [[ "$method" == POST ]] && data=(--data-binary "$body")
    out=$(curl -sS --max-time "$SKR_IT_CURL_S" -X "$method" -o "$WORK/body" \
        -w '%{http_code} %{content_type}' "${data[@]}" "$@" "${via[@]}") ||
        skr_fail "curl $method $path via $target failed"
    CODE=${out%% *}
    CTYPE=${out#* }
}

# release TARGET AKV_HOST KID [ACCESS_TOKEN]: POST /key/release.
release() {
    local tok=''
    [[ -n "${4:-}" ]] && tok=',"access_token":"'$4'"'
    call "$1" POST /key/release \
        '{"maa_endpoint":"'"$MAA_HOST"'","akv_endpoint":"'"$2"'","kid":"'"$3"'"'"$tok"'}'
}

expect_json() { # what CODE_WANTED
    expect_eq "$1 status" "$CODE" "$2"
    expect_eq "$1 content type" "$CTYPE" "application/json; charset=utf-8"
}

# emu_token RESOURCE: an AAD token from the emulator's IMDS (for key import by the test).
emu_token() {
    curl -sS --max-time 10 -H 'Metadata: true' \
        "$IMDS/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$1" |
        "${CHECK[@]}" get access_token
}

# akv HOST METHOD PATH BODY_FILE: Key Vault / Managed HSM call as the key's owner; the body
# of the answer goes to $WORK/akv.json, the status is returned in AKV_CODE.
akv() {
    local host=$1 res=https%3A%2F%2Fvault.azure.net data=()
    [[ "$host" == *managedhsm* ]] && res=https%3A%2F%2Fmanagedhsm.azure.net
    [[ -n "${4:-}" ]] && data=(--data-binary "@$4")
    AKV_CODE=$("${CURL_EMU[@]}" -o "$WORK/akv.json" -w '%{http_code}' -X "$2" \
        -H "Authorization: Bearer $(emu_token "$res")" -H 'Content-Type: application/json' \
        "${data[@]}" "https://$host$3?api-version=7.4")
}

# import_key HOST NAME JWK_FILE POLICY_FILE [KEY_OPS]: PUT /keys/NAME (exportable, hsm).
import_key() {
    "${CHECK[@]}" import-body "$3" "$4" ${5:+"$5"} >"$WORK/import.json"
    akv "$1" PUT "/keys/$2" "$WORK/import.json"
    [[ "$AKV_CODE" == 200 ]] || skr_fail "import of $2 into $1: $AKV_CODE $(cat "$WORK/akv.json")"
}

# create_key HOST NAME KTY SIZE_OR_CRV POLICY_FILE: POST /keys/NAME/create; the public
# KeyBundle is kept in $WORK/bundle-NAME.json.
create_key() {
    "${CHECK[@]}" create-body "$3" "$4" "$5" >"$WORK/create.json"
    akv "$1" POST "/keys/$2/create" "$WORK/create.json"
    [[ "$AKV_CODE" == 200 ]] || skr_fail "create of $2 in $1: $AKV_CODE $(cat "$WORK/akv.json")"
    cp "$WORK/akv.json" "$WORK/bundle-$2.json"
}

fault_add() { # JSON rule
    local r
    r=$(curl -sS --max-time 10 -X POST --data "$1" "$IMDS/emu/faults")
    expect_eq "fault $1" "$r" '{"status":"added"}'
}

fault_clear() {
    curl -sS --max-time 10 -o /dev/null -X DELETE "$IMDS/emu/faults"
}

# access_count SVC PATH_PREFIX STATUS: lines of the emulator's access log that match.
access_count() {
    grep -c "module=access .*svc=$1 method=[A-Z]* host=[^ ]* path=$2[^ ]* status=$3 " \
        "$WORK/emu.log" || true
}

now_ms() { date +%s%3N; }
