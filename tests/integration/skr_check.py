#!/usr/bin/env python3
"""skr_check.py - JSON/JOSE checks for the skr integration scripts (python3 standard library only,
plus the openssl command line for key parsing and signing).

Every check prints nothing and exits 0 on success, or prints "FAIL: <why>" and exits 1.
Subcommands (see main()):
  endpoint FIELD                         endpoints.json (stdin) -> one field
  jwk-from-pem PEM                       private JWK (RSA or EC) of an openssl PEM key, on stdout
  oct-jwk HEX                            oct JWK of a hex key, on stdout
  import-body JWK POLICY [KEY_OPS]       PUT /keys/{name} body (exportable, hsm, release policy)
  create-body KTY SIZE_OR_CRV POLICY     POST /keys/{name}/create body
  b64url FILE                            unpadded base64url of a file
  get DOTTED.PATH                        a value of the JSON document on stdin
  check-raw BODY RUNTIME_B64 POLICY_B64  /attest/raw: REPORT_DATA (0x50) and HOST_DATA (0xC0)
  check-combined BODY RUNTIME_B64 THIM REFINFO POLICY_B64
  check-maa BODY RUNTIME_B64 POLICY_B64 ISS
  check-key BODY EXPECTED_JWK|- [PUBLIC_BUNDLE] [KEY_OPS]
  check-error BODY PREFIX SUBSTRING...   {"error":"<prefix>\\n<ERROR_STRING>: ...SUBSTRING..."}
                                         (=TEXT: the cause must be exactly TEXT)
  mint-expired TOKEN ISSUER_KEY_PEM      the token with iat/nbf/exp moved 2 h into the past
"""
import base64
import hashlib
import json
import re
import subprocess
import sys
import time

ERROR_STRING = (
    "ERROR: Please refer to the documentation for more information on how to use this sidecar.\n"
    "ACI: https://github.com/microsoft/confidential-sidecar-containers/blob/main/examples/skr/aci/README.md\n"
    "KATA: https://github.com/microsoft/confidential-sidecar-containers/blob/main/examples/skr/aks/README.md\n"
    "Troubleshooting: https://github.com/microsoft/confidential-sidecar-containers/blob/main/examples/skr/TROUBLESHOOTING.md"
)

CURVES = {"P-256": 32, "P-384": 48, "P-521": 66}
NIST = {"prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
REPORT_LEN = 1184


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ensure(cond, msg):
    if not cond:
        fail(msg)


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text):
    ensure(re.fullmatch(r"[A-Za-z0-9_-]*", text) is not None, "not unpadded base64url: %.40s" % text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unb64std(text):
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as e:
        fail("not standard base64 (%s): %.40s" % (e, text))
    return b""


def int_b64(n):
    return b64url(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))


def load_json_file(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw), raw
    except ValueError as e:
        fail("%s is not one JSON document (%s): %.200r" % (path, e, raw))
    return None, raw


def jwt_claims(token):
    parts = token.split(".")
    ensure(len(parts) == 3, "not a compact JWS: %.60s" % token)
    return json.loads(unb64url(parts[0])), json.loads(unb64url(parts[1])), parts


# ---- keys ----


def openssl_text(pem):
    out = subprocess.run(["openssl", "pkey", "-in", pem, "-noout", "-text"], check=True,
                         capture_output=True, text=True).stdout
    blocks, cur, scalars = {}, None, {}
    for line in out.splitlines():
        if line.startswith((" ", "\t")):
            if cur is not None:
                blocks[cur] += line.strip().replace(":", "")
            continue
        cur = None
        m = re.match(r"^([A-Za-z0-9 ]+):\s*(.*)$", line)
        if not m:
            continue
        name, rest = m.group(1), m.group(2)
        if rest == "":
            cur = name
            blocks[cur] = ""
        else:
            scalars[name] = rest
    return blocks, scalars


def jwk_from_pem(pem):
    blocks, scalars = openssl_text(pem)
    h = lambda k: int(blocks[k], 16)
    if "modulus" in blocks:
        e = int(scalars["publicExponent"].split()[0])
        return {"kty": "RSA", "n": int_b64(h("modulus")), "e": int_b64(e),
                "d": int_b64(h("privateExponent")), "p": int_b64(h("prime1")),
                "q": int_b64(h("prime2")), "dp": int_b64(h("exponent1")),
                "dq": int_b64(h("exponent2")), "qi": int_b64(h("coefficient"))}
    crv = scalars.get("NIST CURVE") or NIST.get(scalars.get("ASN1 OID", ""))
    ensure(crv in CURVES, "unknown curve in %s" % pem)
    size = CURVES[crv]
    pub = bytes.fromhex(blocks["pub"])
    ensure(len(pub) == 1 + 2 * size and pub[0] == 4, "uncompressed point expected")
    d = h("priv").to_bytes(size, "big")
    return {"kty": "EC", "crv": crv, "x": b64url(pub[1:1 + size]), "y": b64url(pub[1 + size:]),
            "d": b64url(d)}


def policy_b64url(path):
    with open(path, "rb") as f:
        return b64url(f.read())


def import_body(jwk_path, policy_path, key_ops=None):
    with open(jwk_path) as f:
        jwk = json.load(f)
    if key_ops:
        jwk["key_ops"] = key_ops.split(",")
    return {"key": jwk, "hsm": True, "attributes": {"exportable": True},
            "release_policy": {"contentType": "application/json; charset=utf-8",
                               "data": policy_b64url(policy_path), "immutable": False}}


def create_body(kty, size_or_crv, policy_path):
    body = {"kty": kty, "attributes": {"exportable": True},
            "release_policy": {"data": policy_b64url(policy_path)}}
    if kty.startswith("EC"):
        body["crv"] = size_or_crv
    else:
        body["key_size"] = int(size_or_crv)
    return body


# ---- attestation ----


def check_report_bytes(rep, runtime, policy):
    ensure(len(rep) == REPORT_LEN, "report is %d bytes, want %d" % (len(rep), REPORT_LEN))
    want = hashlib.sha256(runtime).digest() + bytes(32)
    ensure(rep[0x50:0x90] == want, "REPORT_DATA %s != sha256(runtime_data)||0^32 %s"
           % (rep[0x50:0x90].hex(), want.hex()))
    hd = hashlib.sha256(policy).digest()
    ensure(rep[0xC0:0xE0] == hd, "HOST_DATA %s != sha256(policy) %s" % (rep[0xC0:0xE0].hex(),
                                                                        hd.hex()))


def check_raw(body_path, runtime_b64, policy_path):
    doc, _ = load_json_file(body_path)
    ensure(list(doc) == ["report"], "members %s" % list(doc))
    hexrep = doc["report"]
    ensure(re.fullmatch(r"[0-9a-f]{%d}" % (2 * REPORT_LEN), hexrep) is not None,
           "report is not %d lowercase hex digits" % (2 * REPORT_LEN))
    check_report_bytes(bytes.fromhex(hexrep), base64.b64decode(runtime_b64),
                       base64.b64decode(open(policy_path).read()))


def check_combined(body_path, runtime_b64, thim_path, refinfo_path, policy_path):
    doc, _ = load_json_file(body_path)
    ensure(list(doc) == ["endorsed_tcb", "endorsements", "evidence", "uvm_endorsements"],
           "members/order %s" % list(doc))
    with open(thim_path) as f:
        thim = json.load(f)
    ensure(doc["endorsed_tcb"] == thim["tcbm"], "endorsed_tcb %s" % doc["endorsed_tcb"])
    ensure(unb64std(doc["endorsements"]).decode() == thim["vcekCert"] + thim["certificateChain"],
           "endorsements are not vcekCert + certificateChain")
    with open(refinfo_path) as f:
        ensure(doc["uvm_endorsements"] == f.read(), "uvm_endorsements != reference-info-base64")
    check_report_bytes(unb64std(doc["evidence"]), base64.b64decode(runtime_b64),
                       base64.b64decode(open(policy_path).read()))


def check_maa(body_path, runtime_b64, policy_path, iss):
    doc, _ = load_json_file(body_path)
    ensure(list(doc) == ["token"], "members %s" % list(doc))
    hdr, claims, _ = jwt_claims(doc["token"])
    ensure(hdr.get("alg") == "RS256", "alg %s" % hdr.get("alg"))
    ensure(claims.get("iss") == iss, "iss %s, want %s" % (claims.get("iss"), iss))
    ensure(hdr.get("jku") == iss + "/certs", "jku %s" % hdr.get("jku"))
    hd = hashlib.sha256(base64.b64decode(open(policy_path).read())).hexdigest()
    ensure(claims.get("x-ms-sevsnpvm-hostdata") == hd,
           "x-ms-sevsnpvm-hostdata %s, want %s" % (claims.get("x-ms-sevsnpvm-hostdata"), hd))
    runtime = base64.b64decode(runtime_b64)
    ensure(claims.get("x-ms-runtime") == json.loads(runtime),
           "x-ms-runtime %s" % claims.get("x-ms-runtime"))
    rd = hashlib.sha256(runtime).hexdigest() + "0" * 64
    ensure(claims.get("x-ms-sevsnpvm-reportdata") == rd, "reportdata %s"
           % claims.get("x-ms-sevsnpvm-reportdata"))
    ensure(claims.get("x-ms-attestation-type") == "sevsnpvm", "attestation type")
    ensure(claims.get("x-ms-compliance-status") == "azure-compliant-uvm", "compliance status")
    now = time.time()
    ensure(claims["iat"] <= now + 60 < claims["exp"] + 60, "iat/exp")


# ---- released keys ----

MEMBERS = {
    "oct": ["k", "key_ops", "kty"],
    "RSA": ["d", "dp", "dq", "e", "key_ops", "kty", "n", "p", "q", "qi"],
    "EC": ["crv", "d", "key_ops", "kty", "x", "y"],
}


def check_key(body_path, expected_path, bundle_path=None, key_ops=None):
    doc, raw = load_json_file(body_path)
    ensure(list(doc) == ["key"] and isinstance(doc["key"], str),
           "not {\"key\":\"<JWK string>\"}: %.200r" % raw)
    text = doc["key"]
    jwk = json.loads(text)
    ensure(text == json.dumps(jwk, sort_keys=True, separators=(",", ":")),
           "JWK string is not compact with sorted members: %.100s" % text)
    kty = jwk.get("kty")
    ensure(kty in MEMBERS, "kty %s (the -HSM suffix must be dropped)" % kty)
    want_members = MEMBERS[kty] if "key_ops" in jwk else [m for m in MEMBERS[kty]
                                                         if m != "key_ops"]
    ensure(sorted(jwk) == want_members, "members %s, want %s" % (sorted(jwk), want_members))
    for m in jwk:
        if m not in ("kty", "crv", "key_ops"):
            unb64url(jwk[m])
    if kty == "RSA":
        for m in ("n", "e", "d", "p", "q", "dp", "dq", "qi"):
            ensure(unb64url(jwk[m])[0] != 0, "RSA member %s is not minimal big-endian" % m)
    if kty == "EC":
        size = CURVES[jwk["crv"]]
        for m in ("x", "y", "d"):
            ensure(len(unb64url(jwk[m])) == size, "EC member %s is not %d bytes" % (m, size))
    if key_ops is not None:
        ensure(jwk.get("key_ops") == key_ops.split(","), "key_ops %s" % jwk.get("key_ops"))
    if expected_path not in (None, "-"):
        with open(expected_path) as f:
            want = json.load(f)
        ensure(want["kty"].replace("-HSM", "") == kty, "kty %s, want %s" % (kty, want["kty"]))
        for m, v in want.items():
            if m in ("kty", "key_ops"):
                continue
            if kty == "RSA":
                ensure(int.from_bytes(unb64url(jwk[m]), "big") == int.from_bytes(unb64url(v), "big"),
                       "RSA member %s differs from the imported key" % m)
            else:
                ensure(jwk[m] == v, "member %s differs from the imported key" % m)
    if kty == "oct":
        ensure(len(unb64url(jwk["k"])) == 32, "oct key is not 256 bits")
    if bundle_path:
        # A created key: compare the public members with GET /keys/{name} (the private ones are
        # known only to the vault); kty there carries -HSM.
        with open(bundle_path) as f:
            pub = json.load(f)["key"]
        ensure(pub["kty"].replace("-HSM", "") == kty, "kty %s vs vault %s" % (kty, pub["kty"]))
        for m in ("n", "e", "crv", "x", "y"):
            if m in pub:
                ensure(pub[m] == jwk[m] or int.from_bytes(unb64url(pub[m]), "big")
                       == int.from_bytes(unb64url(jwk[m]), "big"), "public member %s differs" % m)
        if kty == "RSA":
            n, e, d = (int.from_bytes(unb64url(jwk[m]), "big") for m in ("n", "e", "d"))
            ensure(pow(pow(0x1234567, e, n), d, n) == 0x1234567, "d does not invert e mod n")


def check_error(body_path, prefix, *subs):
    doc, raw = load_json_file(body_path)
    ensure(list(doc) == ["error"] and isinstance(doc["error"], str),
           "not one {\"error\":\"...\"} object: %.300r" % raw)
    msg = doc["error"]
    head = prefix + "\n" + ERROR_STRING + ": "
    ensure(msg.startswith(head), "message does not start with %r: %.400r" % (prefix, msg))
    cause = msg[len(head):]
    for s in subs:
        if s.startswith("="):
            ensure(cause == s[1:], "cause %r, want exactly %r" % (cause, s[1:]))
        else:
            ensure(s in cause, "message lacks %r: %r" % (s, cause))
    ensure("&" not in raw.decode() and "<" not in raw.decode(), "not Go-escaped: %.200r" % raw)


def mint_expired(token, key_pem):
    hdr, claims, parts = jwt_claims(token)
    past = int(time.time()) - 7200
    claims.update({"iat": past - 3600, "nbf": past - 3600, "exp": past})
    signing_input = parts[0] + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_pem], check=True,
                         input=signing_input.encode(), capture_output=True).stdout
    return signing_input + "." + b64url(sig)


def get_path(doc, path):
    for step in path.split("."):
        doc = doc[int(step)] if isinstance(doc, list) else doc[step]
    return doc


def main(argv):
    if len(argv) < 2:
        fail("usage: see the header of " + argv[0])
    cmd, args = argv[1], argv[2:]
    if cmd == "endpoint":
        print(json.load(sys.stdin)[args[0]])
    elif cmd == "jwk-from-pem":
        print(json.dumps(jwk_from_pem(args[0])))
    elif cmd == "oct-jwk":
        print(json.dumps({"kty": "oct", "k": b64url(bytes.fromhex(args[0]))}))
    elif cmd == "import-body":
        print(json.dumps(import_body(args[0], args[1], args[2] if len(args) > 2 else None)))
    elif cmd == "create-body":
        print(json.dumps(create_body(args[0], args[1], args[2])))
    elif cmd == "b64url":
        print(policy_b64url(args[0]))
    elif cmd == "get":
        v = get_path(json.load(sys.stdin), args[0])
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "check-raw":
        check_raw(*args)
    elif cmd == "check-combined":
        check_combined(*args)
    elif cmd == "check-maa":
        check_maa(*args)
    elif cmd == "check-key":
        check_key(args[0], args[1], args[2] if len(args) > 2 and args[2] else None,
                  args[3] if len(args) > 3 else None)
    elif cmd == "check-error":
        check_error(args[0], args[1], *args[2:])
    elif cmd == "mint-expired":
        print(mint_expired(args[0], args[1]))
    else:
        fail("unknown subcommand " + cmd)


if __name__ == "__main__":
    main(sys.argv)
