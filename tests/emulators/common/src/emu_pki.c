/*
 * emu_pki.c - key generation, certificate construction and PEM output (emu_pki.h).
 */
#include "emu_pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "emu_files.h"
#include "shd/cleanup.h"
#include "shd/crypto.h"
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
SHD_DEFINE_CLEANUP(X509_NAME, X509_NAME_free, pki_name_freep)

/* Largest raw extension value emu_pki_cert_add_raw_ext takes (SNP TCB values are far below). */
#define PKI_RAW_EXT_MAX 4096u

shd_result emu_pki_rsa_new(unsigned bits, EVP_PKEY **ret)
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

shd_result emu_pki_ec_new(const char *curve, EVP_PKEY **ret)
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

shd_result emu_pki_name(const struct emu_pki_rdn *rdns, size_t n, X509_NAME **ret)
{
    SHD_ENSURE_REF(rdns);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(pki_name_freep) X509_NAME *name = X509_NAME_new();
    SHD_ENSURE(name != NULL, SHD_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        SHD_ENSURE_REF(rdns[i].field);
        SHD_ENSURE_REF(rdns[i].value);
        SHD_GUARD_OSSL(X509_NAME_add_entry_by_txt(name, rdns[i].field, MBSTRING_UTF8,
                                                  (const unsigned char *)rdns[i].value, -1, -1, 0),
                       SHD_ERR_CRYPTO);
    }
    *ret = SHD_TAKE_PTR(name);
    return SHD_OK;
}

/* The given serial, or a random positive one below 2^127 (RFC 5280 4.1.2.2: <= 20 octets). */
static shd_result pki_serial(const uint64_t *serial, ASN1_INTEGER **ret)
{
    if (serial != NULL) {
        SHD_CLEANUP(pki_int_freep) ASN1_INTEGER *sn = ASN1_INTEGER_new();
        SHD_ENSURE(sn != NULL, SHD_ERR_NOMEM);
        SHD_GUARD_OSSL(ASN1_INTEGER_set_uint64(sn, *serial), SHD_ERR_CRYPTO);
        *ret = SHD_TAKE_PTR(sn);
        return SHD_OK;
    }
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

shd_result emu_pki_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                            const uint64_t *serial, unsigned days, X509 **ret)
{
    SHD_ENSURE_REF(subject);
    SHD_ENSURE_REF(issuer);
    SHD_ENSURE_REF(pub);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(X509_free_p) X509 *cert = X509_new();
    SHD_ENSURE(cert != NULL, SHD_ERR_NOMEM);
    SHD_GUARD_OSSL(X509_set_version(cert, X509_VERSION_3), SHD_ERR_CRYPTO);
    SHD_CLEANUP(pki_int_freep) ASN1_INTEGER *sn = NULL;
    SHD_GUARD(pki_serial(serial, &sn));
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

shd_result emu_pki_cert_add_ext(int nid, const char *value, X509 *issuer, X509 *cert)
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

shd_result emu_pki_cert_add_raw_ext(const char *oid, const uint8_t *der, size_t len, X509 *cert)
{
    SHD_ENSURE_REF(oid);
    SHD_ENSURE_REF(der);
    SHD_ENSURE_REF(cert);
    SHD_ENSURE(len <= PKI_RAW_EXT_MAX, SHD_ERR_TOO_LARGE);
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

shd_result emu_pki_cert_sign(EVP_PKEY *issuer_key, enum emu_pki_sig sig, X509 *cert)
{
    SHD_ENSURE_REF(issuer_key);
    SHD_ENSURE_REF(cert);
    SHD_ENSURE(sig == EMU_PKI_SIG_SHA256 || sig == EMU_PKI_SIG_SHA384 ||
                   sig == EMU_PKI_SIG_PSS_SHA384,
               SHD_ERR_USAGE);
    SHD_CLEANUP(pki_md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
    SHD_ENSURE(md != NULL, SHD_ERR_NOMEM);
    EVP_PKEY_CTX *pctx = NULL; /* owned by md */
    const char *digest = sig == EMU_PKI_SIG_SHA256 ? "SHA256" : "SHA384";
    SHD_GUARD_OSSL(EVP_DigestSignInit_ex(md, &pctx, digest, NULL, NULL, issuer_key, NULL),
                   SHD_ERR_CRYPTO);
    if (sig == EMU_PKI_SIG_PSS_SHA384) {
        /* AMD: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer 1 (azure-formats.md §3.1). */
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), SHD_ERR_CRYPTO);
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", NULL), SHD_ERR_CRYPTO);
        SHD_GUARD_OSSL(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48), SHD_ERR_CRYPTO);
    }
    if (X509_sign_ctx(cert, md) <= 0) {
        return shd_error_set_ossl(SHD_ERR_CRYPTO, __FILE__, __LINE__);
    }
    return SHD_OK;
}

shd_result emu_pki_cert_pem_append(X509 *cert, char **pem, size_t *len)
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

shd_result emu_pki_write_certs(const char *path, X509 *const *certs, size_t n, unsigned flags)
{
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(certs);
    SHD_CLEANUP_FREE char *pem = NULL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        SHD_GUARD(emu_pki_cert_pem_append(certs[i], &pem, &len));
    }
    return emu_file_write(path, pem, len, 0644, flags);
}

shd_result emu_pki_write_key(const char *path, EVP_PKEY *key, unsigned flags)
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
    return emu_file_write(path, pem, (size_t)n, 0600, flags);
}
