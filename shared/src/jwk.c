/*
 * jwk.c - JWK import (RSA, EC, oct), public export and RFC 7638 thumbprints.
 *
 * Public keys are built by the crypto module (which checks RSA sizes and EC points); private
 * keys are assembled here from their components with OSSL_PARAM_BLD and must pass OpenSSL's
 * pairwise check. Every decoded private component sits in a wiped heap buffer and a secure
 * BIGNUM, and the OSSL_PARAM array that carries it keeps it in a block that is wiped on free.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/param_build.h>

#include "jose_int.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/mem.h"
#include "shd/safety.h"

SHD_DEFINE_CLEANUP(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free, param_bld_free_p)
/*
 * OSSL_PARAM_BLD_to_param puts the values of secure BIGNUMs into a separate secure block, and
 * OpenSSL 3.0's OSSL_PARAM_free releases that block with OPENSSL_secure_clear_free (wiped).
 */
SHD_DEFINE_CLEANUP(OSSL_PARAM, OSSL_PARAM_free, param_free_p)

/* Longest base64url member we decode: an 8192-bit RSA integer needs 1366 characters. */
#define JWK_MEMBER_MAX 2048

static const struct {
    const char *name;
    const char *hsm_name;
    enum shd_jwk_kty kty;
} KTYS[] = {
    {"RSA", "RSA-HSM", SHD_JWK_KTY_RSA},
    {"EC", "EC-HSM", SHD_JWK_KTY_EC},
    {"oct", "oct-HSM", SHD_JWK_KTY_OCT},
};

const struct shd_jwk_curve SHD_JWK_CURVES[SHD_JWK_CURVE_COUNT] = {
    {"P-256", "prime256v1", SHD_CRYPTO_CURVE_P256, SHD_CRYPTO_KEY_EC_P256, 32},
    {"P-384", "secp384r1", SHD_CRYPTO_CURVE_P384, SHD_CRYPTO_KEY_EC_P384, 48},
    {"P-521", "secp521r1", SHD_CRYPTO_CURVE_P521, SHD_CRYPTO_KEY_EC_P521, 66},
};

shd_result shd_jwk_kty_parse(const char *kty, enum shd_jwk_kty *ret_kty)
{
    SHD_ENSURE_REF(kty);
    SHD_ENSURE_REF(ret_kty);
    for (size_t i = 0; i < sizeof(KTYS) / sizeof(KTYS[0]); i++) {
        if (strcmp(kty, KTYS[i].name) == 0 || strcmp(kty, KTYS[i].hsm_name) == 0) {
            *ret_kty = KTYS[i].kty;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "key type %.32s not supported", kty);
}

const char *shd_jwk_kty_name(enum shd_jwk_kty kty)
{
    for (size_t i = 0; i < sizeof(KTYS) / sizeof(KTYS[0]); i++) {
        if (KTYS[i].kty == kty) {
            return KTYS[i].name;
        }
    }
    return NULL;
}

const struct shd_jwk_curve *shd_jwk_curve_by_kind(enum shd_crypto_key_kind kind)
{
    for (size_t i = 0; i < SHD_JWK_CURVE_COUNT; i++) {
        if (SHD_JWK_CURVES[i].kind == kind) {
            return &SHD_JWK_CURVES[i];
        }
    }
    return NULL;
}

static shd_result curve_by_crv(const char *crv, const struct shd_jwk_curve **ret)
{
    for (size_t i = 0; i < SHD_JWK_CURVE_COUNT; i++) {
        if (strcmp(crv, SHD_JWK_CURVES[i].crv) == 0) {
            *ret = &SHD_JWK_CURVES[i];
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "curve %.32s not supported", crv);
}

/*
 * Decodes the base64url member `name` (strict, unpadded: RFC 7515 §2) into a fresh buffer.
 * Buffers of private members must be released with shd_free_wipe.
 */
static shd_result member_b64(const json_t *jwk, const char *name, uint8_t **ret, size_t *ret_len)
{
    const char *s = NULL;
    SHD_GUARD(shd_json_get_string(jwk, name, &s));
    size_t n = strlen(s);
    SHD_ENSURE_MSG(n > 0, SHD_ERR_INPUT, "JWK member \"%s\" is empty", name);
    SHD_ENSURE_MSG(n <= JWK_MEMBER_MAX, SHD_ERR_TOO_LARGE, "JWK member \"%s\" too long", name);
    SHD_GUARD_CTX(shd_b64_decode(s, n, SHD_B64_URL_NOPAD, ret, ret_len), "JWK member \"%s\"", name);
    return SHD_OK;
}

static shd_result kty_of(const json_t *jwk, enum shd_jwk_kty *ret)
{
    const char *kty = NULL;
    SHD_ENSURE_MSG(json_is_object(jwk), SHD_ERR_INPUT, "JWK is not an object");
    SHD_GUARD(shd_json_get_string(jwk, "kty", &kty));
    return shd_jwk_kty_parse(kty, ret);
}

static shd_result rsa_public(const json_t *jwk, EVP_PKEY **ret)
{
    SHD_CLEANUP_FREE uint8_t *n = NULL;
    SHD_CLEANUP_FREE uint8_t *e = NULL;
    size_t n_len = 0;
    size_t e_len = 0;
    SHD_GUARD(member_b64(jwk, "n", &n, &n_len));
    SHD_GUARD(member_b64(jwk, "e", &e, &e_len));
    return shd_crypto_rsa_pubkey_from_ne(n, n_len, e, e_len, ret);
}

/* Decodes an EC coordinate (or d) that must be exactly the curve size (RFC 7518 §6.2.1.2). */
static shd_result ec_member(const json_t *jwk, const char *name, const struct shd_jwk_curve *c,
                            uint8_t **ret)
{
    uint8_t *v = NULL;
    size_t len = 0;
    SHD_GUARD(member_b64(jwk, name, &v, &len));
    if (len != c->size) {
        shd_free_wipe(v, len);
        SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "JWK member \"%s\" has %zu bytes, %s needs %zu", name, len,
                     c->crv, c->size);
    }
    *ret = v;
    return SHD_OK;
}

static shd_result ec_curve(const json_t *jwk, const struct shd_jwk_curve **ret)
{
    const char *crv = NULL;
    SHD_GUARD(shd_json_get_string(jwk, "crv", &crv));
    return curve_by_crv(crv, ret);
}

static shd_result ec_public(const json_t *jwk, EVP_PKEY **ret)
{
    const struct shd_jwk_curve *c = NULL;
    SHD_CLEANUP_FREE uint8_t *x = NULL;
    SHD_CLEANUP_FREE uint8_t *y = NULL;
    SHD_GUARD(ec_curve(jwk, &c));
    SHD_GUARD(ec_member(jwk, "x", c, &x));
    SHD_GUARD(ec_member(jwk, "y", c, &y));
    return shd_crypto_ec_pubkey_from_xy(c->curve, x, y, c->size, ret);
}

shd_result shd_jwk_import_public(const json_t *jwk, EVP_PKEY **ret_pkey)
{
    enum shd_jwk_kty kty;
    SHD_ENSURE_REF(jwk);
    SHD_ENSURE_REF(ret_pkey);
    SHD_GUARD(kty_of(jwk, &kty));
    switch (kty) {
    case SHD_JWK_KTY_RSA:
        return rsa_public(jwk, ret_pkey);
    case SHD_JWK_KTY_EC:
        return ec_public(jwk, ret_pkey);
    case SHD_JWK_KTY_OCT:
    default:
        SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "a symmetric JWK has no public key");
    }
}

/* Pushes a private base64url member as a secure BIGNUM; the decoded bytes are wiped. */
static shd_result push_secret_bn(const json_t *jwk, const char *name, const char *param,
                                 OSSL_PARAM_BLD *bld, BIGNUM **bns, size_t *nbns)
{
    uint8_t *v = NULL;
    size_t len = 0;
    SHD_GUARD(member_b64(jwk, name, &v, &len));
    BIGNUM *bn = BN_secure_new();
    if (bn == NULL || BN_bin2bn(v, (int)len, bn) == NULL) {
        shd_free_wipe(v, len);
        BN_clear_free(bn);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    shd_free_wipe(v, len);
    bns[(*nbns)++] = bn;
    SHD_GUARD_OSSL(OSSL_PARAM_BLD_push_BN(bld, param, bn), SHD_ERR_NOMEM);
    return SHD_OK;
}

/* Builds a key pair from params and runs OpenSSL's pairwise check on it. */
static shd_result keypair_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
    SHD_CLEANUP(param_free_p) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    SHD_ENSURE(params != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP(EVP_PKEY_CTX_free_p)
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_fromdata_init(ctx), SHD_ERR_CRYPTO);
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL;
    SHD_GUARD_OSSL(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params), SHD_ERR_BAD_KEY);
    SHD_CLEANUP(EVP_PKEY_CTX_free_p)
    EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    SHD_ENSURE(chk != NULL, SHD_ERR_NOMEM);
    if (EVP_PKEY_pairwise_check(chk) != 1) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "JWK private key does not match its public key");
    }
    *ret = SHD_TAKE_PTR(key);
    return SHD_OK;
}

static void bns_free(BIGNUM **bns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        BN_clear_free(bns[i]);
        bns[i] = NULL;
    }
}

static shd_result rsa_private_build(const json_t *jwk, OSSL_PARAM_BLD *bld, BIGNUM **bns,
                                    size_t *nbns)
{
    static const struct {
        const char *member;
        const char *param;
    } parts[] = {
        {"n", OSSL_PKEY_PARAM_RSA_N},          {"e", OSSL_PKEY_PARAM_RSA_E},
        {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
    };
    /* RFC 7518 §6.3.2.7: "oth" carries further primes; we support two-prime keys only. */
    SHD_ENSURE_MSG(json_object_get(jwk, "oth") == NULL, SHD_ERR_UNSUPPORTED,
                   "multi-prime RSA JWK not supported");
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        SHD_GUARD(push_secret_bn(jwk, parts[i].member, parts[i].param, bld, bns, nbns));
    }
    return SHD_OK;
}

static shd_result rsa_private(const json_t *jwk, EVP_PKEY **ret)
{
    /* The public half first: the crypto module checks modulus size and exponent. */
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *pub = NULL;
    SHD_GUARD(rsa_public(jwk, &pub));
    SHD_CLEANUP(param_bld_free_p) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    SHD_ENSURE(bld != NULL, SHD_ERR_NOMEM);
    BIGNUM *bns[8] = {NULL};
    size_t nbns = 0;
    shd_result r = rsa_private_build(jwk, bld, bns, &nbns);
    if (shd_is_ok(r)) {
        r = keypair_from_params("RSA", bld, ret);
    }
    bns_free(bns, nbns);
    return r;
}

static shd_result ec_private_build(const json_t *jwk, const struct shd_jwk_curve *c,
                                   OSSL_PARAM_BLD *bld, uint8_t *point, BIGNUM **bns, size_t *nbns)
{
    SHD_CLEANUP_FREE uint8_t *x = NULL;
    SHD_CLEANUP_FREE uint8_t *y = NULL;
    SHD_GUARD(ec_member(jwk, "x", c, &x));
    SHD_GUARD(ec_member(jwk, "y", c, &y));
    /* SEC 1 §2.3.3 uncompressed point: 0x04 || x || y. */
    point[0] = 0x04;
    shd_memcpy(point + 1, x, c->size);
    shd_memcpy(point + 1 + c->size, y, c->size);
    SHD_GUARD_OSSL(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0),
                   SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->size),
        SHD_ERR_NOMEM);
    uint8_t *d = NULL;
    SHD_GUARD(ec_member(jwk, "d", c, &d));
    BIGNUM *bn = BN_secure_new();
    if (bn == NULL || BN_bin2bn(d, (int)c->size, bn) == NULL) {
        shd_free_wipe(d, c->size);
        BN_clear_free(bn);
        SHD_BAIL(SHD_ERR_NOMEM);
    }
    shd_free_wipe(d, c->size);
    bns[(*nbns)++] = bn;
    SHD_GUARD_OSSL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn), SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result ec_private(const json_t *jwk, EVP_PKEY **ret)
{
    const struct shd_jwk_curve *c = NULL;
    SHD_GUARD(ec_curve(jwk, &c));
    SHD_CLEANUP(param_bld_free_p) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    SHD_ENSURE(bld != NULL, SHD_ERR_NOMEM);
    uint8_t point[1 + 2 * SHD_CRYPTO_EC_COORD_MAX];
    BIGNUM *bns[1] = {NULL};
    size_t nbns = 0;
    shd_result r = ec_private_build(jwk, c, bld, point, bns, &nbns);
    if (shd_is_ok(r)) {
        r = keypair_from_params("EC", bld, ret);
    }
    bns_free(bns, nbns);
    return r;
}

shd_result shd_jwk_import_private(const json_t *jwk, EVP_PKEY **ret_pkey)
{
    enum shd_jwk_kty kty;
    SHD_ENSURE_REF(jwk);
    SHD_ENSURE_REF(ret_pkey);
    SHD_GUARD(kty_of(jwk, &kty));
    switch (kty) {
    case SHD_JWK_KTY_RSA:
        return rsa_private(jwk, ret_pkey);
    case SHD_JWK_KTY_EC:
        return ec_private(jwk, ret_pkey);
    case SHD_JWK_KTY_OCT:
    default:
        SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "use shd_jwk_import_oct for a symmetric JWK");
    }
}

/* Decoded length of n unpadded base64 characters; SIZE_MAX when n is impossible (n % 4 == 1). */
static size_t b64_nopad_len(size_t n)
{
    static const size_t tail[4] = {0, SIZE_MAX, 1, 2};

    return tail[n % 4] == SIZE_MAX ? SIZE_MAX : n / 4 * 3 + tail[n % 4];
}

/* Key Vault's "key_size" (bits), when present, must agree with the key (azure-formats.md §5.1). */
static shd_result oct_key_size_check(const json_t *jwk, size_t len)
{
    const json_t *ks = json_object_get(jwk, "key_size");
    if (ks == NULL) {
        return SHD_OK;
    }
    SHD_ENSURE_MSG(json_is_integer(ks), SHD_ERR_INPUT, "JWK member \"key_size\" is not an integer");
    SHD_ENSURE_MSG(json_integer_value(ks) == (json_int_t)(len * 8), SHD_ERR_BAD_KEY,
                   "oct key has %zu bits, key_size says %" JSON_INTEGER_FORMAT, len * 8,
                   json_integer_value(ks));
    return SHD_OK;
}

shd_result shd_jwk_import_oct(const json_t *jwk, size_t want_len, uint8_t *out, size_t cap,
                              size_t *ret_len)
{
    enum shd_jwk_kty kty;
    const char *k = NULL;
    SHD_ENSURE_REF(jwk);
    SHD_ENSURE_REF(out);
    SHD_ENSURE_REF(ret_len);
    SHD_GUARD(kty_of(jwk, &kty));
    SHD_ENSURE_MSG(kty == SHD_JWK_KTY_OCT, SHD_ERR_UNSUPPORTED, "JWK is not a symmetric key");
    SHD_GUARD(shd_json_get_string(jwk, "k", &k));
    size_t n = strlen(k);
    size_t len = b64_nopad_len(n);
    SHD_ENSURE_MSG(len != SIZE_MAX, SHD_ERR_ENCODING, "JWK member \"k\": bad base64url length");
    SHD_ENSURE_MSG(len >= 1 && len <= SHD_JWK_OCT_MAX, SHD_ERR_BAD_KEY,
                   "oct key of %zu bytes, want 1..%d", len, SHD_JWK_OCT_MAX);
    SHD_ENSURE_MSG(want_len == 0 || len == want_len, SHD_ERR_BAD_KEY,
                   "oct key of %zu bytes, want %zu", len, want_len);
    SHD_ENSURE_MSG(len <= cap, SHD_ERR_TOO_LARGE, "oct key of %zu bytes does not fit %zu", len,
                   cap);
    SHD_GUARD(oct_key_size_check(jwk, len));
    size_t got = 0;
    SHD_GUARD_CTX(shd_b64_decode_into(k, n, SHD_B64_URL_NOPAD, out, cap, &got), "JWK member \"k\"");
    if (got != len) {
        shd_memzero(out, cap);
        SHD_BAIL(SHD_ERR_INTERNAL);
    }
    *ret_len = got;
    return SHD_OK;
}
