/*
 * crypto_rsa.h - RSA operations over EVP_PKEY: RSA-OAEP (RFC 8017 §7.1) encryption and
 * decryption, RSASSA-PSS (RFC 8017 §8.1) and RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) signatures.
 *
 * See crypto.h for the module conventions (ownership, wiping, error codes).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/result.h"

/*
 * RSA-OAEP encryption with an empty label and MGF1 over the same hash as the OAEP hash
 * (SHA-1, SHA-256 or SHA-384: CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, RSA_AES_KEY_WRAP_384,
 * azure-formats.md §5.5; SHA-512 is accepted too). The ciphertext is exactly the modulus size;
 * it comes back in a fresh buffer (shd_free). `in` must fit OAEP (n <= k - 2*hLen - 2), else
 * SHD_ERR_TOO_LARGE. SHD_ERR_BAD_KEY when key is not RSA.
 */
SHD_RESULT shd_crypto_rsa_oaep_encrypt(enum shd_crypto_hash h, const uint8_t *in, size_t n,
                                       EVP_PKEY *key, uint8_t **ret_ct, size_t *ret_len);

/*
 * RSA-OAEP decryption (same parameters as above) with the private key into caller memory
 * out[0..cap) (usually secret memory: the plaintext is a key). The ciphertext must be exactly
 * the modulus size. Any decryption or padding failure, and a plaintext longer than cap, give
 * SHD_ERR_DECRYPT with one generic message; out is wiped on every failure path. *ret_len gets
 * the plaintext length on success.
 */
SHD_RESULT shd_crypto_rsa_oaep_decrypt(enum shd_crypto_hash h, const uint8_t *in, size_t n,
                                       EVP_PKEY *key, uint8_t *out, size_t cap, size_t *ret_len);

/*
 * RSASSA-PSS signature over msg (hashed here with h; MGF1 with h; salt length = digest length,
 * as JOSE PS256/PS384/PS512 require, RFC 7518 §3.5). h is SHA-256, SHA-384 or SHA-512. The
 * signature (modulus size) comes back in a fresh buffer (shd_free).
 */
SHD_RESULT shd_crypto_rsa_pss_sign(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                   EVP_PKEY *key, uint8_t **ret_sig, size_t *ret_len);

/*
 * Verifies an RSASSA-PSS signature with the parameters above (salt length must equal the digest
 * length). SHD_OK only when the signature is valid; SHD_ERR_BAD_SIGNATURE otherwise (including
 * a signature of the wrong length); SHD_ERR_BAD_KEY when key is not RSA.
 */
SHD_RESULT shd_crypto_rsa_pss_verify(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     const uint8_t *sig, size_t sig_len, EVP_PKEY *key);

/* RSASSA-PKCS1-v1_5 signature (JOSE RS256/RS384/RS512); fresh buffer (shd_free). */
SHD_RESULT shd_crypto_rsa_pkcs1_sign(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     EVP_PKEY *key, uint8_t **ret_sig, size_t *ret_len);

/* Verifies an RSASSA-PKCS1-v1_5 signature; error codes as shd_crypto_rsa_pss_verify. */
SHD_RESULT shd_crypto_rsa_pkcs1_verify(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                       const uint8_t *sig, size_t sig_len, EVP_PKEY *key);
