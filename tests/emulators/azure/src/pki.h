/*
 * pki.h - small X.509 and key helpers over OpenSSL for `azure-emu init`: key generation,
 * certificate building and signing (PKCS#1 v1.5, ECDSA or RSASSA-PSS as AMD uses), and writing
 * PEM files with the right modes.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "shd/cleanup.h"
#include "shd/result.h"

SHD_DEFINE_CLEANUP(EVP_PKEY, EVP_PKEY_free, aemu_pkey_freep)
SHD_DEFINE_CLEANUP(X509, X509_free, aemu_x509_freep)
SHD_DEFINE_CLEANUP(X509_NAME, X509_NAME_free, aemu_x509_name_freep)

/* How a certificate is signed. */
enum aemu_sig {
    AEMU_SIG_DEFAULT,    /* SHA-256 with the issuer key's natural scheme (PKCS#1 v1.5 / ECDSA) */
    AEMU_SIG_ECDSA_384,  /* ECDSA with SHA-384 */
    AEMU_SIG_PSS_SHA384, /* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD ARK/ASK/VCEK */
};

/* Fresh RSA key of `bits` bits (e = 65537). */
SHD_RESULT aemu_pki_rsa_new(unsigned bits, EVP_PKEY **ret);

/* Fresh EC key on a named curve ("P-256", "P-384"). */
SHD_RESULT aemu_pki_ec_new(const char *curve, EVP_PKEY **ret);

/*
 * Builds the AMD-style DN "OU=Engineering, C=US, L=Santa Clara, ST=CA,
 * O=Advanced Micro Devices, CN=<cn>" (azure-formats.md §3.1).
 */
SHD_RESULT aemu_pki_amd_name(const char *cn, X509_NAME **ret);

/* Builds "O=<org>, CN=<cn>" for the emulator's own certificates. */
SHD_RESULT aemu_pki_simple_name(const char *org, const char *cn, X509_NAME **ret);

/*
 * New unsigned X.509 v3 certificate for `pub` with subject and issuer names (copied), the given
 * serial number and validity from now - 1 hour to now + days.
 */
SHD_RESULT aemu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                             uint64_t serial, unsigned days, X509 **ret);

/* Adds an extension from its OpenSSL config text ("critical,CA:TRUE"), issuer for AKID. */
SHD_RESULT aemu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert);

/* Adds a private extension with a dotted OID whose extnValue holds the given raw DER bytes. */
SHD_RESULT aemu_pki_cert_add_raw_ext(const char *oid, const uint8_t *der, size_t len, X509 *cert);

/* Signs cert with the issuer's private key. */
SHD_RESULT aemu_pki_cert_sign(EVP_PKEY *issuer_key, enum aemu_sig sig, X509 *cert);

/*
 * Writes data to path with exactly `mode` (O_NOFOLLOW, truncating an existing file of ours,
 * fchmod so a pre-existing file's looser mode does not survive).
 */
SHD_RESULT aemu_pki_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* Writes the private key as unencrypted PKCS#8 PEM with mode 0600; the PEM text is wiped. */
SHD_RESULT aemu_pki_write_key(const char *path, EVP_PKEY *key);

/* Appends the PEM of cert to a growing string (*pem may be NULL; shd_alloc'd, NUL-terminated). */
SHD_RESULT aemu_pki_cert_pem_append(X509 *cert, char **pem, size_t *len);

/* Writes the certificates as concatenated PEM, mode 0644. */
SHD_RESULT aemu_pki_write_certs(const char *path, X509 *const *certs, size_t n);
