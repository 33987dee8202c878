/*
 * unwrap.h - opening a Key Vault / Managed HSM release blob (CKM_RSA_AES_KEY_WRAP and its _256 /
 * _384 variants, azure-formats.md §5.5) and turning the released key material into the JWK text
 * the sidecar returns (skr-sidecar.md §5.5-§5.6).
 *
 *   ciphertext = RSA-OAEP(wrapping public key, KEK) || AES-KWP(KEK, key material)   (RFC 5649)
 *
 * The OAEP hash (also used for MGF1, empty label) comes from the "enc" that Key Vault echoes in
 * the release payload. Key material is raw bytes for oct keys and PKCS#8 DER for RSA and EC.
 *
 * Secrets: the KEK lives on the stack only while it is used and is wiped on every path; the
 * unwrapped key material is written straight into secret memory (shd/secret.h). Error texts are
 * those of the original (pkg/common/akv.go, keywrap.go, pkg/skr/skr.go), so that the handler's
 * message matches; malformed blobs that made the original panic get a message instead (D7).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/result.h"

struct shd_secret;

/* Key-wrapping algorithms of the release API (KeyExportEncryptionAlgorithm). */
enum skr_wrap_alg {
    SKR_WRAP_CKM_RSA_AES_KEY_WRAP = 1, /* OAEP SHA-1 */
    SKR_WRAP_RSA_AES_KEY_WRAP_256,     /* OAEP SHA-256 */
    SKR_WRAP_RSA_AES_KEY_WRAP_384,     /* OAEP SHA-384 */
};

/* Largest unwrapped key material accepted (an RSA-8192 PKCS#8 is about 4.8 KiB). */
#define SKR_UNWRAP_MAX_KEY_LEN ((size_t)16 * 1024)

/*
 * Maps an "enc" name (exact, case-sensitive) to the algorithm. Anything else (NULL included):
 * SHD_ERR_UNSUPPORTED "Unsupported hash for the wrapping protocol".
 */
SHD_RESULT skr_wrap_alg_parse(const char *enc, enum skr_wrap_alg *ret_alg);

/* OAEP hash of an algorithm (infallible for values of the enum). */
enum shd_crypto_hash skr_wrap_alg_hash(enum skr_wrap_alg alg);

/*
 * RFC 5649 AES key unwrap with padding under a 16-, 24- or 32-byte KEK. in_len must be a multiple
 * of 8 and at least 16 (SHD_ERR_INPUT otherwise); out must hold in_len - 8 bytes
 * (SHD_ERR_TOO_LARGE otherwise). Integrity failures are SHD_ERR_DECRYPT with the original's
 * texts: "integrity check failed - unexpected AIV [166 89 89 0]", "... - unexpected MLI [0 0 0 9]"
 * (bytes in decimal, as Go prints a []byte), "... - padded key data is not zero".
 * out[0..cap) is wiped on every failure and the padding after the key on success; *ret_len gets
 * the key length (the MLI).
 */
SHD_RESULT skr_aes_kwp_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                              uint8_t *out, size_t cap, size_t *ret_len);

/*
 * RsaAESKeyUnwrap: decrypts the KEK from the first modulus-size bytes of ct with the private
 * wrapping key (OAEP with the hash of enc), then unwraps the rest. The key material comes back
 * in a fresh secret of exactly its length (shd_secret_free). Errors (SHD_ERR_DECRYPT unless
 * noted), in the original's words:
 *   "Unsupported hash for the wrapping protocol" (SHD_ERR_UNSUPPORTED)
 *   "ciphertext of N bytes is shorter than the wrapping key's 256" (SHD_ERR_INPUT, D7)
 *   "OAEP decryption failed: crypto/rsa: decryption error"
 *   "new aes cipher generation failed: crypto/aes: invalid key size N"
 *   the texts of skr_aes_kwp_unwrap.
 */
SHD_RESULT skr_rsa_aes_unwrap(const char *enc, const uint8_t *ct, size_t ct_len,
                              EVP_PKEY *wrapping_key, struct shd_secret **ret_material);

/*
 * Serialises released key material as the sidecar's JWK text (§5.6): kty "oct"/"oct-HSM" (raw
 * bytes), "RSA"/"RSA-HSM" or "EC"/"EC-HSM" (PKCS#8 DER, whose key type must agree with kty),
 * key_ops copied when non-empty (NULL allowed). material is WIPED by this call (its bytes are
 * consumed), success or not; the caller still frees it. *ret_json is SECRET text: free it with
 * shd_free_wipe(*ret_json, *ret_len + 1). Errors in the original's words:
 *   "released key type <kty> not supported" (SHD_ERR_UNSUPPORTED)
 *   "could not encode OCT key as JWK: ...", "could not parse RSA key: ...",
 *   "could not parse ECDSA key: ..." (SHD_ERR_BAD_KEY),
 *   "setting key_ops on JWK failed: invalid key operation: <op>" (SHD_ERR_INPUT).
 */
SHD_RESULT skr_released_jwk_write(const char *kty, const json_t *key_ops,
                                  struct shd_secret *material, char **ret_json, size_t *ret_len);
