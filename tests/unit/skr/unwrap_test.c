/*
 * unwrap_test.c - RFC 5649 unwrap, CKM_RSA_AES_KEY_WRAP (and _256/_384) and the released JWK
 * texts (skr/src/unwrap.c). Blobs are built here with the shd crypto primitives, the way Key
 * Vault builds them (azure-formats.md §5.5).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/secret.h"
#include "shd_test.h"
#include "unwrap.h"

static EVP_PKEY *g_wrap; /* the ephemeral RSA-2048 wrapping key */

static int group_setup(void **state)
{
    (void)state;
    return shd_is_ok(shd_crypto_rsa_generate(2048, &g_wrap)) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_wrap);
    return 0;
}

static void expect_chain(const char *want)
{
    char buf[2048];
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void expect_chain_prefix(const char *want)
{
    char buf[2048];
    (void)shd_error_render(buf, sizeof(buf));
    if (strncmp(buf, want, strlen(want)) != 0) {
        fail_msg("chain \"%s\" does not start with \"%s\"", buf, want);
    }
}

/* ---- RFC 5649 ---- */

static void kwp_known(const char *kek_hex, const char *key_hex, const char *wrapped_hex)
{
    size_t kek_len = 0, key_len = 0, w_len = 0, out_len = 0;
    uint8_t *kek = shd_test_unhex(kek_hex, &kek_len);
    uint8_t *key = shd_test_unhex(key_hex, &key_len);
    uint8_t *w = shd_test_unhex(wrapped_hex, &w_len);
    uint8_t out[64];

    EXPECT_OK(skr_aes_kwp_unwrap(kek, kek_len, w, w_len, out, sizeof(out), &out_len));
    assert_int_equal(out_len, key_len);
    assert_memory_equal(out, key, key_len);
    for (size_t i = out_len; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0); /* padding and the rest wiped */
    }
    shd_free(kek);
    shd_free(key);
    shd_free(w);
}

static void test_kwp_rfc5649_vectors(void **state)
{
    (void)state;
    /* RFC 5649 §6 (192-bit KEK), as used by the sidecar's Test_Keywrap. */
    kwp_known("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
              "c37b7e6492584340bed12207808941155068f738",
              "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
    kwp_known("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
              "afbeb0f07dfbf5419200f2ccb50bb24f");
    /* real-clients.md §3.6: AES-256 KEK 00..1f, key a0..bf (OpenSSL and Node agree). */
    kwp_known("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
              "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
              "38e280155ccf3f09397e0b9f610a43c91183334bc5eb520a01ff1377bf9f95f3e20cb09f4f3d59cd");
}

/* Round trip against OpenSSL's wrap-pad for every length 1..70 and each KEK size. */
static void test_kwp_roundtrip_openssl(void **state)
{
    (void)state;
    uint8_t kek[32], key[70], w[96], out[96];
    size_t w_len = 0, out_len = 0;

    EXPECT_OK(shd_crypto_random(kek, sizeof(kek)));
    EXPECT_OK(shd_crypto_random(key, sizeof(key)));
    const size_t keks[] = {16, 24, 32};
    for (size_t k = 0; k < 3; k++) {
        for (size_t n = 1; n <= sizeof(key); n++) {
            EXPECT_OK(shd_crypto_aes_kwp_wrap(kek, keks[k], key, n, w, sizeof(w), &w_len));
            EXPECT_OK(skr_aes_kwp_unwrap(kek, keks[k], w, w_len, out, sizeof(out), &out_len));
            assert_int_equal(out_len, n);
            assert_memory_equal(out, key, n);
        }
    }
}

/* One-block "wrap" A | P encrypted with AES-128-ECB, to forge A (the AIV and MLI). */
static void single_block(const uint8_t kek[16], const uint8_t a[8], const uint8_t p[8],
                         uint8_t out[16])
{
    uint8_t in[16];
    int l = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    shd_memcpy(in, a, 8);
    shd_memcpy(in + 8, p, 8);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, kek, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_set_padding(c, 0), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out, &l, in, 16), 1);
    assert_int_equal(l, 16);
    EVP_CIPHER_CTX_free(c);
}

static void test_kwp_integrity_negatives(void **state)
{
    (void)state;
    const uint8_t kek[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const uint8_t p[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 0};
    const uint8_t p_bad_pad[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 1};
    uint8_t w[16], out[16];
    size_t out_len = 0;

    const uint8_t bad_aiv[8] = {0xA6, 0x59, 0x59, 0x00, 0, 0, 0, 7};
    single_block(kek, bad_aiv, p, w);
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 16, w, 16, out, 8, &out_len), SHD_ERR_DECRYPT);
    expect_chain("integrity check failed - unexpected AIV [166 89 89 0]");
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(out[i], 0);
    }

    const uint8_t big_mli[8] = {0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 9};
    single_block(kek, big_mli, p, w);
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 16, w, 16, out, 8, &out_len), SHD_ERR_DECRYPT);
    expect_chain("integrity check failed - unexpected MLI [0 0 0 9]");

    const uint8_t zero_mli[8] = {0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 0};
    single_block(kek, zero_mli, p, w);
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 16, w, 16, out, 8, &out_len), SHD_ERR_DECRYPT);
    expect_chain("integrity check failed - unexpected MLI [0 0 0 0]");

    const uint8_t ok_a[8] = {0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 7};
    single_block(kek, ok_a, p_bad_pad, w);
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 16, w, 16, out, 8, &out_len), SHD_ERR_DECRYPT);
    expect_chain("integrity check failed - padded key data is not zero");

    single_block(kek, ok_a, p, w);
    EXPECT_OK(skr_aes_kwp_unwrap(kek, 16, w, 16, out, 8, &out_len));
    assert_int_equal(out_len, 7);
    assert_memory_equal(out, "abcdefg", 7);

    /* Wrong KEK and a tampered multi-block wrap both fail the AIV check. */
    const uint8_t other[16] = {0};
    EXPECT_ERR(skr_aes_kwp_unwrap(other, 16, w, 16, out, 8, &out_len), SHD_ERR_DECRYPT);
    expect_chain_prefix("integrity check failed - unexpected AIV [");
    uint8_t key[40], big[48], big_out[48];
    size_t big_len = 0;
    EXPECT_OK(shd_crypto_random(key, sizeof(key)));
    EXPECT_OK(shd_crypto_aes_kwp_wrap(kek, 16, key, sizeof(key), big, sizeof(big), &big_len));
    big[20] ^= 0x01;
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 16, big, big_len, big_out, sizeof(big_out), &out_len),
               SHD_ERR_DECRYPT);
    expect_chain_prefix("integrity check failed - unexpected AIV [");
}

static void test_kwp_length_negatives(void **state)
{
    (void)state;
    uint8_t kek[32] = {0}, in[40] = {0}, out[40];
    size_t out_len = 0;

    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 32, in, 8, out, sizeof(out), &out_len), SHD_ERR_INPUT);
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 32, in, 17, out, sizeof(out), &out_len), SHD_ERR_INPUT);
    expect_chain("integrity check failed - wrapped key length 17 is not a multiple of 8 of at "
                 "least 16");
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 32, in, 40, out, 31, &out_len), SHD_ERR_TOO_LARGE);
    EXPECT_ERR(skr_aes_kwp_unwrap(kek, 20, in, 16, out, sizeof(out), &out_len), SHD_ERR_DECRYPT);
    expect_chain("crypto/aes: invalid key size 20");
}

/* ---- CKM_RSA_AES_KEY_WRAP ---- */

/* RSA-OAEP(kek) || KWP(kek, material), as Key Vault builds it. */
static uint8_t *blob_build(enum shd_crypto_hash h, const uint8_t *kek, size_t kek_len,
                           const uint8_t *material, size_t n, size_t *ret_len)
{
    uint8_t *rsa = NULL;
    size_t rsa_len = 0, w_len = 0;

    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(h, kek, kek_len, g_wrap, &rsa, &rsa_len));
    assert_int_equal(rsa_len, 256);
    uint8_t *blob = shd_alloc(rsa_len + SHD_CRYPTO_KWP_WRAPPED_LEN(n));
    assert_non_null(blob);
    shd_memcpy(blob, rsa, rsa_len);
    EXPECT_OK(shd_crypto_aes_kwp_wrap(kek, kek_len, material, n, blob + rsa_len,
                                      SHD_CRYPTO_KWP_WRAPPED_LEN(n), &w_len));
    shd_free(rsa);
    *ret_len = rsa_len + w_len;
    return blob;
}

static const struct {
    const char *enc;
    enum shd_crypto_hash hash;
} ENCS[] = {
    {"CKM_RSA_AES_KEY_WRAP", SHD_CRYPTO_HASH_SHA1},
    {"RSA_AES_KEY_WRAP_256", SHD_CRYPTO_HASH_SHA256},
    {"RSA_AES_KEY_WRAP_384", SHD_CRYPTO_HASH_SHA384},
};

static void test_unwrap_oct_each_enc(void **state)
{
    (void)state;
    uint8_t kek[32], key[32];
    EXPECT_OK(shd_crypto_random(kek, sizeof(kek)));
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)i;
    }
    for (size_t e = 0; e < 3; e++) {
        size_t len = 0;
        uint8_t *blob = blob_build(ENCS[e].hash, kek, sizeof(kek), key, sizeof(key), &len);
        struct shd_secret *m = NULL;
        EXPECT_OK(skr_rsa_aes_unwrap(ENCS[e].enc, blob, len, g_wrap, &m));
        assert_int_equal(shd_secret_len(m), sizeof(key));
        assert_memory_equal(shd_secret_data(m), key, sizeof(key));

        json_t *ops = json_pack("[ss]", "encrypt", "decrypt");
        char *jwk = NULL;
        size_t jwk_len = 0;
        EXPECT_OK(skr_released_jwk_write("oct-HSM", ops, m, &jwk, &jwk_len));
        assert_string_equal(jwk, "{\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                                 "\"key_ops\":[\"encrypt\",\"decrypt\"],\"kty\":\"oct\"}");
        assert_int_equal(jwk_len, strlen(jwk));
        for (size_t i = 0; i < shd_secret_len(m); i++) {
            assert_int_equal(shd_secret_data(m)[i], 0); /* consumed */
        }
        shd_free_wipe(jwk, jwk_len + 1);
        json_decref(ops);
        shd_secret_free(&m);
        shd_free(blob);
    }
}

/* PKCS#8 material of key, released with kty, comes back as a JWK of the same private key. */
static void asym_roundtrip(EVP_PKEY *key, const char *kty, const char *enc, enum shd_crypto_hash h,
                           const char *want_kty)
{
    uint8_t kek[32], der[4096];
    size_t der_len = 0, len = 0;

    EXPECT_OK(shd_crypto_random(kek, sizeof(kek)));
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(key, der, sizeof(der), &der_len));
    uint8_t *blob = blob_build(h, kek, sizeof(kek), der, der_len, &len);
    struct shd_secret *m = NULL;
    EXPECT_OK(skr_rsa_aes_unwrap(enc, blob, len, g_wrap, &m));
    assert_int_equal(shd_secret_len(m), der_len);
    char *jwk = NULL;
    size_t jwk_len = 0;
    EXPECT_OK(skr_released_jwk_write(kty, NULL, m, &jwk, &jwk_len));

    json_t *doc = NULL;
    EXPECT_OK(shd_json_parse(jwk, jwk_len, NULL, &doc));
    assert_string_equal(json_string_value(json_object_get(doc, "kty")), want_kty);
    assert_null(json_object_get(doc, "kid"));
    assert_null(json_object_get(doc, "key_ops"));
    EVP_PKEY *back = NULL;
    EXPECT_OK(shd_jwk_import_private(doc, &back));
    assert_int_equal(EVP_PKEY_eq(back, key), 1);
    EVP_PKEY_free(back);
    json_decref(doc);
    shd_free_wipe(jwk, jwk_len + 1);
    shd_secret_free(&m);
    shd_free(blob);
    memset(der, 0, sizeof(der));
}

static void test_unwrap_rsa_and_ec(void **state)
{
    (void)state;
    EVP_PKEY *rsa = NULL;
    EVP_PKEY *ec[3] = {NULL, NULL, NULL};
    const enum shd_crypto_curve curves[3] = {SHD_CRYPTO_CURVE_P256, SHD_CRYPTO_CURVE_P384,
                                             SHD_CRYPTO_CURVE_P521};

    EXPECT_OK(shd_crypto_rsa_generate(2048, &rsa));
    for (size_t e = 0; e < 3; e++) {
        asym_roundtrip(rsa, e == 0 ? "RSA-HSM" : "RSA", ENCS[e].enc, ENCS[e].hash, "RSA");
    }
    for (size_t c = 0; c < 3; c++) {
        EXPECT_OK(shd_crypto_ec_generate(curves[c], &ec[c]));
        asym_roundtrip(ec[c], c == 0 ? "EC" : "EC-HSM", ENCS[c].enc, ENCS[c].hash, "EC");
        EVP_PKEY_free(ec[c]);
    }
    EVP_PKEY_free(rsa);
}

static void test_unwrap_negatives(void **state)
{
    (void)state;
    uint8_t kek[32] = {7}, key[32] = {9};
    size_t len = 0;
    struct shd_secret *m = NULL;

    uint8_t *blob = blob_build(SHD_CRYPTO_HASH_SHA256, kek, sizeof(kek), key, sizeof(key), &len);
    /* Wrong OAEP hash (blob made for _256, enc says SHA-1). */
    EXPECT_ERR(skr_rsa_aes_unwrap("CKM_RSA_AES_KEY_WRAP", blob, len, g_wrap, &m), SHD_ERR_DECRYPT);
    expect_chain("OAEP decryption failed: crypto/rsa: decryption error");
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_384", blob, len, g_wrap, &m), SHD_ERR_DECRYPT);
    /* Unknown and missing enc. */
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_512", blob, len, g_wrap, &m),
               SHD_ERR_UNSUPPORTED);
    expect_chain("Unsupported hash for the wrapping protocol");
    EXPECT_ERR(skr_rsa_aes_unwrap(NULL, blob, len, g_wrap, &m), SHD_ERR_UNSUPPORTED);
    /* Truncated: shorter than the RSA block (the original panics), then a cut KWP part. */
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_256", blob, 255, g_wrap, &m), SHD_ERR_INPUT);
    expect_chain("ciphertext of 255 bytes is shorter than the wrapping key's 256");
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_256", blob, 256 + 8, g_wrap, &m),
               SHD_ERR_INPUT);
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_256", blob, len - 8, g_wrap, &m),
               SHD_ERR_DECRYPT);
    expect_chain_prefix("integrity check failed - unexpected AIV [");
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_256", blob, len - 1, g_wrap, &m),
               SHD_ERR_INPUT);
    /* A corrupted RSA block. */
    blob[10] ^= 0x80;
    EXPECT_ERR(skr_rsa_aes_unwrap("RSA_AES_KEY_WRAP_256", blob, len, g_wrap, &m), SHD_ERR_DECRYPT);
    expect_chain("OAEP decryption failed: crypto/rsa: decryption error");
    assert_null(m);
    shd_free(blob);

    /* A KEK that is no AES key size. */
    blob = blob_build(SHD_CRYPTO_HASH_SHA1, kek, 16, key, sizeof(key), &len);
    uint8_t *rsa = NULL;
    size_t rsa_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA1, kek, 20, g_wrap, &rsa, &rsa_len));
    shd_memcpy(blob, rsa, rsa_len);
    shd_free(rsa);
    EXPECT_ERR(skr_rsa_aes_unwrap("CKM_RSA_AES_KEY_WRAP", blob, len, g_wrap, &m), SHD_ERR_DECRYPT);
    expect_chain("new aes cipher generation failed: crypto/aes: invalid key size 20");
    shd_free(blob);
}

static void test_jwk_write_negatives(void **state)
{
    (void)state;
    uint8_t raw[32] = {1, 2, 3};
    struct shd_secret *m = NULL;
    char *jwk = NULL;
    size_t len = 0;

    EXPECT_OK(shd_secret_from(raw, sizeof(raw), &m));
    EXPECT_ERR(skr_released_jwk_write("foo", NULL, m, &jwk, &len), SHD_ERR_UNSUPPORTED);
    expect_chain("released key type foo not supported");
    assert_int_equal(shd_secret_data(m)[0], 0); /* wiped even on failure */
    shd_secret_free(&m);

    EXPECT_OK(shd_secret_from(raw, sizeof(raw), &m));
    json_t *ops = json_pack("[ss]", "encrypt", "import");
    EXPECT_ERR(skr_released_jwk_write("oct", ops, m, &jwk, &len), SHD_ERR_INPUT);
    expect_chain("setting key_ops on JWK failed: invalid key operation: import");
    json_decref(ops);
    shd_secret_free(&m);

    /* Empty key_ops are left out, like jwx. */
    EXPECT_OK(shd_secret_from(raw, 16, &m));
    ops = json_array();
    EXPECT_OK(skr_released_jwk_write("oct", ops, m, &jwk, &len));
    assert_string_equal(jwk, "{\"k\":\"AQIDAAAAAAAAAAAAAAAAAA\",\"kty\":\"oct\"}");
    shd_free_wipe(jwk, len + 1);
    json_decref(ops);
    shd_secret_free(&m);

    /* Garbage for an RSA key, and an EC key released as RSA (the original panics). */
    EXPECT_OK(shd_secret_from(raw, sizeof(raw), &m));
    EXPECT_ERR(skr_released_jwk_write("RSA-HSM", NULL, m, &jwk, &len), SHD_ERR_BAD_KEY);
    expect_chain_prefix("could not parse RSA key: ");
    shd_secret_free(&m);

    EVP_PKEY *ec = NULL;
    uint8_t der[512];
    size_t der_len = 0;
    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P256, &ec));
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(ec, der, sizeof(der), &der_len));
    EXPECT_OK(shd_secret_from(der, der_len, &m));
    EXPECT_ERR(skr_released_jwk_write("RSA", NULL, m, &jwk, &len), SHD_ERR_BAD_KEY);
    expect_chain("could not parse RSA key: released key material is not an RSA private key");
    shd_secret_free(&m);
    EXPECT_OK(shd_secret_from(der, der_len, &m));
    EXPECT_OK(skr_released_jwk_write("EC-HSM", NULL, m, &jwk, &len));
    shd_free_wipe(jwk, len + 1);
    shd_secret_free(&m);
    EVP_PKEY_free(ec);

    /* An oct key longer than Key Vault allows. */
    uint8_t big[65] = {0};
    EXPECT_OK(shd_secret_from(big, sizeof(big), &m));
    EXPECT_ERR(skr_released_jwk_write("oct", NULL, m, &jwk, &len), SHD_ERR_BAD_KEY);
    expect_chain_prefix("could not encode OCT key as JWK: ");
    shd_secret_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kwp_rfc5649_vectors),
        cmocka_unit_test(test_kwp_roundtrip_openssl),
        cmocka_unit_test(test_kwp_integrity_negatives),
        cmocka_unit_test(test_kwp_length_negatives),
        cmocka_unit_test(test_unwrap_oct_each_enc),
        cmocka_unit_test(test_unwrap_rsa_and_ec),
        cmocka_unit_test(test_unwrap_negatives),
        cmocka_unit_test(test_jwk_write_negatives),
    };
    return cmocka_run_group_tests_name("skr/unwrap", tests, group_setup, group_teardown);
}
