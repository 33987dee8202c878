/*
 * crypto_ecdsa_test.c - ECDSA in DER, JOSE R||S and SEV-SNP little-endian form; the real SEV-SNP
 * reports in ../shared/vectors verified with their VCEK/VLEK, and every single-bit forgery we
 * can think of rejected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_x509.h"
#include "shd/mem.h"
#include "shd_test.h"

#define REPORT_LEN 1184u
#define R_OFF 0x2A0u
#define S_OFF 0x2E8u

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

static uint8_t *milan_report(void)
{
    size_t hex_len = 0, len = 0;
    uint8_t *hex =
        shd_test_read_file(shd_test_vector_path("snp-milan-virtee/report.hex"), &hex_len);
    uint8_t *bin = shd_test_unhex((const char *)hex, &len);
    shd_free(hex);
    assert_int_equal(len, REPORT_LEN);
    return bin;
}

static uint8_t *vlek_report(void)
{
    size_t len = 0;
    uint8_t *bin = shd_test_read_file(shd_test_vector_path("snp-vlek-trustee/report.bin"), &len);
    assert_int_equal(len, REPORT_LEN);
    return bin;
}

/* The endorsement key from a DER certificate in the vectors folder. */
static EVP_PKEY *vector_cert_key(const char *rel)
{
    size_t len = 0;
    uint8_t *der = shd_test_read_file(shd_test_vector_path(rel), &len);
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    EVP_PKEY *key = NULL;

    EXPECT_OK(shd_crypto_x509_load(der, len, &cert));
    EXPECT_OK(shd_crypto_x509_pubkey(cert, &key));
    shd_free(der);
    return key;
}

static void test_snp_real_reports_verify(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *vcek = vector_cert_key("snp-milan-virtee/vcek.der");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *vlek = vector_cert_key("snp-vlek-trustee/vlek.der");
    uint8_t *milan = milan_report();
    uint8_t *vl = vlek_report();
    (void)state;

    assert_int_equal(shd_crypto_key_kind(vcek), SHD_CRYPTO_KEY_EC_P384);
    EXPECT_OK(shd_crypto_snp_verify_report_sig(milan, REPORT_LEN, vcek));
    EXPECT_OK(shd_crypto_snp_verify_report_sig(vl, REPORT_LEN, vlek));
    /* Crossed keys. */
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(milan, REPORT_LEN, vlek), SHD_ERR_BAD_SIGNATURE);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(vl, REPORT_LEN, vcek), SHD_ERR_BAD_SIGNATURE);
    /* The same check through the generic LE verifier. */
    EXPECT_OK(shd_crypto_ecdsa_p384_verify_le(milan, 0x2A0, milan + R_OFF, milan + S_OFF, vcek));
    shd_free(milan);
    shd_free(vl);
}

static void test_snp_bit_flips_rejected(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *vcek = vector_cert_key("snp-milan-virtee/vcek.der");
    uint8_t *r = milan_report();
    char buf[512];
    (void)state;

    /* Signed bytes: a sample across the whole signed area, including the first and last. */
    const size_t signed_offsets[] = {0x000, 0x008, 0x050, 0x090, 0x180, 0x1A0, 0x29F};
    for (size_t i = 0; i < sizeof(signed_offsets) / sizeof(signed_offsets[0]); i++) {
        r[signed_offsets[i]] ^= 0x01;
        EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, vcek), SHD_ERR_BAD_SIGNATURE);
        r[signed_offsets[i]] ^= 0x01;
    }
    (void)shd_error_render(buf, sizeof(buf));
    assert_string_equal(buf, "SEV-SNP report signature: signature verification failed");
    /* r and s: low byte, high significant byte, and the zero padding above 48 bytes. */
    const size_t sig_offsets[] = {R_OFF, R_OFF + 47, R_OFF + 48, R_OFF + 71,
                                  S_OFF, S_OFF + 47, S_OFF + 48, S_OFF + 71};
    for (size_t i = 0; i < sizeof(sig_offsets) / sizeof(sig_offsets[0]); i++) {
        r[sig_offsets[i]] ^= 0x01;
        EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, vcek), SHD_ERR_BAD_SIGNATURE);
        r[sig_offsets[i]] ^= 0x01;
    }
    /* r and s swapped, r zeroed. */
    uint8_t tmp[72];
    shd_memcpy(tmp, r + R_OFF, 72);
    shd_memcpy(r + R_OFF, r + S_OFF, 72);
    shd_memcpy(r + S_OFF, tmp, 72);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, vcek), SHD_ERR_BAD_SIGNATURE);
    shd_memcpy(r + S_OFF, r + R_OFF, 72);
    shd_memcpy(r + R_OFF, tmp, 72);
    EXPECT_OK(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, vcek));
    memset(r + R_OFF, 0, 72);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, vcek), SHD_ERR_BAD_SIGNATURE);
    shd_free(r);
}

static void test_snp_flipped_vcek_rejected(void **state)
{
    size_t len = 0;
    uint8_t *der = shd_test_read_file(shd_test_vector_path("snp-milan-virtee/vcek.der"), &len);
    uint8_t *r = milan_report();
    SHD_CLEANUP(X509_free_p) X509 *cert = NULL;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *good = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    (void)state;

    EXPECT_OK(shd_crypto_x509_load(der, len, &cert));
    EXPECT_OK(shd_crypto_x509_pubkey(cert, &good));
    EXPECT_OK(shd_crypto_pubkey_export_spki_der(good, &spki, &spki_len));
    /* Flip one bit of the point's y coordinate (the last byte of the SPKI): either the point
     * is no longer on the curve (refused as a key), or it is another key (bad signature). */
    spki[spki_len - 1] ^= 0x01;
    EVP_PKEY *bad = NULL;
    shd_result res = shd_crypto_pubkey_load(spki, spki_len, &bad);
    if (shd_is_ok(res)) {
        EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, bad), SHD_ERR_BAD_SIGNATURE);
        EVP_PKEY_free(bad);
    } else {
        assert_int_equal(res.err, SHD_ERR_BAD_KEY);
    }
    /* Flip a bit of x through the JWK path instead: from_xy checks the curve equation. */
    uint8_t x[66], y[66];
    size_t coord = 0;
    enum shd_crypto_curve curve;
    EXPECT_OK(shd_crypto_ec_pubkey_to_xy(good, &curve, x, y, &coord));
    assert_int_equal(curve, SHD_CRYPTO_CURVE_P384);
    assert_int_equal(coord, 48);
    x[20] ^= 0x08;
    bad = NULL;
    EXPECT_ERR(shd_crypto_ec_pubkey_from_xy(curve, x, y, coord, &bad), SHD_ERR_BAD_KEY);
    assert_null(bad);
    shd_free(spki);
    shd_free(der);
    shd_free(r);
}

static void test_snp_misuse(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *vcek = vector_cert_key("snp-milan-virtee/vcek.der");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *p256 = fixture_privkey("ec_p256.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *rsa = fixture_privkey("rsa2048.pem");
    uint8_t *r = milan_report();
    uint8_t big[REPORT_LEN + 1];
    (void)state;

    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN - 1, vcek), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, 0x2A0, vcek), SHD_ERR_TRUNCATED);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, 0, vcek), SHD_ERR_TRUNCATED);
    shd_memcpy(big, r, REPORT_LEN);
    big[REPORT_LEN] = 0;
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(big, sizeof(big), vcek), SHD_ERR_TOO_LARGE);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(NULL, REPORT_LEN, vcek), SHD_ERR_NULL);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, NULL), SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, p256), SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, rsa), SHD_ERR_BAD_KEY);
    shd_free(r);
}

static void test_snp_sign_round_trip(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *p256 = fixture_privkey("ec_p256.pem");
    uint8_t *r = milan_report();
    uint8_t before[REPORT_LEN];
    (void)state;

    EXPECT_OK(shd_crypto_ec_generate(SHD_CRYPTO_CURVE_P384, &key));
    /* Garbage in the signature area is replaced by R, S and zeros. */
    memset(r + R_OFF, 0xCC, REPORT_LEN - R_OFF);
    shd_memcpy(before, r, REPORT_LEN);
    EXPECT_OK(shd_crypto_snp_sign_report(key, r, REPORT_LEN));
    assert_memory_equal(r, before, R_OFF);
    for (size_t i = 0; i < 24; i++) {
        assert_int_equal(r[R_OFF + 48 + i], 0);
        assert_int_equal(r[S_OFF + 48 + i], 0);
    }
    for (size_t i = 0x330; i < REPORT_LEN; i++) {
        assert_int_equal(r[i], 0);
    }
    EXPECT_OK(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, key));
    r[0x50] ^= 0x01;
    EXPECT_ERR(shd_crypto_snp_verify_report_sig(r, REPORT_LEN, key), SHD_ERR_BAD_SIGNATURE);
    /* Only P-384 signs reports; a failed signing leaves the area zeroed. */
    memset(r + R_OFF, 0xCC, 8);
    EXPECT_ERR(shd_crypto_snp_sign_report(p256, r, REPORT_LEN), SHD_ERR_BAD_KEY);
    for (size_t i = R_OFF; i < REPORT_LEN; i++) {
        assert_int_equal(r[i], 0);
    }
    EXPECT_ERR(shd_crypto_snp_sign_report(key, r, REPORT_LEN - 1), SHD_ERR_USAGE);
    shd_free(r);
}

struct curve_case {
    const char *key_file;
    const char *sig_file;
    enum shd_crypto_hash h;
    size_t field;
};

static const struct curve_case curves[] = {
    {"ec_p256.pem", "ecdsa_p256_sha256.der", SHD_CRYPTO_HASH_SHA256, 32},
    {"ec_p384.pem", "ecdsa_p384_sha384.der", SHD_CRYPTO_HASH_SHA384, 48},
    {"ec_p521.pem", "ecdsa_p521_sha512.der", SHD_CRYPTO_HASH_SHA512, 66},
};

static void test_der_fixtures(void **state)
{
    size_t msg_len = 0;
    uint8_t *msg = fixture("msg.txt", &msg_len);
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey(curves[i].key_file);
        size_t sig_len = 0;
        uint8_t *sig = fixture(curves[i].sig_file, &sig_len);
        uint8_t longer[160];

        EXPECT_OK(shd_crypto_ecdsa_verify_der(curves[i].h, msg, msg_len, sig, sig_len, key));
        /* Wrong hash, flipped bit, message changed. */
        EXPECT_ERR(
            shd_crypto_ecdsa_verify_der(curves[(i + 1) % 3].h, msg, msg_len, sig, sig_len, key),
            SHD_ERR_BAD_SIGNATURE);
        sig[sig_len - 2] ^= 0x40;
        EXPECT_ERR(shd_crypto_ecdsa_verify_der(curves[i].h, msg, msg_len, sig, sig_len, key),
                   SHD_ERR_BAD_SIGNATURE);
        sig[sig_len - 2] ^= 0x40;
        EXPECT_ERR(shd_crypto_ecdsa_verify_der(curves[i].h, msg, msg_len - 1, sig, sig_len, key),
                   SHD_ERR_BAD_SIGNATURE);
        /* Non-canonical DER: a trailing byte, and truncation. */
        shd_memcpy(longer, sig, sig_len);
        longer[sig_len] = 0x00;
        EXPECT_ERR(shd_crypto_ecdsa_verify_der(curves[i].h, msg, msg_len, longer, sig_len + 1, key),
                   SHD_ERR_BAD_SIGNATURE);
        EXPECT_ERR(shd_crypto_ecdsa_verify_der(curves[i].h, msg, msg_len, sig, sig_len - 1, key),
                   SHD_ERR_BAD_SIGNATURE);
        EXPECT_ERR(shd_crypto_ecdsa_verify_der(curves[i].h, msg, msg_len, sig, 0, key),
                   SHD_ERR_BAD_SIGNATURE);
        shd_free(sig);
    }
    shd_free(msg);
}

static void test_raw_round_trips(void **state)
{
    const uint8_t msg[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey(curves[i].key_file);
        uint8_t raw[SHD_CRYPTO_ECDSA_RAW_MAX];
        size_t len = 0;
        uint8_t *der = NULL;
        size_t der_len = 0;

        EXPECT_OK(
            shd_crypto_ecdsa_sign_raw(curves[i].h, msg, sizeof(msg), key, raw, sizeof(raw), &len));
        assert_int_equal(len, 2 * curves[i].field);
        EXPECT_OK(shd_crypto_ecdsa_verify_raw(curves[i].h, msg, sizeof(msg), raw, len, key));
        EXPECT_ERR(shd_crypto_ecdsa_verify_raw(curves[i].h, msg, sizeof(msg), raw, len - 1, key),
                   SHD_ERR_BAD_SIGNATURE);
        raw[len - 1] ^= 0x01;
        EXPECT_ERR(shd_crypto_ecdsa_verify_raw(curves[i].h, msg, sizeof(msg), raw, len, key),
                   SHD_ERR_BAD_SIGNATURE);
        /* A DER signature of the same key verifies, and is not accepted as raw. */
        EXPECT_OK(shd_crypto_ecdsa_sign_der(curves[i].h, msg, sizeof(msg), key, &der, &der_len));
        EXPECT_OK(shd_crypto_ecdsa_verify_der(curves[i].h, msg, sizeof(msg), der, der_len, key));
        EXPECT_ERR(shd_crypto_ecdsa_verify_raw(curves[i].h, msg, sizeof(msg), der, der_len, key),
                   SHD_ERR_BAD_SIGNATURE);
        shd_free(der);
        /* Output too small. */
        EXPECT_ERR(shd_crypto_ecdsa_sign_raw(curves[i].h, msg, sizeof(msg), key, raw,
                                             2 * curves[i].field - 1, &len),
                   SHD_ERR_TOO_LARGE);
    }
}

/* The openssl CLI's DER signature, re-encoded as R||S by hand, verifies as raw. */
static void test_raw_from_fixture(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey("ec_p256.pem");
    SHD_CLEANUP(ECDSA_SIG_free_p) ECDSA_SIG *sig = NULL;
    size_t msg_len = 0, der_len = 0;
    uint8_t *msg = fixture("msg.txt", &msg_len);
    uint8_t *der = fixture("ecdsa_p256_sha256.der", &der_len);
    const unsigned char *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    uint8_t raw[64];
    (void)state;

    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(sig);
    ECDSA_SIG_get0(sig, &r, &s);
    assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
    assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
    EXPECT_OK(shd_crypto_ecdsa_verify_raw(SHD_CRYPTO_HASH_SHA256, msg, msg_len, raw, 64, key));
    shd_free(msg);
    shd_free(der);
}

static void test_le_sign_and_padding(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = fixture_privkey("ec_p384.pem");
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *p521 = fixture_privkey("ec_p521.pem");
    const uint8_t msg[] = "report body";
    uint8_t r[72], s[72];
    (void)state;

    EXPECT_OK(shd_crypto_ecdsa_p384_sign_le(msg, sizeof(msg), key, r, s));
    EXPECT_OK(shd_crypto_ecdsa_p384_verify_le(msg, sizeof(msg), r, s, key));
    r[71] = 0x01;
    EXPECT_ERR(shd_crypto_ecdsa_p384_verify_le(msg, sizeof(msg), r, s, key), SHD_ERR_BAD_SIGNATURE);
    r[71] = 0;
    EXPECT_ERR(shd_crypto_ecdsa_p384_verify_le(msg, sizeof(msg), r, s, p521), SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_ecdsa_p384_sign_le(msg, sizeof(msg), p521, r, s), SHD_ERR_BAD_KEY);
    /* SHA-1 is refused for ECDSA too. */
    uint8_t *der = NULL;
    size_t len = 0;
    EXPECT_ERR(shd_crypto_ecdsa_sign_der(SHD_CRYPTO_HASH_SHA1, msg, sizeof(msg), key, &der, &len),
               SHD_ERR_USAGE);
    assert_null(der);
}

static void test_ecdsa_wrong_key_types(void **state)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *rsa = fixture_privkey("rsa2048.pem");
    const uint8_t msg[] = "x";
    uint8_t sig[96] = {0};
    uint8_t *der = NULL;
    size_t len = 0;
    (void)state;

    EXPECT_ERR(shd_crypto_ecdsa_sign_der(SHD_CRYPTO_HASH_SHA256, msg, 1, rsa, &der, &len),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_ecdsa_sign_raw(SHD_CRYPTO_HASH_SHA256, msg, 1, rsa, sig, 96, &len),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_ecdsa_verify_raw(SHD_CRYPTO_HASH_SHA256, msg, 1, sig, 64, rsa),
               SHD_ERR_BAD_KEY);
    EXPECT_ERR(shd_crypto_ecdsa_verify_der(SHD_CRYPTO_HASH_SHA256, msg, 1, sig, 8, rsa),
               SHD_ERR_BAD_KEY);
    /* Signing with a public-only key. */
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = vector_cert_key("snp-milan-virtee/vcek.der");
    EXPECT_ERR(shd_crypto_ecdsa_sign_der(SHD_CRYPTO_HASH_SHA384, msg, 1, pub, &der, &len),
               SHD_ERR_BAD_KEY);
    assert_null(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snp_real_reports_verify),
        cmocka_unit_test(test_snp_bit_flips_rejected),
        cmocka_unit_test(test_snp_flipped_vcek_rejected),
        cmocka_unit_test(test_snp_misuse),
        cmocka_unit_test(test_snp_sign_round_trip),
        cmocka_unit_test(test_der_fixtures),
        cmocka_unit_test(test_raw_round_trips),
        cmocka_unit_test(test_raw_from_fixture),
        cmocka_unit_test(test_le_sign_and_padding),
        cmocka_unit_test(test_ecdsa_wrong_key_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
