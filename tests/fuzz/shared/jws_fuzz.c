/*
 * jws_fuzz.c - fuzz target for JWS compact parsing and verification (shared/src/jws.c,
 * shared/src/jose_sig.c, shared/src/jwk.c for the JWK set entries).
 *
 * Target Functions: shd_jws_parse, shd_jws_header, shd_jws_kid, shd_jws_alg_parse,
 *                   shd_jws_verify_jwks, shd_jws_verify_x5c, shd_jws_payload,
 *                   shd_jws_payload_json, shd_jws_is_verified
 *
 * Input: a compact JWS. It is verified against the fixed JWK set below (RSA, RSA-HSM, P-256,
 * P-384, an x5c-only entry, an ambiguous kid, an encryption key, an oct key) under the
 * algorithm its header names when that is one we support, and under a mismatching one; and
 * against the x5c entry's certificate as the only trust anchor.
 * The private keys of this set were discarded after generation (tests/fuzz/corpus/gen_seeds.py
 * signs the seeds with other keys), so NO input can verify: a success is a forgery and aborts.
 * Properties checked as well: errors are the documented codes; payload access is refused
 * while the token is unverified.
 */
#include <string.h>

#include <openssl/x509.h>

#include "fuzz_common.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/mem.h"

/* Public keys only; see above. */
static const char JWKS[] =
    "{\"keys\":[{\"kid\":\"rsa-1\",\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\""
    "48ltcPfA-puMsIcur_hXZsILJbRKweYRLxe6GyzrKlG1xSY1BkXLUu0vRbyEWke90FZzgxMzw1eXFhQ0la8GDpoq"
    "CyTZU5bK6Y-iC_eQCUj0nwXMlm0bTpuNUFq-biDfwPPe9KKOBLGqJz7OkcIVqV9ybKgB6N-qElAl7zZUHXqARgkn"
    "PEZgz03PVVLIEhhfPPgRgGwRcnnT_RpR02WzSrWhrYdCmtdcSPmlUNwsFnA8nO54a6TkqDqbZqnnFhWd9EpRNKiY"
    "tGkJq9M_oPBHpySLryEyhD8a-HeoASqNUe-2xxv1uLJHlPwpf4BqLE22ZLZo4qLicR-Y23OFPieh2Q\",\"e\":"
    "\"AQAB\"},{\"kid\":\"rsa-any\",\"kty\":\"RSA-HSM\",\"n\":\"48ltcPfA-puMsIcur_hXZsILJbRKw"
    "eYRLxe6GyzrKlG1xSY1BkXLUu0vRbyEWke90FZzgxMzw1eXFhQ0la8GDpoqCyTZU5bK6Y-iC_eQCUj0nwXMlm0bT"
    "puNUFq-biDfwPPe9KKOBLGqJz7OkcIVqV9ybKgB6N-qElAl7zZUHXqARgknPEZgz03PVVLIEhhfPPgRgGwRcnnT_"
    "RpR02WzSrWhrYdCmtdcSPmlUNwsFnA8nO54a6TkqDqbZqnnFhWd9EpRNKiYtGkJq9M_oPBHpySLryEyhD8a-HeoA"
    "SqNUe-2xxv1uLJHlPwpf4BqLE22ZLZo4qLicR-Y23OFPieh2Q\",\"e\":\"AQAB\"},{\"kid\":\"ec-256\","
    "\"kty\":\"EC\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"x\":\"xDp83v_WiSamuTL5Jh5O12ZkSe23H"
    "eQLjcEizkXPv2s\",\"y\":\"0FVXBqieaXkFX9YPksPSlSIdYGYYXZBOX8sLs010PS8\"},{\"kid\":\"ec-38"
    "4\",\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"2ojLJ9J5Dffi96dGrsimC0tnXj_UnCKafAtN8w6lfV7"
    "KD76ccOMDArF7TAEvldb_\",\"y\":\"I1yTpwLyOO0S26fwUG8lTkih_3Br15gAzdcceK5ZvoUoe8kEhGnbM-4j"
    "AA2H9pO0\"},{\"kid\":\"cert-1\",\"kty\":\"EC\",\"x5c\":[\"MIIBfzCCASWgAwIBAgIUV2XBfCTtXD"
    "NU8JWNSOmssSueP80wCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJZnV6ei1qd2tzMCAXDTI2MTEyNjIzNTk1N1oYDz"
    "IxMjYxMTAyMjM1OTU3WjAUMRIwEAYDVQQDDAlmdXp6LWp3a3MwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATbtt"
    "lXBa3ko33m9imQdytsSdHuGVTYgSPOsA9DhXHKiWp8p8TUGxUXxSdFhJnTlqLuzqITn6VH5Flgp3Ozu5QAo1MwUT"
    "AdBgNVHQ4EFgQUbTW0u054utOHJ0egB1AMnAZaGF4wHwYDVR0jBBgwFoAUbTW0u054utOHJ0egB1AMnAZaGF4wDw"
    "YDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBT/fJgngKd/kpi3yJOVIvPV2YOsDFmlOWZG5NQpX//iw"
    "IhAPZcfRIUcP5Izq2J2OLLUA+emKrlXj03ubxdq9v/xirK\"]},{\"kid\":\"dup\",\"kty\":\"EC\",\"crv"
    "\":\"P-256\",\"x\":\"xDp83v_WiSamuTL5Jh5O12ZkSe23HeQLjcEizkXPv2s\",\"y\":\"0FVXBqieaXkFX"
    "9YPksPSlSIdYGYYXZBOX8sLs010PS8\"},{\"kid\":\"dup\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x"
    "\":\"xDp83v_WiSamuTL5Jh5O12ZkSe23HeQLjcEizkXPv2s\",\"y\":\"0FVXBqieaXkFX9YPksPSlSIdYGYYX"
    "ZBOX8sLs010PS8\"},{\"kid\":\"enc-1\",\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"48ltcPfA-pu"
    "MsIcur_hXZsILJbRKweYRLxe6GyzrKlG1xSY1BkXLUu0vRbyEWke90FZzgxMzw1eXFhQ0la8GDpoqCyTZU5bK6Y-"
    "iC_eQCUj0nwXMlm0bTpuNUFq-biDfwPPe9KKOBLGqJz7OkcIVqV9ybKgB6N-qElAl7zZUHXqARgknPEZgz03PVVL"
    "IEhhfPPgRgGwRcnnT_RpR02WzSrWhrYdCmtdcSPmlUNwsFnA8nO54a6TkqDqbZqnnFhWd9EpRNKiYtGkJq9M_oPB"
    "HpySLryEyhD8a-HeoASqNUe-2xxv1uLJHlPwpf4BqLE22ZLZo4qLicR-Y23OFPieh2Q\",\"e\":\"AQAB\"},{"
    "\"kid\":\"oct-1\",\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}";

/* The "cert-1" entry's x5c[0]: a self-signed P-256 certificate (CN=fuzz-jwks). */
static const char *jwks_root_b64(const json_t *jwks)
{
    const json_t *keys = json_object_get(jwks, "keys");
    return json_string_value(json_array_get(json_object_get(json_array_get(keys, 4), "x5c"), 0));
}

static STACK_OF(X509) * roots_load(const json_t *jwks)
{
    const char *b64 = jwks_root_b64(jwks);
    FUZZ_ASSERT(b64 != NULL);
    uint8_t *der = NULL;
    size_t der_len = 0;
    FUZZ_ASSERT(shd_is_ok(shd_b64_decode(b64, strlen(b64), SHD_B64_STD_PAD, &der, &der_len)));
    X509 *root = NULL;
    FUZZ_ASSERT(shd_is_ok(shd_crypto_x509_load(der, der_len, &root)));
    shd_free(der);
    STACK_OF(X509) *roots = sk_X509_new_null();
    FUZZ_ASSERT(roots != NULL && sk_X509_push(roots, root) > 0);
    return roots;
}

/* Nothing may be handed out before a verification succeeded. */
static void unverified_is_sealed(const struct shd_jws *jws)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    const json_t *j = NULL;
    FUZZ_ASSERT(!shd_jws_is_verified(jws));
    shd_result r = shd_jws_payload(jws, &p, &n);
    FUZZ_ASSERT(r.err == SHD_ERR_USAGE && p == NULL);
    r = shd_jws_payload_json(jws, &j);
    FUZZ_ASSERT(r.err == SHD_ERR_USAGE && j == NULL);
    shd_error_clear();
}

static void verify_never(const json_t *jwks, STACK_OF(X509) * roots, enum shd_jws_alg alg,
                         struct shd_jws *jws)
{
    shd_result r = shd_jws_verify_jwks(jwks, alg, jws);
    if (shd_is_ok(r)) {
        fuzz_fail("a token verified against keys nobody holds", __FILE__, __LINE__);
    }
    FUZZ_OK_OR(r, SHD_ERR_TOKEN, SHD_ERR_NOT_FOUND, SHD_ERR_INPUT, SHD_ERR_BAD_KEY,
               SHD_ERR_BAD_SIGNATURE, SHD_ERR_UNSUPPORTED, SHD_ERR_ENCODING, SHD_ERR_BAD_CERT,
               SHD_ERR_TOO_LARGE, SHD_ERR_CRYPTO);
    fuzz_error_reset();
    unverified_is_sealed(jws);

    r = shd_jws_verify_x5c(roots, NULL, alg, jws);
    if (shd_is_ok(r)) {
        fuzz_fail("a token verified with an x5c chain to an unheld root", __FILE__, __LINE__);
    }
    FUZZ_OK_OR(r, SHD_ERR_TOKEN, SHD_ERR_INPUT, SHD_ERR_BAD_KEY, SHD_ERR_BAD_SIGNATURE,
               SHD_ERR_UNSUPPORTED, SHD_ERR_ENCODING, SHD_ERR_BAD_CERT, SHD_ERR_CRYPTO);
    fuzz_error_reset();
    unverified_is_sealed(jws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    shd_json_allocator_install();

    struct shd_jws *jws = NULL;
    shd_result r = shd_jws_parse((const char *)data, size, 0, &jws);
    FUZZ_OK_OR(r, SHD_ERR_TOO_LARGE, SHD_ERR_INPUT, SHD_ERR_ENCODING, SHD_ERR_JSON);
    if (shd_is_err(r)) {
        FUZZ_ASSERT(jws == NULL);
        fuzz_error_reset();
        return 0;
    }
    /* A tighter caller limit below the token's size must refuse it. */
    if (size > 1) {
        struct shd_jws *small = NULL;
        r = shd_jws_parse((const char *)data, size, size - 1, &small);
        FUZZ_ASSERT(r.err == SHD_ERR_TOO_LARGE && small == NULL);
        shd_error_clear();
    }

    const json_t *hdr = shd_jws_header(jws);
    FUZZ_ASSERT(json_is_object(hdr));
    const char *alg_name = json_string_value(json_object_get(hdr, "alg"));
    FUZZ_ASSERT(alg_name != NULL);
    FUZZ_ASSERT(json_object_get(hdr, "crit") == NULL);
    const char *kid = shd_jws_kid(jws);
    FUZZ_ASSERT(kid == NULL || json_is_string(json_object_get(hdr, "kid")));
    unverified_is_sealed(jws);

    json_error_t jerr;
    json_t *jwks = json_loads(JWKS, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_ASSERT(jwks != NULL);
    STACK_OF(X509) *roots = roots_load(jwks);

    enum shd_jws_alg alg = SHD_JWS_RS256;
    if (shd_is_ok(shd_jws_alg_parse(alg_name, &alg))) {
        FUZZ_ASSERT(strcmp(shd_jws_alg_name(alg), alg_name) == 0);
        verify_never(jwks, roots, alg, jws);
    }
    shd_error_clear();
    /* The pinned algorithm differs from the header's: refused before any key is used. */
    enum shd_jws_alg other = alg == SHD_JWS_ES256 ? SHD_JWS_PS384 : SHD_JWS_ES256;
    r = shd_jws_verify_jwks(jwks, other, jws);
    FUZZ_ASSERT(r.err == SHD_ERR_TOKEN);
    fuzz_error_reset();

    shd_crypto_x509_chain_free(roots);
    json_decref(jwks);
    shd_jws_free(&jws);
    FUZZ_ASSERT(jws == NULL);
    return 0;
}
