#!/usr/bin/env bash
# gcp_test.sh - the GCP deployment files (label deploy):
#   - `systemd-analyze verify` passes on deploy/gcp/*.service without a single message, in a
#     root that holds the executables where the units expect them and this machine's unit
#     library; a unit with an unknown key or a missing executable must be reported (so the check
#     can fail);
#   - the sandbox settings the issue asks for are present in each unit;
#   - make-user-data.sh renders user-data that is YAML (when PyYAML is there), embeds both units
#     byte for byte, fills every token, and refuses empty or malformed values;
#   - make-attribute-condition.sh prints conditions pinned to the given project, instances or
#     image digest and refuses empty, malformed or injected values.
#
# Usage: gcp_test.sh BIN_DIR
set -euo pipefail

BIN_DIR=${1:?usage: $0 BIN_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GCP=$ROOT/deploy/gcp

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/deploy-gcp.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (Debian package systemd)"
UNITLIB=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null ||
    echo /usr/lib/systemd/system)
[[ -f "$UNITLIB/multi-user.target" ]] || UNITLIB=/lib/systemd/system
[[ -f "$UNITLIB/multi-user.target" ]] || fail "no systemd unit library found"

# verify_root DIR UNITS...: sets up DIR as a root with the units and prints what verify says.
make_root() {
    local r=$1
    mkdir -p "$r/usr/local/bin" "$r/etc/systemd/system" "$r/etc/skr-stack" "$r/usr/lib/systemd"
    cp -a "$UNITLIB" "$r/usr/lib/systemd/system"
    install -m 0755 "$BIN_DIR/gcp-wif" "$BIN_DIR/skr-proxy" "$r/usr/local/bin/"
    : >"$r/etc/skr-stack/gcp-wif.env"
    : >"$r/etc/skr-stack/skr-proxy.env"
}
verify() { # ROOT UNIT_NAMES...
    local r=$1 u args=()
    shift
    for u in "$@"; do
        args+=("/etc/systemd/system/$u")
    done
    SYSTEMD_LOG_COLOR=0 systemd-analyze verify --root="$r" "${args[@]}" 2>&1 ||
        echo "(exit status $?)"
}

R=$WORK/root
make_root "$R"
cp "$GCP/gcp-wif.service" "$GCP/skr-proxy.service" "$R/etc/systemd/system/"
out=$(verify "$R" gcp-wif.service skr-proxy.service)
[[ -z "$out" ]] || fail "systemd-analyze verify: $out"
echo "gcp_test: systemd-analyze verify: both units clean"

# The check must be able to fail.
sed 's/^UMask=0077$/UMask=0077\nFrobnicate=yes/' "$GCP/gcp-wif.service" \
    >"$R/etc/systemd/system/gcp-wif.service"
out=$(verify "$R" gcp-wif.service)
[[ "$out" == *"Unknown key"*Frobnicate* ]] || fail "verify accepted an unknown key: '$out'"
cp "$GCP/gcp-wif.service" "$R/etc/systemd/system/"
rm "$R/usr/local/bin/gcp-wif"
out=$(verify "$R" gcp-wif.service)
[[ "$out" == *"is not executable"* ]] || fail "verify accepted a missing executable: '$out'"
install -m 0755 "$BIN_DIR/gcp-wif" "$R/usr/local/bin/"

# Required settings, line by line.
need() { # UNIT LINE
    grep -qxF "$2" "$GCP/$1" || fail "$1: missing '$2'"
}
for u in gcp-wif.service skr-proxy.service; do
    for l in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes CapabilityBoundingSet= \
        AmbientCapabilities= Restart=on-failure ProtectHome=yes UMask=0077; do
        need "$u" "$l"
    done
    if ! grep -q '^User=' "$GCP/$u" || grep -qE '^User=(root|0)$' "$GCP/$u"; then
        fail "$u: dedicated user"
    fi
    grep -q '^DynamicUser=' "$GCP/$u" && fail "$u: DynamicUser would defeat the fixed socket peers"
    [[ $(grep -c '^CapabilityBoundingSet=' "$GCP/$u") == 1 ]] ||
        fail "$u: one CapabilityBoundingSet="
done
need gcp-wif.service RuntimeDirectory=gcp-wif
need gcp-wif.service After=network-online.target
need skr-proxy.service 'After=network-online.target gcp-wif.service'
need gcp-wif.service DevicePolicy=closed
need gcp-wif.service 'DeviceAllow=/dev/tpmrm0 rw'
[[ $(grep -c '^DeviceAllow=' "$GCP/gcp-wif.service") == 1 ]] ||
    fail "gcp-wif: DeviceAllow only /dev/tpmrm0"
grep -q '^DeviceAllow=' "$GCP/skr-proxy.service" && fail "skr-proxy: no device needed"
need skr-proxy.service PrivateDevices=yes
grep -qE '^LimitMEMLOCK=[0-9]+[KMG]?$' "$GCP/skr-proxy.service" || fail "skr-proxy: LimitMEMLOCK"
need skr-proxy.service 'Wants=network-online.target gcp-wif.service'
need skr-proxy.service SupplementaryGroups=gcp-wif
# The socket paths agree.
grep -q -- '--socket /run/gcp-wif/gcp-wif.sock' "$GCP/gcp-wif.service" || fail "gcp-wif socket path"
grep -qxF 'PROXY_KEY_GCP_WIF_SOCKET=/run/gcp-wif/gcp-wif.sock' "$GCP/skr-proxy.env.in" ||
    fail "skr-proxy.env.in: socket path"
echo "gcp_test: unit settings ok"

# ---- make-user-data.sh ----
H1=$(printf a | sha256sum | cut -c1-64)
H2=$(printf b | sha256sum | cut -c1-64)
ARGS=(--project-number 123456789012 --pool skr-pool --provider cvm-provider
    --service-account skr-proxy@my-proj.iam.gserviceaccount.com
    --kms-key projects/my-proj/locations/global/keyRings/skr/cryptoKeys/proxy-wrap
    --bundle-url gs://my-bucket/skr-stack-0.1.0.tar.gz --bundle-sha256 "$H1"
    --wrapped-key-url gs://my-bucket/proxy-key.blob --wrapped-key-sha256 "$H2")
UD=$WORK/user-data.yaml
"$GCP/make-user-data.sh" "${ARGS[@]}" >"$UD" || fail "make-user-data.sh failed"
[[ "$(head -n 1 "$UD")" == '#cloud-config' ]] || fail "user-data must start with #cloud-config"
grep -qE '@[A-Z_0-9]+@' "$UD" && fail "user-data has unfilled tokens"
python3 - "$UD" "$GCP" "$H1" "$H2" <<'EOF' || fail "user-data content"
import os, sys
ud, gcp, h1, h2 = sys.argv[1:]
text = open(ud).read()
try:
    import yaml
except ImportError:
    yaml = None
def files_by_hand(t):
    """write_files path -> content for our fixed layout (6-space literal blocks)."""
    out, path, buf = {}, None, None
    for line in t.splitlines():
        if line.startswith("  - path: "):
            if path:
                out[path] = "".join(buf)
            path, buf = line[len("  - path: "):], None
        elif line.strip() == "content: |":
            buf = []
        elif buf is not None and (line.startswith("      ") or line == ""):
            buf.append(line[6:] + "\n")
        elif buf is not None and not line.startswith("    "):
            out[path], path, buf = "".join(buf), None, None
    if path and buf is not None:
        out[path] = "".join(buf)
    return out
files = files_by_hand(text)
if yaml is not None:
    doc = yaml.safe_load(text)
    ylist = {f["path"]: f["content"] for f in doc["write_files"]}
    assert set(ylist) == set(files), (sorted(ylist), sorted(files))
    for p in ylist:
        assert ylist[p].rstrip("\n") == files[p].rstrip("\n"), p
    assert doc["runcmd"] == [["/usr/local/sbin/skr-stack-install"]], doc["runcmd"]
    for pkg in ("libtss2-tcti-device0", "tpm-udev", "libmicrohttpd12"):
        assert pkg in doc["packages"], pkg
for unit in ("gcp-wif.service", "skr-proxy.service"):
    want = open(os.path.join(gcp, unit)).read()
    got = files["/etc/systemd/system/" + unit]
    assert got.rstrip("\n") == want.rstrip("\n"), unit + " differs from deploy/gcp"
env = files["/etc/skr-stack/gcp-wif.env"]
assert ("GCP_WIF_AUDIENCE=//iam.googleapis.com/projects/123456789012/locations/global/"
        "workloadIdentityPools/skr-pool/providers/cvm-provider\n") in env, env
assert "GCP_WIF_SERVICE_ACCOUNT=skr-proxy@my-proj.iam.gserviceaccount.com\n" in env
penv = files["/etc/skr-stack/skr-proxy.env"]
assert ("PROXY_KEY_GCP_KMS_KEY=projects/my-proj/locations/global/keyRings/skr/cryptoKeys/"
        "proxy-wrap\n") in penv
inst = files["/usr/local/sbin/skr-stack-install"]
for s in (h1 + "  ", h2 + "  ", "sha256sum --check --strict",
          "systemctl enable --now gcp-wif.service skr-proxy.service",
          "GCP_WIF_ALLOW_UID=$(id -u skr-proxy)"):
    assert s in inst, s
# Checks come before use: each download is verified before tar/install touches it.
assert inst.index(h1) < inst.index("tar -xzf") and inst.index(h2) < inst.index("install -m 0640")
EOF
# The units as cloud-init writes them verify too.
R2=$WORK/root2
make_root "$R2"
python3 - "$UD" "$R2" <<'EOF' || fail "cannot extract the units from the user-data"
import sys
text, root = open(sys.argv[1]).read(), sys.argv[2]
for unit in ("gcp-wif.service", "skr-proxy.service"):
    start = text.index("  - path: /etc/systemd/system/" + unit)
    body = text[start:].split("content: |\n", 1)[1]
    lines = []
    for line in body.splitlines():
        if line and not line.startswith("      "):
            break
        lines.append(line[6:])
    open(f"{root}/etc/systemd/system/{unit}", "w").write("\n".join(lines).rstrip("\n") + "\n")
EOF
out=$(verify "$R2" gcp-wif.service skr-proxy.service)
[[ -z "$out" ]] || fail "systemd-analyze verify (units from user-data): $out"
# Refusals: one bad value at a time.
refuse() { # DESCRIPTION ARG VALUE
    local a=("${ARGS[@]}") i found=0
    for ((i = 0; i < ${#a[@]}; i++)); do
        if [[ "${a[$i]}" == "$2" ]]; then
            a[i + 1]=$3
            found=1
        fi
    done
    [[ $found == 1 ]] || a+=("$2" "$3")
    if "$GCP/make-user-data.sh" "${a[@]}" >/dev/null 2>&1; then
        fail "make-user-data.sh accepted $1 ($2 '$3')"
    fi
}
refuse "an empty project number" --project-number ''
refuse "a project id for the number" --project-number my-proj
refuse "an empty pool" --pool ''
refuse "a short checksum" --bundle-sha256 abc
refuse "an upper-case checksum" --wrapped-key-sha256 "${H2^^}"
refuse "an https bundle URL" --bundle-url https://example.com/x.tgz
refuse "a quote in the URL" --wrapped-key-url "gs://my-bucket/x'y"
refuse "a bad KMS key" --kms-key projects/p/keyRings/r/cryptoKeys/k
refuse "a privileged port" --proxy-port 80
refuse "a bad service account" --service-account 'x@y'
"$GCP/make-user-data.sh" --project-number 1 >/dev/null 2>&1 && fail "missing values accepted"
echo "gcp_test: make-user-data.sh ok (10 refusals)"

# ---- make-attribute-condition.sh ----
MAC=$GCP/make-attribute-condition.sh
got=$("$MAC" --confidential-vm --project-number 470652426305 --instance-id 7333251546816446069,12)
want="assertion.swname == 'GCE' && assertion.hwmodel == 'GCP_AMD_SEV'"
want+=" && assertion.secboot == true && assertion.submods.gce.project_number == '470652426305'"
want+=" && assertion.submods.gce.instance_id in ['7333251546816446069', '12']"
[[ "$got" == "$want" ]] || fail "VM condition: $got"
D=sha256:$(printf c | sha256sum | cut -c1-64)
got=$("$MAC" --confidential-space --project-number 470652426305 --image-digest "$D")
want=$(sed -e "s/@GCP_PROJECT_NUMBER@/470652426305/" -e "s/@IMAGE_DIGEST@/$D/" \
    "$ROOT/policies/gcp-attribute-condition.cel")
[[ "$got" == "$want" && "$got" == *"== '$D'"* && "$got" != *@* ]] ||
    fail "Confidential Space condition: $got"
mac_refuse() { # DESCRIPTION ARGS...
    local d=$1
    shift
    if "$MAC" "$@" >/dev/null 2>&1; then
        fail "make-attribute-condition.sh accepted $d"
    fi
}
mac_refuse "no mode" --project-number 1
mac_refuse "no project" --confidential-vm --instance-id 1
mac_refuse "an empty project" --confidential-vm --project-number '' --instance-id 1
mac_refuse "no instance" --confidential-vm --project-number 1
mac_refuse "an empty instance list" --confidential-vm --project-number 1 --instance-id ''
mac_refuse "an empty instance in the list" --confidential-vm --project-number 1 --instance-id 1,,2
mac_refuse "a CEL injection" --confidential-vm --project-number 1 --instance-id "1'] || true || ['"
mac_refuse "an unknown hwmodel" --confidential-vm --project-number 1 --instance-id 1 --hwmodel X
mac_refuse "no digest" --confidential-space --project-number 1
mac_refuse "a tag for the digest" --confidential-space --project-number 1 --image-digest latest
mac_refuse "a short digest" --confidential-space --project-number 1 --image-digest sha256:abcd
echo "gcp_test: make-attribute-condition.sh ok (11 refusals)"
echo "gcp_test: ok"
