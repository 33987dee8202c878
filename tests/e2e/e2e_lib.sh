# e2e_lib.sh - what the e2e scripts share on top of scripts/stack.sh (sourced, bash): checks of
# an encrypted round trip, of the proxy's public key, and of key hygiene in the logs.

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/stack.sh
. "$E2E_HERE/../../scripts/stack.sh"

e2e_init() {
    stack_init "${1:?usage: $0 BIN_DIR}"
    trap stack_cleanup EXIT
    STACK_READY_S=${STACK_READY_S:-90}
}

# e2e_roundtrip PROXY TAG: an encrypted request with secret-looking path, query, header and body;
# the workload must have seen them all, and the proxy's log must contain none of them.
e2e_roundtrip() {
    local name=$1 tag=$2 out=$STACK_WORK/rt-$1.json url
    url=$(stack_proxy_url "$name")
    printf 'SECRETBODY-%s' "$tag" >"$STACK_WORK/rt-body"
    "$STACK_BIN/skr-proxy-client" -H "X-Test: SECRETHEADER-$tag" --data-binary @"$STACK_WORK/rt-body" \
        -o "$out" "$url/SECRETPATH-$tag/x?q=SECRETQUERY-$tag" || stack_die "$name: round trip"
    python3 - "$out" "$tag" <<'PY' || stack_die "$name: the workload did not see the request"
import json, sys
d, t = json.load(open(sys.argv[1])), sys.argv[2]
assert d["method"] == "POST", d
assert d["path"] == "/SECRETPATH-%s/x" % t, d
assert d["q"] == "SECRETQUERY-%s" % t, d
assert d["headers"]["x-test"] == "SECRETHEADER-%s" % t, d
assert d["body"] == "SECRETBODY-%s" % t, d
PY
    if grep -q "SECRET[A-Z]*-$tag" "$STACK_WORK/logs/$name.log"; then
        stack_die "$name: decrypted data in the proxy's log"
    fi
}

# e2e_public_key_is NAME PEM_FILE: the proxy's /polaris-container/publicKey is that key.
e2e_public_key_is() {
    local url got want
    url=$(stack_proxy_url "$1")
    curl -sf --max-time 10 "$url/polaris-container/publicKey" |
        python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["publicKey"])' \
            >"$STACK_WORK/pk-$1.pem" || stack_die "$1: /polaris-container/publicKey"
    got=$(openssl pkey -pubin -in "$STACK_WORK/pk-$1.pem" -outform DER 2>/dev/null | sha256sum)
    want=$(openssl pkey -pubin -in "$2" -outform DER 2>/dev/null | sha256sum)
    [[ -n "$want" && "$got" == "$want" ]] || stack_die "$1: the proxy serves another public key"
}

# e2e_no_key_in_logs JWK_FILE: no private member of the JWK (base64url), nor the same numbers in
# standard base64, appears in any log of the stack.
e2e_no_key_in_logs() {
    local pats=$STACK_WORK/key-patterns
    python3 - "$1" >"$pats" <<'PY'
import base64, json, sys
jwk = json.load(open(sys.argv[1]))
for m in ("d", "p", "q", "dp", "dq", "qi"):
    v = jwk[m]
    raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
    # 32-character windows: long enough to be unique, short enough to survive line wrapping.
    for text in (v, base64.b64encode(raw).decode()):
        print(text[8:40])
PY
    [[ $(wc -l <"$pats") -eq 12 ]] || stack_die "key patterns"
    if grep -rFf "$pats" "$STACK_WORK/logs" >/dev/null; then
        grep -rlFf "$pats" "$STACK_WORK/logs" >&2
        stack_die "private key material found in a log"
    fi
}

# e2e_not_dumpable NAME: the proxy logged that it runs non-dumpable when its key arrived.
e2e_not_dumpable() {
    grep -q 'module=key .*dumpable=false' "$STACK_WORK/logs/$1.log" ||
        stack_die "$1: no 'dumpable=false' in its key log line"
}
