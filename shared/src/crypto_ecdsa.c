/*
 * crypto_ecdsa.c - ECDSA signatures in DER, raw R||S (JOSE) and SEV-SNP little-endian form, and
 * the SEV-SNP report signature (azure-formats.md §1.2). The EVP layer signs and verifies DER;
 * the other encodings are converted through ECDSA_SIG (not deprecated in OpenSSL 3).
 */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/snp_report.h"
#include "crypto_int.h"

#define SHD_LE_LEN SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN
#define SHD_P384_LEN 48u

_Static_assert(SHD_LE_LEN == SHD_SNP_SIG_COMPONENT_LEN, "SNP signature component size");
_Static_assert(SHD_P384_LEN == SHD_SNP_SIG_P384_LEN, "P-384 component size");

/* Offsets of R and S and the end of the signature area in the report (§1.1). */
#define SHD_SNP_SIG_R_OFF 0x2A0u
#define SHD_SNP_SIG_S_OFF 0x2E8u

/* DER-encodes (r, s), taking ownership of both. */
static shd_result shd_crypto_ecdsa_der_from_bn(BIGNUM *r, BIGNUM *s, uint8_t **ret_der,
                                               size_t *ret_len)
{
    SHD_CLEANUP(ECDSA_SIG_free_p) ECDSA_SIG *sig = ECDSA_SIG_new();

    if (sig == NULL || r == NULL || s == NULL) {
        BN_free(r);
        BN_free(s);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    if (ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        SHD_GUARD_OSSL(0, SHD_ERR_NOMEM);
    }
    int len = i2d_ECDSA_SIG(sig, NULL);
    SHD_ENSURE(len > 0, SHD_ERR_CRYPTO);
    uint8_t *der = shd_alloc((size_t)len);
    SHD_ENSURE(der != NULL, SHD_ERR_NOMEM);
    unsigned char *p = der;
    if (i2d_ECDSA_SIG(sig, &p) != len) {
        shd_free(der);
        SHD_BAIL(SHD_ERR_CRYPTO);
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    return SHD_OK;
}

/* Parses a DER signature strictly: re-encoding must give back exactly the input. */
static shd_result shd_crypto_ecdsa_sig_parse(const uint8_t *der, size_t len, ECDSA_SIG **ret_sig)
{
    SHD_CLEANUP(ECDSA_SIG_free_p) ECDSA_SIG *sig = NULL;
    const unsigned char *p = der;
    unsigned char *re = NULL;

    SHD_ENSURE_MSG(len > 0 && len <= 256, SHD_ERR_BAD_SIGNATURE, "ECDSA signature length %zu", len);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (sig == NULL) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_BAD_SIGNATURE, "malformed ECDSA signature");
    }
    int re_len = i2d_ECDSA_SIG(sig, &re);
    bool same = re_len > 0 && (size_t)re_len == len && shd_memcmp(re, der, len) == 0;
    OPENSSL_free(re);
    SHD_ENSURE_MSG(same, SHD_ERR_BAD_SIGNATURE, "non-canonical ECDSA signature");
    *ret_sig = SHD_TAKE_PTR(sig);
    return SHD_OK;
}

SHD_RESULT shd_crypto_ecdsa_sign_der(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     EVP_PKEY *key, uint8_t **ret_sig, size_t *ret_len)
{
    size_t field = 0;

    SHD_GUARD(shd_crypto_key_check_ec(key, "ECDSA", &field));
    return shd_crypto_sig_sign(h, SHD_CRYPTO_SIG_PAD_NONE, msg, n, key, ret_sig, ret_len);
}

/* Signs and returns r and s as BIGNUMs owned by *ret_sig; *ret_field gets the field size. */
static shd_result shd_crypto_ecdsa_sign_sig(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                            EVP_PKEY *key, ECDSA_SIG **ret_sig, size_t *ret_field)
{
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;
    size_t field = 0;

    SHD_GUARD(shd_crypto_key_check_ec(key, "ECDSA", &field));
    SHD_GUARD(shd_crypto_sig_sign(h, SHD_CRYPTO_SIG_PAD_NONE, msg, n, key, &der, &der_len));
    SHD_GUARD(shd_crypto_ecdsa_sig_parse(der, der_len, ret_sig));
    *ret_field = field;
    return SHD_OK;
}

SHD_RESULT shd_crypto_ecdsa_sign_raw(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     EVP_PKEY *key, uint8_t *out, size_t cap, size_t *ret_len)
{
    SHD_CLEANUP(ECDSA_SIG_free_p) ECDSA_SIG *sig = NULL;
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    size_t field = 0;

    SHD_ENSURE(out != NULL && ret_len != NULL, SHD_ERR_NULL);
    SHD_GUARD(shd_crypto_ecdsa_sign_sig(h, msg, n, key, &sig, &field));
    SHD_ENSURE_MSG(cap >= 2 * field, SHD_ERR_TOO_LARGE, "ECDSA R||S needs %zu bytes", 2 * field);
    ECDSA_SIG_get0(sig, &r, &s);
    /* RFC 7518 §3.4: each integer as a fixed-width big-endian octet string. */
    SHD_ENSURE(BN_bn2binpad(r, out, (int)field) == (int)field, SHD_ERR_INTERNAL);
    SHD_ENSURE(BN_bn2binpad(s, out + field, (int)field) == (int)field, SHD_ERR_INTERNAL);
    *ret_len = 2 * field;
    return SHD_OK;
}

SHD_RESULT shd_crypto_ecdsa_p384_sign_le(const uint8_t *msg, size_t n, EVP_PKEY *key,
                                         uint8_t ret_r[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN],
                                         uint8_t ret_s[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN])
{
    SHD_CLEANUP(ECDSA_SIG_free_p) ECDSA_SIG *sig = NULL;
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    uint8_t r_le[SHD_LE_LEN];
    uint8_t s_le[SHD_LE_LEN];
    size_t field = 0;

    SHD_ENSURE(ret_r != NULL && ret_s != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_EC_P384, SHD_ERR_BAD_KEY,
                   "SEV-SNP signing needs a P-384 key");
    SHD_GUARD(shd_crypto_ecdsa_sign_sig(SHD_CRYPTO_HASH_SHA384, msg, n, key, &sig, &field));
    ECDSA_SIG_get0(sig, &r, &s);
    /* Little-endian, zero-padded to 72 bytes (azure-formats.md §1.2). */
    SHD_ENSURE(BN_bn2lebinpad(r, r_le, (int)SHD_LE_LEN) == (int)SHD_LE_LEN, SHD_ERR_INTERNAL);
    SHD_ENSURE(BN_bn2lebinpad(s, s_le, (int)SHD_LE_LEN) == (int)SHD_LE_LEN, SHD_ERR_INTERNAL);
    shd_memcpy(ret_r, r_le, SHD_LE_LEN);
    shd_memcpy(ret_s, s_le, SHD_LE_LEN);
    return SHD_OK;
}

SHD_RESULT shd_crypto_ecdsa_verify_der(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                       const uint8_t *sig, size_t sig_len, EVP_PKEY *key)
{
    SHD_CLEANUP(ECDSA_SIG_free_p) ECDSA_SIG *parsed = NULL;
    size_t field = 0;

    SHD_ENSURE_REF(sig);
    SHD_GUARD(shd_crypto_key_check_ec(key, "ECDSA", &field));
    SHD_GUARD(shd_crypto_ecdsa_sig_parse(sig, sig_len, &parsed));
    return shd_crypto_sig_verify(h, SHD_CRYPTO_SIG_PAD_NONE, msg, n, sig, sig_len, key);
}

/* Verifies (r, s) by DER-encoding them; takes ownership of r and s. */
static shd_result shd_crypto_ecdsa_verify_bn(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                             BIGNUM *r, BIGNUM *s, EVP_PKEY *key)
{
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t der_len = 0;

    SHD_GUARD(shd_crypto_ecdsa_der_from_bn(r, s, &der, &der_len));
    return shd_crypto_sig_verify(h, SHD_CRYPTO_SIG_PAD_NONE, msg, n, der, der_len, key);
}

SHD_RESULT shd_crypto_ecdsa_verify_raw(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                       const uint8_t *sig, size_t sig_len, EVP_PKEY *key)
{
    size_t field = 0;

    SHD_ENSURE_REF(sig);
    SHD_GUARD(shd_crypto_key_check_ec(key, "ECDSA", &field));
    /* RFC 7518 §3.4: exactly 2 * field bytes; anything else is invalid. */
    SHD_ENSURE_MSG(sig_len == 2 * field, SHD_ERR_BAD_SIGNATURE,
                   "ECDSA R||S of %zu bytes, expected %zu", sig_len, 2 * field);
    BIGNUM *r = BN_bin2bn(sig, (int)field, NULL);
    BIGNUM *s = BN_bin2bn(sig + field, (int)field, NULL);
    return shd_crypto_ecdsa_verify_bn(h, msg, n, r, s, key);
}

SHD_RESULT shd_crypto_ecdsa_p384_verify_le(
    const uint8_t *msg, size_t n, const uint8_t r[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN],
    const uint8_t s[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN], EVP_PKEY *key)
{
    static const uint8_t zero[SHD_LE_LEN - SHD_P384_LEN];

    SHD_ENSURE(r != NULL && s != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) == SHD_CRYPTO_KEY_EC_P384, SHD_ERR_BAD_KEY,
                   "SEV-SNP signature check needs a P-384 key");
    /* The high 24 bytes are zero padding; a non-zero byte there is no P-384 signature. */
    SHD_ENSURE_MSG(shd_memcmp(r + SHD_P384_LEN, zero, sizeof(zero)) == 0 &&
                       shd_memcmp(s + SHD_P384_LEN, zero, sizeof(zero)) == 0,
                   SHD_ERR_BAD_SIGNATURE, "ECDSA P-384 signature with non-zero padding");
    BIGNUM *bn_r = BN_lebin2bn(r, (int)SHD_P384_LEN, NULL);
    BIGNUM *bn_s = BN_lebin2bn(s, (int)SHD_P384_LEN, NULL);
    return shd_crypto_ecdsa_verify_bn(SHD_CRYPTO_HASH_SHA384, msg, n, bn_r, bn_s, key);
}

SHD_RESULT shd_crypto_snp_verify_report_sig(const uint8_t *report, size_t len, EVP_PKEY *vcek)
{
    SHD_ENSURE_REF(report);
    SHD_ENSURE_MSG(len >= SHD_SNP_REPORT_LEN, SHD_ERR_TRUNCATED,
                   "SEV-SNP report of %zu bytes, expected %u", len, SHD_SNP_REPORT_LEN);
    SHD_ENSURE_MSG(len == SHD_SNP_REPORT_LEN, SHD_ERR_TOO_LARGE,
                   "SEV-SNP report of %zu bytes, expected %u", len, SHD_SNP_REPORT_LEN);
    SHD_GUARD_CTX(shd_crypto_ecdsa_p384_verify_le(report, SHD_SNP_REPORT_SIGNED_LEN,
                                                  report + SHD_SNP_SIG_R_OFF,
                                                  report + SHD_SNP_SIG_S_OFF, vcek),
                  "SEV-SNP report signature");
    return SHD_OK;
}

SHD_RESULT shd_crypto_snp_sign_report(EVP_PKEY *key, uint8_t *report, size_t len)
{
    SHD_ENSURE_REF(report);
    SHD_ENSURE_MSG(len == SHD_SNP_REPORT_LEN, SHD_ERR_USAGE,
                   "SEV-SNP report of %zu bytes, expected %u", len, SHD_SNP_REPORT_LEN);
    /* The whole signature area is R, S and zeros (0x330..0x49F MBZ). */
    shd_memzero(report + SHD_SNP_SIG_R_OFF, SHD_SNP_REPORT_LEN - SHD_SNP_SIG_R_OFF);
    SHD_GUARD_CTX(shd_crypto_ecdsa_p384_sign_le(report, SHD_SNP_REPORT_SIGNED_LEN, key,
                                                report + SHD_SNP_SIG_R_OFF,
                                                report + SHD_SNP_SIG_S_OFF),
                  "signing the SEV-SNP report");
    return SHD_OK;
}
