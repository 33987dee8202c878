/*
 * crypto_key.c - key generation, loading (OSSL_DECODER) and export (OSSL_ENCODER, i2d), and
 * the JWK-style public parameters of RSA and EC keys.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "crypto_int.h"

SHD_DEFINE_CLEANUP(OSSL_DECODER_CTX, OSSL_DECODER_CTX_free, shd_decoder_ctx_free_p)
SHD_DEFINE_CLEANUP(OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free, shd_encoder_ctx_free_p)
SHD_DEFINE_CLEANUP(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free, shd_param_bld_free_p)
SHD_DEFINE_CLEANUP(OSSL_PARAM, OSSL_PARAM_free, shd_param_free_p)

/* Smallest and largest RSA moduli accepted from outside (JWK n). */
#define SHD_CRYPTO_RSA_MIN_BITS 2048
#define SHD_CRYPTO_RSA_MAX_BITS 8192

static const char *shd_crypto_curve_name(enum shd_crypto_curve curve)
{
    switch (curve) {
    case SHD_CRYPTO_CURVE_P256:
        return "P-256";
    case SHD_CRYPTO_CURVE_P384:
        return "P-384";
    case SHD_CRYPTO_CURVE_P521:
        return "P-521";
    default:
        return NULL;
    }
}

SHD_RESULT shd_crypto_rsa_generate(unsigned bits, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    SHD_ENSURE_REF(ret_key);
    SHD_ENSURE_MSG(bits == 2048 || bits == 3072 || bits == 4096, SHD_ERR_USAGE,
                   "unsupported RSA key size %u", bits);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_keygen_init(ctx), SHD_ERR_CRYPTO);
    /* The default public exponent is 65537. */
    SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_PKEY_generate(ctx, &key), SHD_ERR_CRYPTO);
    *ret_key = key;
    return SHD_OK;
}

SHD_RESULT shd_crypto_ec_generate(enum shd_crypto_curve curve, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;
    const char *name = shd_crypto_curve_name(curve);
    EVP_PKEY *key = NULL;

    SHD_ENSURE_REF(ret_key);
    SHD_ENSURE_MSG(name != NULL, SHD_ERR_USAGE, "unknown curve %d", (int)curve);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_keygen_init(ctx), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_PKEY_CTX_set_group_name(ctx, name), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_PKEY_generate(ctx, &key), SHD_ERR_CRYPTO);
    *ret_key = key;
    return SHD_OK;
}

/* True when the input looks like PEM (DER starts with 0x30, never with '-' or whitespace). */
static bool shd_crypto_is_pem(const uint8_t *in, size_t n)
{
    static const char begin[] = "-----BEGIN ";
    size_t i = 0;

    while (i < n && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n')) {
        i++;
    }
    return n - i >= sizeof(begin) - 1 && shd_memcmp(in + i, begin, sizeof(begin) - 1) == 0;
}

/* Encrypted keys are not supported: refuse any passphrase request instead of letting OpenSSL
 * fall back to prompting on a terminal. */
static int shd_crypto_no_passphrase(char *pass, size_t size, size_t *ret_len,
                                    const OSSL_PARAM params[], void *arg)
{
    (void)pass;
    (void)size;
    (void)ret_len;
    (void)params;
    (void)arg;
    return 0;
}

/*
 * Decodes a key with OSSL_DECODER (input type and structure detected). DER must be consumed
 * completely; PEM may be followed by other text, as PEM files often are.
 */
static shd_result shd_crypto_decode_key(const uint8_t *in, size_t n, int selection,
                                        EVP_PKEY **ret_key)
{
    SHD_CLEANUP(shd_decoder_ctx_free_p) OSSL_DECODER_CTX *dctx = NULL;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    const unsigned char *p = in;
    size_t left = n;
    bool pem = shd_crypto_is_pem(in, n);

    dctx =
        OSSL_DECODER_CTX_new_for_pkey(&key, pem ? "PEM" : "DER", NULL, NULL, selection, NULL, NULL);
    SHD_ENSURE(dctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(OSSL_DECODER_CTX_set_passphrase_cb(dctx, shd_crypto_no_passphrase, NULL),
                   SHD_ERR_INTERNAL);
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || key == NULL) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "cannot parse %s key (%s)",
                     selection == EVP_PKEY_PUBLIC_KEY ? "public" : "private", pem ? "PEM" : "DER");
    }
    SHD_ENSURE_MSG(pem || left == 0, SHD_ERR_BAD_KEY, "%zu trailing bytes after DER key", left);
    SHD_ENSURE_MSG(shd_crypto_key_kind(key) != SHD_CRYPTO_KEY_OTHER, SHD_ERR_BAD_KEY,
                   "key type %s not supported", EVP_PKEY_get0_type_name(key));
    *ret_key = SHD_TAKE_PTR(key);
    return SHD_OK;
}

static shd_result shd_crypto_privkey_decode(const uint8_t *in, size_t n, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;

    SHD_ENSURE_REF(ret_key);
    SHD_ENSURE_MSG(n != 0, SHD_ERR_BAD_KEY, "empty private key");
    SHD_ENSURE(n <= SHD_CRYPTO_INPUT_MAX, SHD_ERR_TOO_LARGE);
    SHD_GUARD(shd_crypto_decode_key(in, n, EVP_PKEY_KEYPAIR, &key));
    SHD_ENSURE_MSG(shd_crypto_key_is_private(key), SHD_ERR_BAD_KEY, "not a private key");
    *ret_key = SHD_TAKE_PTR(key);
    return SHD_OK;
}

SHD_RESULT shd_crypto_privkey_load(uint8_t *in, size_t n, EVP_PKEY **ret_key)
{
    SHD_ENSURE_REF(in);
    shd_result r = shd_crypto_privkey_decode(in, n, ret_key);
    /* The caller's copy of the key is gone on every path (STYLE.md rule 30). */
    shd_memzero(in, n);
    return r;
}

SHD_RESULT shd_crypto_pubkey_load(const uint8_t *in, size_t n, EVP_PKEY **ret_key)
{
    SHD_ENSURE_REF(in);
    SHD_ENSURE_REF(ret_key);
    SHD_ENSURE_MSG(n != 0, SHD_ERR_BAD_KEY, "empty public key");
    SHD_ENSURE(n <= SHD_CRYPTO_INPUT_MAX, SHD_ERR_TOO_LARGE);
    return shd_crypto_decode_key(in, n, EVP_PKEY_PUBLIC_KEY, ret_key);
}

SHD_RESULT shd_crypto_privkey_export_pkcs8_der(EVP_PKEY *key, uint8_t *out, size_t cap,
                                               size_t *ret_len)
{
    SHD_CLEANUP(shd_encoder_ctx_free_p) OSSL_ENCODER_CTX *ectx = NULL;
    unsigned char *der = NULL;
    size_t der_len = 0;

    if (out != NULL) {
        shd_memzero(out, cap);
    }
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_len);
    SHD_ENSURE(out != NULL || cap == 0, SHD_ERR_NULL);
    SHD_ENSURE_MSG(shd_crypto_key_is_private(key), SHD_ERR_BAD_KEY, "not a private key");
    ectx = OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
    SHD_ENSURE(ectx != NULL, SHD_ERR_NOMEM);
    /* The encoder's memory BIO grows and frees with clearing (BUF_MEM_grow_clean/_free); the
     * stolen buffer is cleared below. */
    SHD_GUARD_OSSL(OSSL_ENCODER_to_data(ectx, &der, &der_len), SHD_ERR_CRYPTO);
    if (out == NULL) {
        OPENSSL_clear_free(der, der_len);
        *ret_len = der_len;
        return SHD_OK;
    }
    if (der_len > cap) {
        OPENSSL_clear_free(der, der_len);
        SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "PKCS#8 needs %zu bytes, have %zu", der_len, cap);
    }
    shd_memcpy(out, der, der_len);
    OPENSSL_clear_free(der, der_len);
    *ret_len = der_len;
    return SHD_OK;
}

SHD_RESULT shd_crypto_pubkey_export_spki_der(EVP_PKEY *key, uint8_t **ret_der, size_t *ret_len)
{
    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_der);
    SHD_ENSURE_REF(ret_len);
    int len = i2d_PUBKEY(key, NULL);
    SHD_ENSURE(len > 0, SHD_ERR_BAD_KEY);
    uint8_t *der = shd_alloc((size_t)len);
    SHD_ENSURE(der != NULL, SHD_ERR_NOMEM);
    unsigned char *p = der;
    if (i2d_PUBKEY(key, &p) != len) {
        shd_free(der);
        SHD_GUARD_OSSL(0, SHD_ERR_CRYPTO);
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    return SHD_OK;
}

SHD_RESULT shd_crypto_pubkey_export_spki_pem(EVP_PKEY *key, char **ret_pem, size_t *ret_len)
{
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = NULL;
    char *data = NULL;

    SHD_ENSURE_REF(key);
    SHD_ENSURE_REF(ret_pem);
    bio = BIO_new(BIO_s_mem());
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(PEM_write_bio_PUBKEY(bio, key), SHD_ERR_CRYPTO);
    long len = BIO_get_mem_data(bio, &data);
    SHD_ENSURE(len > 0 && data != NULL, SHD_ERR_INTERNAL);
    char *pem = shd_strndup(data, (size_t)len);
    SHD_ENSURE(pem != NULL, SHD_ERR_NOMEM);
    *ret_pem = pem;
    if (ret_len != NULL) {
        *ret_len = (size_t)len;
    }
    return SHD_OK;
}

/* A BIGNUM parameter of key as unsigned big-endian bytes (no leading zeros, at least 1 byte). */
static shd_result shd_crypto_bn_param(EVP_PKEY *key, const char *name, uint8_t **ret,
                                      size_t *ret_len)
{
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *bn = NULL;

    SHD_GUARD_OSSL(EVP_PKEY_get_bn_param(key, name, &bn), SHD_ERR_BAD_KEY);
    int len = BN_num_bytes(bn);
    size_t n = len > 0 ? (size_t)len : 1;
    uint8_t *buf = shd_alloc(n);
    SHD_ENSURE(buf != NULL, SHD_ERR_NOMEM);
    if (len > 0) {
        (void)BN_bn2bin(bn, buf);
    }
    *ret = buf;
    *ret_len = n;
    return SHD_OK;
}

SHD_RESULT shd_crypto_rsa_pubkey_to_ne(EVP_PKEY *key, uint8_t **ret_n, size_t *ret_n_len,
                                       uint8_t **ret_e, size_t *ret_e_len)
{
    SHD_CLEANUP_FREE uint8_t *n = NULL;
    size_t n_len = 0;
    uint8_t *e = NULL;
    size_t e_len = 0;

    SHD_ENSURE(ret_n != NULL && ret_n_len != NULL && ret_e != NULL && ret_e_len != NULL,
               SHD_ERR_NULL);
    SHD_GUARD(shd_crypto_key_check_rsa(key, "RSA public parameters"));
    SHD_GUARD(shd_crypto_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n, &n_len));
    SHD_GUARD(shd_crypto_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e, &e_len));
    *ret_n = SHD_TAKE_PTR(n);
    *ret_n_len = n_len;
    *ret_e = e;
    *ret_e_len = e_len;
    return SHD_OK;
}

/* Builds a key from parameters with EVP_PKEY_fromdata. */
static shd_result shd_crypto_key_fromdata(const char *type, OSSL_PARAM_BLD *bld, int selection,
                                          EVP_PKEY **ret_key)
{
    SHD_CLEANUP(shd_param_free_p) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    SHD_ENSURE(params != NULL, SHD_ERR_NOMEM);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_fromdata_init(ctx), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_PKEY_fromdata(ctx, &key, selection, params), SHD_ERR_BAD_KEY);
    *ret_key = key;
    return SHD_OK;
}

SHD_RESULT shd_crypto_rsa_pubkey_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e,
                                         size_t e_len, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(shd_param_bld_free_p) OSSL_PARAM_BLD *bld = NULL;
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *bn_n = NULL;
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *bn_e = NULL;

    SHD_ENSURE(n != NULL && e != NULL && ret_key != NULL, SHD_ERR_NULL);
    SHD_ENSURE(n_len <= 4096 && e_len <= 64, SHD_ERR_BAD_KEY);
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    SHD_ENSURE(bn_n != NULL && bn_e != NULL, SHD_ERR_NOMEM);
    int bits = BN_num_bits(bn_n);
    SHD_ENSURE_MSG(bits >= SHD_CRYPTO_RSA_MIN_BITS && bits <= SHD_CRYPTO_RSA_MAX_BITS,
                   SHD_ERR_BAD_KEY, "RSA modulus of %d bits not accepted", bits);
    SHD_ENSURE_MSG(BN_is_odd(bn_n) && BN_is_odd(bn_e) && !BN_is_one(bn_e) && BN_cmp(bn_e, bn_n) < 0,
                   SHD_ERR_BAD_KEY, "invalid RSA public parameters");
    bld = OSSL_PARAM_BLD_new();
    SHD_ENSURE(bld != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n), SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e), SHD_ERR_NOMEM);
    return shd_crypto_key_fromdata("RSA", bld, EVP_PKEY_PUBLIC_KEY, ret_key);
}

SHD_RESULT shd_crypto_ec_pubkey_to_xy(EVP_PKEY *key, enum shd_crypto_curve *ret_curve,
                                      uint8_t ret_x[static SHD_CRYPTO_EC_COORD_MAX],
                                      uint8_t ret_y[static SHD_CRYPTO_EC_COORD_MAX],
                                      size_t *ret_coord_len)
{
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *x = NULL;
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *y = NULL;
    size_t field = 0;
    enum shd_crypto_curve curve;

    SHD_ENSURE(ret_curve != NULL && ret_coord_len != NULL, SHD_ERR_NULL);
    SHD_GUARD(shd_crypto_key_check_ec(key, "EC public parameters", &field));
    switch (shd_crypto_key_kind(key)) {
    case SHD_CRYPTO_KEY_EC_P256:
        curve = SHD_CRYPTO_CURVE_P256;
        break;
    case SHD_CRYPTO_KEY_EC_P384:
        curve = SHD_CRYPTO_CURVE_P384;
        break;
    default:
        curve = SHD_CRYPTO_CURVE_P521;
        break;
    }
    SHD_GUARD_OSSL(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x), SHD_ERR_BAD_KEY);
    SHD_GUARD_OSSL(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y), SHD_ERR_BAD_KEY);
    /* JWK coordinates are the full field size, left-padded (RFC 7518 §6.2.1.2). */
    SHD_ENSURE(BN_bn2binpad(x, ret_x, (int)field) == (int)field, SHD_ERR_BAD_KEY);
    SHD_ENSURE(BN_bn2binpad(y, ret_y, (int)field) == (int)field, SHD_ERR_BAD_KEY);
    *ret_curve = curve;
    *ret_coord_len = field;
    return SHD_OK;
}

SHD_RESULT shd_crypto_ec_pubkey_from_xy(enum shd_crypto_curve curve, const uint8_t *x,
                                        const uint8_t *y, size_t coord_len, EVP_PKEY **ret_key)
{
    SHD_CLEANUP(shd_param_bld_free_p) OSSL_PARAM_BLD *bld = NULL;
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_CLEANUP(EVP_PKEY_CTX_free_p) EVP_PKEY_CTX *ctx = NULL;
    uint8_t point[1 + 2 * SHD_CRYPTO_EC_COORD_MAX];
    const char *name = shd_crypto_curve_name(curve);
    size_t field = shd_crypto_curve_field_len(curve);

    SHD_ENSURE(x != NULL && y != NULL && ret_key != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(name != NULL, SHD_ERR_USAGE, "unknown curve %d", (int)curve);
    SHD_ENSURE_MSG(coord_len == field, SHD_ERR_BAD_KEY, "EC coordinate of %zu bytes, %s needs %zu",
                   coord_len, name, field);
    /* Uncompressed point encoding, SEC 1 §2.3.3. */
    point[0] = 0x04;
    shd_memcpy(point + 1, x, field);
    shd_memcpy(point + 1 + field, y, field);
    bld = OSSL_PARAM_BLD_new();
    SHD_ENSURE(bld != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, name, 0),
                   SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field),
        SHD_ERR_NOMEM);
    SHD_GUARD(shd_crypto_key_fromdata("EC", bld, EVP_PKEY_PUBLIC_KEY, &key));
    /* Explicit check that the point is on the curve and not the identity (invalid-curve
     * attacks on ECDH; for ECDSA it rejects keys no honest signer has). */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_public_check(ctx), SHD_ERR_BAD_KEY);
    *ret_key = SHD_TAKE_PTR(key);
    return SHD_OK;
}
