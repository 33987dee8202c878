/*
 * jwk_test.c - JWK import/export, RFC 7638 thumbprints and the sidecar's exact JWK texts.
 *
 * Known answers: RFC 7638 §3.1 (thumbprint), RFC 7515 A.2/A.3 keys, and the wrapping-key JWK
 * set of the Microsoft sidecar's Test_SKR (skr-sidecar.md §5.1), compared byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd_test.h"

/* Reads tests/unit/shared/fixtures/jose/<name> (NUL-terminated, shd_free). */
static char *fixture(const char *name, size_t *ret_len)
{
    const char *src = getenv("SHD_SOURCE_DIR");
    char path[1024];
    size_t len = 0;

    assert_non_null(src);
    int n = snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/jose/%s", src, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    char *text = (char *)shd_test_read_file(path, &len);
    if (ret_len != NULL) {
        *ret_len = len;
    }
    return text;
}

static json_t *json_fixture(const char *name)
{
    size_t len = 0;
    char *text = fixture(name, &len);
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(text, len, NULL, &doc));
    shd_free(text);
    return doc;
}

static json_t *json_text(const char *text)
{
    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(text, strlen(text), NULL, &doc));
    return doc;
}

static const char *member(const json_t *jwk, const char *name)
{
    const char *v = json_string_value(json_object_get(jwk, name));
    assert_non_null(v);
    return v;
}

static void test_thumbprint_rfc7638(void **state)
{
    (void)state;
    json_t *jwk = json_fixture("rfc7638_key.json");
    EVP_PKEY *key = NULL;
    char tp[SHD_JWK_THUMBPRINT_LEN + 1];

    EXPECT_OK(shd_jwk_import_public(jwk, &key));
    EXPECT_OK(shd_jwk_thumbprint(key, tp));
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    EVP_PKEY_free(key);
    json_decref(jwk);
}

static void test_kty_names(void **state)
{
    enum shd_jwk_kty kty;
    (void)state;

    EXPECT_OK(shd_jwk_kty_parse("RSA-HSM", &kty));
    assert_int_equal(kty, SHD_JWK_KTY_RSA);
    EXPECT_OK(shd_jwk_kty_parse("EC-HSM", &kty));
    assert_int_equal(kty, SHD_JWK_KTY_EC);
    EXPECT_OK(shd_jwk_kty_parse("oct-HSM", &kty));
    assert_int_equal(kty, SHD_JWK_KTY_OCT);
    EXPECT_OK(shd_jwk_kty_parse("oct", &kty));
    assert_string_equal(shd_jwk_kty_name(kty), "oct");
    EXPECT_ERR(shd_jwk_kty_parse("OKP", &kty), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(shd_jwk_kty_parse("rsa", &kty), SHD_ERR_UNSUPPORTED);
    assert_null(shd_jwk_kty_name((enum shd_jwk_kty)99));
}

/* The A.2 private key with kty RSA-HSM serialises as the sidecar does: sorted, kty "RSA". */
static void test_released_rsa_exact(void **state)
{
    (void)state;
    json_t *jwk = json_fixture("rfc7515_a2_key.json");
    EVP_PKEY *key = NULL;
    char *out = NULL;
    size_t len = 0;
    char want[4096];

    assert_int_equal(json_object_set_new(jwk, "kty", json_string("RSA-HSM")), 0);
    EXPECT_OK(shd_jwk_import_private(jwk, &key));
    json_t *ops = json_text("[\"encrypt\",\"decrypt\"]");
    EXPECT_OK(shd_jwk_released_write(key, ops, &out, &len));
    int n = snprintf(want, sizeof(want),
                     "{\"d\":\"%s\",\"dp\":\"%s\",\"dq\":\"%s\",\"e\":\"AQAB\","
                     "\"key_ops\":[\"encrypt\",\"decrypt\"],\"kty\":\"RSA\",\"n\":\"%s\","
                     "\"p\":\"%s\",\"q\":\"%s\",\"qi\":\"%s\"}",
                     member(jwk, "d"), member(jwk, "dp"), member(jwk, "dq"), member(jwk, "n"),
                     member(jwk, "p"), member(jwk, "q"), member(jwk, "qi"));
    assert_true(n > 0 && (size_t)n < sizeof(want));
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    shd_free_wipe(out, len);

    /* Without key_ops (NULL or empty) the member is left out. */
    json_t *empty = json_text("[]");
    EXPECT_OK(shd_jwk_released_write(key, empty, &out, &len));
    assert_null(strstr(out, "key_ops"));
    assert_non_null(strstr(out, "\"e\":\"AQAB\",\"kty\":\"RSA\""));
    shd_free_wipe(out, len);
    json_decref(empty);
    json_decref(ops);
    EVP_PKEY_free(key);
    json_decref(jwk);
}

static void test_released_ec_exact(void **state)
{
    (void)state;
    json_t *jwk = json_fixture("rfc7515_a3_key.json");
    EVP_PKEY *key = NULL;
    char *out = NULL;
    size_t len = 0;
    char want[512];

    assert_int_equal(json_object_set_new(jwk, "kty", json_string("EC-HSM")), 0);
    EXPECT_OK(shd_jwk_import_private(jwk, &key));
    EXPECT_OK(shd_jwk_released_write(key, NULL, &out, &len));
    (void)snprintf(want, sizeof(want),
                   "{\"crv\":\"P-256\",\"d\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                   member(jwk, "d"), member(jwk, "x"), member(jwk, "y"));
    assert_string_equal(out, want);
    shd_free_wipe(out, len);
    EVP_PKEY_free(key);
    json_decref(jwk);
}

static void test_released_oct_exact(void **state)
{
    (void)state;
    const uint8_t k[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    json_t *ops = json_text("[\"wrapKey\",\"unwrapKey\"]");
    char *out = NULL;
    size_t len = 0;

    EXPECT_OK(shd_jwk_released_oct_write(k, sizeof(k), ops, &out, &len));
    assert_string_equal(out,
                        "{\"k\":\"AAECAwQFBgcICQoLDA0ODw\",\"key_ops\":[\"wrapKey\",\"unwrapKey\"],"
                        "\"kty\":\"oct\"}");
    shd_free_wipe(out, len);
    EXPECT_ERR(shd_jwk_released_oct_write(k, 0, NULL, &out, &len), SHD_ERR_BAD_KEY);
    json_decref(ops);
}

static void test_key_ops_rejected(void **state)
{
    (void)state;
    const uint8_t k[16] = {0};
    char *out = NULL;
    size_t len = 0;
    static const char *const bad[] = {
        "[\"import\"]", "[\"encrypt\",\"export\"]", "[1]", "[\"Encrypt\"]", "\"encrypt\"",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *doc = NULL;
        struct shd_json_limits lim = {.allow_any_root = true};
        EXPECT_OK(shd_json_parse(bad[i], strlen(bad[i]), &lim, &doc));
        EXPECT_ERR(shd_jwk_released_oct_write(k, sizeof(k), doc, &out, &len), SHD_ERR_INPUT);
        json_decref(doc);
    }
    json_t *all = json_text("[\"sign\",\"verify\",\"encrypt\",\"decrypt\",\"wrapKey\","
                            "\"unwrapKey\",\"deriveKey\",\"deriveBits\"]");
    EXPECT_OK(shd_jwk_key_ops_check(all));
    json_decref(all);
}

/* skr-sidecar.md §5.1: the reference JWK set from the sidecar's own test, byte for byte. */
static void test_wrapping_set_exact(void **state)
{
    (void)state;
    size_t want_len = 0;
    char *want = fixture("skr_wrapping_set.json", &want_len);
    json_t *set = json_text(want);
    EVP_PKEY *key = NULL;
    char *out = NULL;
    size_t len = 0;

    EXPECT_OK(shd_jwk_import_public(json_array_get(json_object_get(set, "keys"), 0), &key));
    EXPECT_OK(shd_jwk_wrapping_set_write(key, &out, &len));
    assert_int_equal(len, want_len);
    assert_string_equal(out, want);
    shd_free(out);
    EVP_PKEY_free(key);
    json_decref(set);
    shd_free(want);
}

/* Generated keys survive export -> import (public) and released -> import (private). */
static void roundtrip(EVP_PKEY *key)
{
    json_t *pub = NULL;
    EVP_PKEY *back = NULL;
    char *priv = NULL;
    size_t len = 0;

    EXPECT_OK(shd_jwk_export_public(key, &pub));
    assert_null(json_object_get(pub, "d"));
    EXPECT_OK(shd_jwk_import_public(pub, &back));
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    EVP_PKEY_free(back);
    back = NULL;
    EXPECT_OK(shd_jwk_released_write(key, NULL, &priv, &len));
    json_t *pj = json_text(priv);
    EXPECT_OK(shd_jwk_import_private(pj, &back));
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    assert_true(shd_crypto_key_is_private(back));
    EVP_PKEY_free(back);
    json_decref(pj);
    shd_free_wipe(priv, len);
    json_decref(pub);
}

static void test_roundtrip_generated(void **state)
{
    (void)state;
    static const enum shd_crypto_curve curves[] = {
        SHD_CRYPTO_CURVE_P256,
        SHD_CRYPTO_CURVE_P384,
        SHD_CRYPTO_CURVE_P521,
    };
    EVP_PKEY *key = NULL;

    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        EXPECT_OK(shd_crypto_ec_generate(curves[i], &key));
        roundtrip(key);
        EVP_PKEY_free(key);
        key = NULL;
    }
    EXPECT_OK(shd_crypto_rsa_generate(2048, &key));
    roundtrip(key);
    EVP_PKEY_free(key);
}

static void expect_import_err(const char *text, int code)
{
    json_t *jwk = json_text(text);
    EVP_PKEY *key = NULL;
    EXPECT_ERR(shd_jwk_import_private(jwk, &key), code);
    assert_null(key);
    json_decref(jwk);
}

static void expect_public_err(const char *text, int code)
{
    json_t *jwk = json_text(text);
    EVP_PKEY *key = NULL;
    EXPECT_ERR(shd_jwk_import_public(jwk, &key), code);
    assert_null(key);
    json_decref(jwk);
}

static void test_ec_rejects(void **state)
{
    (void)state;
    /* x of 31 bytes (the A.3 x without its first byte): RFC 7518 §6.2.1.2 wants 32. */
    expect_public_err("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"zc4ncPbEXUGDy-5v20t7WAczNXvp"
                      "7xO6z248e9FURQ\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                      SHD_ERR_BAD_KEY);
    /* y with its last character changed: not on the curve. */
    expect_public_err("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8"
                      "Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5aw\"}",
                      SHD_ERR_BAD_KEY);
    expect_public_err("{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AA\",\"y\":\"AA\"}",
                      SHD_ERR_UNSUPPORTED);
    expect_public_err("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8"
                      "Tus9uPHvRVEU\"}",
                      SHD_ERR_INPUT);
    /* Padded base64url is not JOSE base64url (RFC 7515 §2). */
    expect_public_err("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8"
                      "Tus9uPHvRVEU=\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                      SHD_ERR_ENCODING);
    /* d of the wrong key: pairwise check. */
    expect_import_err("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8"
                      "Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
                      "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LA\"}",
                      SHD_ERR_BAD_KEY);
    /* d one byte short. */
    expect_import_err("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8"
                      "Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
                      "\"d\":\"mxCecZCYv5gEh98fXXfpyylgbr7SJjtfV8IT34T0sg\"}",
                      SHD_ERR_BAD_KEY);
}

static void test_rsa_rejects(void **state)
{
    (void)state;
    json_t *jwk = json_fixture("rfc7515_a2_key.json");
    EVP_PKEY *key = NULL;

    /* Public-only JWK given to the private importer. */
    json_t *pub = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", member(jwk, "n"), "e", "AQAB");
    EXPECT_ERR(shd_jwk_import_private(pub, &key), SHD_ERR_INPUT);
    /* p and q swapped without recomputing qi: the pairwise check fails. */
    json_t *swapped = json_deep_copy(jwk);
    assert_int_equal(json_object_set_new(swapped, "p", json_string(member(jwk, "q"))), 0);
    assert_int_equal(json_object_set_new(swapped, "q", json_string(member(jwk, "p"))), 0);
    EXPECT_ERR(shd_jwk_import_private(swapped, &key), SHD_ERR_BAD_KEY);
    /* Missing CRT member. */
    json_t *noqi = json_deep_copy(jwk);
    assert_int_equal(json_object_del(noqi, "qi"), 0);
    EXPECT_ERR(shd_jwk_import_private(noqi, &key), SHD_ERR_INPUT);
    /* Multi-prime. */
    json_t *oth = json_deep_copy(jwk);
    assert_int_equal(json_object_set_new(oth, "oth", json_array()), 0);
    EXPECT_ERR(shd_jwk_import_private(oth, &key), SHD_ERR_UNSUPPORTED);
    /* kty oct to the asymmetric importers, RSA to the oct importer. */
    json_t *oct = json_text("{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODw\"}");
    EXPECT_ERR(shd_jwk_import_private(oct, &key), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(shd_jwk_import_public(oct, &key), SHD_ERR_UNSUPPORTED);
    uint8_t buf[64];
    size_t len = 0;
    EXPECT_ERR(shd_jwk_import_oct(jwk, 0, buf, sizeof(buf), &len), SHD_ERR_UNSUPPORTED);
    assert_null(key);
    json_decref(oct);
    json_decref(oth);
    json_decref(noqi);
    json_decref(swapped);
    json_decref(pub);
    json_decref(jwk);
}

static void test_rsa_small_modulus(void **state)
{
    (void)state;
    EVP_PKEY *small = EVP_RSA_gen(1024);
    json_t *jwk = NULL;
    EVP_PKEY *key = NULL;
    char *out = NULL;
    size_t len = 0;

    assert_non_null(small);
    EXPECT_ERR(shd_jwk_export_public(small, &jwk), SHD_ERR_BAD_KEY);
    /* Build the 1024-bit JWK by hand: the importer must refuse it. */
    BIGNUM *bn = NULL;
    uint8_t n[128];
    char *n64 = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, n, sizeof(n)), sizeof(n));
    BN_free(bn);
    EXPECT_OK(shd_b64_encode(n, sizeof(n), SHD_B64_URL_NOPAD, &n64, NULL));
    jwk = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n64, "e", "AQAB");
    shd_free(n64);
    EXPECT_ERR(shd_jwk_import_public(jwk, &key), SHD_ERR_BAD_KEY);
    /* A public key cannot be written as a released key. */
    EVP_PKEY *pub = NULL;
    json_t *ref = json_fixture("rfc7638_key.json");
    EXPECT_OK(shd_jwk_import_public(ref, &pub));
    EXPECT_ERR(shd_jwk_released_write(pub, NULL, &out, &len), SHD_ERR_BAD_KEY);
    EVP_PKEY_free(pub);
    json_decref(ref);
    json_decref(jwk);
    EVP_PKEY_free(small);
}

static void test_oct_import(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = 0;
    static const struct {
        const char *jwk;
        size_t want;
        size_t cap;
        int err;
    } cases[] = {
        {"{\"kty\":\"oct-HSM\",\"k\":\"AAECAwQFBgcICQoLDA0ODw\",\"key_size\":128}", 0, 64, 0},
        {"{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODw\"}", 16, 64, 0},
        {"{\"kty\":\"oct\",\"k\":\"\"}", 0, 64, SHD_ERR_BAD_KEY},
        {"{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODw\"}", 32, 64, SHD_ERR_BAD_KEY},
        {"{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODw\",\"key_size\":256}", 0, 64,
         SHD_ERR_BAD_KEY},
        {"{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODw\"}", 0, 8, SHD_ERR_TOO_LARGE},
        {"{\"kty\":\"oct\",\"k\":\"A\"}", 0, 64, SHD_ERR_ENCODING},
        {"{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0OD+\"}", 0, 64, SHD_ERR_ENCODING},
        {"{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODw==\"}", 0, 64, SHD_ERR_ENCODING},
        {"{\"kty\":\"oct\",\"k\":16}", 0, 64, SHD_ERR_INPUT},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *jwk = json_text(cases[i].jwk);
        memset(buf, 0xAA, sizeof(buf));
        shd_result r = shd_jwk_import_oct(jwk, cases[i].want, buf, cases[i].cap, &len);
        if (cases[i].err == 0) {
            EXPECT_OK(r);
            assert_int_equal(len, 16);
            for (size_t k = 0; k < 16; k++) {
                assert_int_equal(buf[k], k);
            }
        } else {
            EXPECT_ERR(r, cases[i].err);
        }
        json_decref(jwk);
    }
    /* 65 bytes: over Key Vault's maximum. */
    char big[256];
    (void)snprintf(big, sizeof(big), "{\"kty\":\"oct\",\"k\":\"%s\"}",
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAA");
    json_t *jwk = json_text(big);
    EXPECT_ERR(shd_jwk_import_oct(jwk, 0, buf, sizeof(buf), &len), SHD_ERR_BAD_KEY);
    json_decref(jwk);
}

/* Every allocation failure on the private paths returns an error and leaks nothing. */
static void test_alloc_failures(void **state)
{
    (void)state;
    json_t *jwk = json_fixture("rfc7515_a3_key.json");
    bool done = false;

    for (long n = 0; n < 200 && !done; n++) {
        EVP_PKEY *key = NULL;
        char *out = NULL;
        size_t len = 0;
        shd_mem_fail_after(n);
        shd_result r = shd_jwk_import_private(jwk, &key);
        if (shd_is_ok(r)) {
            r = shd_jwk_released_write(key, NULL, &out, &len);
        }
        shd_mem_fail_after(-1);
        done = shd_is_ok(r);
        if (done) {
            shd_free_wipe(out, len);
        } else {
            assert_null(out);
        }
        EVP_PKEY_free(key);
    }
    assert_true(done);
    json_decref(jwk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thumbprint_rfc7638), cmocka_unit_test(test_kty_names),
        cmocka_unit_test(test_released_rsa_exact), cmocka_unit_test(test_released_ec_exact),
        cmocka_unit_test(test_released_oct_exact), cmocka_unit_test(test_key_ops_rejected),
        cmocka_unit_test(test_wrapping_set_exact), cmocka_unit_test(test_roundtrip_generated),
        cmocka_unit_test(test_ec_rejects),         cmocka_unit_test(test_rsa_rejects),
        cmocka_unit_test(test_rsa_small_modulus),  cmocka_unit_test(test_oct_import),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests_name("jwk", tests, NULL, NULL);
}
