/*
 * pki.h - gcp-emu's names for the emulators' test PKI (emu_pki.h in tests/emulators/common):
 * names, certificate building and signing (SHA-256 with the issuer key's natural scheme), and
 * PEM files written atomically (certificates 0644, keys 0600). One implementation lives in
 * emu_pki.c; these forwarders keep gcp-emu's callers and unit tests unchanged.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "emu_files.h"
#include "emu_pki.h"
#include "shd/result.h"

/* One RDN of a name ({"O", "Google LLC"}): the common struct under gcp-emu's name. */
#define gemu_pki_rdn emu_pki_rdn

/* Builds a name from n RDNs in order. *ret: X509_NAME_free. */
static inline SHD_RESULT gemu_pki_name(const struct emu_pki_rdn *rdns, size_t n, X509_NAME **ret)
{
    return emu_pki_name(rdns, n, ret);
}

/*
 * New unsigned X.509 v3 certificate for pub with subject and issuer names (copied), a random
 * positive 127-bit serial, and validity from now - 1 hour to now + days. *ret: X509_free.
 */
static inline SHD_RESULT gemu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer,
                                           EVP_PKEY *pub, unsigned days, X509 **ret)
{
    return emu_pki_cert_new(subject, issuer, pub, NULL, days, ret);
}

/* Adds an extension from its OpenSSL configuration text; issuer (NULL: cert) gives the AKID. */
static inline SHD_RESULT gemu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert)
{
    return emu_pki_cert_add_ext(nid, value, issuer, cert);
}

/* Signs cert with SHA-256 under issuer_key (PKCS#1 v1.5 for RSA, ECDSA for EC). */
static inline SHD_RESULT gemu_pki_cert_sign(EVP_PKEY *issuer_key, X509 *cert)
{
    return emu_pki_cert_sign(issuer_key, EMU_PKI_SIG_SHA256, cert);
}

/* Writes the certificates as concatenated PEM (mode 0644), atomically. */
static inline SHD_RESULT gemu_pki_write_certs(const char *path, X509 *const *certs, size_t n)
{
    return emu_pki_write_certs(path, certs, n, EMU_FILE_ATOMIC);
}

/* Writes the private key as unencrypted PKCS#8 PEM with mode 0600, atomically. */
static inline SHD_RESULT gemu_pki_write_key(const char *path, EVP_PKEY *key)
{
    return emu_pki_write_key(path, key, EMU_FILE_ATOMIC);
}
