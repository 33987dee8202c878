#!/usr/bin/env bash
# azure_emu_test.sh - `azure-emu init` + `azure-emu serve` as a real process, driven with curl
# under the real Azure host names (--connect-to + the state CA, no "insecure" switch):
# endpoints.json, MAA /certs and OpenID configuration, IMDS token and THIM, the Key Vault
# listener's challenge, injected faults (503 twice with Retry-After, then OK; a dropped
# connection after a delay; the real answer with its body removed), the access log,
# and a clean exit 0 on SIGTERM that removes endpoints.json.
#
# Usage: azure_emu_test.sh /path/to/azure-emu
set -euo pipefail

EMU=${1:?usage: $0 /path/to/azure-emu}
WORK=$(mktemp -d /tmp/azure-emu-it-XXXXXX)
STATE=$WORK/state
PID=

cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- serve log ---" >&2
    cat "$WORK/serve.log" >&2 || true
    exit 1
}

expect_eq() { # what got want
    [[ "$2" == "$3" ]] || fail "$1: got '$2', want '$3'"
}

"$EMU" init --state "$STATE" >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; exit 1; }

"$EMU" serve --state "$STATE" >"$WORK/serve.log" 2>&1 &
PID=$!

for _ in $(seq 1 100); do
    [[ -f "$STATE/endpoints.json" ]] && break
    kill -0 "$PID" 2>/dev/null || fail "serve exited early"
    sleep 0.1
done
[[ -f "$STATE/endpoints.json" ]] || fail "no endpoints.json after 10 s"

field() { sed -n "s/^ *\"$1\": *\"\\(.*\\)\",\\{0,1\\}\$/\\1/p" "$STATE/endpoints.json"; }
MAA=$(field maa)
AKV=$(field akv)
MHSM=$(field mhsm)
IMDS=$(field imds)
CA=$(field ca)
[[ "$MAA" =~ ^localhost:[0-9]+$ ]] || fail "maa endpoint '$MAA'"
[[ "$AKV" =~ ^localhost:[0-9]+$ ]] || fail "akv endpoint '$AKV'"
[[ "$MHSM" =~ ^localhost:[0-9]+$ ]] || fail "mhsm endpoint '$MHSM'"
[[ "$IMDS" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "imds endpoint '$IMDS'"
expect_eq ca "$CA" "$(cd "$STATE" && pwd -P)/ca.pem"

MAA_HOST=sharedeus.eus.attest.azure.net
CURL=(curl -sS --max-time 10 --cacert "$CA"
      --connect-to "$MAA_HOST:443:127.0.0.1:${MAA#localhost:}"
      --connect-to "myvault.vault.azure.net:443:127.0.0.1:${AKV#localhost:}"
      --connect-to "myhsm.managedhsm.azure.net:443:127.0.0.1:${MHSM#localhost:}"
      --connect-to "169.254.169.254:80:127.0.0.1:${IMDS##*:}")

# MAA key discovery under the real host name; the issuer is the host the client used.
certs=$("${CURL[@]}" "https://$MAA_HOST/certs")
[[ "$certs" == '{"keys":[{"kid":"'*'","kty":"RSA","x5c":["'*'"]}]}' ]] || fail "certs: $certs"
oidc=$("${CURL[@]}" "https://$MAA_HOST/.well-known/openid-configuration")
[[ "$oidc" == '{"issuer":"https://'$MAA_HOST'","jwks_uri":"https://'$MAA_HOST'/certs",'* ]] ||
    fail "openid-configuration: $oidc"
# Same listener over localhost (the certificate covers it too).
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$MAA/certs")
expect_eq "maa via localhost" "$status" 200

# IMDS: Metadata header required, token fields are strings.
body=$("${CURL[@]}" "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net")
expect_eq "imds without Metadata" "$body" \
    '{"error":"invalid_request","error_description":"Required metadata header not specified"}'
body=$("${CURL[@]}" -H 'Metadata: true' "http://169.254.169.254/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net")
[[ "$body" == '{"access_token":"ey'*'","token_type":"Bearer"}' ]] || fail "imds token: $body"
[[ "$body" == *'"expires_in":"86399"'* && "$body" == *'"resource":"https://vault.azure.net"'* ]] ||
    fail "imds token fields: $body"
thim=$("${CURL[@]}" -H 'Metadata: true' "http://169.254.169.254/metadata/THIM/amd/certification")
expect_eq thim "$thim" "$(cat "$STATE/snp/thim.json")"

# Key Vault and Managed HSM listeners answer over TLS under their real names (401: no token).
status=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "https://myvault.vault.azure.net/keys/k?api-version=7.4")
expect_eq "key vault without token" "$status" 401
status=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "https://myhsm.managedhsm.azure.net/keys/k?api-version=7.4")
expect_eq "managed hsm without token" "$status" 401

# A fault: 503 twice with Retry-After, then the real answer.
added=$(curl -sS -X POST --data '{"service":"maa","path_prefix":"/certs","count":2,"status":503,"retry_after":1}' "$IMDS/emu/faults")
expect_eq "fault added" "$added" '{"status":"added"}'
for i in 1 2; do
    out=$("${CURL[@]}" -D "$WORK/h$i" -w ' %{http_code}' "https://$MAA_HOST/certs")
    expect_eq "faulted call $i" "$out" '{"error":{"code":"InjectedFault","message":"azure-emu injected status 503"}} 503'
    grep -qi '^Retry-After: 1' "$WORK/h$i" || fail "no Retry-After on faulted call $i"
done
status=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "https://$MAA_HOST/certs")
expect_eq "after the fault" "$status" 200
expect_eq "faults used up" "$(curl -sS "$IMDS/emu/faults")" '[]'

# A dropped connection: after the delay, not one byte (curl exit 52, "Empty reply from server");
# the listener goes on serving.
added=$(curl -sS -X POST --data '{"service":"maa","method":"GET","path_prefix":"/certs","count":1,"delay_ms":300,"drop":true}' "$IMDS/emu/faults")
expect_eq "drop added" "$added" '{"status":"added"}'
rc=0
t0=$(date +%s%3N)
out=$("${CURL[@]}" -D "$WORK/hdrop" -w '%{http_code}' "https://$MAA_HOST/certs" 2>"$WORK/drop.err") ||
    rc=$?
elapsed=$(($(date +%s%3N) - t0))
expect_eq "dropped call exit" "$rc" 52
expect_eq "dropped call output" "$out" 000
[[ ! -s "$WORK/hdrop" ]] || fail "headers on a dropped connection: $(cat "$WORK/hdrop")"
grep -q 'Empty reply from server' "$WORK/drop.err" || fail "drop: $(cat "$WORK/drop.err")"
((elapsed >= 300)) || fail "drop came after ${elapsed} ms, before its 300 ms delay"
status=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "https://$MAA_HOST/certs")
expect_eq "after the drop" "$status" 200

# "body":"empty" without a status: the real answer with its body removed (Content-Length: 0).
added=$(curl -sS -X POST --data '{"service":"maa","path_prefix":"/certs","count":1,"body":"empty"}' "$IMDS/emu/faults")
expect_eq "empty added" "$added" '{"status":"added"}'
out=$("${CURL[@]}" -D "$WORK/hempty" -w '%{http_code}' "https://$MAA_HOST/certs")
expect_eq "emptied answer" "$out" 200
grep -qi '^Content-Length: 0' "$WORK/hempty" || fail "emptied answer headers: $(cat "$WORK/hempty")"
expect_eq "faults used up again" "$(curl -sS "$IMDS/emu/faults")" '[]'

# The access log: one logfmt line per request, no query strings.
grep -q 'module=access .*svc=maa method=GET host=sharedeus.eus.attest.azure.net path=/certs status=503 .*fault=true' \
    "$WORK/serve.log" || fail "access log lacks the faulted request"
if grep -q 'api-version\|resource=' "$WORK/serve.log"; then fail "query strings in the access log"; fi
grep -q 'module=access .*svc=maa method=GET host=sharedeus.eus.attest.azure.net path=/certs status=0 .*fault=drop' \
    "$WORK/serve.log" || fail "access log lacks the dropped connection"
grep -q 'module=access .*svc=maa method=GET host=[^ ]* path=/certs status=200 .*fault=true' \
    "$WORK/serve.log" || fail "access log lacks the emptied answer"

# SIGTERM: exit 0, endpoints.json gone.
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
expect_eq "exit status" "$rc" 0
[[ ! -e "$STATE/endpoints.json" ]] || fail "endpoints.json left behind"
echo "azure_emu_test: ok"
