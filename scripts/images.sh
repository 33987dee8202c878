#!/usr/bin/env bash
# images.sh - builds the container images of skr, gcp-wif and skr-proxy (and, on request, the
# sample workload) with buildah, without any registry: base images cannot be pulled, so each
# image is assembled from scratch out of
#   - the executable (stripped copy of build/bin/NAME) as /bin/NAME,
#   - exactly the shared libraries it loads (ldd, plus the dynamic loader; for gcp-wif also the
#     tpm2-tss device TCTI that libtss2-tctildr loads at run time), copied from this machine,
#   - the CA bundle (/etc/ssl/certs/ca-certificates.crt, and OpenSSL's default cert.pem name),
#   - /etc/passwd and /etc/group with root and the non-root user 65532 ("nonroot"),
#   - /etc/nsswitch.conf and /etc/hosts (name look-up for loopback names),
# and nothing else: no shell, no package manager, no curl. The one exception is skr, whose entry
# point is Microsoft's /skr.sh (skr-sidecar.md §1.1): its image also carries /bin/sh (dash) and
# /usr/bin/dirname, the two programs skr.sh runs.
#
# Image configuration:
#   skr        CMD ["/skr.sh"], no entrypoint, port 8080, workdir /, user 0 as in Microsoft's
#              image (the SEV-SNP device that ACI adds to each container is root-only, and skr.sh
#              writes ./result) with primary group 65532, so that skr's Unix socket (mode 0660)
#              belongs to the proxy's group; -allow-uid 65532 then admits the proxy alone
#   gcp-wif    ENTRYPOINT ["/bin/gcp-wif"], user 65532:65532
#   skr-proxy  ENTRYPOINT ["/bin/skr-proxy"], port 3000, user 65532:65532
#   sample-workload  ENTRYPOINT ["/bin/sample-workload"], port 8000, user 65532:65532
#   cs-workload  the Confidential Space variant (deploy/gcp/README.md): gcp-wif (launcher mode),
#              skr-proxy and sample-workload with /bin/sh and deploy/gcp/confidential-space/
#              entry.sh as ENTRYPOINT, its settings in /etc/skr-stack/cs.env (CS_ENV=FILE, default
#              deploy/gcp/confidential-space/cs.env) and the KMS-wrapped proxy key
#              (CS_WRAPPED_KEY=FILE, optional) in /etc/skr-stack/keys/; port 3000, user 65532,
#              launch-policy label log_redirect=debugonly and no environment override allowed
#
# Each image goes into buildah's local storage as localhost/NAME:VERSION and into an OCI archive
# OUT/NAME.tar. File times are set to the epoch and the image is committed with --timestamp 0
# and without history, so the same binaries give the same image digest (the digest is what
# `az confcom acipolicygen` measures into the ccePolicy).
#
# Usage: scripts/images.sh [--bin-dir DIR] [--out DIR] [--version V] [NAME...]
#   NAME: skr gcp-wif skr-proxy sample-workload cs-workload (default: skr gcp-wif skr-proxy)
# Environment: BUILDAH_ROOT=DIR keeps the images in a private buildah storage (DIR/storage,
# DIR/runroot) instead of the default one (tests use it). Needs root (buildah with the vfs
# storage driver and chroot isolation).
set -euo pipefail
umask 022 # the image's modes must not depend on the caller's umask (reproducible digests)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=$ROOT/build/bin
OUT=$ROOT/build/images
VERSION=''
NAMES=()
NONROOT_UID=65532

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
    echo "images: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --bin-dir) BIN_DIR=${2:?--bin-dir DIR}; shift 2 ;;
    --out) OUT=${2:?--out DIR}; shift 2 ;;
    --version) VERSION=${2:?--version V}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) NAMES+=("$1"); shift ;;
    esac
done
[[ ${#NAMES[@]} -gt 0 ]] || NAMES=(skr gcp-wif skr-proxy)

[[ "$(id -u)" == 0 ]] || die "needs root (buildah, vfs storage, chroot isolation)"
command -v buildah >/dev/null || die "buildah is not installed (./run bootstrap)"
command -v strip >/dev/null || die "strip (binutils) is not installed"

BUILDAH=(buildah --storage-driver vfs)
if [[ -n "${BUILDAH_ROOT:-}" ]]; then
    mkdir -p "$BUILDAH_ROOT"
    BUILDAH+=(--root "$BUILDAH_ROOT/storage" --runroot "$BUILDAH_ROOT/runroot")
fi

for n in "${NAMES[@]}"; do
    case "$n" in
    skr | gcp-wif | skr-proxy | sample-workload) bins=("$n") ;;
    cs-workload) bins=(gcp-wif skr-proxy sample-workload) ;;
    *) die "unknown image $n (skr, gcp-wif, skr-proxy, sample-workload, cs-workload)" ;;
    esac
    for b in "${bins[@]}"; do
        [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b is missing (build first: ./run build)"
    done
done
CS_ENV=${CS_ENV:-$ROOT/deploy/gcp/confidential-space/cs.env}
if [[ -z "$VERSION" ]]; then
    VERSION=$("$BIN_DIR/skr-proxy" --version 2>/dev/null | awk '{print $2}') || true
    [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] ||
        die "cannot read the version from skr-proxy --version"
fi

STAGE_BASE=$(mktemp -d "${TMPDIR:-/tmp}/images.XXXXXX")
WORKING=()
cleanup() {
    local c
    for c in "${WORKING[@]}"; do
        "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1 || true
    done
    rm -rf "$STAGE_BASE"
}
trap cleanup EXIT

# put_file SRC ROOTFS DEST MODE: SRC's content (symlinks followed) at DEST inside ROOTFS.
put_file() {
    install -D -m "$4" "$(readlink -f "$1")" "$2$3"
}

# put_with_libs SRC ROOTFS: every shared object ldd resolves for SRC, at the path ldd names,
# plus the program interpreter. Fails on any "not found".
put_with_libs() {
    local src=$1 rootfs=$2 line path
    if ldd "$src" | grep -q 'not found'; then
        die "$src: unresolved libraries: $(ldd "$src" | grep 'not found' | tr -s ' \t' ' ')"
    fi
    while read -r line; do
        case "$line" in
        *'=> /'*) path=${line#*=> }; path=${path%% (*} ;;
        /*) path=${line%% (*} ;;
        *) continue ;; # linux-vdso and statically linked programs
        esac
        [[ -e "$rootfs$path" ]] && continue
        local mode=0644
        [[ "$path" == */ld-linux* ]] && mode=0755
        put_file "$path" "$rootfs" "$path" "$mode"
    done < <(ldd "$src")
}

# lib_path SONAME: where the loader finds SONAME on this machine (ldconfig cache).
lib_path() {
    ldconfig -p | awk -v s="$1" '$1 == s && /x86-64/ {print $NF; exit}'
}

base_rootfs() {
    local r=$1
    mkdir -p "$r/etc/ssl/certs" "$r/usr/lib/ssl" "$r/run" "$r/tmp" "$r/bin"
    chmod 1777 "$r/tmp"
    put_file /etc/ssl/certs/ca-certificates.crt "$r" /etc/ssl/certs/ca-certificates.crt 0644
    # OpenSSL's X509_get_default_cert_file() (skr's JWS roots when SSL_CERT_FILE is unset).
    ln -s /etc/ssl/certs/ca-certificates.crt "$r/usr/lib/ssl/cert.pem"
    {
        echo 'root:x:0:0:root:/root:/sbin/nologin'
        echo "nonroot:x:$NONROOT_UID:$NONROOT_UID:nonroot:/nonexistent:/sbin/nologin"
    } >"$r/etc/passwd"
    printf 'root:x:0:\nnonroot:x:%s:\n' "$NONROOT_UID" >"$r/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$r/etc/nsswitch.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    chmod 0644 "$r/etc/passwd" "$r/etc/group" "$r/etc/nsswitch.conf" "$r/etc/hosts"
}

# put_program NAME ROOTFS: stripped build/bin/NAME as /bin/NAME, with its libraries.
put_program() {
    strip --strip-all -o "$2/bin/$1" "$BIN_DIR/$1"
    chmod 0755 "$2/bin/$1"
    put_with_libs "$BIN_DIR/$1" "$2"
}

# put_host_program PATH ROOTFS DEST: a program of this machine (dash, dirname) with its libraries.
put_host_program() {
    put_file "$1" "$2" "$3" 0755
    put_with_libs "$1" "$2"
}

# put_tcti ROOTFS: libtss2-tctildr dlopen()s the TCTI named by --tcti (device:/dev/tpmrm0 on a
# VM); ldd cannot see it.
put_tcti() {
    local tcti
    tcti=$(lib_path libtss2-tcti-device.so.0)
    [[ -n "$tcti" ]] || die "libtss2-tcti-device.so.0 not found (libtss2-dev)"
    put_file "$tcti" "$1" "$tcti" 0644
    put_with_libs "$tcti" "$1"
}

# stage NAME ROOTFS: the image's file system.
stage() {
    local n=$1 r=$2
    base_rootfs "$r"
    case "$n" in
    skr)
        put_program skr "$r"
        install -m 0755 "$ROOT/skr/skr.sh" "$r/skr.sh"
        put_host_program "$(command -v dash)" "$r" /bin/sh
        put_host_program "$(command -v dirname)" "$r" /usr/bin/dirname
        ;;
    gcp-wif)
        put_program gcp-wif "$r"
        put_tcti "$r"
        ;;
    skr-proxy | sample-workload)
        put_program "$n" "$r"
        ;;
    cs-workload)
        put_program gcp-wif "$r"
        put_program skr-proxy "$r"
        put_program sample-workload "$r"
        put_host_program "$(command -v dash)" "$r" /bin/sh
        install -m 0755 "$ROOT/deploy/gcp/confidential-space/entry.sh" "$r/entry.sh"
        [[ -f "$CS_ENV" ]] || die "CS_ENV: $CS_ENV is missing"
        install -D -m 0644 "$CS_ENV" "$r/etc/skr-stack/cs.env"
        install -d -m 0755 "$r/etc/skr-stack/keys"
        if [[ -n "${CS_WRAPPED_KEY:-}" ]]; then
            install -m 0644 "$CS_WRAPPED_KEY" "$r/etc/skr-stack/keys/proxy-key.blob"
        fi
        # gcp-wif's socket directory, writable by the non-root user only.
        install -d -m 0700 "$r/run/gcp-wif"
        ;;
    esac
    # Reproducible: fixed times (the modes come from install/umask 022).
    find "$r" -exec touch -h -d @0 {} +
}

# configure NAME CONTAINER
configure() {
    local n=$1 c=$2 cfg=()
    case "$n" in
    skr)
        cfg=(--entrypoint '[]' --cmd '["/skr.sh"]' --port 8080/tcp --user "0:$NONROOT_UID"
            --workingdir /)
        ;;
    gcp-wif)
        cfg=(--entrypoint '["/bin/gcp-wif"]' --cmd '[]' --user "$NONROOT_UID:$NONROOT_UID"
            --workingdir /)
        ;;
    skr-proxy)
        cfg=(--entrypoint '["/bin/skr-proxy"]' --cmd '[]' --port 3000/tcp
            --user "$NONROOT_UID:$NONROOT_UID" --workingdir /)
        ;;
    sample-workload)
        cfg=(--entrypoint '["/bin/sample-workload"]' --cmd '[]' --port 8000/tcp
            --user "$NONROOT_UID:$NONROOT_UID" --workingdir /)
        ;;
    cs-workload)
        cfg=(--entrypoint '["/entry.sh"]' --cmd '[]' --port 3000/tcp
            --user "$NONROOT_UID:$NONROOT_UID" --workingdir /
            --label tee.launch_policy.log_redirect=debugonly)
        ;;
    esac
    "${BUILDAH[@]}" config "${cfg[@]}" --os linux --arch amd64 \
        --label "org.opencontainers.image.title=$n" \
        --label "org.opencontainers.image.version=$VERSION" "$c"
}

human() {
    awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'
}

mkdir -p "$OUT"
for n in "${NAMES[@]}"; do
    ref=localhost/$n:$VERSION
    rootfs=$STAGE_BASE/$n
    mkdir -m 0755 "$rootfs"
    stage "$n" "$rootfs"
    c=$("${BUILDAH[@]}" from --name "images-$n-$$" scratch)
    WORKING+=("$c")
    mnt=$("${BUILDAH[@]}" mount "$c")
    # cp -a keeps modes, the symlink and the fixed times; everything is owned by root except
    # the socket directory of cs-workload.
    cp -a "$rootfs/." "$mnt/"
    if [[ -d "$mnt/run/gcp-wif" ]]; then
        chown -h "$NONROOT_UID:$NONROOT_UID" "$mnt/run/gcp-wif"
    fi
    "${BUILDAH[@]}" umount "$c" >/dev/null
    configure "$n" "$c"
    "${BUILDAH[@]}" rmi -f "$ref" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" commit --quiet --format oci --timestamp 0 --omit-history --rm "$c" "$ref" \
        >/dev/null
    WORKING=() # committed with --rm
    rm -f "$OUT/$n.tar"
    "${BUILDAH[@]}" push --quiet "$ref" "oci-archive:$OUT/$n.tar:$ref" >/dev/null
    size=$(du -sb "$rootfs" | cut -f1)
    archive=$(stat -c %s "$OUT/$n.tar")
    digest=$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageDigest}}' "$ref")
    printf '%-34s %9s unpacked, %9s archive %s  %s\n' "$ref" "$(human "$size")" \
        "$(human "$archive")" "${OUT#"$ROOT"/}/$n.tar" "$digest"
done
