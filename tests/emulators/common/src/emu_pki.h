/*
 * emu_pki.h - the emulators' test PKI over OpenSSL: key generation, names, X.509 v3 certificate
 * building (serial, validity, extensions from OpenSSL configuration text such as SANs, key
 * usage or CA flags, and raw private extensions), signing (SHA-256/384 with the issuer key's
 * natural scheme, or RSASSA-PSS as AMD signs), and PEM output with the right file modes
 * (keys 0600, certificates 0644).
 *
 * Test code only: keys are generated for throw-away state directories. Private-key PEM passes
 * through OpenSSL's secure-heap BIO, which clears it when freed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/result.h"

/* How a certificate is signed. */
enum emu_pki_sig {
    EMU_PKI_SIG_SHA256 = 0, /* SHA-256, PKCS#1 v1.5 for RSA, ECDSA for EC */
    EMU_PKI_SIG_SHA384,     /* SHA-384, same schemes */
    EMU_PKI_SIG_PSS_SHA384, /* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD ARK/ASK/VCEK */
};

/* Fresh RSA key of `bits` bits (e = 65537). *ret: EVP_PKEY_free. */
SHD_RESULT emu_pki_rsa_new(unsigned bits, EVP_PKEY **ret);

/* Fresh EC key on a named curve ("P-256", "P-384"). *ret: EVP_PKEY_free. */
SHD_RESULT emu_pki_ec_new(const char *curve, EVP_PKEY **ret);

/* One RDN of a name: an OpenSSL short name ("O", "OU", "CN") and its UTF-8 value. */
struct emu_pki_rdn {
    const char *field;
    const char *value;
};

/* Builds a name from n RDNs in the given order. *ret: X509_NAME_free. */
SHD_RESULT emu_pki_name(const struct emu_pki_rdn *rdns, size_t n, X509_NAME **ret);

/*
 * New unsigned X.509 v3 certificate for pub with subject and issuer names (copied) and validity
 * from now - 1 hour to now + days. serial: the serial number, or NULL for a random positive
 * 127-bit one (RFC 5280 4.1.2.2). *ret: X509_free.
 */
SHD_RESULT emu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                            const uint64_t *serial, unsigned days, X509 **ret);

/*
 * Adds an extension from its OpenSSL configuration text, e.g. (NID_basic_constraints,
 * "critical,CA:TRUE") or (NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"). issuer (NULL:
 * cert itself) provides the authority key identifier.
 */
SHD_RESULT emu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert);

/*
 * Adds a non-critical private extension with a dotted OID whose extnValue holds the given DER
 * bytes (at most 4096; SHD_ERR_TOO_LARGE beyond, SHD_ERR_USAGE for a bad OID).
 */
SHD_RESULT emu_pki_cert_add_raw_ext(const char *oid, const uint8_t *der, size_t len, X509 *cert);

/* Signs cert with the issuer's private key as sig says. */
SHD_RESULT emu_pki_cert_sign(EVP_PKEY *issuer_key, enum emu_pki_sig sig, X509 *cert);

/*
 * Appends the PEM of cert to a growing NUL-terminated string: *pem is NULL (then *len is
 * ignored) or a shd_alloc'd string of *len bytes; both are updated on success only.
 */
SHD_RESULT emu_pki_cert_pem_append(X509 *cert, char **pem, size_t *len);

/*
 * Writes the certificates as concatenated PEM with mode 0644 (emu_file_write; flags:
 * EMU_FILE_ATOMIC or 0).
 */
SHD_RESULT emu_pki_write_certs(const char *path, X509 *const *certs, size_t n, unsigned flags);

/*
 * Writes the private key as unencrypted PKCS#8 PEM with mode 0600 (emu_file_write; flags:
 * EMU_FILE_ATOMIC or 0). The PEM text lives only in a secure-heap BIO, cleared when freed.
 */
SHD_RESULT emu_pki_write_key(const char *path, EVP_PKEY *key, unsigned flags);
