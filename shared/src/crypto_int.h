/*
 * crypto_int.h - helpers shared by the crypto*.c sources; not part of the public API.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/result.h"

/* The OpenSSL digest name of h ("SHA256", ...), or NULL for an unknown value. */
const char *shd_crypto_hash_name(enum shd_crypto_hash h);

/* The EVP_MD of h (implicitly fetched, static), or NULL for an unknown value. */
const EVP_MD *shd_crypto_hash_md(enum shd_crypto_hash h);

/* SHD_OK when h may be used for signatures (SHA-256/384/512), SHD_ERR_USAGE otherwise. */
shd_result shd_crypto_hash_check_sig(enum shd_crypto_hash h);

/* SHD_OK when key is RSA, SHD_ERR_BAD_KEY otherwise (with a message naming the operation). */
shd_result shd_crypto_key_check_rsa(EVP_PKEY *key, const char *op);

/* SHD_OK when key is an EC key on P-256/384/521; *ret_field gets the field size in bytes. */
shd_result shd_crypto_key_check_ec(EVP_PKEY *key, const char *op, size_t *ret_field);

/* Field size in bytes of a curve (32, 48, 66), 0 for an unknown value. */
size_t shd_crypto_curve_field_len(enum shd_crypto_curve curve);

/* Padding choice of shd_crypto_sig_sign / _verify. */
enum shd_crypto_sig_pad {
    SHD_CRYPTO_SIG_PAD_NONE = 0, /* ECDSA */
    SHD_CRYPTO_SIG_PAD_PKCS1,    /* RSASSA-PKCS1-v1_5 */
    SHD_CRYPTO_SIG_PAD_PSS,      /* RSASSA-PSS, MGF1 with the same hash, salt = digest length */
};

/*
 * EVP_DigestSign over msg with hash h and the given padding. The signature comes back in a
 * fresh shd_alloc buffer (DER for ECDSA). Checks that key is private; the caller has checked
 * the key type.
 */
shd_result shd_crypto_sig_sign(enum shd_crypto_hash h, enum shd_crypto_sig_pad pad,
                               const uint8_t *msg, size_t n, EVP_PKEY *key, uint8_t **ret_sig,
                               size_t *ret_len);

/* EVP_DigestVerify; SHD_OK for a valid signature, SHD_ERR_BAD_SIGNATURE for anything else. */
shd_result shd_crypto_sig_verify(enum shd_crypto_hash h, enum shd_crypto_sig_pad pad,
                                 const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len,
                                 EVP_PKEY *key);
