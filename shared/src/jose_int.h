/*
 * jose_int.h - internals shared by the JOSE sources (jwk.c, jws.c, jwt.c, jose_*.c).
 *
 * Not installed, not part of the public API: the algorithm table, raw JOSE signature primitives
 * and the few helpers several JOSE files need.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/result.h"

/* Key family an algorithm needs. */
enum shd_jose_family {
    SHD_JOSE_FAMILY_RSA_PKCS1 = 1,
    SHD_JOSE_FAMILY_RSA_PSS,
    SHD_JOSE_FAMILY_ECDSA,
};

/* One row of the algorithm table (RFC 7518 §3.1). */
struct shd_jose_alg_info {
    enum shd_jws_alg alg;
    const char *name; /* the "alg" header value */
    enum shd_crypto_hash hash;
    enum shd_jose_family family;
    enum shd_crypto_key_kind ec_kind; /* ECDSA only: the curve the key must be on */
};

/* Row of alg, or NULL when alg is not a member of enum shd_jws_alg. */
const struct shd_jose_alg_info *shd_jose_alg_info(enum shd_jws_alg alg);

/*
 * Checks that key fits the algorithm: RSA key of at least SHD_JWS_RSA_MIN_BITS for RS and PS,
 * EC key on the algorithm's curve for ES. SHD_ERR_BAD_KEY otherwise.
 */
SHD_RESULT shd_jose_key_check(const struct shd_jose_alg_info *info, EVP_PKEY *key);

/* Verifies a JOSE-form signature (RSA: modulus-sized; ECDSA: R||S) over msg. */
SHD_RESULT shd_jose_sig_verify(const struct shd_jose_alg_info *info, EVP_PKEY *key,
                               const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                               size_t sig_len);

/* Signs msg and returns the JOSE-form signature in a fresh buffer (shd_free). */
SHD_RESULT shd_jose_sig_sign(const struct shd_jose_alg_info *info, EVP_PKEY *key,
                             const uint8_t *msg, size_t msg_len, uint8_t **ret_sig,
                             size_t *ret_len);

/* Decodes one std-base64 (padded, RFC 7517 §4.7) DER certificate of an x5c array. */
SHD_RESULT shd_jose_x5c_cert(const json_t *entry, X509 **ret_cert);

/* Maximum number of certificates accepted in an x5c array. */
#define SHD_JOSE_X5C_MAX 8

/* A JWK curve (RFC 7518 §6.2.1.1) and its OpenSSL names. */
struct shd_jwk_curve {
    const char *crv;   /* "P-256" */
    const char *group; /* OpenSSL group name */
    enum shd_crypto_curve curve;
    enum shd_crypto_key_kind kind;
    size_t size; /* bytes of a coordinate and of d */
};

#define SHD_JWK_CURVE_COUNT 3
extern const struct shd_jwk_curve SHD_JWK_CURVES[SHD_JWK_CURVE_COUNT];

/* The curve of an EC key kind, or NULL. */
const struct shd_jwk_curve *shd_jwk_curve_by_kind(enum shd_crypto_key_kind kind);
