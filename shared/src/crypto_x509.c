/*
 * crypto_x509.c - certificate loading, chain verification against explicit roots, public keys
 * and raw extension values.
 */
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "crypto_int.h"

SHD_DEFINE_CLEANUP(ASN1_OBJECT, ASN1_OBJECT_free, shd_asn1_object_free_p)

void shd_crypto_x509_chain_free(STACK_OF(X509) * chain)
{
    sk_X509_pop_free(chain, X509_free);
}

/* True when the input looks like PEM rather than DER (which starts with 0x30). */
static bool shd_crypto_x509_is_pem(const uint8_t *in, size_t n)
{
    return n > 0 && in[0] != 0x30;
}

static shd_result shd_crypto_x509_der(const uint8_t *in, size_t n, X509 **ret_cert)
{
    const unsigned char *p = in;
    X509 *cert = d2i_X509(NULL, &p, (long)n);

    if (cert == NULL) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_INPUT, "cannot parse DER certificate");
    }
    if (p != in + n) {
        X509_free(cert);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "%zu trailing bytes after DER certificate",
                     (size_t)(in + n - p));
    }
    *ret_cert = cert;
    return SHD_OK;
}

SHD_RESULT shd_crypto_x509_load(const uint8_t *in, size_t n, X509 **ret_cert)
{
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = NULL;

    SHD_ENSURE(in != NULL && ret_cert != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(n > 0, SHD_ERR_INPUT, "empty certificate");
    SHD_ENSURE(n <= SHD_CRYPTO_INPUT_MAX, SHD_ERR_TOO_LARGE);
    if (!shd_crypto_x509_is_pem(in, n)) {
        return shd_crypto_x509_der(in, n, ret_cert);
    }
    bio = BIO_new_mem_buf(in, (int)n);
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert == NULL) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_INPUT, "cannot parse PEM certificate");
    }
    *ret_cert = cert;
    return SHD_OK;
}

SHD_RESULT shd_crypto_x509_chain_load(const uint8_t *in, size_t n, STACK_OF(X509) * *ret_chain)
{
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *chain = NULL;
    SHD_CLEANUP(BIO_free_all_p) BIO *bio = NULL;

    SHD_ENSURE(in != NULL && ret_chain != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(n > 0, SHD_ERR_INPUT, "empty certificate bundle");
    SHD_ENSURE(n <= SHD_CRYPTO_INPUT_MAX, SHD_ERR_TOO_LARGE);
    chain = sk_X509_new_null();
    SHD_ENSURE(chain != NULL, SHD_ERR_NOMEM);
    if (!shd_crypto_x509_is_pem(in, n)) {
        X509 *cert = NULL;
        SHD_GUARD(shd_crypto_x509_der(in, n, &cert));
        if (sk_X509_push(chain, cert) <= 0) {
            X509_free(cert);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
        *ret_chain = SHD_TAKE_PTR(chain);
        return SHD_OK;
    }
    bio = BIO_new_mem_buf(in, (int)n);
    SHD_ENSURE(bio != NULL, SHD_ERR_NOMEM);
    for (;;) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert == NULL) {
            /* End of input is PEM_R_NO_START_LINE; a damaged block is an error. */
            unsigned long e = ERR_peek_last_error();
            ERR_clear_error();
            SHD_ENSURE_MSG(
                ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE,
                SHD_ERR_INPUT, "malformed certificate %d in PEM bundle", sk_X509_num(chain) + 1);
            break;
        }
        if ((size_t)sk_X509_num(chain) >= SHD_CRYPTO_X509_CHAIN_MAX) {
            X509_free(cert);
            SHD_BAIL_MSG(SHD_ERR_TOO_LARGE, "more than %u certificates in bundle",
                         SHD_CRYPTO_X509_CHAIN_MAX);
        }
        if (sk_X509_push(chain, cert) <= 0) {
            X509_free(cert);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
    }
    SHD_ENSURE_MSG(sk_X509_num(chain) > 0, SHD_ERR_INPUT, "no certificate in PEM bundle");
    *ret_chain = SHD_TAKE_PTR(chain);
    return SHD_OK;
}

/* Reports a failed X509_verify_cert: error text, depth and subject of the failing cert. */
static shd_result shd_crypto_x509_verify_error(X509_STORE_CTX *sctx)
{
    int err = X509_STORE_CTX_get_error(sctx);
    int depth = X509_STORE_CTX_get_error_depth(sctx);
    X509 *cur = X509_STORE_CTX_get_current_cert(sctx);
    char subject[256] = "unknown";

    if (cur != NULL) {
        /* RFC 2253 without escaping of UTF-8, one line, bounded. */
        BIO *bio = BIO_new(BIO_s_mem());
        if (bio != NULL && X509_NAME_print_ex(bio, X509_get_subject_name(cur), 0,
                                              XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
            int len = BIO_read(bio, subject, (int)sizeof(subject) - 1);
            subject[len > 0 ? len : 0] = '\0';
        }
        BIO_free(bio);
    }
    ERR_clear_error();
    shd_result r = shd_error_setf(SHD_ERR_BAD_CERT, __FILE__, __LINE__,
                                  "certificate verify failed at depth %d (%s): %s", depth, subject,
                                  X509_verify_cert_error_string(err));
    shd_error_set_foreign(SHD_FOREIGN_OPENSSL, (unsigned long)err);
    return r;
}

/* Applies the caller's options to the store context's parameters. */
static shd_result shd_crypto_x509_params(X509_STORE_CTX *sctx,
                                         const struct shd_crypto_x509_verify_opts *opts)
{
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);

    /* Trust comes from `roots` only: a chain must end in a self-signed anchor we were given. */
    X509_VERIFY_PARAM_set_depth(param, (int)SHD_CRYPTO_X509_CHAIN_MAX);
    if (opts == NULL) {
        return SHD_OK;
    }
    if (opts->flags & SHD_CRYPTO_X509_NO_TIME_CHECK) {
        SHD_GUARD_OSSL(X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME),
                       SHD_ERR_INTERNAL);
    } else if (opts->check_time != 0) {
        SHD_ENSURE_MSG(opts->check_time > 0, SHD_ERR_USAGE, "negative verification time");
        X509_VERIFY_PARAM_set_time(param, (time_t)opts->check_time);
    }
    if (opts->host != NULL) {
        SHD_ENSURE_MSG(opts->host[0] != '\0', SHD_ERR_USAGE, "empty host name");
        /* No partial wildcards ("f*.example.com"): RFC 6125 §6.4.3 discourages them. */
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SHD_GUARD_OSSL(X509_VERIFY_PARAM_set1_host(param, opts->host, 0), SHD_ERR_USAGE);
    }
    return SHD_OK;
}

SHD_RESULT shd_crypto_x509_verify(X509 *leaf, STACK_OF(X509) * untrusted, STACK_OF(X509) * roots,
                                  const struct shd_crypto_x509_verify_opts *opts)
{
    SHD_CLEANUP(X509_STORE_free_p) X509_STORE *store = X509_STORE_new();
    SHD_CLEANUP(X509_STORE_CTX_free_p) X509_STORE_CTX *sctx = X509_STORE_CTX_new();

    SHD_ENSURE(leaf != NULL && roots != NULL, SHD_ERR_NULL);
    SHD_ENSURE_MSG(sk_X509_num(roots) > 0, SHD_ERR_USAGE, "no trusted roots");
    SHD_ENSURE(store != NULL && sctx != NULL, SHD_ERR_NOMEM);
    for (int i = 0; i < sk_X509_num(roots); i++) {
        /* The store takes its own reference. */
        SHD_GUARD_OSSL(X509_STORE_add_cert(store, sk_X509_value(roots, i)), SHD_ERR_NOMEM);
    }
    SHD_GUARD_OSSL(X509_STORE_CTX_init(sctx, store, leaf, untrusted), SHD_ERR_NOMEM);
    SHD_GUARD(shd_crypto_x509_params(sctx, opts));
    int rc = X509_verify_cert(sctx);
    if (rc != 1) {
        return shd_crypto_x509_verify_error(sctx);
    }
    return SHD_OK;
}

SHD_RESULT shd_crypto_x509_pubkey(X509 *cert, EVP_PKEY **ret_key)
{
    SHD_ENSURE(cert != NULL && ret_key != NULL, SHD_ERR_NULL);
    EVP_PKEY *key = X509_get_pubkey(cert);
    if (key == NULL) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_BAD_KEY, "certificate public key not usable");
    }
    *ret_key = key;
    return SHD_OK;
}

SHD_RESULT shd_crypto_x509_ext_value(X509 *cert, const char *oid, const uint8_t **ret_data,
                                     size_t *ret_len)
{
    SHD_CLEANUP(shd_asn1_object_free_p) ASN1_OBJECT *obj = NULL;

    SHD_ENSURE(cert != NULL && oid != NULL && ret_data != NULL && ret_len != NULL, SHD_ERR_NULL);
    /* no_name = 1: only the dotted numeric form is accepted. */
    obj = OBJ_txt2obj(oid, 1);
    if (obj == NULL) {
        ERR_clear_error();
        SHD_BAIL_MSG(SHD_ERR_INPUT, "invalid OID \"%s\"", oid);
    }
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    SHD_ENSURE_MSG(idx >= 0, SHD_ERR_NOT_FOUND, "extension %s not present", oid);
    /* RFC 5280 §4.2: an extension must not appear more than once. */
    SHD_ENSURE_MSG(X509_get_ext_by_OBJ(cert, obj, idx) < 0, SHD_ERR_INPUT,
                   "extension %s present more than once", oid);
    X509_EXTENSION *ext = X509_get_ext(cert, idx);
    ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
    SHD_ENSURE(val != NULL, SHD_ERR_INTERNAL);
    *ret_data = ASN1_STRING_get0_data(val);
    *ret_len = (size_t)ASN1_STRING_length(val);
    return SHD_OK;
}

SHD_RESULT shd_crypto_x509_export_der(X509 *cert, uint8_t **ret_der, size_t *ret_len)
{
    SHD_ENSURE(cert != NULL && ret_der != NULL && ret_len != NULL, SHD_ERR_NULL);
    int len = i2d_X509(cert, NULL);
    SHD_ENSURE(len > 0, SHD_ERR_CRYPTO);
    uint8_t *der = shd_alloc((size_t)len);
    SHD_ENSURE(der != NULL, SHD_ERR_NOMEM);
    unsigned char *p = der;
    if (i2d_X509(cert, &p) != len) {
        shd_free(der);
        SHD_BAIL(SHD_ERR_CRYPTO);
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    return SHD_OK;
}
