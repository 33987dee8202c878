#!/usr/bin/env bash
# skr_socket_test.sh - skr's Unix socket (D10): file mode, the SO_PEERCRED uid/gid allow-lists,
# and a release over the socket by an allowed unprivileged client. Runs clients as root and as
# uid/gid 65534 (setpriv), so it needs root; otherwise it exits 77 (skipped).
#   -allow-uid 12345            root -> 403 {"error":"forbidden"}
#   -allow-uid 65534            uid 65534 -> /status 200 and a key release; root -> 403
#   -allow-gid 65534            a client with gid 65534 (any uid) -> 200
#   -socket-mode 0640           group members may read but not connect -> connection refused
#   -socket-mode 0666           refused at start-up (no access for others), exit 2 like Go flag
#   -tcp=false                  the socket serves, no listening TCP socket; without -socket: exit 2
# The socket folder belongs to group 65534 with the setgid bit, so the socket gets that group.
#
# Usage: skr_socket_test.sh /path/to/skr /path/to/azure-emu
set -euo pipefail

SKR=${1:?usage: $0 /path/to/skr /path/to/azure-emu}
EMU=${2:?usage: $0 /path/to/skr /path/to/azure-emu}
if [[ $(id -u) != 0 ]] || ! command -v setpriv >/dev/null; then
    echo "skr_socket_test: skipped (needs root and setpriv)"
    exit 77
fi
# shellcheck source=skr_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/skr_lib.sh"

skr_it_init
SOCKDIR=$WORK/run
mkdir "$SOCKDIR"
chgrp 65534 "$SOCKDIR"
chmod 2750 "$SOCKDIR"
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
AS_OTHER_UID_NOBODY_GID=(setpriv --reuid=4242 --regid=65534 --clear-groups)

# as RUNNER... -- METHOD SOCKET PATH [BODY]: curl as another user (it cannot write into $WORK:
# the body comes back on stdout, followed by the status on a line of its own).
as() {
    local runner=()
    while [[ $1 != -- ]]; do
        runner+=("$1")
        shift
    done
    shift
    local method=$1 sock=$2 path=$3 body=${4-} data=()
    [[ "$method" == POST ]] && data=(--data-binary "$body")
    "${runner[@]}" curl -sS --max-time "$SKR_IT_CURL_S" -X "$method" -w '\n%{http_code}' \
        "${data[@]}" --unix-socket "$sock" "http://localhost$path"
}

# ---- a uid that is not on the list: root is refused ----
skr_start U -socket "$SOCKDIR/u.sock" -allow-uid 12345
call "unix:$SOCKDIR/u.sock" GET /status
# (The refusal comes from the shared server before skr's handlers: Content-Type application/json.)
expect_eq "root not on -allow-uid 12345" "$CODE $CTYPE" "403 application/json"
expect_eq "refusal body" "$(cat "$WORK/body")" '{"error":"forbidden"}'
call "unix:$SOCKDIR/u.sock" POST /key/release '{"maa_endpoint":"'"$MAA_HOST"'","akv_endpoint":"'"$VAULT_HOST"'","kid":"k"}'
expect_eq "root not on the list, release" "$CODE" 403
expect_eq "refusal body (release)" "$(cat "$WORK/body")" '{"error":"forbidden"}'
# TCP is not subject to the socket's allow-list.
call "tcp:$PORT_U" GET /status
expect_json "status over TCP" 200
skr_stop U

# ---- uid 65534 on the list ----
skr_start N -socket "$SOCKDIR/n.sock" -allow-uid 65534
expect_eq "socket owner/mode" "$(stat -c '%U:%g %a' "$SOCKDIR/n.sock")" "root:65534 660"
out=$(as "${AS_NOBODY[@]}" -- GET "$SOCKDIR/n.sock" /status) || skr_fail "curl as 65534: $out"
expect_eq "status as uid 65534" "$out" $'{"message":"Status OK"}\n200'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/k.pem" 2>/dev/null
"${CHECK[@]}" jwk-from-pem "$WORK/k.pem" >"$WORK/k.jwk"
import_key "$VAULT_HOST" k "$WORK/k.jwk" "$POLICY"
out=$(as "${AS_NOBODY[@]}" -- POST "$SOCKDIR/n.sock" /key/release \
    '{"maa_endpoint":"'"$MAA_HOST"'","akv_endpoint":"'"$VAULT_HOST"'","kid":"k"}') ||
    skr_fail "release as 65534: $out"
expect_eq "release status as uid 65534" "${out##*$'\n'}" 200
printf '%s' "${out%$'\n'*}" >"$WORK/body"
"${CHECK[@]}" check-key "$WORK/body" "$WORK/k.jwk" || skr_fail "released key as uid 65534"
call "unix:$SOCKDIR/n.sock" GET /status
expect_eq "root with -allow-uid 65534" "$CODE $(cat "$WORK/body")" '403 {"error":"forbidden"}'
out=$(as "${AS_OTHER_UID_NOBODY_GID[@]}" -- GET "$SOCKDIR/n.sock" /status) ||
    skr_fail "curl as 4242:65534: $out"
expect_eq "uid 4242 not on the uid list" "$out" $'{"error":"forbidden"}\n403'
skr_stop N

# ---- gid 65534 on the list: any uid with that gid ----
skr_start G -socket "$SOCKDIR/g.sock" -allow-gid 65534
out=$(as "${AS_OTHER_UID_NOBODY_GID[@]}" -- GET "$SOCKDIR/g.sock" /status) ||
    skr_fail "curl as 4242:65534: $out"
expect_eq "status as gid 65534" "$out" $'{"message":"Status OK"}\n200'
call "unix:$SOCKDIR/g.sock" GET /status
expect_eq "root (gid 0) with -allow-gid 65534" "$CODE" 403
skr_stop G

# ---- -tcp=false: the socket only; skr holds no listening TCP socket ----
start_daemon T "$WORK/skr-T.log" "$SKR" -loglevel info -tcp=false -socket "$SOCKDIR/t.sock" \
    -allow-uid 65534
for ((i = 0; i < SKR_IT_READY_S * 10; i++)); do
    grep -q 'msg="listening" host=none port=0 ' "$WORK/skr-T.log" 2>/dev/null && break
    kill -0 "$PID_T" 2>/dev/null || skr_fail "skr -tcp=false exited during start-up"
    sleep 0.1
done
grep -q 'msg="listening" host=none port=0 ' "$WORK/skr-T.log" ||
    skr_fail "skr -tcp=false did not get ready: $(cat "$WORK/skr-T.log")"
out=$(as "${AS_NOBODY[@]}" -- GET "$SOCKDIR/t.sock" /status) || skr_fail "curl as 65534: $out"
expect_eq "status over the socket with -tcp=false" "$out" $'{"message":"Status OK"}\n200'
python3 "$SKR_IT_HERE/no_tcp_listener.py" "$PID_T" ||
    skr_fail "skr -tcp=false holds a listening TCP socket (or the check saw no socket)"
stop_daemon T 0 || skr_fail "skr -tcp=false did not stop cleanly"
# Without -socket there would be no listener at all: refused like a Go flag error (exit 2).
start_daemon N "$WORK/skr-N.log" "$SKR" -tcp=false
for ((i = 0; i < SKR_IT_READY_S * 10; i++)); do
    kill -0 "$PID_N" 2>/dev/null || break
    sleep 0.1
done
stop_daemon N 2 || skr_fail "-tcp=false without -socket was not refused with exit 2"
grep -q -- '-tcp=false needs -socket' "$WORK/skr-N.log" ||
    skr_fail "no reason given for refusing -tcp=false alone: $(cat "$WORK/skr-N.log")"

# ---- file mode: group read-only -> the kernel refuses the connection ----
skr_start R -socket "$SOCKDIR/r.sock" -socket-mode 0640 -allow-uid 65534
expect_eq "socket mode 0640" "$(stat -c '%a' "$SOCKDIR/r.sock")" 640
if out=$(as "${AS_NOBODY[@]}" -- GET "$SOCKDIR/r.sock" /status 2>&1); then
    skr_fail "connected to a 0640 socket as a group member: $out"
fi
[[ "$out" == *"Permission denied"* || "$out" == *"Couldn't connect"* ]] ||
    skr_fail "0640 socket: unexpected curl error: $out"
skr_stop R

# ---- a mode that grants others access is refused at start-up ----
start_daemon O "$WORK/skr-O.log" "$SKR" -port 0 -socket "$SOCKDIR/o.sock" -socket-mode 0666
for ((i = 0; i < SKR_IT_READY_S * 10; i++)); do
    kill -0 "$PID_O" 2>/dev/null || break
    sleep 0.1
done
stop_daemon O 2 || skr_fail "-socket-mode 0666 was not refused with exit 2 (Go flag error)"
grep -q 'mode must not grant access to others' "$WORK/skr-O.log" ||
    skr_fail "no reason given for refusing -socket-mode 0666: $(cat "$WORK/skr-O.log")"
[[ ! -e "$SOCKDIR/o.sock" ]] || skr_fail "a socket was created despite the refused mode"

echo "skr_socket_test: ok"
