#!/usr/bin/env python3
"""Writes the seed corpora of the second batch of fuzz targets (tests/fuzz/corpus/<parser>/):
azure-emu maa_request and maa_cose, skr gobind, sidecar_args, thim, unwrap and akv_jws, gcp-emu
eventlog, quote, instance_info, verifier_request and cel.

Seeds are small valid and near-valid inputs. Inputs that a target must never accept (COSE UVM
endorsements, release JWS, TPM quotes) carry the genuine public certificates or structures of
the target's trust root, whose private keys were discarded when they were made, and signatures
by the unit-test fixture keys (tests/unit/shared/fixtures/): they get as far as the signature
or chain check and no further. The unwrap seeds are genuine wraps under the fixture RSA key,
which unwrap_fuzz.c embeds. Signatures and OAEP are randomised, so re-running changes those
files' bytes, not their meaning.
Usage: python3 tests/fuzz/corpus/gen_seeds2.py   (needs python3-cryptography)
"""
import base64
import hashlib
import json
import os
import shutil
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "unit", "shared", "fixtures")
VECTORS = os.path.join(ROOT, "..", "shared", "vectors")

# The one leaf issued by FUZZ_ROOT of maa_cose_fuzz.c (EC P-384, EKU 1.3.6.1.4.1.311.76.59.1.2);
# its private key and the root's were discarded.
UVM_LEAF_B64 = (
    "MIIBzDCCAVKgAwIBAgIUds72kllhY4gPbUHEFSzD46FNL84wCgYIKoZIzj0EAwMwGDEWMBQGA1UEAwwNZnV6ei11dm0t"
    "cm9vdDAgFw0yNjExMjYwMDAwMDBaGA8yMTI2MTEwMTAwMDAwMFowGjEYMBYGA1UEAwwPZnV6ei11dm0tc2lnbmVyMHYw"
    "EAYHKoZIzj0CAQYFK4EEACIDYgAEUJs5bUqsHpznhbL7y+bo9bCfyK1L+F0irQPDZBqyVQAma5ij96hT0CeBeLJzLKgx"
    "GaJ0K4bGNH19lOv5PTYLHN/zIoQrXQUV4n7gHTXVfN2+XQr8cQuwAGE34FNKXLwjo1kwVzAMBgNVHRMBAf8EAjAAMA4G"
    "A1UdDwEB/wQEAwIHgDAWBgNVHSUEDzANBgsrBgEEAYI3TDsBAjAfBgNVHSMEGDAWgBRf7aA8t2gyjIGygo6RZy2ckjiO"
    "YTAKBggqhkjOPQQDAwNoADBlAjBXsxnwP9JTkLCn4NvyuY+iYrw4eVYpY4zKyua9bETDQOkOOR2Pu9sBywvdGAWty7oC"
    "MQCH861T6eB1F8nc2CmcQlkoW/vacl1ZZmMt+PmxooPYoGKpVi6cCIba7L/KSoSrvsE=")
UVM_DID = ("did:x509:0:sha256:Vz7bICj-ec-jPkYf-0C44YF4KwwKomU7BnGCorhqtqQ::eku:"
           "1.3.6.1.4.1.311.76.59.1.2")

# The one leaf issued by FUZZ_ROOT of akv_jws_fuzz.c (RSA-2048, for fuzz.vault.azure.net); its
# private key and the root's were discarded.
AKV_LEAF_B64 = (
    "MIICfDCCAiOgAwIBAgIUGR3VZUWF5tGYoNh1XHifk1HBzdYwCgYIKoZIzj0EAwIwGDEWMBQGA1UEAwwNZnV6ei1ha3Yt"
    "cm9vdDAgFw0yNjExMjYwMDAwMDBaGA8yMTI2MTEwMTAwMDAwMFowHzEdMBsGA1UEAwwUZnV6ei52YXVsdC5henVyZS5u"
    "ZXQwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDLzwoAYsmvfK1lVfKsH9K6mqSVQyWyLXIIU/ZcHt/X8Vu5"
    "JRCl6bPF4LPwioLABbuunonlD1dgIYOqpElCbuR/KV0fDxbXZ3tmyNcwdouFIl7U7wfv8zn2llHKkcvd7mPTAj+9Dhnc"
    "q0LxlA4jhgF+x+vA2Fkt4psOys07YNPyYzEHKsuUZfgY+oOOcDTj57DaO78PZztIVvGJblUsuNFeAJi51uy75uI/ujS4"
    "c/DBETtZC9NOccmb6u+QEUfJ2nrN9DmO4s60UiV3gt0YLsclvviAkMyx3CUsZBTqEP80cSjC3v7JgfU5CEWXWrRzNwxd"
    "tlzYPpFmynLO4JbulGu/AgMBAAGjdzB1MAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgWgMBMGA1UdJQQMMAoGCCsG"
    "AQUFBwMBMB8GA1UdIwQYMBaAFJMUB4Dn/zQo07NskfN2G215HU1jMB8GA1UdEQQYMBaCFGZ1enoudmF1bHQuYXp1cmUu"
    "bmV0MAoGCCqGSM49BAMCA0cAMEQCIBk+g63cChbmJMCmfeanVVJRGui5lIfOaDUPgbUpiB00AiBRe0iWtOrfs1nE26wC"
    "U3V6UIRhb33pGtwDP3KBCLwrXg==")
# A leaf for the fixture key rsa2048.pem (fuzz.vault.azure.net), issued by an untrusted CA whose
# key was discarded, and that CA.
AKV_UNTRUSTED_LEAF_B64 = (
    "MIICgjCCAiigAwIBAgIUUs8c6HRyOIkft8dQ7PLqzmYs+akwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSZnV6ei1ha3Yt"
    "dW50cnVzdGVkMCAXDTI2MTEyNjAwMDAwMFoYDzIxMjYxMTAxMDAwMDAwWjAfMR0wGwYDVQQDDBRmdXp6LnZhdWx0LmF6"
    "dXJlLm5ldDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAK5tERsKwLTEe5qiQLb1E35nlHTriF/OzaUf1NYd"
    "A5DoK48a1ttGTrE5h/VmNqcTddHnsbmHpzEUbovw9xuN7ZnsbvuIy0jHyXUDWysZnvUdqE06oMmhDZ89deZTnOa6lEPm"
    "54kXPodIb3SlTy1fnPvS1lfdjwzkpkw4PKGpKffxjDBgqDaSYTy/VMrslC1ym6dgaCNP84YgaUQJM6CJtaK8qMZeraVb"
    "gmNJo54HplF0F0/BMh7I59VxE+3eLj9f29eeJhoeumrMY0hrX21k8DbxozJa7X19kCOuvvjRsaQbspDRx0E7JulniFxf"
    "tlyJMFgxzJnpFYIpkUs8bJzE1bcCAwEAAaN3MHUwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCBaAwEwYDVR0lBAww"
    "CgYIKwYBBQUHAwEwHwYDVR0jBBgwFoAURh+mjbIlMUSLEfbSOdSqfbFy7rswHwYDVR0RBBgwFoIUZnV6ei52YXVsdC5h"
    "enVyZS5uZXQwCgYIKoZIzj0EAwIDSAAwRQIgG+ieu3VJGL2gsCzPglazOYTeh75Vt7Fa0pXYJQwH11gCIQCWWxIaKigZ"
    "izrhB60rjaIdvdjf5jqisoF3eLOF/0T/Ig==")
AKV_UNTRUSTED_CA_B64 = (
    "MIIBgDCCASagAwIBAgIUdo1Ch+dmiPKIvgKHgWe+80+DvIkwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSZnV6ei1ha3Yt"
    "dW50cnVzdGVkMCAXDTI2MTEyNjAwMDAwMFoYDzIxMjYxMTAxMDAwMDAwWjAdMRswGQYDVQQDDBJmdXp6LWFrdi11bnRy"
    "dXN0ZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARRmY+1hUPhjaMZSZ5LFCmgEmdftqKNp0qavbAp/tSd/ovGhw+/"
    "rOZkfku6+O6T8PdCWLRP2Eonw+y/kxw7LVEJo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNV"
    "HQ4EFgQURh+mjbIlMUSLEfbSOdSqfbFy7rswCgYIKoZIzj0EAwIDSAAwRQIhANc1eJTZgeptieZGUGphLkRp1JYPWJDo"
    "3kwoRSuFPqGmAiAevQGEMf5D2e57Dl8sKCd/JycJVMzr7jMqq1j6Qkxc0Q==")

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64s(b):
    return base64.b64encode(b).decode()


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


def der_of_pem(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        text = f.read().decode()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def snp_report():
    with open(os.path.join(VECTORS, "snp-milan-virtee", "report.hex")) as f:
        return bytes.fromhex("".join(f.read().split()))


# ---- CBOR (definite lengths, shortest heads unless told) ---------------------------------------

def cbor_head(major, n, width=None):
    if width is None:
        width = 0 if n < 24 else 1 if n < 0x100 else 2 if n < 0x10000 else 4 if n < 2**32 else 8
    if width == 0:
        return bytes([(major << 5) | n])
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([(major << 5) | ai]) + n.to_bytes(width, "big")


def cbor(v):
    if isinstance(v, bool):
        return bytes([0xf5 if v else 0xf4])
    if v is None:
        return bytes([0xf6])
    if isinstance(v, int):
        return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return cbor_head(3, len(b)) + b
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return cbor_head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


class Raw(bytes):
    """Pre-encoded CBOR spliced into a list."""


def cbor_list(items):
    return cbor_head(4, len(items)) + b"".join(x if isinstance(x, Raw) else cbor(x) for x in items)


# ---- azure-emu -----------------------------------------------------------------------------------

UVM_PAYLOAD = compact({"x-ms-sevsnpvm-guestsvn": "101",
                       "x-ms-sevsnpvm-launchmeasurement": "ab" * 48})


def cose_sign1(protected, payload=UVM_PAYLOAD, alg="ES384", unprot=None, tag=True, sig=None):
    prot = cbor(protected) if isinstance(protected, dict) else protected
    tbs = cbor_list(["Signature1", prot, b"", payload])
    if sig is None:
        if alg == "ES384":
            r, s = utils.decode_dss_signature(EC384.sign(tbs, ec.ECDSA(hashes.SHA384())))
            sig = r.to_bytes(48, "big") + s.to_bytes(48, "big")
        else:
            sig = RSA.sign(tbs, padding.PSS(padding.MGF1(hashes.SHA384()), 48), hashes.SHA384())
    body = cbor_list([prot, Raw(cbor(unprot if unprot is not None else {})), payload, sig])
    return (cbor_head(6, 18) + body) if tag else body


def uvm_header(extra=None, **over):
    h = {1: -35, 33: base64.b64decode(UVM_LEAF_B64), "iss": UVM_DID,
         "feed": "ContainerPlat-AMD-UVM"}
    for k, v in list(over.items()) + list((extra or {}).items()):
        k = {"alg": 1, "x5": 33}.get(k, k)
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    return h


def maa_cose_seeds():
    reset("maa_cose")
    leaf = base64.b64decode(UVM_LEAF_B64)
    seeds = {
        "es384_genuine_chain": cose_sign1(uvm_header()),
        "es384_untagged": cose_sign1(uvm_header(), tag=False),
        "ps384": cose_sign1(uvm_header(alg=-37), alg="PS384"),
        "x5chain_array": cose_sign1(uvm_header(x5=[leaf, der_of_pem("ca.pem")])),
        "no_iss": cose_sign1(uvm_header(iss=None)),
        "wrong_iss": cose_sign1(uvm_header(iss="did:x509:0:sha256:AAAA::eku:1.2.3")),
        "wrong_feed": cose_sign1(uvm_header(feed="ContainerPlat-AMD-UVX")),
        "no_feed": cose_sign1(uvm_header(feed=None)),
        "untrusted_leaf": cose_sign1(uvm_header(x5=der_of_pem("server.pem"))),
        "alg_es256": cose_sign1(uvm_header(alg=-7)),
        "alg_positive": cose_sign1(uvm_header(alg=1)),
        "extra_headers": cose_sign1(uvm_header({"kid": b"k1", 4: b"kid", -70000: [1, {"a": [True]}],
                                                 "svn": 7})),
        "unprotected_items": cose_sign1(uvm_header(), unprot={"timestamp": b"\x01" * 8, 4: "x"}),
        "bad_payload": cose_sign1(uvm_header(), payload=b'{"x-ms-sevsnpvm-guestsvn":3}'),
        "empty_protected": cose_sign1(b"\x40"),
        "trailing": cose_sign1(uvm_header()) + b"\x00",
        "wrong_tag": cbor_head(6, 98) + cose_sign1(uvm_header(), tag=False),
        "array_of_3": cbor_list([cbor(uvm_header()), {}, UVM_PAYLOAD]),
        "indefinite": bytes([0xd2, 0x9f, 0x40, 0xa0, 0x40, 0x40, 0xff]),
        "long_heads": cbor_head(6, 18, 8) + cbor_head(4, 4, 4) + cbor_head(2, 1, 2) + b"\xa0" +
        cbor_head(5, 0, 1) + cbor_head(2, 0, 8) + cbor_head(2, 0, 1),
        "deep_unprotected": cbor_head(6, 18) + cbor_list([b"\xa0", Raw(b"\xa1\x01" + b"\x81" * 12 +
                                                                     b"\x00"), b"", b""]),
        "huge_count": bytes([0xd2, 0x84, 0x40, 0xbb]) + b"\xff" * 8,
        "empty": b"",
    }
    for name, data in seeds.items():
        write("maa_cose", name, data)


def maa_request_seeds():
    reset("maa_request")
    report = snp_report()
    chain = (b"-----BEGIN CERTIFICATE-----\nMIIBfuzz\n-----END CERTIFICATE-----\n")
    cose = cose_sign1(uvm_header(), payload=b"{}")[:200]

    def inner(**over):
        d = {"SnpReport": b64u(report), "VcekCertChain": b64u(chain)}
        d.update(over)
        return b64u(compact({k: v for k, v in d.items() if v is not None}))

    def req(nonce='"1234"', **over):
        d = {"report": inner(),
             "runtimeData": {"data": b64u(compact({"keys": [{"kty": "RSA", "kid": "k"}]})),
                             "dataType": "JSON"},
             "initTimeData": {"data": "", "dataType": ""}}
        d.update(over)
        d = {k: v for k, v in d.items() if v is not None}
        text = compact(d)
        if nonce is not None:
            text = text[:-1] + b',"nonce":' + nonce.encode() + b"}"
        return text

    endorse = b64u(compact({"Uvm": [b64u(cose)]}))
    seeds = {
        "sidecar_bare_nonce": req(nonce="18446744073709551615"),
        "string_nonce": req(),
        "no_nonce": req(nonce=None),
        "nonce_21_digits": req(nonce="123456789012345678901"),
        "nonce_leading_zero": req(nonce="0123"),
        "nonce_negative": req(nonce="-1"),
        "nonce_real": req(nonce="1.5e3"),
        "nonce_in_nested": b'{"x":{"nonce":12},' + req(nonce=None)[1:],
        "nonce_key_in_string": req(nonce='"a\\"nonce\\":5"'),
        "endorsements": req(report=inner(Endorsements=endorse)),
        "endorsements_empty": req(report=inner(Endorsements="")),
        "endorsements_two": req(report=inner(Endorsements=b64u(compact({"Uvm": ["AA", "AA"]})))),
        "binary_runtime": req(runtimeData={"data": b64s(b"\x00\x01binary"), "dataType": "Binary"},
                              initTimeData={"data": b64u(b"\x11" * 32), "dataType": "binary"}),
        "runtime_json_array": req(runtimeData={"data": b64u(b"[1,2]"), "dataType": "JSON"}),
        "runtime_bad_type": req(runtimeData={"data": b64u(b"{}"), "dataType": "XML"}),
        "runtime_null": b'{"report":"' + inner().encode() + b'","runtimeData":null}',
        "short_report": req(report=inner(SnpReport=b64u(report[:1000]))),
        "padded_std_b64": req(report=base64.b64encode(compact(
            {"SnpReport": b64s(report), "VcekCertChain": b64s(chain)})).decode()),
        "draft_policy": req(draftPolicyForAttestation="version=1.0;"),
        "bad_b64": req(report="!!!!"),
        "report_not_object": req(report=b64u(b"[]")),
        "not_object": b"[1]",
        "empty": b"",
    }
    for name, data in seeds.items():
        write("maa_request", name, data)


# ---- skr -----------------------------------------------------------------------------------------

def gobind_seeds():
    reset("gobind")
    seeds = {
        "raw_attest": '{"runtime_data":"eyJrZXlzIjpbXX0="}',
        "maa_attest": '{"maa_endpoint":"sharedeus.eus.attest.azure.net","runtime_data":"e30="}',
        "key_release": '{"maa_endpoint":"sharedeus.eus.attest.azure.net","akv_endpoint":'
                       '"fuzz.vault.azure.net","kid":"key-1","access_token":"eyJ0eXAi.x.y"}',
        "folded_keys": '{"Runtime_Data":"a","MAA_ENDPOINT":"m","KiD":"k","akv_endpoint":"v"}',
        "later_wins": '{"kid":"a","KID":"b","kid":"c","maa_endpoint":"m","akv_endpoint":"v"}',
        "null_values": '{"runtime_data":null,"kid":null}',
        "number_value": '{"runtime_data":12,"kid":[1],"maa_endpoint":{"a":1}}',
        "empty_required": '{"runtime_data":"","maa_endpoint":""}',
        "array_root": '[{"runtime_data":"x"}]',
        "null_root": 'null',
        "string_root": '"x"',
        "trailing": '{"runtime_data":"a"} garbage',
        "two_values": '{"runtime_data":"a"}{"kid":"b"}',
        "escapes": '{"runtime_data":"\\u00e9\\ud83d\\ude00\\n\\/\\"\\\\","kid":"\\u0000x"}',
        "lone_surrogate": '{"runtime_data":"\\ud800\\u0041","kid":"\\udc00"}',
        "invalid_utf8": b'{"runtime_data":"\xff\xc0\xaf\xed\xa0\x80ok"}',
        "unknown_nested": '{"x":{"y":[1,2,{"z":null}],"w":true},"runtime_data":"r"}',
        "deep": '{"x":' + "[" * 40 + "]" * 40 + ',"runtime_data":"r"}',
        "truncated": '{"runtime_data":"a',
        "truncated_key": '{"runt',
        "bad_literal": '{"runtime_data":tru}',
        "bad_number": '{"runtime_data":-01.e}',
        "control_in_string": b'{"runtime_data":"a\x01b"}',
        "bad_escape": '{"runtime_data":"\\x41"}',
        "ws_only": " \t\r\n",
        "empty": "",
        "bom": b'\xef\xbb\xbf{"runtime_data":"x"}',
    }
    for name, data in seeds.items():
        write("gobind", name, data)


SIDECAR_ARGS = {"certcache": {"endpoint": "americas.test.acccache.azure.net",
                              "tee_type": "SevSnpVM",
                              "api_version": "api-version=2020-10-15-preview",
                              "endpoint_type": "AzCache"},
                "identity": {"client_id": "00000000-0000-0000-0000-000000000001"},
                "maaconfig": {"user_agent": "skr-fuzz/1.0"}}


def sidecar_args_seeds():
    reset("sidecar_args")
    text = compact(SIDECAR_ARGS)
    seeds = {
        "b64_full": b"\x00" + base64.b64encode(text),
        "b64_crlf": b"\x00" + base64.b64encode(text)[:40] + b"\r\n" + base64.b64encode(text)[40:],
        "b64_nopad": b"\x00" + base64.b64encode(b'{"a":1}').rstrip(b"="),
        "b64_url_alphabet": b"\x00" + base64.urlsafe_b64encode(b'{"identity":{"client_id":"??>"}}'),
        "b64_bad_char": b"\x00" + b"eyJh*GI=",
        "b64_empty": b"\x00",
        "json_full": b"\x01" + text,
        "json_amd": b"\x01" + compact({"certcache": {"endpoint_type": "AMD"}}),
        "json_local_thim": b"\x01" + compact({"CertCache": {"Endpoint_Type": "LocalTHIM",
                                                           "endpoint": "169.254.169.254"}}),
        "json_unknown_type": b"\x01" + compact({"certcache": {"endpoint_type": "Nope"}}),
        "json_exact_and_folded": b"\x01" + b'{"CERTCACHE":{"endpoint":"a"},"certcache":null}',
        "json_null_members": b"\x01" + b'{"certcache":{"endpoint":null},"identity":null}',
        "json_type_mismatch": b"\x01" + b'{"certcache":{"endpoint":5}}',
        "json_struct_mismatch": b"\x01" + b'{"identity":"x"}',
        "json_null_root": b"\x01" + b"null",
        "json_array_root": b"\x01" + b"[]",
        "json_scalar_root": b"\x01" + b"true",
        "json_nul_escape": b"\x01" + b'{"maaconfig":{"user_agent":"a\\u0000b"}}',
        "json_bad": b"\x01" + b'{"certcache":',
        "json_empty_object": b"\x01" + b"{}",
    }
    for name, data in seeds.items():
        write("sidecar_args", name, data)


THIM = {"vcekCert": "-----BEGIN CERTIFICATE-----\nMIIFfuzz\n-----END CERTIFICATE-----\n",
        "tcbm": "DB18000000000004",
        "certificateChain": "-----BEGIN CERTIFICATE-----\nASK\n-----END CERTIFICATE-----\n"
                            "-----BEGIN CERTIFICATE-----\nARK\n-----END CERTIFICATE-----\n",
        "cacheControl": "86400"}


def thim_seeds():
    reset("thim")

    def th(**over):
        d = dict(THIM)
        d.update(over)
        return compact({k: v for k, v in d.items() if v is not None})

    seeds = {
        "raw": b"\x00" + th(),
        "b64": b"\x01" + base64.b64encode(th()),
        "b64_crlf": b"\x01" + base64.b64encode(th())[:60] + b"\n" + base64.b64encode(th())[60:],
        "lower_hex": b"\x00" + th(tcbm="db18000000000004"),
        "leading_zeros": b"\x00" + th(tcbm="0000000000000000001"),
        "tcbm_max": b"\x00" + th(tcbm="FFFFFFFFFFFFFFFF"),
        "tcbm_overflow": b"\x00" + th(tcbm="10000000000000000"),
        "tcbm_prefix": b"\x00" + th(tcbm="0x12"),
        "tcbm_empty": b"\x00" + th(tcbm=""),
        "tcbm_missing": b"\x00" + th(tcbm=None),
        "no_chain": b"\x00" + th(certificateChain=None),
        "empty_vcek": b"\x00" + th(vcekCert=""),
        "folded_keys": b"\x00" + compact({"VCEKCERT": "v", "TCBM": "1", "CertificateChain": "c"}),
        "number_member": b"\x00" + th(cacheControl=86400),
        "null_member": b"\x00" + th(cacheControl=None).replace(b"}", b',"cacheControl":null}'),
        "array": b"\x00" + b"[]",
        "b64_invalid": b"\x01" + b"e30",
        "b64_of_garbage": b"\x01" + base64.b64encode(b"\x00\xff"),
        "empty": b"\x00",
    }
    for name, data in seeds.items():
        write("thim", name, data)


def unwrap_seeds():
    reset("unwrap")
    pub = RSA.public_key()
    hashes_ = [hashes.SHA1(), hashes.SHA256(), hashes.SHA384()]
    kek = bytes(range(0x20, 0x40))
    oct_key = bytes(range(32))
    rsa_der = key("rsa1024.pem").private_bytes(serialization.Encoding.DER,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption())
    ec_der = EC256.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def wrap(enc, material, kek_len=32, kty=0, ops=False):
        h = hashes_[enc]
        k = kek[:kek_len]
        ct = pub.encrypt(k, padding.OAEP(padding.MGF1(h), h, None))
        wrapped = aes_key_wrap_with_padding(k, material) if kek_len in (16, 24, 32) else b"\0" * 16
        return bytes([enc | (kty << 5) | (0x80 if ops else 0)]) + ct + wrapped

    fixed_kek = bytes([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                       0xcc, 0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                       0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10])

    def kwp(sel_len, material):
        n = [16, 24, 32][sel_len]
        return bytes([0x04 | (sel_len << 3)]) + aes_key_wrap_with_padding(fixed_kek[:n], material)

    good = wrap(1, oct_key)
    seeds = {
        "sha1_oct": wrap(0, oct_key),
        "sha256_oct_hsm_ops": wrap(1, oct_key, kty=1, ops=True),
        "sha384_kek16": wrap(2, b"\x42" * 20, kek_len=16),
        "kek24_odd_len": wrap(1, b"\x07" * 13, kek_len=24),
        "one_byte_key": wrap(1, b"\x01", kty=0),
        "rsa_hsm": wrap(1, rsa_der, kty=2, ops=True),
        "ec_hsm": wrap(0, ec_der, kty=3),
        "ec_material_as_rsa": wrap(1, ec_der, kty=2),
        "kek_20_bytes": wrap(1, oct_key, kek_len=20),
        "bad_enc": bytes([3]) + good[1:],
        "wrong_hash": bytes([2]) + good[1:],
        "tampered_kwp": good[:-1] + bytes([good[-1] ^ 1]),
        "tampered_oaep": good[:10] + bytes([good[10] ^ 1]) + good[11:],
        "short_ct": good[:200],
        "no_kwp": good[:257],
        "kwp_not_block": good[:-3],
        "kwp128": kwp(0, b"\x10" * 16),
        "kwp192_odd": kwp(1, b"\x99" * 9),
        "kwp256_one_block": kwp(2, b"abc"),
        "kwp_kek20": bytes([0x04 | (3 << 3)]) + aes_key_wrap_with_padding(fixed_kek[:16], b"x" * 8),
        "kwp_bad_aiv": bytes([0x04]) + b"\x00" * 24,
        "kwp_short": bytes([0x04]) + b"\x00" * 8,
        "empty": b"",
    }
    for name, data in seeds.items():
        write("unwrap", name, data)


def jws_rs(header, payload, k=None, alg="RS256"):
    si = (b64u(compact(header)) + "." + b64u(payload)).encode()
    k = k or RSA
    if alg.startswith("PS"):
        sig = k.sign(si, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    elif alg.startswith("ES"):
        r, s_ = utils.decode_dss_signature(k.sign(si, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
    else:
        sig = k.sign(si, padding.PKCS1v15(), hashes.SHA256())
    return si.decode() + "." + b64u(sig)


def akv_jws_seeds():
    reset("akv_jws")
    key_hsm = b64u(compact({"schema_version": "1.0", "header": {"kid": "fuzz", "alg": "dir",
                                                                "enc": "CKM_RSA_AES_KEY_WRAP"},
                            "ciphertext": b64u(b"\x01" * 300)}))
    payload = compact({"request": {"api-version": "7.4", "enc": "CKM_RSA_AES_KEY_WRAP",
                                   "kid": "https://fuzz.vault.azure.net/keys/k/1"},
                       "response": {"key": {"key": {"kid": "https://fuzz.vault.azure.net/keys/k/1",
                                                    "kty": "RSA-HSM", "key_ops": ["encrypt"],
                                                    "key_hsm": key_hsm},
                                            "attributes": {"enabled": True, "exportable": True}}}})
    trusted = [AKV_LEAF_B64]
    untrusted = [AKV_UNTRUSTED_LEAF_B64, AKV_UNTRUSTED_CA_B64]
    seeds = {
        "rs256_genuine_chain": jws_rs({"alg": "RS256", "x5c": trusted}, payload),
        "rs256_untrusted_chain": jws_rs({"alg": "RS256", "x5c": untrusted}, payload),
        "ps256_genuine_chain": jws_rs({"alg": "PS256", "x5c": trusted}, payload, alg="PS256"),
        "rs256_chain_with_extra": jws_rs({"alg": "RS256", "x5c": trusted + untrusted}, payload),
        "es256_alg": jws_rs({"alg": "ES256", "x5c": trusted}, payload, k=EC256, alg="ES256"),
        "none_alg": b64u(b'{"alg":"none","x5c":["' + AKV_LEAF_B64.encode() + b'"]}') + "." +
        b64u(payload) + ".",
        "no_x5c": jws_rs({"alg": "RS256"}, payload),
        "x5c_not_b64": jws_rs({"alg": "RS256", "x5c": ["%%%"]}, payload),
        "x5c_not_der": jws_rs({"alg": "RS256", "x5c": [b64s(b"\x30\x03\x02\x01\x01")]}, payload),
        "x5c_ec_leaf": jws_rs({"alg": "RS256", "x5c": [UVM_LEAF_B64]}, payload),
        "header_not_json": "bm90IGpzb24." + b64u(payload) + ".AAAA",
        "header_array": b64u(b"[1]") + "." + b64u(payload) + ".AAAA",
        "two_parts": "eyJhbGciOiJSUzI1NiJ9." + b64u(payload),
        "four_parts": "a.b.c.d",
        "empty": "",
    }
    for name, data in seeds.items():
        write("akv_jws", name, data)

# ---- gcp-emu -------------------------------------------------------------------------------------

ALGS = {0x0004: hashlib.sha1, 0x000B: hashlib.sha256, 0x000C: hashlib.sha384,
        0x000D: hashlib.sha512}
EFI_GLOBAL = bytes([0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98,
                    0x03, 0x2b, 0x8c])


def spec_id(algs, major=2, vendor=b""):
    e = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, major, 0, 2, len(algs))
    for a in algs:
        e += struct.pack("<HH", a, ALGS[a]().digest_size if a in ALGS else 32)
    e += bytes([len(vendor)]) + vendor
    return struct.pack("<II", 0, 3) + b"\0" * 20 + struct.pack("<I", len(e)) + e


def event2(algs, pcr, etype, data, digest=None):
    out = struct.pack("<III", pcr, etype, len(algs))
    for a in algs:
        out += struct.pack("<H", a) + (digest if digest is not None else ALGS[a](data).digest())
    return out + struct.pack("<I", len(data)) + data


def ucs2(text):
    return text.encode("utf-16-le") + b"\0\0"


def gce_log(algs, fw=1, tech=4, sb=True, forge=None):
    nonhost = b"GCE NonHostInfo\0" + bytes([tech]) + b"\0" * 15
    sbvar = EFI_GLOBAL + struct.pack("<QQ", 10, 1) + "SecureBoot".encode("utf-16-le") + \
        bytes([1 if sb else 0])
    recs = [(0, 0x8, ucs2("GCE Virtual Firmware v%d" % fw)), (0, 0x11, nonhost),
            (0, 0x80000008, b"\x00" * 16), (7, 0x80000001, sbvar), (1, 0x80000002, b"boot"),
            (4, 0x80000007, b"Calling EFI Application from Boot Option")]
    recs += [(i, 4, b"\0\0\0\0") for i in range(8)]
    recs.append((4, 0x80000003, b"\x01" * 40))
    out = spec_id(algs)
    for pcr, t, d in recs:
        dg = None
        if forge == t:
            dg = b"\x5a" * ALGS[algs[0]]().digest_size
            out += event2(algs[:1], pcr, t, d, dg) if len(algs) == 1 else b""
            continue
        out += event2(algs, pcr, t, d)
    return out


def eventlog_seeds():
    reset("eventlog")
    s256 = [0x000B]
    both = [0x0004, 0x000B]
    all4 = [0x0004, 0x000B, 0x000C, 0x000D]
    log = gce_log(s256)
    seeds = {
        "spec_tiny_fw7_snp_sb_all": bytes([7, 4, 0x1f]),
        "spec_sev_es_sha1": bytes([1, 2, 0x02]),
        "spec_empty": b"",
        "gce_sha256": log,
        "gce_sha1_sha256": gce_log(both, fw=2, tech=3, sb=False),
        "gce_all_banks": gce_log(all4, fw=12345),
        "forged_nonhost": gce_log(s256, forge=0x11),
        "forged_crtm": gce_log(s256, forge=0x8),
        "second_nonhost": log + event2(s256, 0, 0x11, b"GCE NonHostInfo\0\x01" + b"\0" * 15),
        "nonhost_pcr1": spec_id(s256) + event2(s256, 1, 0x11,
                                               b"GCE NonHostInfo\0\x04" + b"\0" * 15),
        "odd_crtm": spec_id(s256) + event2(s256, 0, 0x8, b"GCE Virtual Firmware vX\0"),
        "no_action_record": spec_id(s256) + event2(s256, 3, 3, b"StartupLocality\0\x03"),
        "spec_only": spec_id(s256),
        "truncated": log[:-5],
        "pcr_24": spec_id(s256) + event2(s256, 24, 4, b"\0\0\0\0"),
        "digest_out_of_order": spec_id(both) + event2(list(reversed(both)), 0, 4, b"\0\0\0\0"),
        "spec_major_1": spec_id(s256, major=1),
        "spec_dup_alg": spec_id([0x000B, 0x000B]),
        "spec_unknown_alg": spec_id([0x0012]),
        "spec_vendor": spec_id(s256, vendor=b"vendor-info") + event2(s256, 5, 4, b"\0\0\0\0"),
        "huge_event_size": spec_id(s256) + struct.pack("<III", 0, 4, 1) + b"\x0b\x00" +
        b"\0" * 32 + struct.pack("<I", 0xfffffff0),
    }
    for name, data in seeds.items():
        write("eventlog", name, data)


def tpm2b(b):
    return struct.pack(">H", len(b)) + b


def tpms_attest(nonce, bank, pcrs, digest=None, magic=0xff544347, typ=0x8018, select=None,
                count=1, extra=b""):
    sel = select if select is not None else sum(1 << i for i in pcrs)
    body = struct.pack(">IH", magic, typ) + tpm2b(b"\x00\x0b" + b"\x11" * 32) + tpm2b(nonce)
    body += struct.pack(">QIIB", 123456, 1, 0, 1) + struct.pack(">Q", 0x2023010100000000)
    body += struct.pack(">I", count) + b"".join(
        struct.pack(">HB", bank, 3) + sel.to_bytes(4, "little")[:3] for _ in range(count))
    if digest is None:
        digest = hashlib.sha256(b"".join(pcrs[i] for i in sorted(pcrs))).digest()
    return body + tpm2b(digest) + extra


def quote_input(sel, attest, pcrs, sig=None, mask=None):
    out = bytes([sel]) + struct.pack("<H", len(attest)) + attest
    if sig is not None:
        out += struct.pack("<H", len(sig)) + sig
    m = mask if mask is not None else sum(1 << i for i in pcrs)
    out += struct.pack("<I", m)
    return out + b"".join(pcrs[i] for i in sorted(pcrs))


def quote_seeds():
    reset("quote")
    nonce = b"fuzz-quote-nonce"
    banks = {0x0004: 0, 0x000B: 1, 0x000C: 2, 0x000D: 3}
    pcrs = {i: hashlib.sha256(bytes([i])).digest() for i in (0, 4, 7, 8, 9)}
    att = tpms_attest(nonce, 0x000B, pcrs)
    rsa_sig = struct.pack(">HH", 0x0014, 0x000B) + tpm2b(
        RSA.sign(att, padding.PKCS1v15(), hashes.SHA256()))
    r, s_ = utils.decode_dss_signature(EC256.sign(att, ec.ECDSA(hashes.SHA256())))
    ec_sig = struct.pack(">HH", 0x0018, 0x000B) + tpm2b(r.to_bytes(32, "big")) + \
        tpm2b(s_.to_bytes(32, "big"))
    b256 = banks[0x000B] << 1
    sha1_pcrs = {i: hashlib.sha1(bytes([i])).digest() for i in (0, 7)}
    seeds = {
        "rsassa_fixture_key": quote_input(b256, att, pcrs, sig=rsa_sig),
        "ecdsa_fixture_key": quote_input(b256 | 1, att, pcrs, sig=ec_sig),
        "ecdsa_sig_rsa_ak": quote_input(b256, att, pcrs, sig=ec_sig),
        "rsassa_sha1_hash": quote_input(b256, att, pcrs, sig=struct.pack(">HH", 0x0014, 0x0004) +
                                        tpm2b(b"\x01" * 256)),
        "rsapss_alg": quote_input(b256, att, pcrs, sig=struct.pack(">HH", 0x0016, 0x000B) +
                                  tpm2b(b"\x01" * 256)),
        "sig_trailing": quote_input(b256, att, pcrs, sig=rsa_sig + b"\0"),
        "ecdsa_long_r": quote_input(b256 | 1, att, pcrs, sig=struct.pack(">HH", 0x0018, 0x000B) +
                                    tpm2b(b"\x01" * 33) + tpm2b(b"\x01" * 32)),
        "bad_magic": quote_input(b256, tpms_attest(nonce, 0x000B, pcrs, magic=1), pcrs,
                                 sig=rsa_sig),
        "certify_type": quote_input(b256, tpms_attest(nonce, 0x000B, pcrs, typ=0x8017), pcrs,
                                    sig=rsa_sig),
        "attest_trailing": quote_input(b256, att + b"\0", pcrs, sig=rsa_sig),
        "self_ok": quote_input(b256 | 8, att, pcrs),
        "self_ok_sha1_bank": quote_input((banks[0x0004] << 1) | 8,
                                         tpms_attest(nonce, 0x0004, sha1_pcrs), sha1_pcrs),
        "self_ok_no_pcrs": quote_input(b256 | 8, tpms_attest(nonce, 0x000B, {}), {}),
        "self_wrong_nonce": quote_input(b256 | 8, tpms_attest(b"other-nonce-1234", 0x000B, pcrs),
                                        pcrs),
        "self_wrong_bank": quote_input((banks[0x000C] << 1) | 8, att, pcrs),
        "self_two_banks": quote_input(b256 | 8, tpms_attest(nonce, 0x000B, pcrs, count=2), pcrs),
        "self_mask_mismatch": quote_input(b256 | 8, att, pcrs, mask=0x91),
        "self_pcr_short": quote_input(b256 | 8, att, pcrs)[:-7],
        "self_digest_mismatch": quote_input(b256 | 8, tpms_attest(nonce, 0x000B, pcrs,
                                                                  digest=b"\0" * 32), pcrs),
        "self_select_pcr_24": quote_input(b256 | 8, tpms_attest(nonce, 0x000B, pcrs,
                                                                select=1 << 24 | 1), pcrs),
        "too_large": quote_input(b256, b"\0" * 2100, {}, sig=rsa_sig),
        "short": b"\x02\x05\x00ab",
    }
    for name, data in seeds.items():
        write("quote", name, data)


def der(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    elif n < 0x100:
        head = bytes([0x81, n])
    else:
        head = bytes([0x82, n >> 8, n & 0xff])
    return bytes([tag]) + head + body


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return der(0x02, b)


def instance_info(zone="us-central1-a", pnum=1234567890, pid="fuzz-project", iid=987654321987,
                  name="fuzz-vm", sec=(1, True), stag=0x0c, raw_sec=None):
    pnum = pnum if isinstance(pnum, bytes) else der_int(pnum)
    body = der(stag, zone.encode()) + pnum + der(stag, pid.encode()) + der_int(iid) + \
        der(stag, name.encode())
    if raw_sec is not None:
        body += raw_sec
    elif sec is not None:
        inner = b""
        if sec[0] is not None:
            inner += der(0xa0, der_int(sec[0]))
        if sec[1] is not None:
            inner += der(0xa1, der(0x01, b"\xff" if sec[1] else b"\x00"))
        body += der(0xa0, der(0x30, inner))
    return der(0x30, body)


def instance_info_seeds():
    reset("instance_info")
    good = instance_info()
    seeds = {
        "full": good,
        "printable_strings": instance_info(stag=0x13),
        "no_security": instance_info(sec=None),
        "empty_security": instance_info(sec=(None, None)),
        "version_only": instance_info(sec=(7, None)),
        "production_false": instance_info(sec=(None, False)),
        "int64_max": instance_info(pnum=2**63 - 1, iid=2**63 - 1),
        "int_over_int64": instance_info(pnum=2**63),
        "long_name": instance_info(name="n" * 127),
        "too_long_name": instance_info(name="n" * 128),
        "empty_zone": instance_info(zone=""),
        "nul_in_name": instance_info(name="a\0b"),
        "non_minimal_int": instance_info(pnum=der(0x02, b"\x00" + (1234567890).to_bytes(4, "big"))),
        "non_minimal_len": b"\x30\x81" + bytes([len(good) - 2]) + good[2:],
        "bad_bool": instance_info(raw_sec=der(0xa0, der(0x30, der(0xa1, der(0x01, b"\x01"))))),
        "security_reversed": instance_info(raw_sec=der(0xa0, der(0x30, der(0xa1, der(
            0x01, b"\xff")) + der(0xa0, der_int(1))))),
        "trailing": good + b"\0",
        "truncated": good[:-3],
        "negative_int": instance_info(pnum=der(0x02, b"\xff")),
        "high_tag": b"\x1f\x01\x00",
        "empty": b"",
    }
    for name, data in seeds.items():
        write("instance_info", name, data)
    # Decodes although instance ids must be positive: kept out of the corpus until the codec
    # is fixed (tests/fuzz/crashes/README.md, instance_info/zero_instance_id).
    with open(os.path.join(HERE, "..", "crashes", "instance_info", "zero_instance_id"), "wb") as f:
        f.write(instance_info(iid=0))


def verifier_request_seeds():
    reset("verifier_request")
    q = {"hashAlgo": "SHA256", "pcrValues": {"0": b64s(b"\0" * 32), "7": b64u(b"\x07" * 32)},
         "rawQuote": b64s(b"\x01" * 40), "rawSignature": b64s(b"\x02" * 40)}
    tpm = {"quotes": [q], "tcgEventLog": b64s(b"log"), "akCert": b64s(b"\x30\x00"),
           "certChain": [b64s(b"\x30\x00"), b64u(b"\x30\x01\x00")]}
    full = {"challenge": "projects/p/locations/us-central1/challenges/c1", "tpmAttestation": tpm,
            "gcpCredentials": {"serviceAccountIdTokens": ["eyJ.a.b"]},
            "tokenOptions": {"audience": "https://sts.googleapis.com",
                             "tokenType": "TOKEN_TYPE_OIDC", "nonce": ["nonce-0001", "nonce-0002"]}}
    snake = {"tpm_attestation": {"quotes": [{"hash_algo": 11, "pcr_values": {"23": "AA=="},
                                             "raw_quote": "AQ", "raw_signature": "Ag"}],
                                 "tcg_event_log": "bG9n", "canonical_event_log": "Y2Vs",
                                 "ak_cert": "MAA="},
             "options": {"audience": "a", "signatureType": 1,
                         "tokenProfile": "TOKEN_PROFILE_DEFAULT_EAT", "nonce": ["12345678"]}}

    def with_(base, path, value):
        d = json.loads(json.dumps(base))
        cur = d
        for k in path[:-1]:
            cur = cur[k]
        if value is None:
            del cur[path[-1]]
        else:
            cur[path[-1]] = value
        return compact(d)

    seeds = {
        "full": compact(full),
        "snake_case_cs": compact(snake),
        "both_spellings": compact(full)[:-1] + b',"token_options":{}}',
        "tdx": with_(full, ["tdCcel"], {"x": 1}),
        "sev_snp": with_(full, ["sevSnpAttestation"], {}),
        "pki_token": with_(full, ["tokenOptions", "tokenType"], 2),
        "unknown_token_type": with_(full, ["tokenOptions", "tokenType"], "TOKEN_TYPE_X"),
        "five_quotes": with_(full, ["tpmAttestation", "quotes"], [q] * 5),
        "no_quotes": with_(full, ["tpmAttestation", "quotes"], []),
        "pcr_index_24": with_(full, ["tpmAttestation", "quotes", 0, "pcrValues", "24"], "AA"),
        "pcr_index_leading_zero": with_(full, ["tpmAttestation", "quotes", 0, "pcrValues", "07"],
                                        "AA"),
        "bad_hash": with_(full, ["tpmAttestation", "quotes", 0, "hashAlgo"], "MD5"),
        "bad_b64": with_(full, ["tpmAttestation", "akCert"], "!!"),
        "missing_event_log": with_(full, ["tpmAttestation", "tcgEventLog"], None),
        "nine_chain": with_(full, ["tpmAttestation", "certChain"], ["AA"] * 9),
        "short_nonce": with_(full, ["tokenOptions", "nonce"], ["short"]),
        "nonce_no_audience": with_(full, ["tokenOptions", "audience"], None),
        "long_audience": with_(full, ["tokenOptions", "audience"], "a" * 513),
        "null_members": b'{"tpmAttestation":' + compact(tpm) + b',"gcpCredentials":null,'
                        b'"tokenOptions":null,"challenge":null}',
        "array": b"[]",
        "empty": b"",
    }
    for name, data in seeds.items():
        write("verifier_request", name, data)


def cel_seeds():
    reset("cel")
    seeds = {
        "mapping": "assertion.sub",
        "concat": "'repo:' + assertion.repository_owner + \"/\" + attribute.repo",
        "condition": "assertion.repository_owner == 'o' && attribute.env in ['prod', 'dev']",
        "or_absorbs": "true || assertion.missing.field",
        "and_absorbs": "false && assertion.missing",
        "key_in_map": "'compute_engine' in assertion.google && !('x' in assertion.google)",
        "index": "assertion.groups[0] == google.groups[0] && assertion.aud[1] == 'b'",
        "map_index": "assertion['google']['compute_engine'].project_id",
        "int_add": "assertion.exp + 1 == 4102444801",
        "int_overflow": "9223372036854775807 + 1",
        "mixed_add": "'a' + 1",
        "null_cmp": "assertion.nil == null && null != false",
        "escapes": "'\\'\\\"\\\\\\n\\t\\r' == \"'\\\"\\\\\\n\\t\\r\"",
        "bad_escape": "'\\x'",
        "unterminated": "'abc",
        "deep": "(" * 40 + "true" + ")" * 40,
        "deep_ok": "!" * 30 + "true",
        "many_nodes": " + ".join(["'a'"] * 300),
        "long_string": "+".join(["assertion.long"] * 120),
        "unknown_var": "request.auth",
        "not_bool": "assertion.exp",
        "list_in": "1 in [1, '1', null, [1]]",
        "trailing_garbage": "true true",
        "empty": "",
        "nul_inside": b"true\x00garbage",
        "selector_on_list": "assertion.aud.x",
        "index_out_of_range": "assertion.aud[5]",
        "negative_index": "assertion.aud[-1]",
    }
    for name, data in seeds.items():
        write("cel", name, data)

if __name__ == "__main__":
    maa_cose_seeds()
    maa_request_seeds()
    gobind_seeds()
    sidecar_args_seeds()
    thim_seeds()
    unwrap_seeds()
    akv_jws_seeds()
    eventlog_seeds()
    quote_seeds()
    instance_info_seeds()
    verifier_request_seeds()
    cel_seeds()
