# shellcheck shell=bash disable=SC2034 # (variables used by the scripts that source it)
# deploy_lib.sh - shared by the deploy test scripts (sourced, bash): the buildah command line on
# the tests' private storage (DEPLOY_WORK/buildah, vfs driver), root check, failure helper.
#
# The caller sets DEPLOY_WORK (the fixture folder that images_test.sh fills) before sourcing.

DEPLOY_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY_ROOT=$(cd "$DEPLOY_HERE/../.." && pwd)

deploy_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# buildah needs root here (vfs storage, chroot isolation): skip (77) otherwise.
deploy_need_root() {
    if [[ "$(id -u)" != 0 ]]; then
        echo "SKIP: the deploy tests need root (buildah with chroot isolation)"
        exit 77
    fi
    command -v buildah >/dev/null || deploy_fail "buildah is not installed (./run bootstrap)"
}

BUILDAH=(buildah --storage-driver vfs --root "$DEPLOY_WORK/buildah/storage"
    --runroot "$DEPLOY_WORK/buildah/runroot")
DEPLOY_IMAGES=(skr gcp-wif skr-proxy sample-workload cs-workload)

# deploy_version: the image tag images_test.sh used.
deploy_version() {
    cat "$DEPLOY_WORK/version"
}

# deploy_container IMAGE: a new working container of localhost/IMAGE:VERSION; echoes its name.
deploy_container() {
    "${BUILDAH[@]}" from --pull-never --name "deploy-$1-$$-$RANDOM" "localhost/$1:$(deploy_version)"
}
