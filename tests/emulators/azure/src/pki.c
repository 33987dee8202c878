/*
 * pki.c - key generation, certificate construction and PEM output for `azure-emu init`.
 */
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"

SHD_DEFINE_CLEANUP(EVP_PKEY_CTX, EVP_PKEY_CTX_free, pki_pkey_ctx_freep)
SHD_DEFINE_CLEANUP(EVP_MD_CTX, EVP_MD_CTX_free, pki_md_ctx_freep)
SHD_DEFINE_CLEANUP(BIO, BIO_free, pki_bio_freep)
SHD_DEFINE_CLEANUP(ASN1_OBJECT, ASN1_OBJECT_free, pki_obj_freep)
SHD_DEFINE_CLEANUP(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free, pki_octet_freep)
SHD_DEFINE_CLEANUP(X509_EXTENSION, X509_EXTENSION_free, pki_ext_freep)
SHD_DEFINE_CLEANUP(ASN1_INTEGER, ASN1_INTEGER_free, pki_int_freep)

shd_result aemu_pki_rsa_new(unsigned bits, EVP_PKEY **ret)
{
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(pki_pkey_ctx_freep)
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(EVP_PKEY_keygen_init(ctx), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits), SHD_ERR_CRYPTO);
    EVP_PKEY *key = NULL;
    SHD_GUARD_OSSL(EVP_PKEY_keygen(ctx, &key), SHD_ERR_CRYPTO);
    *ret = key;
    return SHD_OK;
}

shd_result aemu_pki_ec_new(const char *curve, EVP_PKEY **ret)
{
    SHD_ENSURE_REF(curve);
    SHD_ENSURE_REF(ret);
    EVP_PKEY *key = EVP_EC_gen(curve);
    if (key == NULL) {
        return shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    *ret = key;
    return SHD_OK;
}

static shd_result pki_name_add(X509_NAME *name, const char *field, const char *value)
{
    SHD_GUARD_OSSL(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                              (const unsigned char *)value, -1, -1, 0),
                   SHD_ERR_CRYPTO);
    return SHD_OK;
}

shd_result aemu_pki_amd_name(const char *cn, X509_NAME **ret)
{
    SHD_ENSURE_REF(cn);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = X509_NAME_new();
    SHD_ENSURE(name != NULL, SHD_ERR_NOMEM);
    /* RDN order exactly as in AMD's certificates. */
    SHD_GUARD(pki_name_add(name, "OU", "Engineering"));
    SHD_GUARD(pki_name_add(name, "C", "US"));
    SHD_GUARD(pki_name_add(name, "L", "Santa Clara"));
    SHD_GUARD(pki_name_add(name, "ST", "CA"));
    SHD_GUARD(pki_name_add(name, "O", "Advanced Micro Devices"));
    SHD_GUARD(pki_name_add(name, "CN", cn));
    *ret = SHD_TAKE_PTR(name);
    return SHD_OK;
}

shd_result aemu_pki_simple_name(const char *org, const char *cn, X509_NAME **ret)
{
    SHD_ENSURE_REF(org);
    SHD_ENSURE_REF(cn);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(aemu_x509_name_freep) X509_NAME *name = X509_NAME_new();
    SHD_ENSURE(name != NULL, SHD_ERR_NOMEM);
    SHD_GUARD(pki_name_add(name, "O", org));
    SHD_GUARD(pki_name_add(name, "CN", cn));
    *ret = SHD_TAKE_PTR(name);
    return SHD_OK;
}

shd_result aemu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                             uint64_t serial, unsigned days, X509 **ret)
{
    SHD_ENSURE_REF(subject);
    SHD_ENSURE_REF(issuer);
    SHD_ENSURE_REF(pub);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(aemu_x509_freep) X509 *cert = X509_new();
    SHD_ENSURE(cert != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(X509_set_version(cert, X509_VERSION_3), SHD_ERR_CRYPTO);
    SHD_CLEANUP(pki_int_freep) ASN1_INTEGER *sn = ASN1_INTEGER_new();
    SHD_ENSURE(sn != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(ASN1_INTEGER_set_uint64(sn, serial), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_serialNumber(cert, sn), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_subject_name(cert, subject), SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_issuer_name(cert, issuer), SHD_ERR_CRYPTO);
    /* Back-date by an hour so that clocks a little behind ours still accept the chain. */
    SHD_ENSURE(X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL, SHD_ERR_CRYPTO);
    SHD_ENSURE(X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) != NULL,
               SHD_ERR_CRYPTO);
    SHD_GUARD_OSSL(X509_set_pubkey(cert, pub), SHD_ERR_CRYPTO);
    *ret = SHD_TAKE_PTR(cert);
    return SHD_OK;
}

shd_result aemu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert)
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

shd_result aemu_pki_cert_add_raw_ext(const char *oid, const uint8_t *der, size_t len, X509 *cert)
{
    SHD_ENSURE_REF(oid);
    SHD_ENSURE_REF(der);
    SHD_ENSURE_REF(cert);
    SHD_ENSURE(len <= 4096, SHD_ERR_TOO_LARGE);
    SHD_CLEANUP(pki_obj_freep) ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    SHD_ENSURE_MSG(obj != NULL, SHD_ERR_USAGE, "bad OID %s", oid);
    SHD_CLEANUP(pki_octet_freep) ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
    SHD_ENSURE(val != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(ASN1_OCTET_STRING_set(val, der, (int)len), SHD_ERR_CRYPTO);
    SHD_CLEANUP(pki_ext_freep)
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, val);
    if (ext == NULL) {
        return shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    SHD_GUARD_OSSL(X509_add_ext(cert, ext, -1), SHD_ERR_CRYPTO);
    return SHD_OK;
}

shd_result aemu_pki_cert_sign(EVP_PKEY *issuer_key, enum aemu_sig sig, X509 *cert)
{
    SHD_ENSURE_REF(issuer_key);
    SHD_ENSURE_REF(cert);
    SHD_CLEANUP(pki_md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
    SHD_ENSURE(md != NULL, SHD_ERR_NOMEM);
    EVP_PKEY_CTX *pctx = NULL; /* owned by md */
    const char *digest = sig == AEMU_SIG_DEFAULT ? "SHA256" : "SHA384";
    SHD_GUARD_OSSL(EVP_DigestSignInit_ex(md, &pctx, digest, NULL, NULL, issuer_key, NULL),
                   SHD_ERR_CRYPTO);
    if (sig == AEMU_SIG_PSS_SHA384) {
        /* AMD: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer 1 (§3.1). */
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), SHD_ERR_CRYPTO);
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", NULL), SHD_ERR_CRYPTO);
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48), SHD_ERR_CRYPTO);
    }
    if (X509_sign_ctx(cert, md) <= 0) {
        return shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    return SHD_OK;
}

shd_result aemu_pki_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE(data != NULL || len == 0, SHD_ERR_NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        shd_result r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
        shd_error_wrap("create %s", path);
        return r;
    }
    shd_result r = SHD_OK;
    if (fchmod(fd, mode) != 0) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    const uint8_t *p = data;
    size_t done = 0;
    while (shd_is_ok(r) && done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            r = shd_error_set_errno(SHD_ERR_IO, k == 0 ? EIO : errno, __FILE__, __LINE__);
            break;
        }
        done += (size_t)k;
    }
    if (close(fd) != 0 && shd_is_ok(r)) {
        r = shd_error_set_errno(SHD_ERR_IO, errno, __FILE__, __LINE__);
    }
    if (shd_is_err(r)) {
        shd_error_wrap("write %s", path);
    }
    return r;
}

shd_result aemu_pki_write_key(const char *path, EVP_PKEY *key)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(key);
    SHD_CLEANUP(pki_bio_freep) BIO *bio = BIO_new(BIO_s_secmem());
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), SHD_ERR_CRYPTO);
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    SHD_ENSURE(n > 0 && pem != NULL, SHD_ERR_CRYPTO);
    /* BIO_s_secmem clears its buffer when freed, so the PEM text does not linger. */
    return aemu_pki_write_file(path, pem, (size_t)n, 0600);
}

shd_result aemu_pki_cert_pem_append(X509 *cert, char **pem, size_t *len)
{
    SHD_ENSURE_REF(cert);
    SHD_ENSURE_REF(pem);
    SHD_ENSURE_REF(len);
    SHD_CLEANUP(pki_bio_freep) BIO *bio = BIO_new(BIO_s_mem());
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(PEM_write_bio_X509(bio, cert), SHD_ERR_CRYPTO);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    SHD_ENSURE(n > 0 && data != NULL, SHD_ERR_CRYPTO);
    size_t old = *pem != NULL ? *len : 0;
    size_t total = 0;
    SHD_GUARD(shd_add_overflow(old, (size_t)n + 1, &total));
    char *grown = shd_realloc(*pem, total);
    SHD_ENSURE(grown != NULL, SHD_ERR_NOMEM);
    shd_memcpy(grown + old, data, (size_t)n);
    grown[old + (size_t)n] = '\0';
    *pem = grown;
    *len = old + (size_t)n;
    return SHD_OK;
}

shd_result aemu_pki_write_certs(const char *path, X509 *const *certs, size_t n)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(certs);
    SHD_CLEANUP_FREE char *pem = NULL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        SHD_GUARD(aemu_pki_cert_pem_append(certs[i], &pem, &len));
    }
    return aemu_pki_write_file(path, pem, len, 0644);
}
