/*
 * crypto_x509.h - X.509 certificates: loading (PEM/DER, PEM bundles), chain verification
 * against explicit trust anchors (X509_STORE / X509_verify_cert), public keys and raw extension
 * values (the AMD VCEK/VLEK extensions of azure-formats.md §3.2).
 *
 * Trust is always explicit: verification never consults the system trust store. Time checks:
 * by default the chain must be valid now; the caller may give a fixed verification time or
 * switch time checks off (SHD_CRYPTO_X509_NO_TIME_CHECK). The latter exists for hardware-rooted
 * chains whose trust does not come from validity dates (AMD ARK/ASK last 25 years, a VCEK 7,
 * and an attestation report verified long after the fact should not fail because its VCEK
 * expired); it is a conscious decision of the caller, never a fallback.
 *
 * RSASSA-PSS signatures (AMD ARK/ASK: SHA-384, MGF1-SHA-384, salt 48) are handled by OpenSSL's
 * X.509 code. See crypto.h for the module conventions.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/result.h"

/* Most certificates a bundle may hold, and the deepest chain verification accepts. */
#define SHD_CRYPTO_X509_CHAIN_MAX 16u

/* Verification flags. */
#define SHD_CRYPTO_X509_NO_TIME_CHECK (1u << 0) /* ignore notBefore/notAfter (see above) */

/* Options of shd_crypto_x509_verify; a NULL pointer means all defaults. */
struct shd_crypto_x509_verify_opts {
    const char *host;   /* optional: the leaf must match this DNS name (RFC 6125 rules) */
    int64_t check_time; /* optional: seconds since the epoch to verify at; 0 means now */
    unsigned flags;     /* SHD_CRYPTO_X509_* */
};

/* Frees a stack and every certificate on it; NULL is fine. */
void shd_crypto_x509_chain_free(STACK_OF(X509) * chain);
SHD_DEFINE_CLEANUP(STACK_OF(X509), shd_crypto_x509_chain_free, shd_crypto_x509_chain_free_p)

/*
 * Parses one certificate, PEM ("CERTIFICATE") or DER (detected). DER must have no trailing
 * bytes; PEM takes the first certificate block. SHD_ERR_INPUT when nothing parses. The caller
 * owns *ret_cert.
 */
SHD_RESULT shd_crypto_x509_load(const uint8_t *in, size_t n, X509 **ret_cert);

/*
 * Parses a PEM bundle of one or more certificates in order (non-certificate PEM blocks are
 * skipped), or a single DER certificate. At most SHD_CRYPTO_X509_CHAIN_MAX certificates
 * (SHD_ERR_TOO_LARGE); none is SHD_ERR_INPUT. The caller owns *ret_chain.
 */
SHD_RESULT shd_crypto_x509_chain_load(const uint8_t *in, size_t n, STACK_OF(X509) * *ret_chain);

/*
 * Verifies `leaf` against the trust anchors `roots` (self-signed certificates; at least one),
 * building the path through `untrusted` intermediates (may be NULL). Signatures, validity
 * (unless disabled), CA flags and path length are checked by OpenSSL; the optional host name
 * is checked against the leaf. On failure: SHD_ERR_BAD_CERT with a message naming the error,
 * the depth and the subject of the failing certificate, e.g.
 * "certificate verify failed at depth 1 (CN=SEV-Milan): certificate signature failure".
 * None of the arguments is modified or retained.
 */
SHD_RESULT shd_crypto_x509_verify(X509 *leaf, STACK_OF(X509) * untrusted, STACK_OF(X509) * roots,
                                  const struct shd_crypto_x509_verify_opts *opts);

/* The certificate's public key, as a new reference the caller owns (EVP_PKEY_free). */
SHD_RESULT shd_crypto_x509_pubkey(X509 *cert, EVP_PKEY **ret_key);

/*
 * The raw extnValue bytes (contents of the OCTET STRING) of the extension with the given
 * dotted OID, e.g. "1.3.6.1.4.1.3704.1.4" (hwID). The pointer stays valid while cert lives.
 * SHD_ERR_NOT_FOUND when absent, SHD_ERR_INPUT when the extension occurs more than once or the
 * OID is not a dotted OID.
 */
SHD_RESULT shd_crypto_x509_ext_value(X509 *cert, const char *oid, const uint8_t **ret_data,
                                     size_t *ret_len);

/* DER encoding of the certificate into a fresh buffer (shd_free); e.g. for JOSE "x5c". */
SHD_RESULT shd_crypto_x509_export_der(X509 *cert, uint8_t **ret_der, size_t *ret_len);
