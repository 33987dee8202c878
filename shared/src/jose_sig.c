/*
 * jose_sig.c - the JWS algorithm table and JOSE-form signatures.
 *
 * The primitives are the crypto module's (RSASSA-PKCS1-v1_5, RSASSA-PSS with MGF1 of the same
 * hash and a digest-long salt as RFC 7518 §3.5 wants, ECDSA as fixed-size R||S as RFC 7518 §3.4
 * wants). This file only maps a JWS algorithm to them and checks that the key fits the
 * algorithm before any of them runs.
 */
#include <string.h>

#include "jose_int.h"
#include "shd/crypto.h"
#include "shd/crypto_ecdsa.h"
#include "shd/crypto_rsa.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

static const struct shd_jose_alg_info ALGS[] = {
    {SHD_JWS_RS256, "RS256", SHD_CRYPTO_HASH_SHA256, SHD_JOSE_FAMILY_RSA_PKCS1, 0},
    {SHD_JWS_RS384, "RS384", SHD_CRYPTO_HASH_SHA384, SHD_JOSE_FAMILY_RSA_PKCS1, 0},
    {SHD_JWS_RS512, "RS512", SHD_CRYPTO_HASH_SHA512, SHD_JOSE_FAMILY_RSA_PKCS1, 0},
    {SHD_JWS_PS256, "PS256", SHD_CRYPTO_HASH_SHA256, SHD_JOSE_FAMILY_RSA_PSS, 0},
    {SHD_JWS_PS384, "PS384", SHD_CRYPTO_HASH_SHA384, SHD_JOSE_FAMILY_RSA_PSS, 0},
    {SHD_JWS_PS512, "PS512", SHD_CRYPTO_HASH_SHA512, SHD_JOSE_FAMILY_RSA_PSS, 0},
    {SHD_JWS_ES256, "ES256", SHD_CRYPTO_HASH_SHA256, SHD_JOSE_FAMILY_ECDSA, SHD_CRYPTO_KEY_EC_P256},
    {SHD_JWS_ES384, "ES384", SHD_CRYPTO_HASH_SHA384, SHD_JOSE_FAMILY_ECDSA, SHD_CRYPTO_KEY_EC_P384},
    {SHD_JWS_ES512, "ES512", SHD_CRYPTO_HASH_SHA512, SHD_JOSE_FAMILY_ECDSA, SHD_CRYPTO_KEY_EC_P521},
};

const struct shd_jose_alg_info *shd_jose_alg_info(enum shd_jws_alg alg)
{
    for (size_t i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++) {
        if (ALGS[i].alg == alg) {
            return &ALGS[i];
        }
    }
    return NULL;
}

const char *shd_jws_alg_name(enum shd_jws_alg alg)
{
    const struct shd_jose_alg_info *info = shd_jose_alg_info(alg);

    return info == NULL ? NULL : info->name;
}

shd_result shd_jws_alg_parse(const char *name, enum shd_jws_alg *ret_alg)
{
    SHD_ENSURE_REF(name);
    SHD_ENSURE_REF(ret_alg);
    for (size_t i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++) {
        if (strcmp(ALGS[i].name, name) == 0) {
            *ret_alg = ALGS[i].alg;
            return SHD_OK;
        }
    }
    SHD_BAIL_MSG(SHD_ERR_UNSUPPORTED, "unsupported algorithm \"%.32s\"", name);
}

shd_result shd_jose_key_check(const struct shd_jose_alg_info *info, EVP_PKEY *key)
{
    SHD_ENSURE_REF(info);
    SHD_ENSURE_REF(key);
    enum shd_crypto_key_kind kind = shd_crypto_key_kind(key);
    if (info->family == SHD_JOSE_FAMILY_ECDSA) {
        SHD_ENSURE_MSG(kind == info->ec_kind, SHD_ERR_BAD_KEY,
                       "algorithm %s needs an EC key on its curve", info->name);
        return SHD_OK;
    }
    SHD_ENSURE_MSG(kind == SHD_CRYPTO_KEY_RSA, SHD_ERR_BAD_KEY, "algorithm %s needs an RSA key",
                   info->name);
    SHD_ENSURE_MSG(EVP_PKEY_get_bits(key) >= SHD_JWS_RSA_MIN_BITS, SHD_ERR_BAD_KEY,
                   "RSA key of %d bits is too small", EVP_PKEY_get_bits(key));
    return SHD_OK;
}

shd_result shd_jose_sig_verify(const struct shd_jose_alg_info *info, EVP_PKEY *key,
                               const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                               size_t sig_len)
{
    SHD_GUARD(shd_jose_key_check(info, key));
    shd_result r;
    switch (info->family) {
    case SHD_JOSE_FAMILY_RSA_PKCS1:
        r = shd_crypto_rsa_pkcs1_verify(info->hash, msg, msg_len, sig, sig_len, key);
        break;
    case SHD_JOSE_FAMILY_RSA_PSS:
        r = shd_crypto_rsa_pss_verify(info->hash, msg, msg_len, sig, sig_len, key);
        break;
    case SHD_JOSE_FAMILY_ECDSA:
        r = shd_crypto_ecdsa_verify_raw(info->hash, msg, msg_len, sig, sig_len, key);
        break;
    default:
        shd_misuse("unknown JOSE algorithm family");
    }
    if (shd_is_err(r)) {
        /* One generic failure whatever the cause (STYLE.md rule 20). */
        SHD_BAIL_MSG(SHD_ERR_BAD_SIGNATURE, "signature verification failed");
    }
    return SHD_OK;
}

shd_result shd_jose_sig_sign(const struct shd_jose_alg_info *info, EVP_PKEY *key,
                             const uint8_t *msg, size_t msg_len, uint8_t **ret_sig, size_t *ret_len)
{
    SHD_GUARD(shd_jose_key_check(info, key));
    SHD_ENSURE_REF(ret_sig);
    SHD_ENSURE_REF(ret_len);
    switch (info->family) {
    case SHD_JOSE_FAMILY_RSA_PKCS1:
        return shd_crypto_rsa_pkcs1_sign(info->hash, msg, msg_len, key, ret_sig, ret_len);
    case SHD_JOSE_FAMILY_RSA_PSS:
        return shd_crypto_rsa_pss_sign(info->hash, msg, msg_len, key, ret_sig, ret_len);
    case SHD_JOSE_FAMILY_ECDSA: {
        uint8_t raw[SHD_CRYPTO_ECDSA_RAW_MAX];
        size_t len = 0;
        SHD_GUARD(shd_crypto_ecdsa_sign_raw(info->hash, msg, msg_len, key, raw, sizeof(raw), &len));
        uint8_t *sig = shd_memdup(raw, len);
        SHD_ENSURE(sig != NULL, SHD_ERR_NOMEM);
        *ret_sig = sig;
        *ret_len = len;
        return SHD_OK;
    }
    default:
        shd_misuse("unknown JOSE algorithm family");
    }
}
