/*
 * crypto_aead.h - AES-256-GCM (NIST SP 800-38D) and AES key wrap with padding (RFC 5649, "KWP",
 * the AES half of CKM_RSA_AES_KEY_WRAP, azure-formats.md §5.5).
 *
 * See crypto.h for the module conventions. Plaintext outputs go to caller memory and are wiped
 * on every failure path; a failed tag or integrity check is SHD_ERR_DECRYPT with one generic
 * message.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/crypto.h"
#include "shd/result.h"

#define SHD_CRYPTO_AES256_KEY_LEN 32u
#define SHD_CRYPTO_GCM_TAG_LEN 16u
#define SHD_CRYPTO_GCM_IV_LEN 12u      /* the recommended 96-bit IV */
#define SHD_CRYPTO_GCM_IV_LEN_LONG 16u /* 128-bit IV (GHASH-derived J0), also supported */

/* Largest plaintext either primitive accepts (OpenSSL lengths are int). */
#define SHD_CRYPTO_AEAD_MAX_LEN (1024u * 1024u * 1024u)

/* RFC 5649: the wrapped length of an n-byte key: 8 + ceil(n / 8) * 8. */
#define SHD_CRYPTO_KWP_WRAPPED_LEN(n) (8u + (((size_t)(n) + 7u) / 8u) * 8u)

/*
 * AES-256-GCM encryption of in[0..n) with an optional AAD (aad may be NULL when aad_len is 0).
 * iv_len must be 12 or 16 (SHD_ERR_USAGE otherwise); never reuse an IV with the same key.
 * Writes n ciphertext bytes to out (cap >= n; out may equal in) and the 16-byte tag to ret_tag.
 * On failure out[0..cap) is wiped.
 */
SHD_RESULT shd_crypto_aes256_gcm_encrypt(const uint8_t key[static SHD_CRYPTO_AES256_KEY_LEN],
                                         const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                                         size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
                                         size_t cap,
                                         uint8_t ret_tag[static SHD_CRYPTO_GCM_TAG_LEN]);

/*
 * AES-256-GCM decryption and tag check (done by OpenSSL in constant time). Parameters as above;
 * the tag is exactly 16 bytes. Writes n plaintext bytes to out (cap >= n; out may equal in).
 * SHD_ERR_DECRYPT when the tag does not verify; out[0..cap) is wiped on every failure.
 */
SHD_RESULT shd_crypto_aes256_gcm_decrypt(const uint8_t key[static SHD_CRYPTO_AES256_KEY_LEN],
                                         const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                                         size_t aad_len, const uint8_t *in, size_t n,
                                         const uint8_t tag[static SHD_CRYPTO_GCM_TAG_LEN],
                                         uint8_t *out, size_t cap);

/*
 * RFC 5649 wrap of in[0..n) (1 <= n) under a 16-, 24- or 32-byte KEK (AES-128/192/256 KWP).
 * Writes SHD_CRYPTO_KWP_WRAPPED_LEN(n) bytes into out[0..cap) (SHD_ERR_TOO_LARGE when cap is
 * smaller); *ret_len gets that length.
 */
SHD_RESULT shd_crypto_aes_kwp_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t n,
                                   uint8_t *out, size_t cap, size_t *ret_len);

/*
 * RFC 5649 unwrap. n must be a multiple of 8 and at least 16 (SHD_ERR_INPUT otherwise); out
 * must hold n - 8 bytes (SHD_ERR_TOO_LARGE otherwise) since the padded plaintext is written
 * before the padding is checked. An integrity failure (AIV, MLI or non-zero padding, RFC 5649
 * §3) is SHD_ERR_DECRYPT. out[0..cap) is wiped on every failure, and the padding bytes after
 * the plaintext are wiped on success. *ret_len gets the plaintext length (the MLI).
 */
SHD_RESULT shd_crypto_aes_kwp_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
                                     size_t n, uint8_t *out, size_t cap, size_t *ret_len);
