/*
 * akv_keystore_test.c - the Key Vault emulator's key store: enc names, generation and import
 * (with their refusals), public JWKs, CKM_RSA_AES_KEY_WRAP and variants unwrapped
 * independently (RSA-OAEP with the right hash, then RFC 5649) and compared with the key, and
 * the store's versions, look-ups and limits.
 */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "keystore.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/crypto_aead.h"
#include "shd/crypto_rsa.h"
#include "shd/jwk.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd_test.h"

static EVP_PKEY *g_wrap; /* the "sidecar's" ephemeral RSA-2048 key */

static int setup(void **state)
{
    (void)state;
    EXPECT_OK(shd_crypto_rsa_generate(2048, &g_wrap));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_wrap);
    return 0;
}

static json_t *parse(const char *text)
{
    json_t *j = NULL;
    EXPECT_OK(shd_json_parse(text, strlen(text), NULL, &j));
    return j;
}

static struct aemu_key_version *version_with(struct aemu_key_material *m, const char *name)
{
    struct aemu_key_version *v = shd_alloc(sizeof(*v));
    assert_non_null(v);
    shd_memcpy(v->name, name, strlen(name));
    shd_memcpy(v->kty, "RSA-HSM", 8);
    v->material = m;
    v->key_ops = json_array();
    v->enabled = true;
    return v;
}

/* Independent unwrap: OAEP(hash) of the first modulus-size bytes, then RFC 5649. */
static size_t unwrap(enum shd_crypto_hash h, const uint8_t *ct, size_t n, uint8_t *out,
                     size_t cap)
{
    assert_true(n > 256 + 16);
    uint8_t kek[64];
    size_t kek_len = 0;
    EXPECT_OK(shd_crypto_rsa_oaep_decrypt(h, ct, 256, g_wrap, kek, sizeof(kek), &kek_len));
    assert_int_equal(kek_len, 32);
    size_t got = 0;
    EXPECT_OK(shd_crypto_aes_kwp_unwrap(kek, kek_len, ct + 256, n - 256, out, cap, &got));
    /* The wrong hash must not decrypt. */
    enum shd_crypto_hash other = h == SHD_CRYPTO_HASH_SHA1 ? SHD_CRYPTO_HASH_SHA256
                                                           : SHD_CRYPTO_HASH_SHA1;
    EXPECT_ERR(shd_crypto_rsa_oaep_decrypt(other, ct, 256, g_wrap, kek, sizeof(kek), &kek_len),
               SHD_ERR_DECRYPT);
    return got;
}

static const struct {
    enum aemu_key_enc enc;
    enum shd_crypto_hash hash;
} encs[] = {
    {AEMU_KEY_ENC_CKM_RSA_AES_KEY_WRAP, SHD_CRYPTO_HASH_SHA1},
    {AEMU_KEY_ENC_RSA_AES_KEY_WRAP_256, SHD_CRYPTO_HASH_SHA256},
    {AEMU_KEY_ENC_RSA_AES_KEY_WRAP_384, SHD_CRYPTO_HASH_SHA384},
};

static void test_enc_names(void **state)
{
    (void)state;
    enum aemu_key_enc e;
    EXPECT_OK(aemu_key_enc_parse("CKM_RSA_AES_KEY_WRAP", &e));
    assert_int_equal(e, AEMU_KEY_ENC_CKM_RSA_AES_KEY_WRAP);
    EXPECT_OK(aemu_key_enc_parse("RSA_AES_KEY_WRAP_256", &e));
    assert_int_equal(e, AEMU_KEY_ENC_RSA_AES_KEY_WRAP_256);
    EXPECT_OK(aemu_key_enc_parse("RSA_AES_KEY_WRAP_384", &e));
    assert_int_equal(e, AEMU_KEY_ENC_RSA_AES_KEY_WRAP_384);
    EXPECT_ERR(aemu_key_enc_parse("rsa_aes_key_wrap_256", &e), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(aemu_key_enc_parse("RSA-OAEP", &e), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(aemu_key_enc_parse("", &e), SHD_ERR_UNSUPPORTED);
    assert_string_equal(aemu_key_enc_name(AEMU_KEY_ENC_RSA_AES_KEY_WRAP_384),
                        "RSA_AES_KEY_WRAP_384");
    assert_null(aemu_key_enc_name((enum aemu_key_enc)99));
}

/* Imported RSA and EC keys come back as PKCS#8 equal to the original, for every enc. */
static void check_asym_roundtrip(EVP_PKEY *orig)
{
    char *jwk_text = NULL;
    size_t jwk_len = 0;
    EXPECT_OK(shd_jwk_released_write(orig, NULL, &jwk_text, &jwk_len));
    SHD_CLEANUP_JSON json_t *jwk = parse(jwk_text);
    struct aemu_key_material *m = NULL;
    enum shd_jwk_kty kind;
    EXPECT_OK(aemu_key_material_import(jwk, &m, &kind));
    struct aemu_key_version *v = version_with(m, "k");
    for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
        SHD_CLEANUP_FREE uint8_t *ct = NULL;
        size_t n = 0;
        EXPECT_OK(aemu_key_version_wrap(encs[i].enc, g_wrap, v, &ct, &n));
        uint8_t pt[4096];
        size_t got = unwrap(encs[i].hash, ct, n, pt, sizeof(pt));
        assert_int_equal(n, 256 + SHD_CRYPTO_KWP_WRAPPED_LEN(got));
        EVP_PKEY *back = NULL;
        EXPECT_OK(shd_crypto_privkey_load(pt, got, &back));
        assert_int_equal(EVP_PKEY_eq(back, orig), 1);
        assert_true(shd_crypto_key_is_private(back));
        EVP_PKEY_free(back);
    }
    aemu_key_version_free(v);
    shd_free_wipe(jwk_text, jwk_len);
}

static void test_wrap_rsa_ec(void **state)
{
    (void)state;
    static const unsigned bits[] = {2048, 3072};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        EVP_PKEY *k = NULL;
        EXPECT_OK(shd_crypto_rsa_generate(bits[i], &k));
        check_asym_roundtrip(k);
        EVP_PKEY_free(k);
    }
    static const enum shd_crypto_curve curves[] = {SHD_CRYPTO_CURVE_P256, SHD_CRYPTO_CURVE_P384,
                                                   SHD_CRYPTO_CURVE_P521};
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        EVP_PKEY *k = NULL;
        EXPECT_OK(shd_crypto_ec_generate(curves[i], &k));
        check_asym_roundtrip(k);
        EVP_PKEY_free(k);
    }
}

static void test_wrap_oct(void **state)
{
    (void)state;
    static const size_t lens[] = {16, 24, 32};
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        uint8_t k[32];
        EXPECT_OK(shd_crypto_random(k, lens[l]));
        SHD_CLEANUP_FREE char *k64 = NULL;
        EXPECT_OK(shd_b64_encode(k, lens[l], SHD_B64_URL_NOPAD, &k64, NULL));
        char text[256];
        snprintf(text, sizeof(text), "{\"kty\":\"oct-HSM\",\"k\":\"%s\",\"key_size\":%zu}", k64,
                 lens[l] * 8);
        SHD_CLEANUP_JSON json_t *jwk = parse(text);
        struct aemu_key_material *m = NULL;
        enum shd_jwk_kty kind;
        EXPECT_OK(aemu_key_material_import(jwk, &m, &kind));
        assert_int_equal(kind, SHD_JWK_KTY_OCT);
        struct aemu_key_version *v = version_with(m, "k");
        for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
            SHD_CLEANUP_FREE uint8_t *ct = NULL;
            size_t n = 0;
            EXPECT_OK(aemu_key_version_wrap(encs[i].enc, g_wrap, v, &ct, &n));
            assert_int_equal(n, 256 + 8 + lens[l]);
            uint8_t pt[64];
            size_t got = unwrap(encs[i].hash, ct, n, pt, sizeof(pt));
            assert_int_equal(got, lens[l]);
            assert_memory_equal(pt, k, lens[l]);
        }
        /* oct keys show no key material in the public JWK. */
        SHD_CLEANUP_JSON json_t *pub = NULL;
        EXPECT_OK(aemu_key_version_public_jwk("https://v/keys/k/1", v, &pub));
        assert_null(json_object_get(pub, "k"));
        assert_string_equal(json_string_value(json_object_get(pub, "kid")), "https://v/keys/k/1");
        aemu_key_version_free(v);
    }
}

static void test_generate(void **state)
{
    (void)state;
    struct aemu_key_material *m = NULL;
    EXPECT_OK(aemu_key_material_generate(SHD_JWK_KTY_OCT, 256, 0, &m));
    assert_int_equal(aemu_key_material_kind(m), SHD_JWK_KTY_OCT);
    aemu_key_material_free(m);
    EXPECT_OK(aemu_key_material_generate(SHD_JWK_KTY_EC, 0, SHD_CRYPTO_CURVE_P384, &m));
    struct aemu_key_version *v = version_with(m, "ec");
    SHD_CLEANUP_JSON json_t *pub = NULL;
    EXPECT_OK(aemu_key_version_public_jwk("kid", v, &pub));
    assert_string_equal(json_string_value(json_object_get(pub, "crv")), "P-384");
    assert_non_null(json_object_get(pub, "x"));
    assert_null(json_object_get(pub, "d"));
    aemu_key_version_free(v);
    EXPECT_ERR(aemu_key_material_generate(SHD_JWK_KTY_RSA, 1024, 0, &m), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(aemu_key_material_generate(SHD_JWK_KTY_RSA, 2049, 0, &m), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(aemu_key_material_generate(SHD_JWK_KTY_OCT, 512, 0, &m), SHD_ERR_UNSUPPORTED);
    EXPECT_ERR(aemu_key_material_generate(SHD_JWK_KTY_OCT, 0, 0, &m), SHD_ERR_UNSUPPORTED);
}

static void test_import_refusals(void **state)
{
    (void)state;
    struct aemu_key_material *m = NULL;
    enum shd_jwk_kty kind;
    /* Public-only RSA key. */
    SHD_CLEANUP_JSON json_t *pub = NULL;
    EXPECT_OK(shd_jwk_export_public(g_wrap, &pub));
    EXPECT_ERR(aemu_key_material_import(pub, &m, &kind), SHD_ERR_BAD_KEY);
    /* oct of a size Key Vault does not take, and too large. */
    SHD_CLEANUP_JSON json_t *o10 = parse("{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAA\"}");
    EXPECT_ERR(aemu_key_material_import(o10, &m, &kind), SHD_ERR_BAD_KEY);
    SHD_CLEANUP_JSON json_t *o48 =
        parse("{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    EXPECT_ERR(aemu_key_material_import(o48, &m, &kind), SHD_ERR_BAD_KEY);
    /* key_size disagreeing with k, bad base64url, unknown kty, not an object. */
    SHD_CLEANUP_JSON json_t *ks = parse("{\"kty\":\"oct-HSM\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAA\","
                                        "\"key_size\":256}");
    assert_int_not_equal(aemu_key_material_import(ks, &m, &kind).err, 0);
    SHD_CLEANUP_JSON json_t *b64 = parse("{\"kty\":\"oct\",\"k\":\"AAAA+AAAAAAAAAAAAAAAAA\"}");
    EXPECT_ERR(aemu_key_material_import(b64, &m, &kind), SHD_ERR_ENCODING);
    SHD_CLEANUP_JSON json_t *okp = parse("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}");
    EXPECT_ERR(aemu_key_material_import(okp, &m, &kind), SHD_ERR_UNSUPPORTED);
    SHD_CLEANUP_JSON json_t *arr = parse("[]");
    assert_int_not_equal(aemu_key_material_import(arr, &m, &kind).err, 0);
    assert_null(m);
}

static void test_store(void **state)
{
    (void)state;
    struct aemu_keystore *ks = NULL;
    EXPECT_OK(aemu_keystore_new(&ks));
    const struct aemu_key_version *got = NULL;
    EXPECT_ERR(aemu_keystore_get("v1", "k", NULL, ks, &got), SHD_ERR_NOT_FOUND);
    const struct aemu_key_version **list = NULL;
    size_t n = 0;
    EXPECT_ERR(aemu_keystore_versions("v1", "k", ks, &list, &n), SHD_ERR_NOT_FOUND);

    const struct aemu_key_version *first = NULL;
    for (int i = 0; i < AEMU_KEYSTORE_MAX_VERSIONS; i++) {
        struct aemu_key_material *m = NULL;
        EXPECT_OK(aemu_key_material_generate(SHD_JWK_KTY_OCT, 128, 0, &m));
        const struct aemu_key_version *added = NULL;
        EXPECT_OK(aemu_keystore_add("v1", version_with(m, "Key-1"), ks, &added));
        assert_int_equal(strlen(added->version), AEMU_KEY_VERSION_LEN);
        assert_true(added->created > 0);
        if (first == NULL) {
            first = added;
        }
    }
    /* One version too many. */
    struct aemu_key_material *m = NULL;
    EXPECT_OK(aemu_key_material_generate(SHD_JWK_KTY_OCT, 128, 0, &m));
    struct aemu_key_version *extra = version_with(m, "key-1");
    EXPECT_ERR(aemu_keystore_add("v1", extra, ks, NULL), SHD_ERR_TOO_LARGE);
    aemu_key_version_free(extra);

    /* Names are case-insensitive, vaults are separate namespaces. */
    EXPECT_OK(aemu_keystore_get("v1", "KEY-1", first->version, ks, &got));
    assert_ptr_equal(got, first);
    EXPECT_OK(aemu_keystore_get("v1", "key-1", NULL, ks, &got));
    assert_ptr_not_equal(got, first);
    EXPECT_ERR(aemu_keystore_get("v2", "key-1", NULL, ks, &got), SHD_ERR_NOT_FOUND);
    EXPECT_ERR(aemu_keystore_get("v1", "key-1", "00000000000000000000000000000000", ks, &got),
               SHD_ERR_NOT_FOUND);
    EXPECT_OK(aemu_keystore_versions("v1", "key-1", ks, &list, &n));
    assert_int_equal(n, AEMU_KEYSTORE_MAX_VERSIONS);
    assert_ptr_equal(list[0], first);
    shd_free(list);
    aemu_keystore_free(ks);
    aemu_keystore_free(NULL);
    aemu_key_version_free(NULL);
    aemu_key_material_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enc_names),  cmocka_unit_test(test_wrap_rsa_ec),
        cmocka_unit_test(test_wrap_oct),   cmocka_unit_test(test_generate),
        cmocka_unit_test(test_import_refusals), cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
