# lib.sh - helpers for the integration and e2e scripts (sourced, bash).
#
# Daemons under test are started through $SHD_TEST_WRAPPER when it is set: `./run test` sets it
# to a valgrind command line for one pass, so the same scripts check our daemons for memory
# errors and leaks. A wrapped daemon that valgrind flags exits with 99, which stop_daemon turns
# into a test failure. Emulators (test infrastructure) are started unwrapped with start_plain.

shd_work_dir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/shd-it.XXXXXX")
    echo "$d"
}

# start_daemon NAME LOG CMD ARGS... : starts CMD in the background (wrapped), records its pid.
start_daemon() {
    local name=$1 log=$2
    shift 2
    # shellcheck disable=SC2086
    ${SHD_TEST_WRAPPER:-} "$@" >"$log" 2>&1 &
    eval "PID_${name}=$!"
}

# start_plain NAME LOG CMD ARGS... : like start_daemon, never wrapped.
start_plain() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    eval "PID_${name}=$!"
}

# wait_for_file PATH SECONDS : waits until PATH exists (e.g. endpoints.json, a socket).
wait_for_file() {
    local path=$1 secs=${2:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        [ -e "$path" ] && return 0
        sleep 0.1
    done
    echo "timed out after ${secs}s waiting for $path" >&2
    return 1
}

# wait_for_http URL SECONDS [CURL ARGS...] : waits until URL answers 200.
wait_for_http() {
    local url=$1 secs=${2:-30} i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        if curl -sf -o /dev/null "$@" "$url"; then
            return 0
        fi
        sleep 0.1
    done
    echo "timed out after ${secs}s waiting for $url" >&2
    return 1
}

# stop_daemon NAME [EXPECTED_RC] : SIGTERM, wait (bounded), and check the exit status.
stop_daemon() {
    local name=$1 want=${2:-0} pidvar="PID_$1" pid rc i
    pid=${!pidvar:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$name did not exit within 30s of SIGTERM" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        eval "PID_${name}="
        return 1
    fi
    rc=0
    wait "$pid" || rc=$?
    eval "PID_${name}="
    if [ "$rc" -ne "$want" ]; then
        echo "$name exited with $rc, expected $want" >&2
        return 1
    fi
}

# kill_all NAMES... : cleanup for traps; never fails.
kill_all() {
    local n pidvar pid
    for n in "$@"; do
        pidvar="PID_$n"
        pid=${!pidvar:-}
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
