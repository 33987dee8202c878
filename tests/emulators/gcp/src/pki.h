/*
 * pki.h - small X.509 helpers over OpenSSL for `gcp-emu init`: names, certificate building and
 * signing (SHA-256 with the issuer key's natural scheme), PEM text and PEM files.
 *
 * (The Azure emulator has the same kind of helpers in tests/emulators/azure/src/pki.c; both
 * are candidates for one shared test-PKI module.)
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/result.h"

/* One RDN of a name: an OpenSSL short name ("O", "OU", "CN") and its UTF-8 value. */
struct gemu_pki_rdn {
    const char *field;
    const char *value;
};

/* Builds a name from n RDNs in order. *ret: X509_NAME_free. */
SHD_RESULT gemu_pki_name(const struct gemu_pki_rdn *rdns, size_t n, X509_NAME **ret);

/*
 * New unsigned X.509 v3 certificate for pub with subject and issuer names (copied), a random
 * positive 127-bit serial, and validity from now - 1 hour to now + days. *ret: X509_free.
 */
SHD_RESULT gemu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                             unsigned days, X509 **ret);

/*
 * Adds an extension from its OpenSSL configuration text (e.g. NID_basic_constraints,
 * "critical,CA:TRUE"). issuer (may be NULL: cert itself) provides the authority key id.
 */
SHD_RESULT gemu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert);

/* Signs cert with SHA-256 under issuer_key (PKCS#1 v1.5 for RSA, ECDSA for EC). */
SHD_RESULT gemu_pki_cert_sign(EVP_PKEY *issuer_key, X509 *cert);

/* PEM text of a certificate: fresh NUL-terminated string (shd_free), *ret_len optional. */
SHD_RESULT gemu_pki_cert_pem(X509 *cert, char **ret, size_t *ret_len);

/* Writes the certificates as concatenated PEM (mode 0644), atomically. */
SHD_RESULT gemu_pki_write_certs(const char *path, X509 *const *certs, size_t n);

/* Writes the private key as unencrypted PKCS#8 PEM with mode 0600; the PEM text is wiped. */
SHD_RESULT gemu_pki_write_key(const char *path, EVP_PKEY *key);
