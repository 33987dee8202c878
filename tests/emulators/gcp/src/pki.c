/*
 * pki.c - X.509 building and PEM output for `gcp-emu init` (pki.h).
 */
#include "pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "gemu.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

SHD_DEFINE_CLEANUP(X509_NAME, X509_NAME_free, pki_name_freep)
SHD_DEFINE_CLEANUP(X509_EXTENSION, X509_EXTENSION_free, pki_ext_freep)
SHD_DEFINE_CLEANUP(ASN1_INTEGER, ASN1_INTEGER_free, pki_int_freep)

shd_result gemu_pki_name(const struct gemu_pki_rdn *rdns, size_t n, X509_NAME **ret)
{
    SHD_ENSURE_REF(rdns);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(pki_name_freep) X509_NAME *name = X509_NAME_new();
    SHD_ENSURE(name != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        SHD_GUARD_OSSL(X509_NAME_add_entry_by_txt(name, rdns[i].field, MBSTRING_UTF8,
                                                  (const unsigned char *)rdns[i].value, -1, -1, 0),
                       SHD_ERR_CRYPTO);
    }
    *ret = SHD_TAKE_PTR(name);
    return SHD_OK;
}

/* A random positive serial below 2^127 (RFC 5280 4.1.2.2: at most 20 octets, positive). */
static shd_result pki_serial(ASN1_INTEGER **ret)
{
    uint8_t rnd[16];
    SHD_GUARD(shd_crypto_random(rnd, sizeof(rnd)));
    rnd[0] = (uint8_t)((rnd[0] & 0x7f) | 0x01);
    SHD_CLEANUP(BN_clear_free_p) BIGNUM *bn = BN_bin2bn(rnd, (int)sizeof(rnd), NULL);
    SHD_ENSURE(bn != NULL, SHD_ERR_NOMEM);
    ASN1_INTEGER *sn = BN_to_ASN1_INTEGER(bn, NULL);
    SHD_ENSURE(sn != NULL, SHD_ERR_NOMEM);
    *ret = sn;
    return SHD_OK;
}

shd_result gemu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                             unsigned days, X509 **ret)
{
    SHD_ENSURE_REF(subject);
    SHD_ENSURE_REF(issuer);
    SHD_ENSURE_REF(pub);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(X509_free_p) X509 *cert = X509_new();
    SHD_ENSURE(cert != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(X509_set_version(cert, X509_VERSION_3), SHD_ERR_CRYPTO);
    SHD_CLEANUP(pki_int_freep) ASN1_INTEGER *sn = NULL;
    SHD_GUARD(pki_serial(&sn));
    SHD_GUARD_OSSL(X509_set_serialNumber(cert, sn), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_subject_name(cert, subject), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_issuer_name(cert, issuer), SHD_ERR_CRYPTO);
    /* Back-dated an hour so that a client clock slightly behind ours still accepts it. */
    SHD_ENSURE(X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL, SHD_ERR_CRYPTO);
    SHD_ENSURE(X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) != NULL,
               SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_pubkey(cert, pub), SHD_ERR_CRYPTO);
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

shd_result gemu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert)
{
    SHD_ENSURE_REF(value);
    SHD_ENSURE_REF(cert);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
    SHD_CLEANUP(pki_ext_freep) X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    SHD_GUARD_OSSL(X509_add_ext(cert, ext, -1), SHD_ERR_CRYPTO);
    return SHD_OK;
}

shd_result gemu_pki_cert_sign(EVP_PKEY *issuer_key, X509 *cert)
{
    SHD_ENSURE_REF(issuer_key);
    SHD_ENSURE_REF(cert);
    if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
        return shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    return SHD_OK;
}

shd_result gemu_pki_cert_pem(X509 *cert, char **ret, size_t *ret_len)
{
    SHD_ENSURE_REF(cert);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = BIO_new(BIO_s_mem());
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(PEM_write_bio_X509(bio, cert), SHD_ERR_CRYPTO);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    SHD_ENSURE(n > 0 && data != NULL, SHD_ERR_CRYPTO);
    char *s = shd_strndup(data, (size_t)n);
    SHD_ENSURE(s != NULL, SHD_ERR_NOMEM);
    *ret = s;
    if (ret_len != NULL) {
        *ret_len = (size_t)n;
    }
    return SHD_OK;
}

shd_result gemu_pki_write_certs(const char *path, X509 *const *certs, size_t n)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(certs);
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = BIO_new(BIO_s_mem());
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        SHD_GUARD_OSSL(PEM_write_bio_X509(bio, certs[i]), SHD_ERR_CRYPTO);
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    SHD_ENSURE(len > 0 && data != NULL, SHD_ERR_CRYPTO);
    return gemu_file_write_atomic(path, data, (size_t)len, 0644);
}

shd_result gemu_pki_write_key(const char *path, EVP_PKEY *key)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(key);
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = BIO_new(BIO_s_secmem());
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), SHD_ERR_CRYPTO);
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    SHD_ENSURE(n > 0 && pem != NULL, SHD_ERR_CRYPTO);
    /* BIO_s_secmem clears its buffer when freed, so the PEM text does not linger. */
    return gemu_file_write_atomic(path, pem, (size_t)n, 0600);
}
