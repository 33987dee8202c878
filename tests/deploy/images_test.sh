#!/usr/bin/env bash
# images_test.sh - builds every image with scripts/images.sh into the tests' private buildah
# storage (the fixture the other deploy tests use) and checks each one:
#   - the OCI archive is an OCI image layout with one manifest;
#   - the image configuration (entrypoint, cmd, user, exposed port, working directory; for skr
#     Microsoft's CMD ["/skr.sh"] and port 8080);
#   - "nothing else": every file of the image is one of the expected kinds (our programs, the
#     entry scripts, the CA bundle, /etc basics, shared objects), and the set of shared objects
#     is exactly what the dynamic loader resolves INSIDE the image for its programs (traced with
#     the image's own ld.so), with nothing unresolved;
#   - a second build of the same binaries gives the same image digest (reproducible).
#
# Usage: images_test.sh BIN_DIR WORK_DIR
set -euo pipefail

BIN_DIR=${1:?usage: $0 BIN_DIR WORK_DIR}
DEPLOY_WORK=${2:?usage: $0 BIN_DIR WORK_DIR}
# shellcheck source=deploy_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/deploy_lib.sh"
deploy_need_root

# A fresh fixture: earlier storage (and containers left by an interrupted run) go first.
if [[ -d "$DEPLOY_WORK/buildah" ]]; then
    "${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
fi
rm -rf "$DEPLOY_WORK"
mkdir -p "$DEPLOY_WORK"
VERSION=$("$BIN_DIR/skr-proxy" --version | awk '{print $2}')
echo "$VERSION" >"$DEPLOY_WORK/version"

BUILD_OUT=$DEPLOY_WORK/build.out
BUILDAH_ROOT=$DEPLOY_WORK/buildah "$DEPLOY_ROOT/scripts/images.sh" --bin-dir "$BIN_DIR" \
    --out "$DEPLOY_WORK/images" "${DEPLOY_IMAGES[@]}" >"$BUILD_OUT" ||
    deploy_fail "scripts/images.sh failed"
cat "$BUILD_OUT"
[[ $(wc -l <"$BUILD_OUT") == "${#DEPLOY_IMAGES[@]}" ]] || deploy_fail "one line per image expected"

CONTAINERS=()
cleanup() {
    local c
    for c in "${CONTAINERS[@]}"; do
        "${BUILDAH[@]}" umount "$c" >/dev/null 2>&1 || true
        "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

# config_json IMAGE: the OCI image configuration's "config" object.
config_json() {
    "${BUILDAH[@]}" inspect --type image "localhost/$1:$VERSION" |
        python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]))'
}

check_config() { # IMAGE ENTRYPOINT_JSON CMD_JSON USER PORT|-
    python3 - "$(config_json "$1")" "$@" <<'EOF' || deploy_fail "$1: image configuration"
import json, sys
cfg, image, ep, cmd, user, port = json.loads(sys.argv[1]), *sys.argv[2:]
errs = []
def eq(what, got, want):
    if got != want:
        errs.append(f"{what}: got {got!r}, want {want!r}")
eq("Entrypoint", cfg.get("Entrypoint") or [], json.loads(ep))
eq("Cmd", cfg.get("Cmd") or [], json.loads(cmd))
eq("User", cfg.get("User"), user)
eq("WorkingDir", cfg.get("WorkingDir"), "/")
eq("ExposedPorts", sorted((cfg.get("ExposedPorts") or {}).keys()),
   [] if port == "-" else [port + "/tcp"])
eq("Env", [e for e in cfg.get("Env") or [] if not e.startswith("PATH=")], [])
for e in errs:
    print(f"{image}: {e}", file=sys.stderr)
sys.exit(1 if errs else 0)
EOF
}

check_config skr '[]' '["/skr.sh"]' 0:65532 8080
check_config gcp-wif '["/bin/gcp-wif"]' '[]' 65532:65532 -
check_config skr-proxy '["/bin/skr-proxy"]' '[]' 65532:65532 3000
check_config sample-workload '["/bin/sample-workload"]' '[]' 65532:65532 8000
check_config cs-workload '["/entry.sh"]' '[]' 65532:65532 3000
label=$("${BUILDAH[@]}" inspect --type image \
    --format '{{index .OCIv1.Config.Labels "tee.launch_policy.log_redirect"}}' \
    "localhost/cs-workload:$VERSION")
[[ "$label" == debugonly ]] || deploy_fail "cs-workload: launch policy label '$label'"

# The OCI archives.
for n in "${DEPLOY_IMAGES[@]}"; do
    a=$DEPLOY_WORK/images/$n.tar
    [[ -s "$a" ]] || deploy_fail "$a is missing"
    tar -tf "$a" | grep -qx 'oci-layout' || deploy_fail "$a: no oci-layout"
    tar -xOf "$a" index.json | python3 -c 'import json,sys
m = json.load(sys.stdin)["manifests"]
sys.exit(0 if len(m) == 1 and m[0]["mediaType"].endswith("manifest.v1+json") else 1)' ||
        deploy_fail "$a: index.json must name one OCI manifest"
done

# Contents. Programs per image, and what else each may hold.
declare -A PROGRAMS=(
    [skr]="/bin/skr /bin/sh /usr/bin/dirname"
    [gcp-wif]="/bin/gcp-wif"
    [skr-proxy]="/bin/skr-proxy"
    [sample-workload]="/bin/sample-workload"
    [cs-workload]="/bin/gcp-wif /bin/skr-proxy /bin/sample-workload /bin/sh"
)
declare -A EXTRA=(
    [skr]="/skr.sh"
    [cs-workload]="/entry.sh /etc/skr-stack/cs.env"
)
COMMON="/etc/passwd /etc/group /etc/nsswitch.conf /etc/hosts /etc/ssl/certs/ca-certificates.crt"

for n in "${DEPLOY_IMAGES[@]}"; do
    c=$(deploy_container "$n")
    CONTAINERS+=("$c")
    mnt=$("${BUILDAH[@]}" mount "$c")
    # Every file and symlink of the image (before buildah run adds /etc/hostname and friends).
    (cd "$mnt" && find . \( -type f -o -type l \) -printf '/%P\n' | sort) >"$DEPLOY_WORK/$n.files"
    # Libraries the loader resolves inside the image, for each program (and gcp-wif's TCTI).
    traced=$DEPLOY_WORK/$n.traced
    : >"$traced"
    read -r -a objs <<<"${PROGRAMS[$n]}"
    if [[ "$n" == gcp-wif ]]; then # cs-workload runs gcp-wif in launcher mode: no TCTI
        objs+=("$(cd "$mnt" && find lib -name 'libtss2-tcti-device.so.0' -printf '/%p\n')")
    fi
    for o in "${objs[@]}"; do
        [[ -f "$mnt$o" ]] || deploy_fail "$n: $o is missing"
        out=$("${BUILDAH[@]}" run --isolation chroot "$c" -- \
            /lib64/ld-linux-x86-64.so.2 --list "$o") ||
            deploy_fail "$n: ld.so --list $o failed: $out"
        if grep -q 'not found' <<<"$out"; then
            deploy_fail "$n: $o has unresolved libraries inside the image: $out"
        fi
        sed -n -e 's/.*=> \(\/[^ ]*\) (0x.*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' \
            <<<"$out" >>"$traced"
    done
    # The dlopen()ed TCTI counts as loaded itself.
    printf '%s\n' "${objs[@]}" | grep -E '\.so(\.[0-9]+)*$' >>"$traced" || true
    sort -u -o "$traced" "$traced"
    grep -E '\.so(\.[0-9]+)*$' "$DEPLOY_WORK/$n.files" >"$DEPLOY_WORK/$n.libs" || true
    if ! diff -u "$traced" "$DEPLOY_WORK/$n.libs"; then
        deploy_fail "$n: the image's shared objects (+) differ from those its programs load (-)"
    fi
    allowed=$DEPLOY_WORK/$n.allowed
    read -r -a extra <<<"${EXTRA[$n]:-}"
    read -r -a common <<<"$COMMON"
    printf '%s\n' "${objs[@]}" "${extra[@]}" "${common[@]}" /usr/lib/ssl/cert.pem |
        grep -vE '\.so(\.[0-9]+)*$' | sort >"$allowed"
    other=$(grep -vxF -f "$DEPLOY_WORK/$n.libs" "$DEPLOY_WORK/$n.files" |
        grep -vxF -f "$allowed" || true)
    [[ -z "$other" ]] || deploy_fail "$n: unexpected files in the image: $other"
    missing=$(grep -vxF -f "$DEPLOY_WORK/$n.files" "$allowed" || true)
    [[ -z "$missing" ]] || deploy_fail "$n: files missing from the image: $missing"
    grep -qx 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' "$mnt/etc/passwd" ||
        deploy_fail "$n: no non-root user 65532 in /etc/passwd"
    # Nothing writable by others, nothing set-uid.
    bad=$(cd "$mnt" && find . -xdev \
        \( \( -perm -0002 -a ! -type l -a ! -path ./tmp \) -o -perm /6000 \) -print)
    [[ -z "$bad" ]] || deploy_fail "$n: world-writable or set-id files: $bad"
    cmp -s "$mnt/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt ||
        deploy_fail "$n: CA bundle differs from the build machine's"
    echo "images_test: $n: $(wc -l <"$DEPLOY_WORK/$n.libs") shared objects, all loaded;" \
        "nothing else"
done
cs_mnt=$("${BUILDAH[@]}" mount "${CONTAINERS[4]}")
[[ "$(stat -c '%u %a' "$cs_mnt/run/gcp-wif")" == "65532 700" ]] ||
    deploy_fail "cs-workload: /run/gcp-wif must be 0700 and owned by 65532"
cmp -s "$("${BUILDAH[@]}" mount "${CONTAINERS[0]}")/skr.sh" "$DEPLOY_ROOT/skr/skr.sh" ||
    deploy_fail "skr: /skr.sh differs from skr/skr.sh"

# Reproducible: the same binaries give the same digest.
digest() {
    "${BUILDAH[@]}" inspect --type image --format '{{.FromImageDigest}}' "localhost/$1:$VERSION"
}
d1=$(digest skr-proxy)
BUILDAH_ROOT=$DEPLOY_WORK/buildah "$DEPLOY_ROOT/scripts/images.sh" --bin-dir "$BIN_DIR" \
    --out "$DEPLOY_WORK/images" skr-proxy >/dev/null || deploy_fail "second build failed"
d2=$(digest skr-proxy)
[[ "$d1" == "$d2" && "$d1" == sha256:* ]] || deploy_fail "rebuild changed the digest: $d1 -> $d2"
echo "images_test: rebuild of skr-proxy kept digest $d1"
echo "images_test: ok"
