/*
 * pki.h - azure-emu's names for the emulators' test PKI (emu_pki.h in tests/emulators/common):
 * key generation, certificate building and signing (PKCS#1 v1.5, ECDSA or RSASSA-PSS as AMD
 * uses), and PEM files written in place with the right modes (certificates 0644, keys 0600).
 * One implementation lives in emu_pki.c; the forwarders below keep azure-emu's callers and unit
 * tests unchanged. Only the two name builders (pki.c) are azure-emu's own.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "emu_pki.h"
#include "shd/cleanup.h"
#include "shd/result.h"

SHD_DEFINE_CLEANUP(EVP_PKEY, EVP_PKEY_free, aemu_pkey_freep)
SHD_DEFINE_CLEANUP(X509, X509_free, aemu_x509_freep)
SHD_DEFINE_CLEANUP(X509_NAME, X509_NAME_free, aemu_x509_name_freep)

/* How a certificate is signed (the common schemes under azure-emu's names). */
enum aemu_sig {
    /* SHA-256 with the issuer key's natural scheme (PKCS#1 v1.5 / ECDSA) */
    AEMU_SIG_DEFAULT = EMU_PKI_SIG_SHA256,
    /* ECDSA with SHA-384 */
    AEMU_SIG_ECDSA_384 = EMU_PKI_SIG_SHA384,
    /* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD ARK/ASK/VCEK */
    AEMU_SIG_PSS_SHA384 = EMU_PKI_SIG_PSS_SHA384,
};

/*
 * Builds the AMD-style DN "OU=Engineering, C=US, L=Santa Clara, ST=CA,
 * O=Advanced Micro Devices, CN=<cn>" (azure-formats.md §3.1). *ret: X509_NAME_free.
 */
SHD_RESULT aemu_pki_amd_name(const char *cn, X509_NAME **ret);

/* Builds "O=<org>, CN=<cn>" for the emulator's own certificates. *ret: X509_NAME_free. */
SHD_RESULT aemu_pki_simple_name(const char *org, const char *cn, X509_NAME **ret);

/* Fresh RSA key of `bits` bits (e = 65537). */
static inline SHD_RESULT aemu_pki_rsa_new(unsigned bits, EVP_PKEY **ret)
{
    return emu_pki_rsa_new(bits, ret);
}

/* Fresh EC key on a named curve ("P-256", "P-384"). */
static inline SHD_RESULT aemu_pki_ec_new(const char *curve, EVP_PKEY **ret)
{
    return emu_pki_ec_new(curve, ret);
}

/*
 * New unsigned X.509 v3 certificate for `pub` with subject and issuer names (copied), the given
 * serial number and validity from now - 1 hour to now + days.
 */
static inline SHD_RESULT aemu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer,
                                           EVP_PKEY *pub, uint64_t serial, unsigned days,
                                           X509 **ret)
{
    return emu_pki_cert_new(subject, issuer, pub, &serial, days, ret);
}

/* Adds an extension from its OpenSSL config text ("critical,CA:TRUE"), issuer for AKID. */
static inline SHD_RESULT aemu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert)
{
    return emu_pki_cert_add_ext(nid, value, issuer, cert);
}

/* Adds a private extension with a dotted OID whose extnValue holds the given raw DER bytes. */
static inline SHD_RESULT aemu_pki_cert_add_raw_ext(const char *oid, const uint8_t *der, size_t len,
                                                   X509 *cert)
{
    return emu_pki_cert_add_raw_ext(oid, der, len, cert);
}

/* Signs cert with the issuer's private key. */
static inline SHD_RESULT aemu_pki_cert_sign(EVP_PKEY *issuer_key, enum aemu_sig sig, X509 *cert)
{
    return emu_pki_cert_sign(issuer_key, (enum emu_pki_sig)sig, cert);
}

/* Writes the private key as unencrypted PKCS#8 PEM with mode 0600 (in place). */
static inline SHD_RESULT aemu_pki_write_key(const char *path, EVP_PKEY *key)
{
    return emu_pki_write_key(path, key, 0);
}

/* Appends the PEM of cert to a growing string (*pem may be NULL; shd_alloc'd, NUL-terminated). */
static inline SHD_RESULT aemu_pki_cert_pem_append(X509 *cert, char **pem, size_t *len)
{
    return emu_pki_cert_pem_append(cert, pem, len);
}

/* Writes the certificates as concatenated PEM, mode 0644 (in place). */
static inline SHD_RESULT aemu_pki_write_certs(const char *path, X509 *const *certs, size_t n)
{
    return emu_pki_write_certs(path, certs, n, 0);
}
