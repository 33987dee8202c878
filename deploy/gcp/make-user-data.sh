#!/usr/bin/env bash
# make-user-data.sh - prints the cloud-init user-data for a GCP Confidential VM (Debian 12) that
# installs gcp-wif and skr-proxy and starts them as systemd services (deploy/gcp/*.service,
# verbatim): Debian runtime libraries and tpm-udev, the two binaries from a tarball and the
# KMS-wrapped proxy key from Cloud Storage (each checked against its SHA-256 before use), the
# dedicated system users gcp-wif and skr-proxy, /etc/skr-stack/*.env from deploy/gcp/*.env.in.
#
# Every value is checked against a strict pattern; an empty or malformed value is an error, and
# no @TOKEN@ may remain in the output.
#
# usage: make-user-data.sh --project-number N --pool POOL --provider PROVIDER
#            --kms-key projects/P/locations/L/keyRings/R/cryptoKeys/K
#            --bundle-url gs://B/O.tar.gz --bundle-sha256 HEX
#            --wrapped-key-url gs://B/O --wrapped-key-sha256 HEX
#            [--service-account SA@P.iam.gserviceaccount.com] [--proxy-port 3000]
#            [--workload-port 8000]
# The bundle is a tar.gz holding the executables gcp-wif and skr-proxy at its top level
# (tar -C build/bin -czf skr-stack.tar.gz gcp-wif skr-proxy).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
    echo "make-user-data: $*" >&2
    exit 2
}

declare -A V=([PROXY_PORT]=3000 [WORKLOAD_PORT]=8000 [SERVICE_ACCOUNT]='')
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || die "$1 needs a value"
    case "$1" in
    --project-number) V[PROJECT_NUMBER]=$2 ;;
    --pool) V[POOL]=$2 ;;
    --provider) V[PROVIDER]=$2 ;;
    --service-account) V[SERVICE_ACCOUNT]=$2 ;;
    --kms-key) V[KMS_KEY]=$2 ;;
    --bundle-url) V[BUNDLE_URL]=$2 ;;
    --bundle-sha256) V[BUNDLE_SHA256]=$2 ;;
    --wrapped-key-url) V[KEY_URL]=$2 ;;
    --wrapped-key-sha256) V[KEY_SHA256]=$2 ;;
    --proxy-port) V[PROXY_PORT]=$2 ;;
    --workload-port) V[WORKLOAD_PORT]=$2 ;;
    *) die "unknown option $1" ;;
    esac
    shift 2
done

# check NAME REGEX WHAT
check() {
    [[ -n "${V[$1]:-}" ]] || die "missing value: $3"
    [[ "${V[$1]}" =~ $2 ]] || die "malformed $3: '${V[$1]}'"
}
check PROJECT_NUMBER '^[1-9][0-9]{0,19}$' 'project number (digits)'
check POOL '^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$' 'pool id'
check PROVIDER '^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$' 'provider id'
RE_KMS='^projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/locations/[a-z0-9-]+/'
RE_KMS+='keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}$'
check KMS_KEY "$RE_KMS" \
    'KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K)'
check BUNDLE_URL '^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]/[A-Za-z0-9._/-]+$' 'bundle URL (gs://)'
check KEY_URL '^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]/[A-Za-z0-9._/-]+$' 'wrapped key URL (gs://)'
check BUNDLE_SHA256 '^[0-9a-f]{64}$' 'bundle SHA-256 (64 lowercase hex)'
check KEY_SHA256 '^[0-9a-f]{64}$' 'wrapped key SHA-256 (64 lowercase hex)'
check PROXY_PORT '^[1-9][0-9]{3,4}$' 'proxy port (1024..65535)'
check WORKLOAD_PORT '^[1-9][0-9]{0,4}$' 'workload port'
((V[PROXY_PORT] <= 65535 && V[WORKLOAD_PORT] <= 65535)) || die "port out of range"
if [[ -n "${V[SERVICE_ACCOUNT]}" ]]; then
    RE_SA='^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$'
    check SERVICE_ACCOUNT "$RE_SA" 'service account e-mail'
fi

# fill FILE: the file with every @NAME@ replaced; fails if a token is left.
fill() {
    local text k
    text=$(cat "$1")
    for k in "${!V[@]}"; do
        text=${text//@$k@/${V[$k]}}
    done
    if [[ -z "${V[SERVICE_ACCOUNT]}" ]]; then
        text=$(printf '%s\n' "$text" | grep -v '^GCP_WIF_SERVICE_ACCOUNT=')
    fi
    if [[ "$text" =~ @[A-Z_0-9]+@ ]]; then
        die "$1: unfilled token ${BASH_REMATCH[0]}"
    fi
    printf '%s\n' "$text"
}

# block FILE: file content indented for a YAML literal block under write_files.
block() {
    sed 's/^/      /' "$1"
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fill "$HERE/gcp-wif.env.in" >"$TMP/gcp-wif.env"
fill "$HERE/skr-proxy.env.in" >"$TMP/skr-proxy.env"
cat >"$TMP/install" <<EOF
#!/bin/sh
# Installs gcp-wif and skr-proxy (run once by cloud-init).
set -eu
umask 022
work=\$(mktemp -d)
trap 'rm -rf "\$work"' EXIT
gcloud storage cp '${V[BUNDLE_URL]}' "\$work/bundle.tar.gz"
echo '${V[BUNDLE_SHA256]}  '"\$work/bundle.tar.gz" | sha256sum --check --strict --quiet
gcloud storage cp '${V[KEY_URL]}' "\$work/proxy-key.blob"
echo '${V[KEY_SHA256]}  '"\$work/proxy-key.blob" | sha256sum --check --strict --quiet
tar -xzf "\$work/bundle.tar.gz" -C "\$work" gcp-wif skr-proxy
install -m 0755 -o root -g root "\$work/gcp-wif" "\$work/skr-proxy" /usr/local/bin/
getent group gcp-wif >/dev/null || groupadd --system gcp-wif
getent passwd gcp-wif >/dev/null || useradd --system --gid gcp-wif --no-create-home \\
    --home-dir /nonexistent --shell /usr/sbin/nologin gcp-wif
getent group skr-proxy >/dev/null || groupadd --system skr-proxy
getent passwd skr-proxy >/dev/null || useradd --system --gid skr-proxy --no-create-home \\
    --home-dir /nonexistent --shell /usr/sbin/nologin skr-proxy
install -d -m 0750 -o root -g gcp-wif /etc/skr-stack/keys
install -m 0640 -o root -g gcp-wif "\$work/proxy-key.blob" /etc/skr-stack/keys/proxy-key.blob
sed -i '/^GCP_WIF_ALLOW_UID=/d' /etc/skr-stack/gcp-wif.env
echo "GCP_WIF_ALLOW_UID=\$(id -u skr-proxy)" >>/etc/skr-stack/gcp-wif.env
systemctl daemon-reload
systemctl enable --now gcp-wif.service skr-proxy.service
EOF

cat <<EOF
#cloud-config
# gcp-wif + skr-proxy on a GCP Confidential VM (Debian 12); made by deploy/gcp/make-user-data.sh.
package_update: true
packages:
  - libssl3
  - libcurl4
  - libjansson4
  - libmicrohttpd12
  - libtss2-esys-3.0.2-0
  - libtss2-mu0
  - libtss2-tctildr0
  - libtss2-tcti-device0
  - tpm-udev
write_files:
  - path: /etc/systemd/system/gcp-wif.service
    owner: root:root
    permissions: '0644'
    content: |
$(block "$HERE/gcp-wif.service")
  - path: /etc/systemd/system/skr-proxy.service
    owner: root:root
    permissions: '0644'
    content: |
$(block "$HERE/skr-proxy.service")
  - path: /etc/skr-stack/gcp-wif.env
    owner: root:root
    permissions: '0644'
    content: |
$(block "$TMP/gcp-wif.env")
  - path: /etc/skr-stack/skr-proxy.env
    owner: root:root
    permissions: '0644'
    content: |
$(block "$TMP/skr-proxy.env")
  - path: /usr/local/sbin/skr-stack-install
    owner: root:root
    permissions: '0700'
    content: |
$(block "$TMP/install")
runcmd:
  - [/usr/local/sbin/skr-stack-install]
EOF
