/*
 * crypto_rsa_test.c - RSA-OAEP, RSASSA-PSS and PKCS#1 v1.5 against fixtures made independently
 * with the openssl CLI (fixtures/gen.sh), plus round trips and negative cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shd/crypto.h"
#include "shd/crypto_rsa.h"
#include "shd/mem.h"
#include "shd_test.h"

static uint8_t *fixture(const char *name, size_t *ret_len)
{
    char path[4096];
    const char *dir = getenv("SHD_SOURCE_DIR");

    assert_non_null(dir);
    int n = snprintf(path, sizeof(path), "%s/tests/unit/shared/fixtures/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    return shd_test_read_file(path, ret_len);
}

static EVP_PKEY *fixture_privkey(const char *name)
{
    size_t len = 0;
    uint8_t *pem = fixture(name, &len);
    EVP_PKEY *key = NULL;

    EXPECT_OK(shd_crypto_privkey_load(pem, len, &key));
    shd_free(pem);
    return key;
}

static EVP_PKEY *fixture_pubkey(const char *name)
{
    size_t len = 0;
    uint8_t *pem = fixture(name, &len);
    EVP_PKEY *key = NULL;

    EXPECT_OK(shd_crypto_pubkey_load(pem, len, &key));
    shd_free(pem);
    return key;
}

static void assert_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i], 0);
    }
}

static const enum shd_crypto_hash oaep_hashes[] = {SHD_CRYPTO_HASH_SHA1, SHD_CRYPTO_HASH_SHA256,
                                                   SHD_CRYPTO_HASH_SHA384};
static const char *const oaep_files[] = {"oaep_sha1.bin", "oaep_sha256.bin", "oaep_sha384.bin"};

static void test_oaep_decrypt_openssl_fixtures(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey("rsa2048.pem");
    size_t want_len = 0;
    uint8_t *want = fixture("key32.bin", &want_len);
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        size_t ct_len = 0;
        uint8_t *ct = fixture(oaep_files[i], &ct_len);
        uint8_t out[64];
        size_t len = 0;

        EXPECT_OK(
            shd_crypto_rsa_oaep_decrypt(oaep_hashes[i], ct, ct_len, key, out, sizeof(out), &len));
        assert_int_equal(len, 32);
        assert_memory_equal(out, want, 32);
        /* Exactly fitting output works too. */
        EXPECT_OK(shd_crypto_rsa_oaep_decrypt(oaep_hashes[i], ct, ct_len, key, out, 32, &len));
        assert_memory_equal(out, want, 32);
        /* Each other hash fails, with the output wiped. */
        for (size_t j = 0; j < 3; j++) {
            if (j == i) {
                continue;
            }
            memset(out, 0xAA, sizeof(out));
            EXPECT_ERR(shd_crypto_rsa_oaep_decrypt(oaep_hashes[j], ct, ct_len, key, out,
                                                   sizeof(out), &len),
                       SHD_ERR_DECRYPT);
            assert_zero(out, sizeof(out));
        }
        /* One flipped bit in the ciphertext. */
        ct[100] ^= 0x04;
        memset(out, 0xAA, sizeof(out));
        EXPECT_ERR(
            shd_crypto_rsa_oaep_decrypt(oaep_hashes[i], ct, ct_len, key, out, sizeof(out), &len),
            SHD_ERR_DECRYPT);
        assert_zero(out, sizeof(out));
        ct[100] ^= 0x04;
        /* Truncated and oversized ciphertexts. */
        EXPECT_ERR(shd_crypto_rsa_oaep_decrypt(oaep_hashes[i], ct, ct_len - 1, key, out,
                                               sizeof(out), &len),
                   SHD_ERR_DECRYPT);
        /* Output too small for the 32-byte plaintext: same generic failure, wiped. */
        memset(out, 0xAA, sizeof(out));
        EXPECT_ERR(shd_crypto_rsa_oaep_decrypt(oaep_hashes[i], ct, ct_len, key, out, 31, &len),
                   SHD_ERR_DECRYPT);
        assert_zero(out, 31);
        shd_free(ct);
    }
    shd_free(want);
}

static void test_oaep_round_trips(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey("rsa2048.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = fixture_pubkey("rsa2048_pub.pem");
    uint8_t msg[256];
    (void)state;

    EXPECT_OK(shd_crypto_random(msg, sizeof(msg)));
    for (size_t i = 0; i < 3; i++) {
        enum shd_crypto_hash h = oaep_hashes[i];
        /* The longest message: k - 2hLen - 2 (RFC 8017 §7.1.1). */
        size_t max = 256 - 2 * shd_crypto_hash_len(h) - 2;
        uint8_t *ct = NULL;
        uint8_t *ct2 = NULL;
        size_t ct_len = 0;
        uint8_t out[256];
        size_t len = 0;

        EXPECT_OK(shd_crypto_rsa_oaep_encrypt(h, msg, max, pub, &ct, &ct_len));
        assert_int_equal(ct_len, 256);
        EXPECT_OK(shd_crypto_rsa_oaep_decrypt(h, ct, ct_len, key, out, sizeof(out), &len));
        assert_int_equal(len, max);
        assert_memory_equal(out, msg, max);
        /* OAEP is randomised. */
        EXPECT_OK(shd_crypto_rsa_oaep_encrypt(h, msg, max, key, &ct2, &ct_len));
        assert_memory_not_equal(ct, ct2, 256);
        shd_free(ct2);
        ct2 = NULL;
        EXPECT_ERR(shd_crypto_rsa_oaep_encrypt(h, msg, max + 1, pub, &ct2, &ct_len),
                   SHD_ERR_TOO_LARGE);
        assert_null(ct2);
        /* The public key cannot decrypt. */
        EXPECT_ERR(shd_crypto_rsa_oaep_decrypt(h, ct, 256, pub, out, sizeof(out), &len),
                   SHD_ERR_BAD_KEY);
        shd_free(ct);
    }
    /* An empty message is valid OAEP. */
    uint8_t *ct = NULL;
    size_t ct_len = 0, len = 99;
    uint8_t out[16];
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, NULL, 0, pub, &ct, &ct_len));
    EXPECT_OK(shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA256, ct, ct_len, key, out, sizeof(out),
                                          &len));
    assert_int_equal(len, 0);
    shd_free(ct);
}

static void test_rsa_wrong_keys(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ec = fixture_privkey("ec_p256.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *small = fixture_privkey("rsa1024.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *rsa = fixture_privkey("rsa2048.pem");
    uint8_t msg[16] = {0};
    uint8_t sig[256] = {0};
    uint8_t out[256];
    uint8_t *p = NULL;
    size_t len = 0;
    (void)state;

    EXPECT_ERR(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, msg, 16, ec, &p, &len),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA256, sig, 256, ec, out, 256, &len),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_pss_sign(SHD_CRYPTO_HASH_SHA256, msg, 16, ec, &p, &len),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA256, msg, 16, sig, 256, ec),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_pkcs1_verify(SHD_CRYPTO_HASH_SHA256, msg, 16, sig, 256, ec),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA256, msg, 16, NULL, &p, &len),
               SHD_ERR_NULL);
    /* RSA-1024 is refused for everything. */
    EXPECT_ERR(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA256, msg, 16, small, &p, &len),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA1, msg, 16, small, &p, &len),
               SHD_ERR_BAD_KEY);
    /* SHA-1 signatures and unknown hashes are refused. */
    EXPECT_ERR(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA1, msg, 16, rsa, &p, &len),
               SHD_ERR_USAGE);
    EXPECT_ERR(shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA1, msg, 16, sig, 256, rsa),
               SHD_ERR_USAGE);
    EXPECT_ERR(shd_crypto_rsa_oaep_encrypt((enum shd_crypto_hash)77, msg, 16, rsa, &p, &len),
               SHD_ERR_USAGE);
    assert_null(p);
}

static void test_pss_verify_fixtures(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = fixture_pubkey("rsa2048_pub.der");
    size_t msg_len = 0;
    uint8_t *msg = fixture("msg.txt", &msg_len);
    const enum shd_crypto_hash hashes[] = {SHD_CRYPTO_HASH_SHA256, SHD_CRYPTO_HASH_SHA384};
    const char *const files[] = {"pss_sha256.bin", "pss_sha384.bin"};
    (void)state;

    for (size_t i = 0; i < 2; i++) {
        size_t sig_len = 0;
        uint8_t *sig = fixture(files[i], &sig_len);

        EXPECT_OK(shd_crypto_rsa_pss_verify(hashes[i], msg, msg_len, sig, sig_len, pub));
        /* Other hash, PKCS#1 v1.5 instead of PSS, flipped bits, truncation. */
        EXPECT_ERR(shd_crypto_rsa_pss_verify(hashes[1 - i], msg, msg_len, sig, sig_len, pub),
                   SHD_ERR_BAD_SIGNATURE);
        EXPECT_ERR(shd_crypto_rsa_pkcs1_verify(hashes[i], msg, msg_len, sig, sig_len, pub),
                   SHD_ERR_BAD_SIGNATURE);
        sig[sig_len - 1] ^= 0x01;
        EXPECT_ERR(shd_crypto_rsa_pss_verify(hashes[i], msg, msg_len, sig, sig_len, pub),
                   SHD_ERR_BAD_SIGNATURE);
        sig[sig_len - 1] ^= 0x01;
        msg[0] ^= 0x20;
        EXPECT_ERR(shd_crypto_rsa_pss_verify(hashes[i], msg, msg_len, sig, sig_len, pub),
                   SHD_ERR_BAD_SIGNATURE);
        msg[0] ^= 0x20;
        EXPECT_ERR(shd_crypto_rsa_pss_verify(hashes[i], msg, msg_len, sig, sig_len - 1, pub),
                   SHD_ERR_BAD_SIGNATURE);
        EXPECT_ERR(shd_crypto_rsa_pss_verify(hashes[i], msg, msg_len, sig, 0, pub),
                   SHD_ERR_BAD_SIGNATURE);
        shd_free(sig);
    }
    shd_free(msg);
}

static void test_pss_sign_round_trip(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey("rsa2048.der");
    const uint8_t msg[] = "payload";
    uint8_t *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    (void)state;

    EXPECT_OK(shd_crypto_rsa_pss_sign(SHD_CRYPTO_HASH_SHA384, msg, sizeof(msg), key, &a, &a_len));
    EXPECT_OK(shd_crypto_rsa_pss_sign(SHD_CRYPTO_HASH_SHA384, msg, sizeof(msg), key, &b, &b_len));
    assert_int_equal(a_len, 256);
    /* PSS is randomised (salt). */
    assert_memory_not_equal(a, b, 256);
    EXPECT_OK(shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA384, msg, sizeof(msg), a, a_len, key));
    EXPECT_OK(shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA384, msg, sizeof(msg), b, b_len, key));
    EXPECT_ERR(
        shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA384, msg, sizeof(msg) - 1, a, a_len, key),
        SHD_ERR_BAD_SIGNATURE);
    shd_free(a);
    shd_free(b);
}

static void test_pkcs1_known_answer(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey("rsa2048_trad.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = fixture_pubkey("rsa2048_pub.pem");
    size_t msg_len = 0, want_len = 0, len = 0;
    uint8_t *msg = fixture("msg.txt", &msg_len);
    uint8_t *want = fixture("pkcs1_sha256.bin", &want_len);
    uint8_t *sig = NULL;
    (void)state;

    /* PKCS#1 v1.5 is deterministic: our signature equals the openssl CLI's byte for byte. */
    EXPECT_OK(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA256, msg, msg_len, key, &sig, &len));
    assert_int_equal(len, want_len);
    assert_memory_equal(sig, want, len);
    EXPECT_OK(
        shd_crypto_rsa_pkcs1_verify(SHD_CRYPTO_HASH_SHA256, msg, msg_len, want, want_len, pub));
    EXPECT_ERR(
        shd_crypto_rsa_pkcs1_verify(SHD_CRYPTO_HASH_SHA384, msg, msg_len, want, want_len, pub),
        SHD_ERR_BAD_SIGNATURE);
    EXPECT_ERR(shd_crypto_rsa_pss_verify(SHD_CRYPTO_HASH_SHA256, msg, msg_len, want, want_len, pub),
               SHD_ERR_BAD_SIGNATURE);
    want[7] ^= 0x80;
    EXPECT_ERR(
        shd_crypto_rsa_pkcs1_verify(SHD_CRYPTO_HASH_SHA256, msg, msg_len, want, want_len, pub),
        SHD_ERR_BAD_SIGNATURE);
    /* Signing needs the private key. */
    uint8_t *none = NULL;
    EXPECT_ERR(shd_crypto_rsa_pkcs1_sign(SHD_CRYPTO_HASH_SHA256, msg, msg_len, pub, &none, &len),
               SHD_ERR_BAD_KEY);
    assert_null(none);
    shd_free(sig);
    shd_free(msg);
    shd_free(want);
}

static void test_generate_and_use(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    EVP_PKEY *none = NULL;
    uint8_t kek[32];
    uint8_t out[32];
    uint8_t *ct = NULL;
    size_t ct_len = 0, len = 0;
    (void)state;

    EXPECT_ERR(shd_crypto_rsa_generate(1024, &none), SHD_ERR_USAGE);
    EXPECT_ERR(shd_crypto_rsa_generate(2047, &none), SHD_ERR_USAGE);
    assert_null(none);
    EXPECT_OK(shd_crypto_rsa_generate(2048, &key));
    assert_int_equal(EVP_PKEY_get_bits(key), 2048);
    assert_int_equal(shd_crypto_key_kind(key), SHD_CRYPTO_KEY_RSA);
    assert_true(shd_crypto_key_is_private(key));
    /* The CKM_RSA_AES_KEY_WRAP RSA half: OAEP of a fresh AES-256 KEK. */
    EXPECT_OK(shd_crypto_random(kek, sizeof(kek)));
    EXPECT_OK(shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA1, kek, 32, key, &ct, &ct_len));
    EXPECT_OK(shd_crypto_rsa_oaep_decrypt(SHD_CRYPTO_HASH_SHA1, ct, ct_len, key, out, 32, &len));
    assert_memory_equal(out, kek, 32);
    shd_free(ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oaep_decrypt_openssl_fixtures),
        cmocka_unit_test(test_oaep_round_trips),
        cmocka_unit_test(test_rsa_wrong_keys),
        cmocka_unit_test(test_pss_verify_fixtures),
        cmocka_unit_test(test_pss_sign_round_trip),
        cmocka_unit_test(test_pkcs1_known_answer),
        cmocka_unit_test(test_generate_and_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
