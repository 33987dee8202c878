#!/usr/bin/env bash
# Installs what the build and the tests need on Debian 12, and nothing that is already there.
# Idempotent: a second run does no network I/O when everything is present.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages (names as in Debian 12 "bookworm").
DEB_PACKAGES=(
    pkg-config cmake make gcc clang libclang-rt-14-dev
    libssl-dev libcurl4-openssl-dev libjansson-dev libjwt-dev zlib1g-dev
    libtss2-dev libmicrohttpd-dev libcmocka-dev
    swtpm swtpm-tools tpm2-tools
    valgrind lcov clang-format
    curl ca-certificates openssl procps iproute2 python3
    buildah systemd
)

# Node 20 or newer is needed by the pinned Azure SDKs (Debian's own nodejs 18 is too old).
NODE_MIN_MAJOR=20

log() {
    echo "bootstrap: $*" >&2
}

missing_debs() {
    local p
    for p in "${DEB_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            echo "$p"
        fi
    done
}

install_debs() {
    local missing
    mapfile -t missing < <(missing_debs)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "installing Debian packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

check_node() {
    if ! command -v node >/dev/null 2>&1; then
        log "Node.js ${NODE_MIN_MAJOR}+ is required for the interop tests and is not installed;"
        log "Debian 12's nodejs (18) is too old for the pinned Azure SDKs: install Node 20"
        return 1
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
        log "Node.js $(node --version) is too old; ${NODE_MIN_MAJOR}+ is required"
        return 1
    fi
}

install_npm() {
    local dir=$ROOT/tests/interop
    [ -f "$dir/package.json" ] || return 0
    check_node
    # node_modules is git-ignored; reinstall only when the lock file changed.
    local stamp=$dir/node_modules/.installed-lock
    if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then
        return 0
    fi
    log "installing pinned npm packages into tests/interop/node_modules"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$dir/package-lock.json" "$stamp"
}

install_debs
install_npm
