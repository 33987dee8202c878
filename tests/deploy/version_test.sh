#!/usr/bin/env bash
# version_test.sh - each image runs its programs' --version inside `buildah run --isolation
# chroot` (the image's own loader, libraries and users): "NAME VERSION" exactly, as the
# configured user (skr: root like Microsoft's image; the others 65532).
#
# Usage: version_test.sh WORK_DIR   (the fixture of images_test.sh)
set -euo pipefail

DEPLOY_WORK=${1:?usage: $0 WORK_DIR}
# shellcheck source=deploy_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/deploy_lib.sh"
deploy_need_root
VERSION=$(deploy_version)

CONTAINERS=()
trap 'for c in "${CONTAINERS[@]}"; do "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1 || true; done' EXIT

run_version() { # IMAGE PROGRAM
    local c out
    c=$(deploy_container "$1")
    CONTAINERS+=("$c")
    out=$("${BUILDAH[@]}" run --isolation chroot "$c" -- "/bin/$2" --version 2>&1) ||
        deploy_fail "$1: /bin/$2 --version failed: $out"
    [[ "$out" == "$2 $VERSION" ]] || deploy_fail "$1: /bin/$2 --version printed '$out'"
    echo "version_test: $1: $out"
}

run_version skr skr
run_version gcp-wif gcp-wif
run_version skr-proxy skr-proxy
run_version cs-workload gcp-wif
run_version cs-workload skr-proxy

# sample-workload has no --version: an unknown option must print its usage (exit 2), which
# proves that it loads inside the image.
run_usage() { # IMAGE
    local c out rc=0
    c=$(deploy_container "$1")
    CONTAINERS+=("$c")
    out=$("${BUILDAH[@]}" run --isolation chroot "$c" -- /bin/sample-workload --version 2>&1) ||
        rc=$?
    [[ $rc != 0 && "$out" == "usage: /bin/sample-workload "* ]] ||
        deploy_fail "$1: /bin/sample-workload did not print its usage: $out"
    echo "version_test: $1: sample-workload loads (usage printed)"
}
run_usage sample-workload
run_usage cs-workload

# skr.sh, Microsoft's entry point, runs under the image's /bin/sh and reaches /bin/skr: an
# invalid Port makes skr fail at start-up, skr.sh records 0 in ./result (the image's working
# directory, /) and exits 0 like the original.
c=$(deploy_container skr)
CONTAINERS+=("$c")
out=$("${BUILDAH[@]}" run --isolation chroot -e Port=notaport -e LogLevel=info \
    "$c" -- /skr.sh 2>&1) || deploy_fail "skr: /skr.sh exited non-zero: $out"
grep -qx 'Port = notaport' <<<"$out" || deploy_fail "skr: skr.sh output: $out"
grep -qx 'CmdlineArgs = -port notaport -loglevel info' <<<"$out" ||
    deploy_fail "skr: skr.sh did not map Port/LogLevel to flags: $out"
grep -q 'invalid port' <<<"$out" || deploy_fail "skr: /bin/skr did not run: $out"
mnt=$("${BUILDAH[@]}" mount "$c")
[[ "$(cat "$mnt/result")" == 0 ]] || deploy_fail "skr: /result is not 0"
"${BUILDAH[@]}" umount "$c" >/dev/null
echo "version_test: skr: /skr.sh maps the environment and records the result"
echo "version_test: ok"
