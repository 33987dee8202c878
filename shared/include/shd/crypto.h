/*
 * crypto.h - the base of the crypto module: hash identifiers, one-shot digests, random bytes,
 * cleanup helpers for OpenSSL objects, and key generation, loading and export. OpenSSL 3 EVP and
 * OSSL_DECODER/ENCODER APIs only; no deprecated RSA_* / EC_KEY_* calls.
 *
 * The operations live in companion headers that include this one:
 *   shd/crypto_rsa.h    RSA-OAEP, RSASSA-PSS, RSASSA-PKCS1-v1_5
 *   shd/crypto_ecdsa.h  ECDSA (DER, JOSE R||S, SEV-SNP little-endian) and the SNP report signature
 *   shd/crypto_aead.h   AES-256-GCM and AES key wrap with padding (RFC 5649)
 *   shd/crypto_x509.h   certificates, chains and chain verification
 *
 * Conventions for the whole module:
 * - Keys are OpenSSL EVP_PKEY objects; the functions below never take ownership of a key they
 *   are given and never modify it. Keys returned through ret_* belong to the caller
 *   (EVP_PKEY_free, or SHD_CLEANUP(EVP_PKEY_free_p)).
 * - Secret outputs (decrypted or unwrapped keys, PKCS#8) are written into caller memory so that
 *   the caller can place them in secret memory; on every failure path the whole caller buffer
 *   is wiped. Public outputs (ciphertexts, signatures, SPKI) come back in fresh shd_alloc
 *   buffers, freed with shd_free.
 * - A key of the wrong type or size gives SHD_ERR_BAD_KEY; a verification failure gives
 *   SHD_ERR_BAD_SIGNATURE; a failed decryption, tag or unwrap check gives SHD_ERR_DECRYPT with
 *   one generic message (STYLE.md rule 20: nothing that helps a padding oracle).
 * - The OpenSSL error queue is drained by every failing function (into the shd error state).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/cleanup.h"
#include "shd/result.h"

/* Cleanup helpers for OpenSSL objects: SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = NULL; */
SHD_DEFINE_CLEANUP(EVP_PKEY, EVP_PKEY_free, EVP_PKEY_free_p)
SHD_DEFINE_CLEANUP(EVP_PKEY_CTX, EVP_PKEY_CTX_free, EVP_PKEY_CTX_free_p)
SHD_DEFINE_CLEANUP(EVP_MD_CTX, EVP_MD_CTX_free, EVP_MD_CTX_free_p)
SHD_DEFINE_CLEANUP(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free, EVP_CIPHER_CTX_free_p)
SHD_DEFINE_CLEANUP(X509, X509_free, X509_free_p)
SHD_DEFINE_CLEANUP(X509_STORE, X509_STORE_free, X509_STORE_free_p)
SHD_DEFINE_CLEANUP(X509_STORE_CTX, X509_STORE_CTX_free, X509_STORE_CTX_free_p)
SHD_DEFINE_CLEANUP(BIO, BIO_free_all, BIO_free_all_p)
SHD_DEFINE_CLEANUP(BIGNUM, BN_clear_free, BN_clear_free_p)
SHD_DEFINE_CLEANUP(ECDSA_SIG, ECDSA_SIG_free, ECDSA_SIG_free_p)

/* Hash functions. SHA-1 is accepted only where a wire format demands it (RSA-OAEP for
 * CKM_RSA_AES_KEY_WRAP, azure-formats.md §5.5); signature functions reject it. */
enum shd_crypto_hash {
    SHD_CRYPTO_HASH_SHA1 = 1,
    SHD_CRYPTO_HASH_SHA256,
    SHD_CRYPTO_HASH_SHA384,
    SHD_CRYPTO_HASH_SHA512,
};

#define SHD_CRYPTO_SHA1_LEN 20u
#define SHD_CRYPTO_SHA256_LEN 32u
#define SHD_CRYPTO_SHA384_LEN 48u
#define SHD_CRYPTO_SHA512_LEN 64u
#define SHD_CRYPTO_HASH_MAX_LEN 64u

/* Named curves (NIST P-256/P-384/P-521 = secp256r1/secp384r1/secp521r1). */
enum shd_crypto_curve {
    SHD_CRYPTO_CURVE_P256 = 1,
    SHD_CRYPTO_CURVE_P384,
    SHD_CRYPTO_CURVE_P521,
};

/* Largest coordinate / scalar of the curves above (P-521: 66 bytes). */
#define SHD_CRYPTO_EC_COORD_MAX 66u

/* What kind of key an EVP_PKEY holds (as far as this module cares). */
enum shd_crypto_key_kind {
    SHD_CRYPTO_KEY_OTHER = 0,
    SHD_CRYPTO_KEY_RSA,
    SHD_CRYPTO_KEY_EC_P256,
    SHD_CRYPTO_KEY_EC_P384,
    SHD_CRYPTO_KEY_EC_P521,
};

/* Upper bound of any PEM/DER input the loaders accept (a long chain still fits). */
#define SHD_CRYPTO_INPUT_MAX (1024u * 1024u)

/* Digest length of h, or 0 for an unknown value. */
size_t shd_crypto_hash_len(enum shd_crypto_hash h);

/*
 * One-shot digest of in[0..n) into out (cap bytes, at least shd_crypto_hash_len(h)).
 * *ret_len gets the digest length. SHD_ERR_USAGE for an unknown hash, SHD_ERR_TOO_LARGE when
 * cap is too small.
 */
SHD_RESULT shd_crypto_digest(enum shd_crypto_hash h, const uint8_t *in, size_t n, uint8_t *out,
                             size_t cap, size_t *ret_len);

/* Fixed-size conveniences over shd_crypto_digest. */
SHD_RESULT shd_crypto_sha256(const uint8_t *in, size_t n,
                             uint8_t out[static SHD_CRYPTO_SHA256_LEN]);
SHD_RESULT shd_crypto_sha384(const uint8_t *in, size_t n,
                             uint8_t out[static SHD_CRYPTO_SHA384_LEN]);
SHD_RESULT shd_crypto_sha512(const uint8_t *in, size_t n,
                             uint8_t out[static SHD_CRYPTO_SHA512_LEN]);

/* Fills out[0..n) from the OpenSSL CSPRNG (RAND_bytes). On failure out is wiped. */
SHD_RESULT shd_crypto_random(uint8_t *out, size_t n);

/* Kind of key (infallible; SHD_CRYPTO_KEY_OTHER for NULL or anything else). */
enum shd_crypto_key_kind shd_crypto_key_kind(EVP_PKEY *key);

/* True when key holds private material (an RSA d or an EC private scalar). */
bool shd_crypto_key_is_private(EVP_PKEY *key);

/*
 * Generates an RSA key of 2048, 3072 or 4096 bits (public exponent 65537). Other sizes give
 * SHD_ERR_USAGE. The caller owns *ret_key.
 */
SHD_RESULT shd_crypto_rsa_generate(unsigned bits, EVP_PKEY **ret_key);

/* Generates an EC key on the given curve. The caller owns *ret_key. */
SHD_RESULT shd_crypto_ec_generate(enum shd_crypto_curve curve, EVP_PKEY **ret_key);

/*
 * Parses a private key from memory: PEM or DER (detected), PKCS#8 PrivateKeyInfo or the
 * traditional RSA/EC forms; only RSA and EC P-256/384/521 keys. Encrypted keys are refused
 * (no passphrase is ever asked for). Any failure to parse is SHD_ERR_BAD_KEY; input over
 * SHD_CRYPTO_INPUT_MAX is SHD_ERR_TOO_LARGE. `in` is WIPED on every path, success or failure,
 * since it is a copy of the secret (STYLE.md rule 30). The caller owns *ret_key.
 */
SHD_RESULT shd_crypto_privkey_load(uint8_t *in, size_t n, EVP_PKEY **ret_key);

/*
 * Parses a public key from memory: SubjectPublicKeyInfo in PEM ("PUBLIC KEY") or DER, or a PEM
 * "RSA PUBLIC KEY" (PKCS#1). Trailing bytes after DER are rejected. The caller owns *ret_key.
 */
SHD_RESULT shd_crypto_pubkey_load(const uint8_t *in, size_t n, EVP_PKEY **ret_key);

/*
 * Encodes the private key as DER PKCS#8 PrivateKeyInfo (the form AKV/mHSM release wraps,
 * azure-formats.md §5.5) into caller memory out[0..cap). With out == NULL and cap == 0 only
 * *ret_len is set to the needed size. SHD_ERR_TOO_LARGE when cap is too small; on failure out
 * is wiped. SHD_ERR_BAD_KEY for a public-only key.
 */
SHD_RESULT shd_crypto_privkey_export_pkcs8_der(EVP_PKEY *key, uint8_t *out, size_t cap,
                                               size_t *ret_len);

/* Encodes the public part as DER SubjectPublicKeyInfo into a fresh buffer (shd_free). */
SHD_RESULT shd_crypto_pubkey_export_spki_der(EVP_PKEY *key, uint8_t **ret_der, size_t *ret_len);

/* Encodes the public part as PEM "PUBLIC KEY" into a fresh NUL-terminated string (shd_free);
 * *ret_len (optional) gets the length without the NUL. */
SHD_RESULT shd_crypto_pubkey_export_spki_pem(EVP_PKEY *key, char **ret_pem, size_t *ret_len);

/*
 * RSA public parameters as unsigned big-endian byte strings without leading zeros (JWK "n" and
 * "e", RFC 7518 §6.3.1). Fresh buffers (shd_free); SHD_ERR_BAD_KEY for a non-RSA key.
 */
SHD_RESULT shd_crypto_rsa_pubkey_to_ne(EVP_PKEY *key, uint8_t **ret_n, size_t *ret_n_len,
                                       uint8_t **ret_e, size_t *ret_e_len);

/*
 * Builds an RSA public key from big-endian n and e (leading zeros allowed). The modulus must be
 * 2048..8192 bits and e odd and > 1, else SHD_ERR_BAD_KEY. The caller owns *ret_key.
 */
SHD_RESULT shd_crypto_rsa_pubkey_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e,
                                         size_t e_len, EVP_PKEY **ret_key);

/*
 * EC public point as fixed-width big-endian coordinates (JWK "x" and "y", RFC 7518 §6.2.1.2:
 * the full field size, 32/48/66 bytes). ret_x and ret_y must hold SHD_CRYPTO_EC_COORD_MAX bytes;
 * *ret_coord_len gets the field size. SHD_ERR_BAD_KEY for a non-EC or unsupported-curve key.
 */
SHD_RESULT shd_crypto_ec_pubkey_to_xy(EVP_PKEY *key, enum shd_crypto_curve *ret_curve,
                                      uint8_t ret_x[static SHD_CRYPTO_EC_COORD_MAX],
                                      uint8_t ret_y[static SHD_CRYPTO_EC_COORD_MAX],
                                      size_t *ret_coord_len);

/*
 * Builds an EC public key from fixed-width big-endian coordinates (coord_len must be exactly
 * the field size of the curve). The point is checked to be on the curve (SHD_ERR_BAD_KEY
 * otherwise). The caller owns *ret_key.
 */
SHD_RESULT shd_crypto_ec_pubkey_from_xy(enum shd_crypto_curve curve, const uint8_t *x,
                                        const uint8_t *y, size_t coord_len, EVP_PKEY **ret_key);
