/*
 * jwk.h - JSON Web Keys (RFC 7517, RFC 7518 §6) <-> OpenSSL keys, RFC 7638 thumbprints, and the
 * exact JWK texts the Microsoft SKR sidecar produces (skr-sidecar.md §5.1, §5.6).
 *
 * Input is lenient where Key Vault is (kty "RSA-HSM"/"EC-HSM"/"oct-HSM", leading zero octets in
 * RSA integers) and strict where a mistake could weaken a key: EC coordinates and d must have
 * the full curve size (RFC 7518 §6.2.1.2, §6.2.2.1), points must be on the curve, RSA moduli
 * are SHD_JWK_RSA_MIN_BITS..SHD_JWK_RSA_MAX_BITS with an odd exponent > 1, private keys pass
 * OpenSSL's pairwise check. Binary members are strict unpadded base64url.
 *
 * Secrets: private members are decoded into wiped heap buffers and secure BIGNUMs. Private
 * output never goes through jansson (whose heap is not wiped, real-clients.md §3.8): it is
 * written into a buffer the caller wipes with shd_free_wipe.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "shd/result.h"

enum shd_jwk_kty {
    SHD_JWK_KTY_RSA = 1,
    SHD_JWK_KTY_EC,
    SHD_JWK_KTY_OCT,
};

#define SHD_JWK_RSA_MIN_BITS 2048
#define SHD_JWK_RSA_MAX_BITS 8192
/* Largest oct key accepted (Key Vault: "maximum size is 64", azure-formats.md §5.1). */
#define SHD_JWK_OCT_MAX 64
/* Length of a SHA-256 thumbprint in unpadded base64url. */
#define SHD_JWK_THUMBPRINT_LEN 43

/*
 * Maps a kty value to the enum, accepting Key Vault's "-HSM" spellings. Anything else is
 * SHD_ERR_UNSUPPORTED with the root message "key type <kty> not supported".
 */
SHD_RESULT shd_jwk_kty_parse(const char *kty, enum shd_jwk_kty *ret_kty);

/* The normalised name ("RSA", "EC", "oct"); NULL for a value outside the enum. */
const char *shd_jwk_kty_name(enum shd_jwk_kty kty);

/*
 * Imports the public part of an RSA or EC JWK (private members, if any, are ignored).
 * *ret_pkey is owned by the caller (EVP_PKEY_free). SHD_ERR_BAD_KEY for a key that fails the
 * checks above, SHD_ERR_UNSUPPORTED for another kty or curve, SHD_ERR_INPUT for missing or
 * mistyped members, SHD_ERR_ENCODING for bad base64url.
 */
SHD_RESULT shd_jwk_import_public(const json_t *jwk, EVP_PKEY **ret_pkey);

/*
 * Imports an RSA or EC private JWK. RSA needs n, e, d and all of p, q, dp, dq, qi ("oth",
 * multi-prime, is refused); EC needs crv, x, y and d. The key must pass the pairwise check.
 * Errors as shd_jwk_import_public.
 */
SHD_RESULT shd_jwk_import_private(const json_t *jwk, EVP_PKEY **ret_pkey);

/*
 * Decodes the secret of an oct JWK into out (cap bytes, caller's memory, e.g. secret pages).
 * The key must be 1..SHD_JWK_OCT_MAX bytes, exactly want_len when want_len != 0, and match
 * Key Vault's optional "key_size" (bits). SHD_ERR_BAD_KEY for a wrong length, SHD_ERR_TOO_LARGE
 * when it does not fit cap. On failure nothing is left in out.
 */
SHD_RESULT shd_jwk_import_oct(const json_t *jwk, size_t want_len, uint8_t *out, size_t cap,
                              size_t *ret_len);

/*
 * Exports the public part of an RSA or EC key as a new JWK object with members kty and n, e
 * (RSA, minimal big-endian) or crv, x, y (EC, full size). Caller owns *ret_jwk (json_decref).
 */
SHD_RESULT shd_jwk_export_public(EVP_PKEY *pkey, json_t **ret_jwk);

/*
 * RFC 7638 SHA-256 thumbprint of the public part of an RSA or EC key, unpadded base64url,
 * written NUL-terminated into ret (only on success).
 */
SHD_RESULT shd_jwk_thumbprint(EVP_PKEY *pkey, char ret[static SHD_JWK_THUMBPRINT_LEN + 1]);

/*
 * Checks a key_ops array (RFC 7517 §4.3) against the values the sidecar's JWK library accepts:
 * sign, verify, encrypt, decrypt, wrapKey, unwrapKey, deriveKey, deriveBits
 * (skr-sidecar.md §5.6). SHD_ERR_INPUT for a non-array, a non-string or another value, with
 * the root message "invalid key operation: <value>".
 */
SHD_RESULT shd_jwk_key_ops_check(const json_t *key_ops);

/*
 * Serialises a released RSA or EC private key the way the Microsoft sidecar returns it
 * (skr-sidecar.md §5.6): compact, members sorted, no kid, kty without "-HSM", key_ops copied
 * when key_ops is a non-empty array (checked with shd_jwk_key_ops_check; NULL or [] leaves it
 * out). RSA: d, dp, dq, e, key_ops, kty, n, p, q, qi as minimal big-endian; EC: crv, d,
 * key_ops, kty, x, y padded to the curve size.
 * *ret_json is NUL-terminated SECRET text: free it with shd_free_wipe(*ret_json, *ret_len).
 */
SHD_RESULT shd_jwk_released_write(EVP_PKEY *pkey, const json_t *key_ops, char **ret_json,
                                  size_t *ret_len);

/* Same for a released oct key of k_len (1..SHD_JWK_OCT_MAX) bytes: {"k","key_ops","kty":"oct"}. */
SHD_RESULT shd_jwk_released_oct_write(const uint8_t *k, size_t k_len, const json_t *key_ops,
                                      char **ret_json, size_t *ret_len);

/*
 * The runtime-data JWK set for the ephemeral wrapping key (skr-sidecar.md §5.1), byte for byte:
 * {"keys":[{"e":..,"key_ops":["encrypt"],"kid":"<RFC 7638 thumbprint>","kty":"RSA","n":..}]}
 * rsa must be an RSA key (its public part is used). *ret_json is a fresh NUL-terminated string
 * (shd_free), *ret_len (optional) its length.
 */
SHD_RESULT shd_jwk_wrapping_set_write(EVP_PKEY *rsa, char **ret_json, size_t *ret_len);
