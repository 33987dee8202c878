/*
 * kms.h - the Cloud KMS REST calls gcp-wif makes (gcp-identity.md 6), each with CRC32C in both
 * directions: the request carries the checksum of what we send, the answer must confirm it
 * (verified*Crc32c) where KMS defines that, and the checksum of what we receive is recomputed
 * and compared. A mismatch either way is an error (SHD_ERR_INPUT "... checksum mismatch").
 *
 * Plaintexts come back in struct shd_secret (locked, guarded, wiped pages); the HTTP response
 * and jansson buffers they passed through are wiped when freed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shd/result.h"

struct shd_http_client;
struct shd_secret;
struct wif_kms;

/* Cached public keys (one per key version). */
#define WIF_KMS_PUBKEY_CACHE 16u
/* Google's limit on encrypt plaintext (64 KiB) and our bound on any ciphertext we send. */
#define WIF_KMS_PLAINTEXT_MAX ((size_t)64 * 1024)
#define WIF_KMS_CIPHERTEXT_MAX ((size_t)64 * 1024 + 1024)

/* http is borrowed and must outlive the kms; base_url is copied. */
SHD_RESULT wif_kms_new(const struct shd_http_client *http, const char *base_url,
                       struct wif_kms **ret);
void wif_kms_free(struct wif_kms **k);

/*
 * GET /v1/<version>/publicKey: the PEM SubjectPublicKeyInfo and the algorithm name, cached per
 * version for the life of the process (public keys of a version never change). pemCrc32c, when
 * present, must match the PEM. *ret_pem / *ret_alg are fresh copies (shd_free).
 */
SHD_RESULT wif_kms_public_key(const char *version, const char *access_token, struct wif_kms *k,
                              char **ret_pem, char **ret_alg);

/*
 * POST /v1/<version>:asymmetricDecrypt with ciphertextCrc32c; the answer must say
 * verifiedCiphertextCrc32c true and carry a plaintextCrc32c matching the plaintext.
 */
SHD_RESULT wif_kms_asymmetric_decrypt(const char *version, const uint8_t *ct, size_t ct_len,
                                      const char *access_token, struct wif_kms *k,
                                      struct shd_secret **ret_plain);

/*
 * POST /v1/<key>:decrypt (a crypto key, not a version) with ciphertextCrc32c; the answer's
 * plaintextCrc32c must match (KMS defines no verified flag for decrypt).
 */
SHD_RESULT wif_kms_decrypt(const char *key, const uint8_t *ct, size_t ct_len,
                           const char *access_token, struct wif_kms *k,
                           struct shd_secret **ret_plain);

/*
 * POST /v1/<key>:encrypt with plaintextCrc32c; the answer must say verifiedPlaintextCrc32c true
 * and carry a ciphertextCrc32c matching the ciphertext. *ret_ct: fresh buffer (shd_free).
 */
SHD_RESULT wif_kms_encrypt(const char *key, const uint8_t *pt, size_t pt_len,
                           const char *access_token, struct wif_kms *k, uint8_t **ret_ct,
                           size_t *ret_len);
