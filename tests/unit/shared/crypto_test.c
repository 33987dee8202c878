/*
 * crypto_test.c - the crypto base: digests (FIPS 180 known answers), random bytes, key
 * generation, loading (PEM/DER, PKCS#8/traditional, SPKI/PKCS#1), export byte for byte against
 * the openssl CLI's fixtures, JWK-style public parameters, and malformed or wrong-type input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
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

static void assert_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i], 0);
    }
}

static EVP_PKEY *load_priv(const char *name)
{
    size_t len = 0;
    uint8_t *buf = fixture(name, &len);
    EVP_PKEY *key = NULL;

    EXPECT_OK(shd_crypto_privkey_load(buf, len, &key));
    /* The caller's copy of the key is wiped. */
    assert_zero(buf, len);
    shd_free(buf);
    return key;
}

static EVP_PKEY *load_pub(const char *name)
{
    size_t len = 0;
    uint8_t *buf = fixture(name, &len);
    EVP_PKEY *key = NULL;

    EXPECT_OK(shd_crypto_pubkey_load(buf, len, &key));
    shd_free(buf);
    return key;
}

static void expect_digest(enum shd_crypto_hash h, const char *msg, const char *hex)
{
    size_t want_len = 0, len = 0;
    uint8_t *want = shd_test_unhex(hex, &want_len);
    uint8_t out[SHD_CRYPTO_HASH_MAX_LEN];

    assert_int_equal(shd_crypto_hash_len(h), want_len);
    EXPECT_OK(shd_crypto_digest(h, (const uint8_t *)msg, strlen(msg), out, sizeof(out), &len));
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, len);
    shd_free(want);
}

static void test_digests(void **state)
{
    uint8_t out[64];
    size_t len = 0;
    (void)state;

    /* FIPS 180-2 Appendix examples ("abc") and the empty string. */
    expect_digest(SHD_CRYPTO_HASH_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
    expect_digest(SHD_CRYPTO_HASH_SHA256, "abc",
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect_digest(SHD_CRYPTO_HASH_SHA384, "abc",
                  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                  "8086072ba1e7cc2358baeca134c825a7");
    expect_digest(SHD_CRYPTO_HASH_SHA512, "abc",
                  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    expect_digest(SHD_CRYPTO_HASH_SHA256, "",
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_OK(shd_crypto_digest(SHD_CRYPTO_HASH_SHA256, NULL, 0, out, 32, &len));
    EXPECT_ERR(shd_crypto_digest(SHD_CRYPTO_HASH_SHA384, (const uint8_t *)"abc", 3, out, 47, &len),
               SHD_ERR_TOO_LARGE);
    EXPECT_ERR(shd_crypto_digest((enum shd_crypto_hash)0, (const uint8_t *)"abc", 3, out, 64, &len),
               SHD_ERR_USAGE);
    EXPECT_ERR(shd_crypto_digest(SHD_CRYPTO_HASH_SHA256, NULL, 3, out, 64, &len), SHD_ERR_NULL);
    assert_int_equal(shd_crypto_hash_len((enum shd_crypto_hash)9), 0);

    uint8_t a[32], b[48], c[64];
    EXPECT_OK(shd_crypto_sha256((const uint8_t *)"abc", 3, a));
    EXPECT_OK(shd_crypto_sha384((const uint8_t *)"abc", 3, b));
    EXPECT_OK(shd_crypto_sha512((const uint8_t *)"abc", 3, c));
    assert_int_equal(a[0], 0xba);
    assert_int_equal(b[47], 0xa7);
    assert_int_equal(c[63], 0x9f);
}

static void test_random(void **state)
{
    uint8_t a[64] = {0}, b[64] = {0}, zero[64] = {0};
    (void)state;

    EXPECT_OK(shd_crypto_random(a, sizeof(a)));
    EXPECT_OK(shd_crypto_random(b, sizeof(b)));
    /* 2^-512 chance of a false failure. */
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    EXPECT_OK(shd_crypto_random(NULL, 0));
    EXPECT_ERR(shd_crypto_random(NULL, 1), SHD_ERR_NULL);
}

static void test_private_key_forms(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum shd_crypto_key_kind kind;
    } cases[] = {
        {"rsa2048.pem", SHD_CRYPTO_KEY_RSA},          /* PKCS#8 PEM */
        {"rsa2048.der", SHD_CRYPTO_KEY_RSA},          /* PKCS#8 DER */
        {"rsa2048_trad.pem", SHD_CRYPTO_KEY_RSA},     /* "RSA PRIVATE KEY" */
        {"rsa2048_trad.der", SHD_CRYPTO_KEY_RSA},     /* PKCS#1 RSAPrivateKey DER */
        {"ec_p256.pem", SHD_CRYPTO_KEY_EC_P256},      /* PKCS#8 PEM */
        {"ec_p256_trad.pem", SHD_CRYPTO_KEY_EC_P256}, /* "EC PRIVATE KEY" */
        {"ec_p384.pem", SHD_CRYPTO_KEY_EC_P384},      {"ec_p521.pem", SHD_CRYPTO_KEY_EC_P521},
    };
    size_t want_len = 0;
    uint8_t *want = fixture("rsa2048.der", &want_len);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = load_priv(cases[i].name);
        assert_int_equal(shd_crypto_key_kind(key), cases[i].kind);
        assert_true(shd_crypto_key_is_private(key));
        if (cases[i].kind != SHD_CRYPTO_KEY_RSA) {
            continue;
        }
        /* Every RSA form exports to the same PKCS#8 DER as `openssl pkey -outform DER`. */
        uint8_t out[2048];
        size_t len = 0;
        EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(key, out, sizeof(out), &len));
        assert_int_equal(len, want_len);
        assert_memory_equal(out, want, len);
    }
    shd_free(want);
}

static void expect_priv_rejected(uint8_t *buf, size_t len, int code)
{
    EVP_PKEY *key = NULL;

    EXPECT_ERR(shd_crypto_privkey_load(buf, len, &key), code);
    assert_null(key);
    assert_zero(buf, len);
}

static void test_private_key_rejects(void **state)
{
    size_t len = 0;
    uint8_t *buf;
    (void)state;

    /* Public key, encrypted key, truncated PEM, truncated and extended DER, garbage. */
    buf = fixture("rsa2048_pub.pem", &len);
    expect_priv_rejected(buf, len, SHD_ERR_BAD_KEY);
    shd_free(buf);
    buf = fixture("ec_p256_enc.pem", &len);
    expect_priv_rejected(buf, len, SHD_ERR_BAD_KEY);
    shd_free(buf);
    buf = fixture("rsa2048.pem", &len);
    expect_priv_rejected(buf, len / 2, SHD_ERR_BAD_KEY);
    shd_free(buf);
    buf = fixture("rsa2048.der", &len);
    expect_priv_rejected(buf, len - 1, SHD_ERR_BAD_KEY);
    shd_free(buf);
    buf = fixture("rsa2048.der", &len);
    uint8_t *longer = shd_alloc(len + 2);
    shd_memcpy(longer, buf, len);
    expect_priv_rejected(longer, len + 2, SHD_ERR_BAD_KEY);
    shd_free(longer);
    shd_free(buf);
    uint8_t junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    expect_priv_rejected(junk, sizeof(junk) - 1, SHD_ERR_BAD_KEY);
    uint8_t empty[1] = {0x30};
    expect_priv_rejected(empty, 0, SHD_ERR_BAD_KEY);
    EVP_PKEY *key = NULL;
    EXPECT_ERR(shd_crypto_privkey_load(NULL, 4, &key), SHD_ERR_NULL);
}

static void test_public_key_forms(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pem = load_pub("rsa2048_pub.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *der = load_pub("rsa2048_pub.der");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pkcs1 = load_pub("rsa2048_pkcs1_pub.pem");
    size_t want_len = 0, pem_len = 0, len = 0;
    uint8_t *want = fixture("rsa2048_pub.der", &want_len);
    uint8_t *want_pem = fixture("rsa2048_pub.pem", &pem_len);
    uint8_t *out = NULL;
    char *out_pem = NULL;
    (void)state;

    assert_false(shd_crypto_key_is_private(pem));
    assert_int_equal(shd_crypto_key_kind(pkcs1), SHD_CRYPTO_KEY_RSA);
    /* SPKI DER and PEM exports equal the openssl CLI's, from each input form. */
    EVP_PKEY *keys[] = {pem, der, pkcs1};
    for (size_t i = 0; i < 3; i++) {
        EXPECT_OK(shd_crypto_pubkey_export_spki_der(keys[i], &out, &len));
        assert_int_equal(len, want_len);
        assert_memory_equal(out, want, len);
        shd_free(out);
        EXPECT_OK(shd_crypto_pubkey_export_spki_pem(keys[i], &out_pem, &len));
        assert_int_equal(len, pem_len);
        assert_memory_equal(out_pem, want_pem, len);
        assert_int_equal(out_pem[len], '\0');
        shd_free(out_pem);
    }
    /* A public key has no PKCS#8 form. */
    uint8_t buf[16];
    EXPECT_ERR(shd_crypto_privkey_export_pkcs8_der(pem, buf, sizeof(buf), &len), SHD_ERR_BAD_KEY);
    shd_free(want);
    shd_free(want_pem);
}

static void test_public_key_rejects(void **state)
{
    size_t len = 0;
    uint8_t *buf = fixture("rsa2048_pub.der", &len);
    EVP_PKEY *key = NULL;
    (void)state;

    EXPECT_ERR(shd_crypto_pubkey_load(buf, len - 1, &key), SHD_ERR_BAD_KEY);
    uint8_t *longer = shd_alloc(len + 1);
    shd_memcpy(longer, buf, len);
    EXPECT_ERR(shd_crypto_pubkey_load(longer, len + 1, &key), SHD_ERR_BAD_KEY);
    shd_free(longer);
    shd_free(buf);
    /* A private key is not accepted where a public key is expected. */
    buf = fixture("rsa2048.pem", &len);
    EXPECT_ERR(shd_crypto_pubkey_load(buf, len, &key), SHD_ERR_BAD_KEY);
    shd_free(buf);
    EXPECT_ERR(shd_crypto_pubkey_load((const uint8_t *)"x", 0, &key), SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_pubkey_load((const uint8_t *)"garbage!", 8, &key), SHD_ERR_BAD_KEY);
    assert_null(key);
}

static void test_pkcs8_export_buffers(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = load_priv("ec_p384.pem");
    uint8_t out[512];
    size_t need = 0, len = 0;
    (void)state;

    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(key, NULL, 0, &need));
    assert_true(need > 100 && need < sizeof(out));
    /* Too small: refused, and the partial buffer is wiped. */
    memset(out, 0xAA, sizeof(out));
    EXPECT_ERR(shd_crypto_privkey_export_pkcs8_der(key, out, need - 1, &len), SHD_ERR_TOO_LARGE);
    assert_zero(out, need - 1);
    EXPECT_OK(shd_crypto_privkey_export_pkcs8_der(key, out, need, &len));
    assert_int_equal(len, need);
    /* And it loads back to the same key. */
    EVP_PKEY *back = NULL;
    EXPECT_OK(shd_crypto_privkey_load(out, len, &back));
    assert_zero(out, len);
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    EVP_PKEY_free(back);
}

static void test_generate(void **state)
{
    (void)state;
    const enum shd_crypto_curve curves[] = {SHD_CRYPTO_CURVE_P256, SHD_CRYPTO_CURVE_P384,
                                            SHD_CRYPTO_CURVE_P521};
    const enum shd_crypto_key_kind kinds[] = {SHD_CRYPTO_KEY_EC_P256, SHD_CRYPTO_KEY_EC_P384,
                                              SHD_CRYPTO_KEY_EC_P521};
    for (size_t i = 0; i < 3; i++) {
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
        EXPECT_OK(shd_crypto_ec_generate(curves[i], &key));
        assert_int_equal(shd_crypto_key_kind(key), kinds[i]);
        assert_true(shd_crypto_key_is_private(key));
    }
    EVP_PKEY *none = NULL;
    EXPECT_ERR(shd_crypto_ec_generate((enum shd_crypto_curve)0, &none), SHD_ERR_USAGE);
    EXPECT_ERR(shd_crypto_rsa_generate(4097, &none), SHD_ERR_USAGE);
    assert_null(none);
    assert_int_equal(shd_crypto_key_kind(NULL), SHD_CRYPTO_KEY_OTHER);
    assert_false(shd_crypto_key_is_private(NULL));
}

static void test_rsa_ne(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = load_priv("rsa2048.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ec = load_priv("ec_p256.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *back = NULL;
    uint8_t *n = NULL, *e = NULL;
    size_t n_len = 0, e_len = 0;
    (void)state;

    EXPECT_OK(shd_crypto_rsa_pubkey_to_ne(key, &n, &n_len, &e, &e_len));
    assert_int_equal(n_len, 256);
    assert_int_equal(e_len, 3);
    assert_memory_equal(e, "\x01\x00\x01", 3);
    EXPECT_OK(shd_crypto_rsa_pubkey_from_ne(n, n_len, e, e_len, &back));
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    assert_false(shd_crypto_key_is_private(back));
    /* Leading zeros are tolerated; a short modulus, an even exponent and e = 1 are not. */
    uint8_t padded[257] = {0};
    shd_memcpy(padded + 1, n, n_len);
    EVP_PKEY *k2 = NULL;
    EXPECT_OK(shd_crypto_rsa_pubkey_from_ne(padded, sizeof(padded), e, e_len, &k2));
    EVP_PKEY_free(k2);
    k2 = NULL;
    EXPECT_ERR(shd_crypto_rsa_pubkey_from_ne(n, 128, e, e_len, &k2), SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_pubkey_from_ne(n, n_len, (const uint8_t *)"\x01\x00\x00", 3, &k2),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_rsa_pubkey_from_ne(n, n_len, (const uint8_t *)"\x01", 1, &k2),
               SHD_ERR_BAD_KEY);
    n[n_len - 1] &= 0xFE;
    EXPECT_ERR(shd_crypto_rsa_pubkey_from_ne(n, n_len, e, e_len, &k2), SHD_ERR_BAD_KEY);
    assert_null(k2);
    uint8_t *n2 = NULL, *e2 = NULL;
    EXPECT_ERR(shd_crypto_rsa_pubkey_to_ne(ec, &n2, &n_len, &e2, &e_len), SHD_ERR_BAD_KEY);
    assert_null(n2);
    shd_free(n);
    shd_free(e);
}

static void test_ec_xy(void **state)
{
    const char *files[] = {"ec_p256.pem", "ec_p384.pem", "ec_p521.pem"};
    const size_t fields[] = {32, 48, 66};
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = load_priv(files[i]);
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *back = NULL;
        uint8_t x[SHD_CRYPTO_EC_COORD_MAX], y[SHD_CRYPTO_EC_COORD_MAX];
        size_t coord = 0;
        enum shd_crypto_curve curve;

        EXPECT_OK(shd_crypto_ec_pubkey_to_xy(key, &curve, x, y, &coord));
        assert_int_equal(coord, fields[i]);
        EXPECT_OK(shd_crypto_ec_pubkey_from_xy(curve, x, y, coord, &back));
        assert_int_equal(EVP_PKEY_eq(key, back), 1);
        EVP_PKEY *bad = NULL;
        EXPECT_ERR(shd_crypto_ec_pubkey_from_xy(curve, x, y, coord - 1, &bad), SHD_ERR_BAD_KEY);
        y[coord - 1] ^= 0x01;
        EXPECT_ERR(shd_crypto_ec_pubkey_from_xy(curve, x, y, coord, &bad), SHD_ERR_BAD_KEY);
        /* The point at infinity has no affine encoding; all zeros is off the curve. */
        memset(x, 0, sizeof(x));
        memset(y, 0, sizeof(y));
        EXPECT_ERR(shd_crypto_ec_pubkey_from_xy(curve, x, y, coord, &bad), SHD_ERR_BAD_KEY);
        assert_null(bad);
    }
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *rsa = load_priv("rsa2048.pem");
    uint8_t x[66], y[66];
    size_t coord = 0;
    enum shd_crypto_curve curve;
    EXPECT_ERR(shd_crypto_ec_pubkey_to_xy(rsa, &curve, x, y, &coord), SHD_ERR_BAD_KEY);
}

/* Each shd_alloc inside an operation fails in turn: the result is SHD_ERR_NOMEM, nothing is
 * returned and (under valgrind/ASan) nothing leaks; past the last allocation it succeeds. */
static void test_allocation_failures(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *ec = load_priv("ec_p384.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *rsa = load_priv("rsa2048.pem");
    const uint8_t msg[] = "m";
    (void)state;

    for (int op = 0; op < 6; op++) {
        bool done = false;
        for (long n = 0; n < 16 && !done; n++) {
            uint8_t *a = NULL, *b = NULL;
            char *pem = NULL;
            uint8_t raw[96];
            size_t la = 0, lb = 0;
            shd_result r;

            shd_mem_fail_after(n);
            switch (op) {
            case 0:
                r = shd_crypto_pubkey_export_spki_der(ec, &a, &la);
                break;
            case 1:
                r = shd_crypto_pubkey_export_spki_pem(ec, &pem, &la);
                break;
            case 2:
                r = shd_crypto_rsa_pubkey_to_ne(rsa, &a, &la, &b, &lb);
                break;
            case 3:
                r = shd_crypto_ecdsa_sign_raw(SHD_CRYPTO_HASH_SHA384, msg, 1, ec, raw, sizeof(raw),
                                              &la);
                break;
            case 4:
                r = shd_crypto_ecdsa_sign_der(SHD_CRYPTO_HASH_SHA384, msg, 1, ec, &a, &la);
                break;
            default:
                r = shd_crypto_rsa_oaep_encrypt(SHD_CRYPTO_HASH_SHA256, msg, 1, rsa, &a, &la);
                break;
            }
            shd_mem_fail_after(-1);
            if (shd_is_ok(r)) {
                done = true;
            } else {
                assert_int_equal(r.err, SHD_ERR_NOMEM);
                assert_null(a);
                assert_null(b);
                assert_null(pem);
            }
            shd_free(a);
            shd_free(b);
            shd_free(pem);
        }
        assert_true(done);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_private_key_forms),
        cmocka_unit_test(test_private_key_rejects),
        cmocka_unit_test(test_public_key_forms),
        cmocka_unit_test(test_public_key_rejects),
        cmocka_unit_test(test_pkcs8_export_buffers),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_rsa_ne),
        cmocka_unit_test(test_ec_xy),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
