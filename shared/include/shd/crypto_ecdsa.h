/*
 * crypto_ecdsa.h - ECDSA over NIST P-256/P-384/P-521 with three signature encodings:
 *   DER    ECDSA-Sig-Value (RFC 3279 §2.2.3), as X.509 and OpenSSL use it;
 *   raw    R || S, each the fixed field size big-endian (JOSE ES256/ES384/ES512, RFC 7518 §3.4);
 *   LE     the AMD SEV-SNP layout: R and S as 72-byte little-endian, zero-padded fields
 *          (azure-formats.md §1.2; P-384 uses the low 48 bytes).
 * and the SEV-SNP report signature check built on the LE form.
 *
 * See crypto.h for the module conventions. The hash is given separately from the key; callers
 * pair them (ES256 = P-256 + SHA-256, ...). SHA-1 is rejected.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "shd/crypto.h"
#include "shd/result.h"

/* Size of one little-endian signature component in the SEV-SNP report (0x2A0 and 0x2E8). */
#define SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN 72u

/* Largest raw R || S signature (P-521: 2 * 66). */
#define SHD_CRYPTO_ECDSA_RAW_MAX (2u * SHD_CRYPTO_EC_COORD_MAX)

/* Signs msg (hashed with h) and returns a DER ECDSA-Sig-Value in a fresh buffer (shd_free). */
SHD_RESULT shd_crypto_ecdsa_sign_der(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     EVP_PKEY *key, uint8_t **ret_sig, size_t *ret_len);

/*
 * Signs msg and writes R || S (each the field size of the key's curve, big-endian) into
 * out[0..cap); *ret_len gets 64, 96 or 132. SHD_ERR_TOO_LARGE when cap is too small.
 */
SHD_RESULT shd_crypto_ecdsa_sign_raw(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                     EVP_PKEY *key, uint8_t *out, size_t cap, size_t *ret_len);

/*
 * Signs msg with a P-384 key and SHA-384 and writes R and S little-endian into two 72-byte
 * fields (the top 24 bytes zero), the layout of the SEV-SNP report. SHD_ERR_BAD_KEY for any key
 * that is not a P-384 private key.
 */
SHD_RESULT shd_crypto_ecdsa_p384_sign_le(const uint8_t *msg, size_t n, EVP_PKEY *key,
                                         uint8_t ret_r[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN],
                                         uint8_t ret_s[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN]);

/*
 * Verifies a DER ECDSA signature over msg. Non-canonical DER (trailing bytes, non-minimal
 * integers) is rejected. SHD_OK only for a valid signature; SHD_ERR_BAD_SIGNATURE otherwise;
 * SHD_ERR_BAD_KEY when key is not an EC key on a supported curve.
 */
SHD_RESULT shd_crypto_ecdsa_verify_der(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                       const uint8_t *sig, size_t sig_len, EVP_PKEY *key);

/* Verifies a raw R || S signature; sig_len must be exactly twice the key's field size. */
SHD_RESULT shd_crypto_ecdsa_verify_raw(enum shd_crypto_hash h, const uint8_t *msg, size_t n,
                                       const uint8_t *sig, size_t sig_len, EVP_PKEY *key);

/*
 * Verifies a P-384 / SHA-384 signature given as two 72-byte little-endian fields. The top 24
 * bytes of each field must be zero (SHD_ERR_BAD_SIGNATURE otherwise). SHD_ERR_BAD_KEY when key
 * is not P-384.
 */
SHD_RESULT shd_crypto_ecdsa_p384_verify_le(
    const uint8_t *msg, size_t n, const uint8_t r[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN],
    const uint8_t s[static SHD_CRYPTO_ECDSA_LE_COMPONENT_LEN], EVP_PKEY *key);

/*
 * Checks the signature of a SEV-SNP ATTESTATION_REPORT (azure-formats.md §1.2): ECDSA P-384 /
 * SHA-384 by the VCEK or VLEK public key over bytes 0x000..0x29F, R and S little-endian at 0x2A0
 * and 0x2E8. Only the signature: parsing and policy are shd/snp_report.h's. len must be exactly
 * 1184 (SHD_ERR_TRUNCATED when shorter, SHD_ERR_TOO_LARGE when longer).
 */
SHD_RESULT shd_crypto_snp_verify_report_sig(const uint8_t *report, size_t len, EVP_PKEY *vcek);

/*
 * Signs a SEV-SNP report in place, for the software SNP simulator: signs bytes 0x000..0x29F
 * with the P-384 private key, writes R and S little-endian at 0x2A0/0x2E8 and zeroes the rest
 * of the signature area up to 0x49F. len must be exactly 1184. On failure the signature area
 * is zeroed.
 */
SHD_RESULT shd_crypto_snp_sign_report(EVP_PKEY *key, uint8_t *report, size_t len);
