#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<parser>/).

Seeds are small valid and near-valid inputs. JWS seeds are signed with the unit-test fixture
keys (tests/unit/shared/fixtures/), never with the keys of the JWK set embedded in
tests/fuzz/shared/jws_fuzz.c, whose private halves were discarded: those tokens must not verify.
SNP seeds derive from the public reports in ../shared/vectors (outside the repository).
ECDSA signatures are randomised, so re-running changes those files' bytes, not their meaning.
Usage: python3 tests/fuzz/corpus/gen_seeds.py   (needs python3-cryptography)
"""
import base64
import json
import os
import shutil

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "unit", "shared", "fixtures")
VECTORS = os.path.join(ROOT, "..", "shared", "vectors")

# x5c[0] of the "cert-1" entry in jws_fuzz.c (public certificate; its key was discarded).
ROOT_CERT_B64 = (
    "MIIBfzCCASWgAwIBAgIUV2XBfCTtXDNU8JWNSOmssSueP80wCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJZnV6ei1qd2tz"
    "MCAXDTI2MTEyNjIzNTk1N1oYDzIxMjYxMTAyMjM1OTU3WjAUMRIwEAYDVQQDDAlmdXp6LWp3a3MwWTATBgcqhkjOPQIB"
    "BggqhkjOPQMBBwNCAATbttlXBa3ko33m9imQdytsSdHuGVTYgSPOsA9DhXHKiWp8p8TUGxUXxSdFhJnTlqLuzqITn6VH"
    "5Flgp3Ozu5QAo1MwUTAdBgNVHQ4EFgQUbTW0u054utOHJ0egB1AMnAZaGF4wHwYDVR0jBBgwFoAUbTW0u054utOHJ0eg"
    "B1AMnAZaGF4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBT/fJgngKd/kpi3yJOVIvPV2YOsDFmlOWZ"
    "G5NQpX//iwIhAPZcfRIUcP5Izq2J2OLLUA+emKrlXj03ubxdq9v/xirK")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def write(parser, name, data):
    d = os.path.join(HERE, parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def reset(parser):
    shutil.rmtree(os.path.join(HERE, parser), ignore_errors=True)


def key(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


RSA = key("rsa2048.pem")
EC256 = key("ec_p256.pem")
EC384 = key("ec_p384.pem")


def sign(header, payload, k, alg):
    si = (b64u(compact(header)) + "." + b64u(payload)).encode()
    if alg.startswith("ES"):
        h, size = {"ES256": (hashes.SHA256(), 32), "ES384": (hashes.SHA384(), 48)}[alg]
        r, s = utils.decode_dss_signature(k.sign(si, ec.ECDSA(h)))
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg.startswith("PS"):
        sig = k.sign(si, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    else:
        sig = k.sign(si, padding.PKCS1v15(), hashes.SHA256())
    return si.decode() + "." + b64u(sig)


def base64_seeds():
    reset("base64")
    enc = base64.b64encode
    seeds = {
        "std_pad": b"\x00" + enc(b"hello world"),
        "url_pad": b"\x01" + base64.urlsafe_b64encode(b"\xfb\xff\xfe?>"),
        "std_nopad": b"\x02" + enc(b"hello wo").rstrip(b"="),
        "url_nopad_jose": b"\x03" + b64u(b'{"alg":"ES256","kid":"k"}').encode(),
        "lenient_ws": b"\x04" + b"aGVs\nbG8g\r\nd29y bGQ=\n",
        "lenient_mixed": b"\x05" + b"-_+/AAAA",
        "lenient_nopad_bits": b"\x06" + b"YR",
        "empty": b"\x00",
        "incomplete_pad": b"\x00" + b"YQ=",
        "trailing_bits": b"\x00" + b"YR==",
        "pad_in_nopad": b"\x03" + b"YQ==",
        "bad_char": b"\x00" + b"Zm9v!mFy",
        "garbage_after_pad": b"\x00" + b"YQ==YQ==",
        "nul_byte": b"\x02" + b"YW\x00J",
        "unknown_flag": b"\x08" + b"aGVsbG8=",
    }
    for name, data in seeds.items():
        write("base64", name, data)


def hex_seeds():
    reset("hex")
    seeds = {
        "bytes": "00ff7f80",
        "mixed_case": "DEADbeefCAFE",
        "measurement": "d447b55d197491bfe15cf298f9de9986b7a7c4be" * 2 + "00112233445566778899aabb",
        "odd": "abc",
        "bad_char": "0g",
        "space": "00 11",
        "empty": "",
        "nul": "00\x0011",
    }
    for name, data in seeds.items():
        write("hex", name, data)


def json_seeds():
    reset("json")
    seeds = {
        "object": '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
        "claims": '{"iss":"https://maa.test","exp":4102444800,"x-ms-isolation-tee":'
                  '{"x-ms-attestation-type":"sevsnpvm"},"kid":"k1","alg":"RS256"}',
        "escapes": '["\\u003c/script\\u003e","\\u2028\\u2029","\\ud83d\\ude00","tab\\t\\b\\f",'
                   '"<>&","\\/"]',
        "nul": '{"a":"x\\u0000y"}',
        "scalar": '"just a string"',
        "ints": '[9223372036854775807,-9223372036854775808,0,-0]',
        "int_overflow": '[9223372036854775808]',
        "real": '{"r":1.5e300}',
        "dup_keys": '{"a":1,"a":2}',
        "trailing": '{"a":1} x',
        "lone_surrogate": '["\\ud800"]',
        "bad_utf8": b'["\xc0\xaf", "\xff"]',
        "utf8": '{"\xc3\xa9t\xc3\xa9":"\xe2\x80\xa8"}'.encode("latin-1"),
        "deep_ok": "[" * 32 + "]" * 32,
        "deep_over": "[" * 33 + "]" * 33,
        "brackets_in_string": '{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
        "truncated": '{"a":[1,2',
    }
    for name, data in seeds.items():
        write("json", name, data)


JWS_PAYLOAD = b'{"iss":"https://fuzz.test","exp":4102444800,"aud":"api://fuzz"}'


def jws_seeds():
    reset("jws")
    p = JWS_PAYLOAD
    seeds = {
        "rs256_rsa1": sign({"alg": "RS256", "kid": "rsa-1"}, p, RSA, "RS256"),
        "rs256_rsa_any": sign({"alg": "RS256", "kid": "rsa-any", "typ": "JWT"}, p, RSA, "RS256"),
        "ps256_rsa_any": sign({"alg": "PS256", "kid": "rsa-any"}, p, RSA, "PS256"),
        "es256_ec256": sign({"alg": "ES256", "kid": "ec-256"}, p, EC256, "ES256"),
        "es384_ec384": sign({"alg": "ES384", "kid": "ec-384"}, p, EC384, "ES384"),
        "es256_x5c_entry": sign({"alg": "ES256", "kid": "cert-1"}, p, EC256, "ES256"),
        "es256_x5c_header": sign({"alg": "ES256", "x5c": [ROOT_CERT_B64]}, p, EC256, "ES256"),
        "dup_kid": sign({"alg": "ES256", "kid": "dup"}, p, EC256, "ES256"),
        "enc_key": sign({"alg": "RS256", "kid": "enc-1"}, p, RSA, "RS256"),
        "oct_key": sign({"alg": "RS256", "kid": "oct-1"}, p, RSA, "RS256"),
        "no_kid": sign({"alg": "RS256"}, p, RSA, "RS256"),
        "unknown_kid": sign({"alg": "ES256", "kid": "nope"}, p, EC256, "ES256"),
        "alg_none": b64u(b'{"alg":"none","kid":"rsa-1"}') + "." + b64u(p) + ".AA",
        "alg_hs256": b64u(b'{"alg":"HS256","kid":"rsa-1"}') + "." + b64u(p) + "." + "A" * 43,
        "crit": b64u(b'{"alg":"RS256","crit":["exp"]}') + "." + b64u(p) + ".AAAA",
        "two_segments": b64u(b'{"alg":"RS256"}') + "." + b64u(p),
        "padded": base64.urlsafe_b64encode(b'{"alg":"RS256"}').decode() + ".e30.AAAA",
        "header_array": b64u(b'["alg"]') + ".e30.AAAA",
        "empty_payload": b64u(b'{"alg":"ES256","kid":"ec-256"}') + "..AAAA",
    }
    for name, data in seeds.items():
        write("jws", name, data)


def jwt_claims_seeds():
    reset("jwt_claims")
    iss = "https://sharedeus.eus.attest.azure.net"
    aud = "api://AzureADTokenExchange"
    seeds = {
        "valid": {"iss": iss, "aud": aud, "exp": 1700000600, "nbf": 1699999000,
                  "iat": 1699999000},
        "aud_array": {"iss": iss, "aud": ["x", aud], "exp": 1700000600},
        "expired": {"iss": iss, "aud": aud, "exp": 1699990000},
        "expired_in_skew": {"iss": iss, "aud": aud, "exp": 1699999950},
        "not_yet": {"iss": iss, "aud": aud, "exp": 1800000000, "nbf": 1700000100},
        "future_iat": {"iss": iss, "aud": aud, "exp": 1800000000, "iat": 1700009999},
        "real_times": {"iss": iss, "aud": aud, "exp": 1700000600.9, "nbf": -1.5},
        "huge_exp": {"iss": iss, "aud": aud, "exp": 9007199254740993},
        "string_exp": {"iss": iss, "aud": aud, "exp": "1700000600"},
        "wrong_iss": {"iss": iss + "/", "aud": aud, "exp": 1700000600},
        "aud_bad_entry": {"iss": iss, "aud": [1, aud], "exp": 1700000600},
        "no_exp": {"iss": iss, "aud": aud},
    }
    for name, obj in seeds.items():
        write("jwt_claims", name, compact(obj))
    write("jwt_claims", "array_root", b"[1,2]")
    write("jwt_claims", "min_int_exp", b'{"exp":-9223372036854775808,"nbf":9223372036854775807}')


def rsa_jwk(k, **extra):
    n = k.public_key().public_numbers()
    jwk = {"kty": "RSA", "n": b64u(n.n.to_bytes(256, "big")), "e": b64u(n.e.to_bytes(3, "big"))}
    jwk.update(extra)
    return jwk


def ec_jwk(k, crv, size, **extra):
    n = k.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": crv, "x": b64u(n.x.to_bytes(size, "big")),
           "y": b64u(n.y.to_bytes(size, "big"))}
    jwk.update(extra)
    return jwk


def jwks_seeds():
    reset("jwks")
    fx_rsa = rsa_jwk(RSA, kid="fx-rsa", use="sig", alg="RS256", key_ops=["verify"])
    fx_ec = ec_jwk(EC256, "P-256", 32, kid="fx-ec")
    p384 = ec_jwk(EC384, "P-384", 48, kid="p384")
    off_curve = dict(fx_ec, y=b64u(bytes(31) + b"\x01"))
    short_x = dict(fx_ec, x=fx_ec["x"][:-2])
    lead_zero = dict(fx_rsa, n="AAAA" + fx_rsa["n"], kty="RSA-HSM")
    sets = {
        "both_verify": [fx_rsa, fx_ec],
        "hsm_and_p384": [lead_zero, dict(p384, kty="EC-HSM")],
        "x5c_only": [{"kid": "fx-ec", "kty": "EC", "x5c": [ROOT_CERT_B64]}],
        "dup_kid": [fx_ec, dict(p384, kid="fx-ec")],
        "alg_mismatch": [dict(fx_rsa, alg="PS256"), dict(fx_ec, use="enc")],
        "bad_points": [off_curve, short_x],
        "oct": [{"kty": "oct", "k": b64u(b"0123456789abcdef"), "key_size": 128},
                {"kty": "oct-HSM", "k": ""}],
        "key_ops": [dict(fx_ec, key_ops=["sign", "bogus"]), dict(fx_rsa, key_ops="verify")],
        "small_rsa": [{"kty": "RSA", "kid": "fx-rsa", "n": b64u(b"\xc1" * 64), "e": "AQAB"}],
        "even_e": [dict(fx_rsa, e="AAI")],
        "unknown_kty": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}, 5, None, "x"],
    }
    for name, keys in sets.items():
        write("jwks", name, compact({"keys": keys}))
    write("jwks", "bare_jwk", compact(fx_ec))
    write("jwks", "keys_not_array", b'{"keys":{}}')


def snp_seeds():
    reset("snp_report")
    with open(os.path.join(VECTORS, "snp-milan-virtee", "report.hex")) as f:
        milan = bytes.fromhex(f.read().strip())
    with open(os.path.join(VECTORS, "snp-vlek-trustee", "report.bin"), "rb") as f:
        vlek = f.read()
    assert len(milan) == 1184 and len(vlek) == 1184

    def patch(b, off, new):
        return b[:off] + new + b[off + len(new):]

    write("snp_report", "milan_v2", milan)
    write("snp_report", "vlek_v3", vlek)
    write("snp_report", "v5_mit_vectors",
          patch(patch(vlek, 0, b"\x05"), 0x1F8, (3).to_bytes(8, "little") * 2))
    write("snp_report", "v4", patch(vlek, 0, b"\x04"))
    write("snp_report", "v6", patch(vlek, 0, b"\x06"))
    write("snp_report", "v1", patch(milan, 0, b"\x01"))
    write("snp_report", "sig_algo_2", patch(milan, 0x34, b"\x02"))
    write("snp_report", "signing_key_none", patch(milan, 0x48, bytes([7 << 2])))
    write("snp_report", "signing_key_3", patch(milan, 0x48, bytes([3 << 2])))
    write("snp_report", "reserved_04c", patch(milan, 0x4C, b"\x01"))
    write("snp_report", "reserved_tail", patch(milan, 0x49F, b"\x01"))
    write("snp_report", "v2_with_cpuid", patch(milan, 0x188, b"\x19\x01\x01"))
    write("snp_report", "wide_r", patch(milan, 0x2A0 + 48, b"\x01"))
    write("snp_report", "truncated", milan[:1183])
    write("snp_report", "oversized", milan + b"\x00")
    write("snp_report", "turin_v2", patch(patch(milan, 0x1A0, b"\x11" * 8), 0x1A8, bytes(56)))


def connect_to_seeds():
    reset("connect_to")
    seeds = {
        "one": "login.microsoftonline.com:443:127.0.0.1:8443",
        "many": "a.test:443:127.0.0.1:1,b.test:80:localhost:65535,::c.test:",
        "any_host_port": "::127.0.0.1:9000",
        "ipv6": "[::1]:443:[fe80::1]:8443,[::ffff:127.0.0.1]::x:1",
        "port_zero": "a:0:b:1",
        "port_big": "a:65536:b:1",
        "three_fields": "a:443:b",
        "space": "a:443: b:1",
        "trailing_comma": "a:1:b:2,",
        "long_label": "a" * 64 + ".test:1:b:2",
        "unclosed_bracket": "[::1:443:b:2",
        "too_many": ",".join(["a:1:b:2"] * 65),
    }
    for name, data in seeds.items():
        write("connect_to", name, data)


def release_policy_seeds():
    reset("release_policy")
    hd = "91e00e3b9a71fb2ba15dfc184c2da52f7c78bb0e58b01c4628e90fb58f429fa5"
    with open(os.path.join(ROOT, "policies", "skr-release-policy.json")) as f:
        repo = f.read().replace("@HOSTDATA_SHA256_HEX@", hd).replace(
            "https://sharedeus.eus.attest.azure.net", "https://maa.test")

    def pol(conds, key="allOf", authority="https://maa.test"):
        return compact({"version": "1.0.0", "anyOf": [{"authority": authority, key: conds}]})

    def c(claim, op, val):
        return {"claim": claim, op: val}

    seeds = {
        "repo_policy": repo.encode(),
        "equals_lenient": pol([c("x-ms-sevsnpvm-is-debuggable", "equals", "FALSE"),
                               c("x-ms-sevsnpvm-vmpl", "equals", 0)]),
        "ordering": pol([c("x-ms-sevsnpvm-uvm-endorsement.x-ms-sevsnpvm-guestsvn",
                           "greaterOrEquals", 100), c("neg", "less", "0"),
                         c("big", "lessOrEquals", 9223372036854775807)], "anyOf"),
        "exists": pol([c("nullc", "exists", True), c("missing", "exists", False),
                       c("x-ms-runtime.keys", "exists", True)]),
        "nested_groups": pol([{"anyOf": [{"allOf": [c("weird", "notEquals", "x")]},
                                         c("long", "equals", "a")]}]),
        "case_keywords": compact({"VERSION": "1.0.0", "anyof": [{"Authority": "HTTPS://MAA.test/",
                                  "allof": [{"Claim": "x-ms-sevsnpvm-vmpl", "EQUALS": "0"}]}]}),
        "two_authorities": compact({"version": "1.0.0", "anyOf": [
            {"authority": "https://other.test", "allOf": [c("iss", "exists", True)]},
            {"authority": "https://maa.test/", "allOf": [c("realc", "equals", "1.5")]}]}),
        "bad_version": compact({"version": "0.2", "anyOf": []}),
        "unknown_op": pol([c("x-ms-sevsnpvm-vmpl", "equal", "0")]),
        "empty_allof": pol([]),
        "http_authority": pol([c("a", "exists", True)], authority="http://maa.test"),
        "authority_query": pol([c("a", "exists", True)], authority="https://maa.test/?x=1"),
        "empty_segment": pol([c("a..b", "exists", True)]),
        "dup_after_fold": b'{"version":"1.0.0","Version":"1.0.0","anyOf":[]}',
        "too_deep": pol([{"anyOf": [{"anyOf": [{"anyOf": [{"anyOf": [{"anyOf": [{"anyOf": [
            {"anyOf": [{"anyOf": [c("a", "exists", True)]}]}]}]}]}]}]}]}]),
        "not_json": b'{"version":"1.0.0",',
    }
    for name, data in seeds.items():
        write("release_policy", name, data)


if __name__ == "__main__":
    base64_seeds()
    hex_seeds()
    json_seeds()
    jws_seeds()
    jwt_claims_seeds()
    jwks_seeds()
    snp_seeds()
    connect_to_seeds()
    release_policy_seeds()
