# wif_lib.sh - shared set-up of the gcp-wif integration scripts (sourced, bash): a fresh gcp-emu
# state and server with its vTPM on swtpm (unwrapped, start_plain), the environment that points
# gcp-wif at it under the real Google host names (GCP_WIF_*_URL + GCP_WIF_CONNECT_TO +
# SSL_CERT_FILE, no "insecure" switch), gcp-wif instances started through start_daemon (so
# `./run test` can wrap them in valgrind via SHD_TEST_WRAPPER), requests over the Unix socket,
# fault injection and access-log counts.
#
# The caller sets WIF and EMU (executables) and calls wif_it_init; every failure goes through
# wif_fail, which prints the logs. The EXIT trap kills what is left and removes the work folder.
# Without swtpm the scripts cannot run: they exit 77 (skipped) from wif_it_init.

# shellcheck shell=bash disable=SC2034 # (its variables are used by the scripts that source it)
WIF_IT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WIF_IT_ROOT=$(cd "$WIF_IT_HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$WIF_IT_HERE/lib.sh"

CHECK=(python3 "$WIF_IT_HERE/wif_check.py")
WIF_NAMES=()
# Paths in the emulator's access log: challenges (POST .../challenges/ID:verifyAttestation
# under CHALLENGES/), IAM generateAccessToken, the verifier's OIDC discovery document.
CHALLENGES=/v1/projects/gemu-project/locations/us-central1/challenges
IAM_SA=/v1/projects/-/serviceAccounts/
DISCOVERY=/.well-known/openid-configuration

# Under valgrind (SHD_TEST_WRAPPER) every gcp-wif call is 20-50x slower: wider time limits.
if [[ -n "${SHD_TEST_WRAPPER:-}" ]]; then
    WIF_IT_WRAPPED=1
    WIF_IT_READY_S=120
    WIF_IT_CURL_S=180
else
    WIF_IT_WRAPPED=0
    WIF_IT_READY_S=20
    WIF_IT_CURL_S=60
fi

wif_fail() {
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
    [[ "$2" == "$3" ]] || wif_fail "$1: got '$2', want '$3'"
}

expect_has() { # what haystack needle
    [[ "$2" == *"$3"* ]] || wif_fail "$1: '$2' does not contain '$3'"
}

wif_it_cleanup() {
    local i
    kill_all "${WIF_NAMES[@]}"
    # gcp-emu stops its swtpm on SIGTERM; after a SIGKILL the swtpm would be left running.
    if [[ -n "${PID_EMU:-}" ]] && kill -TERM "$PID_EMU" 2>/dev/null; then
        for ((i = 0; i < 50; i++)); do
            kill -0 "$PID_EMU" 2>/dev/null || break
            sleep 0.1
        done
        pkill -KILL -P "$PID_EMU" 2>/dev/null || true
    fi
    kill_all EMU
    if [[ -n "${WORK:-}" && -z "${WIF_IT_KEEP:-}" ]]; then
        rm -rf "$WORK"
    fi
}

# wif_it_init [EDIT_CMD...]: work folder, emulator state (EDIT_CMD, when given, runs between
# init and serve, e.g. to edit $STATE/config.json), server with --vtpm, gcp-wif environment.
# shellcheck disable=SC2120 # (the edit command is optional)
wif_it_init() {
    if ! command -v swtpm >/dev/null 2>&1; then
        echo "$(basename "$0"): skipped (swtpm is not installed: gcp-emu serve --vtpm needs it)"
        exit 77
    fi
    WORK=$(shd_work_dir)
    chmod 0711 "$WORK" # the Unix socket test runs a client as uid 65534
    trap wif_it_cleanup EXIT
    STATE=$WORK/state
    "$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 || wif_fail "gcp-emu init"
    if [[ $# -gt 0 ]]; then
        "$@" || wif_fail "state edit: $*"
    fi
    start_plain EMU "$WORK/emu.log" "$EMU" serve --state "$STATE" --vtpm
    wait_for_file "$STATE/endpoints.json" 30 || wif_fail "no endpoints.json"
    EP=$STATE/endpoints.json
    endpoint_port() { local e; e=$("${CHECK[@]}" endpoint "$1" <"$EP") && echo "${e##*:}"; }
    PORT_verifier=$(endpoint_port verifier)
    PORT_sts=$(endpoint_port sts)
    PORT_iam=$(endpoint_port iam)
    PORT_kms=$(endpoint_port kms)
    PORT_mds=$(endpoint_port mds)
    MDS=$("${CHECK[@]}" endpoint mds <"$EP")
    CA=$("${CHECK[@]}" endpoint ca <"$EP")
    AUDIENCE=$("${CHECK[@]}" endpoint audience <"$EP")
    SA=$("${CHECK[@]}" endpoint service_account <"$EP")
    RSA_VERSION=$("${CHECK[@]}" endpoint kms_rsa_key_version <"$EP")
    SYM_KEY=$("${CHECK[@]}" endpoint kms_sym_key <"$EP")
    # The production URLs; only name resolution (connect-to) and trust (the state CA) change.
    export SSL_CERT_FILE=$CA
    local map=(
        "confidentialcomputing.googleapis.com:443:127.0.0.1:$PORT_verifier"
        "www.googleapis.com:443:127.0.0.1:$PORT_verifier" # the verifier's JWKS
        "sts.googleapis.com:443:127.0.0.1:$PORT_sts"
        "iamcredentials.googleapis.com:443:127.0.0.1:$PORT_iam"
        "cloudkms.googleapis.com:443:127.0.0.1:$PORT_kms"
        "metadata.google.internal:80:127.0.0.1:$PORT_mds"
        "privateca-content-gemu.storage.googleapis.com:80:127.0.0.1:$PORT_mds" # AK cert AIA
    )
    GCP_WIF_CONNECT_TO=$(IFS=,; echo "${map[*]}")
    export GCP_WIF_CONNECT_TO
    export GCP_WIF_ENDPOINTS=$EP
    export GCP_WIF_VERIFIER_URL=https://confidentialcomputing.googleapis.com
    export GCP_WIF_STS_URL=https://sts.googleapis.com
    export GCP_WIF_IAM_URL=https://iamcredentials.googleapis.com
    export GCP_WIF_KMS_URL=https://cloudkms.googleapis.com
    export GCP_WIF_MDS_URL=http://metadata.google.internal
    export GCP_WIF_EVENT_LOG=$STATE/vtpm/binary_bios_measurements
    export SHD_DONT_MLOCK=1
    unset GCP_WIF_CONFIG GCP_WIF_MODE GCP_WIF_AUDIENCE GCP_WIF_SERVICE_ACCOUNT GCP_WIF_ALLOW_UID \
        GCP_WIF_ALLOW_GID GCP_WIF_TOKEN_FILE GCP_WIF_LAUNCHER_TOKEN GCP_WIF_LAUNCHER_SOCKET WIF_LOG
}

# wif_start NAME [GCP-WIF FLAGS...]: starts gcp-wif on $WORK/NAME.sock (wrapped) and waits until
# GET /status answers; sets SOCK_<NAME>. Extra environment: prefix the call with VAR=value.
wif_start() {
    local name=$1 i code=''
    shift
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || wif_fail "wif_start: '$name' is not a shell name"
    local sock=$WORK/$name.sock
    WIF_NAMES+=("$name")
    rm -f "$sock"
    start_daemon "$name" "$WORK/wif-$name.log" "$WIF" --socket "$sock" "$@"
    local pidvar="PID_$name"
    for ((i = 0; i < WIF_IT_READY_S * 10; i++)); do
        if [[ -S "$sock" ]]; then
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$sock" \
                http://localhost/status || true)
            [[ "$code" == 200 ]] && break
        fi
        kill -0 "${!pidvar}" 2>/dev/null || wif_fail "gcp-wif $name exited during start-up"
        sleep 0.1
    done
    [[ "$code" == 200 ]] ||
        wif_fail "gcp-wif $name did not answer /status within ${WIF_IT_READY_S}s"
    eval "SOCK_${name}=$sock"
}

# wif_wait_attested NAME: waits until the refresher has cached the default attestation token.
wif_wait_attested() {
    local i sock="$WORK/$1.sock" left
    for ((i = 0; i < WIF_IT_READY_S * 10; i++)); do
        left=$(curl -sS --max-time 5 --unix-socket "$sock" http://localhost/status |
            "${CHECK[@]}" get attestation_expires_in 2>/dev/null || true)
        [[ "$left" =~ ^[0-9]+$ && "$left" -gt 0 ]] && return 0
        sleep 0.1
    done
    wif_fail "gcp-wif $1 has no attestation token after ${WIF_IT_READY_S}s"
}

# wif_it_finish: stops the emulator (SIGTERM -> exit 0) once the script is done with it.
wif_it_finish() {
    stop_daemon EMU 0 || wif_fail "gcp-emu did not stop cleanly"
}

wif_stop() { # NAME: SIGTERM -> exit 0 (99 from valgrind = errors or leaks)
    stop_daemon "$1" 0 || wif_fail "gcp-wif $1 did not stop cleanly (valgrind errors exit 99)"
}

# call NAME METHOD PATH [BODY] [CURL ARGS...]: request on gcp-wif NAME's socket. Sets CODE and
# CTYPE; the body is in $WORK/body.
call() {
    local name=$1 method=$2 path=$3 body=${4-} out
    shift 3
    [[ $# -gt 0 ]] && shift
    local data=()
    [[ "$method" == POST ]] && data=(--data-binary "$body")
    out=$(curl -sS --max-time "$WIF_IT_CURL_S" -X "$method" -o "$WORK/body" \
        -w '%{http_code} %{content_type}' "${data[@]}" "$@" --unix-socket "$WORK/$name.sock" \
        "http://localhost$path") || wif_fail "curl $method $path on $name failed"
    CODE=${out%% *}
    CTYPE=${out#* }
}

# call_ok NAME METHOD PATH [BODY]: call, and 200 with a JSON body is required.
call_ok() {
    call "$@"
    [[ "$CODE" == 200 ]] || wif_fail "$2 $3 on $1: $CODE $(cat "$WORK/body")"
    expect_has "$2 $3 content type" "$CTYPE" "application/json"
}

body_get() { # DOTTED.PATH: a member of $WORK/body
    "${CHECK[@]}" get "$1" <"$WORK/body"
}

fault_add() { # JSON rule (the answer is the list of rules)
    local code
    code=$(curl -sS --max-time 10 -o "$WORK/fault.json" -w '%{http_code}' -X POST --data "$1" \
        "$MDS/emu/faults")
    expect_eq "fault $1: $(cat "$WORK/fault.json")" "$code" 200
}

fault_clear() {
    curl -sS --max-time 10 -o /dev/null -X DELETE "$MDS/emu/faults"
}

# access_count SERVICE METHOD PATH_PREFIX STATUS: lines of the emulator's access log that match.
access_count() {
    grep -c "module=gemu-access .*service=$1 method=$2 path=$3[^ ]* status=$4 " \
        "$WORK/emu.log" || true
}

now_ms() { date +%s%3N; }

free_port() { # a loopback TCP port the kernel considers free right now
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

urlenc() { # TEXT: percent-encoded for a query parameter
    python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$1"
}

# fault_discovery_404 COUNT: the verifier answers its discovery document with 404, so STS cannot
# fetch the issuer's keys and refuses subject tokens with invalid_grant ("Unable to fetch ...").
fault_discovery_404() {
    fault_add '{"service":"verifier","method":"GET","path_prefix":"'"$DISCOVERY"'","count":'"$1"',
                "status":404}'
}
