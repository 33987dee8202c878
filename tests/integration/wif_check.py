#!/usr/bin/env python3
"""wif_check.py - JSON/JOSE checks for the gcp-wif integration scripts (python3 standard library
only, plus the openssl command line through skr_check.py's key parsing).

Every check prints nothing and exits 0 on success, or prints "FAIL: <why>" and exits 1.
Subcommands (see main()):
  endpoint FIELD                      endpoints.json (stdin) -> one field
  get DOTTED.PATH                     a value of the JSON document on stdin
  claims                              the claims of the JWT on stdin, as compact JSON
  check-attestation TOKEN AUD         a verifier token: RS256 with a kid, iss Google's verifier,
                                      aud AUD, gce submods of the emulator's VM, live exp
  check-key BODY PEM|RAW_FILE [raw]   /key/release answer {"key":"<JWK string>"} against the
                                      private key in PEM (or the raw symmetric key bytes)
  check-error BODY STATUS CODE PREFIX SUBSTRING...
                                      {"error":"PREFIX: ..."} containing every SUBSTRING, with
                                      the HTTP status CODE == STATUS
  add-provider CONFIG ID CONDITION    config.json: another provider in gemu-pool, a copy of the
                                      default one with another attribute condition
"""
import base64
import copy
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import skr_check  # noqa: E402  (jwk_from_pem, check_key, jwt_claims: the same JWK rules)

fail = skr_check.fail
ensure = skr_check.ensure

VERIFIER_ISS = "https://confidentialcomputing.googleapis.com"
GCE = {"project_id": "gemu-project", "project_number": "123456789012", "zone": "us-central1-a",
       "instance_name": "gemu-cvm", "instance_id": "7333251546816446069"}


def load(path):
    doc, _ = skr_check.load_json_file(path)
    return doc


def check_attestation(token, aud):
    hdr, claims, _ = skr_check.jwt_claims(token.strip())
    ensure(hdr.get("alg") == "RS256", "alg %r" % hdr.get("alg"))
    ensure(isinstance(hdr.get("kid"), str) and len(hdr["kid"]) == 40, "kid %r" % hdr.get("kid"))
    ensure(claims.get("iss") == VERIFIER_ISS, "iss %r" % claims.get("iss"))
    ensure(claims.get("aud") == aud, "aud %r, want %r" % (claims.get("aud"), aud))
    now = time.time()
    ensure(claims.get("exp", 0) > now + 60, "exp %r is not in the future" % claims.get("exp"))
    ensure(claims.get("iat", now + 120) <= now + 60, "iat %r in the future" % claims.get("iat"))
    ensure(claims.get("secboot") is True, "secboot %r" % claims.get("secboot"))
    gce = claims.get("submods", {}).get("gce", {})
    for k, v in GCE.items():
        ensure(gce.get(k) == v, "submods.gce.%s %r, want %r" % (k, gce.get(k), v))


def check_key(body_path, key_path, raw=False):
    if raw:
        with open(key_path, "rb") as f:
            data = f.read()
        doc = load(body_path)
        ensure(isinstance(doc.get("key"), str), "no key string: %r" % doc)
        jwk = json.loads(doc["key"])
        ensure(jwk == {"k": skr_check.b64url(data), "kty": "oct"},
               "oct JWK %r differs from the raw key" % doc["key"])
        ensure(doc["key"] == '{"k":"%s","kty":"oct"}' % skr_check.b64url(data),
               "JWK text not compact and sorted: %r" % doc["key"])
    expected = None
    if not raw:
        expected = key_path + ".jwk"
        with open(expected, "w") as f:
            json.dump(skr_check.jwk_from_pem(key_path), f)
    # Member set, sorted compact text, no kid, minimal integers, equal to the original.
    skr_check.check_key(body_path, expected)


def check_error(body_path, status, code, prefix, *subs):
    ensure(status == code, "HTTP status %s, want %s" % (status, code))
    with open(body_path, "rb") as f:
        raw = f.read()
    doc, _ = skr_check.load_json_file(body_path)
    ensure(isinstance(doc, dict) and list(doc) == ["error"] and isinstance(doc["error"], str),
           "not one {\"error\":\"...\"} object: %.300r" % raw)
    msg = doc["error"]
    ensure(msg.startswith(prefix + ": "), "error does not start with %r: %r" % (prefix, msg))
    for s in subs:
        ensure(s in msg, "error lacks %r: %r" % (s, msg))
    ensure("ya29." not in msg and "eyJ" not in msg, "a token in the error: %r" % msg)


def add_provider(config_path, pid, condition):
    with open(config_path) as f:
        cfg = json.load(f)
    pool = cfg["workloadIdentityPools"][0]
    prov = copy.deepcopy(pool["providers"][0])
    prov["name"] = prov["name"].rsplit("/", 1)[0] + "/" + pid
    prov["attributeCondition"] = condition
    pool["providers"].append(prov)
    with open(config_path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
    os.replace(config_path + ".tmp", config_path)


def main(argv):
    if len(argv) < 2:
        fail("usage: see the header of " + argv[0])
    cmd, args = argv[1], argv[2:]
    if cmd == "endpoint":
        print(json.load(sys.stdin)[args[0]])
    elif cmd == "get":
        v = skr_check.get_path(json.load(sys.stdin), args[0])
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "claims":
        print(json.dumps(skr_check.jwt_claims(sys.stdin.read().strip())[1],
                         separators=(",", ":")))
    elif cmd == "check-attestation":
        check_attestation(args[0], args[1])
    elif cmd == "check-key":
        check_key(args[0], args[1], len(args) > 2 and args[2] == "raw")
    elif cmd == "check-error":
        check_error(args[0], args[1], args[2], args[3], *args[4:])
    elif cmd == "add-provider":
        add_provider(args[0], args[1], args[2])
    else:
        fail("unknown subcommand " + cmd)


if __name__ == "__main__":
    main(sys.argv)
