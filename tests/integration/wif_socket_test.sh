#!/usr/bin/env bash
# wif_socket_test.sh - gcp-wif's Unix socket: the file mode and the SO_PEERCRED allow-list.
# Runs clients as root and as uid/gid 65534 (setpriv), so it needs root; otherwise it exits 77
# (skipped).
#   --allow-uid 12345        root -> 403 on /status and /token, nothing reaches Google
#   --allow-uid 65534        uid 65534 -> /token 200 (the broker's token); root -> 403
#   --allow-gid 65534        uid 4242 with gid 65534 -> 200
# The socket folder belongs to group 65534 with the setgid bit, so the socket gets that group.
#
# Usage: wif_socket_test.sh /path/to/gcp-wif /path/to/gcp-emu
set -euo pipefail

# shellcheck disable=SC2034 # (WIF and EMU are used by wif_lib.sh)
WIF=${1:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
EMU=${2:?usage: $0 /path/to/gcp-wif /path/to/gcp-emu}
if [[ $(id -u) != 0 ]] || ! command -v setpriv >/dev/null; then
    echo "wif_socket_test: skipped (needs root and setpriv)"
    exit 77
fi
# shellcheck source=wif_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wif_lib.sh"

wif_it_init
SOCKDIR=$WORK/run
mkdir "$SOCKDIR"
chgrp 65534 "$SOCKDIR"
chmod 2750 "$SOCKDIR"
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
AS_OTHER_UID_NOBODY_GID=(setpriv --reuid=4242 --regid=65534 --clear-groups)

# as RUNNER... -- PATH: GET on $SOCK as another user (it cannot write into $WORK: the body comes
# back on stdout, followed by the status on a line of its own).
as() {
    local runner=()
    while [[ $1 != -- ]]; do
        runner+=("$1")
        shift
    done
    "${runner[@]}" curl -sS --max-time "$WIF_IT_CURL_S" -w '\n%{http_code}' --unix-socket "$SOCK" \
        "http://localhost$2"
}
# root_get PATH: GET on $SOCK as root; sets CODE, body in $WORK/body.
root_get() {
    CODE=$(curl -sS --max-time "$WIF_IT_CURL_S" -o "$WORK/body" -w '%{http_code}' \
        --unix-socket "$SOCK" "http://localhost$1") || wif_fail "curl $1 as root"
}
start_on() { # NAME FLAGS...: gcp-wif on $SOCKDIR/NAME.sock
    local name=$1 i
    shift
    WIF_NAMES+=("$name")
    SOCK=$SOCKDIR/$name.sock
    start_daemon "$name" "$WORK/wif-$name.log" "$WIF" --socket "$SOCK" "$@"
    wait_for_file "$SOCK" "$WIF_IT_READY_S" || wif_fail "gcp-wif $name: no socket"
}

# ---- a uid that is not on the list: root is refused, nothing reaches Google ----
start_on U --allow-uid 12345
sts0=$(access_count sts POST /v1/token '[0-9]*')
root_get /status
expect_eq "root not on --allow-uid 12345 (/status)" "$CODE" 403
root_get /token
expect_eq "root not on --allow-uid 12345 (/token)" "$CODE $(cat "$WORK/body")" \
    '403 {"error":"forbidden"}'
expect_eq "STS calls for refused requests" "$(access_count sts POST /v1/token '[0-9]*')" "$sts0"
wif_stop U

# ---- uid 65534 on the list ----
start_on N --allow-uid 65534
expect_eq "socket owner/mode" "$(stat -c '%U:%g %a' "$SOCK")" "root:65534 660"
out=$(as "${AS_NOBODY[@]}" -- /token) || wif_fail "curl as 65534: $out"
expect_eq "token status as uid 65534" "${out##*$'\n'}" 200
tok=$(printf '%s' "${out%$'\n'*}" | "${CHECK[@]}" get access_token)
[[ "$tok" == ya29.gemu.* ]] || wif_fail "token as uid 65534: $out"
root_get /token
expect_eq "root with --allow-uid 65534" "$CODE" 403
out=$(as "${AS_OTHER_UID_NOBODY_GID[@]}" -- /status) || wif_fail "curl as 4242:65534: $out"
expect_eq "uid 4242 not on the uid list" "${out##*$'\n'}" 403
wif_stop N

# ---- gid 65534 on the list: any uid with that gid ----
start_on G --allow-gid 65534
out=$(as "${AS_OTHER_UID_NOBODY_GID[@]}" -- /status) || wif_fail "curl as 4242:65534: $out"
expect_eq "status as gid 65534" "${out##*$'\n'}" 200
root_get /status
expect_eq "root (gid 0) with --allow-gid 65534" "$CODE" 403
wif_stop G

wif_it_finish
echo "wif_socket_test: ok"
