/*
 * tpm_certchain.c - AK certificate chain by AIA CA Issuers (tpm_certchain.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tpm_certchain.h"

#include "shd/cleanup.h"
#include "shd/crypto.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define CHAIN_URL_MAX 2048

SHD_DEFINE_CLEANUP(AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free, chain_aia_free_p)

/* Collects up to WIF_CERTCHAIN_URLS_PER_CERT CA Issuers URIs with an http(s) scheme. */
static size_t chain_aia_urls(X509 *cert, char urls[][CHAIN_URL_MAX], size_t max)
{
    SHD_CLEANUP(chain_aia_free_p)
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
    size_t n = 0;

    for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia) && n < max; i++) {
        const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI) {
            continue;
        }
        const ASN1_IA5STRING *uri = ad->location->d.uniformResourceIdentifier;
        size_t len = (size_t)ASN1_STRING_length(uri);
        const unsigned char *p = ASN1_STRING_get0_data(uri);
        if (len == 0 || len >= CHAIN_URL_MAX || memchr(p, '\0', len) != NULL) {
            continue;
        }
        if (!(len > 7 && strncmp((const char *)p, "http://", 7) == 0) &&
            !(len > 8 && strncmp((const char *)p, "https://", 8) == 0)) {
            continue;
        }
        shd_memcpy(urls[n], p, len);
        urls[n][len] = '\0';
        n++;
    }
    ERR_clear_error(); /* a missing extension leaves nothing useful on the queue */
    return n;
}

/* GET one URL and parse it as the issuer of child. */
static shd_result chain_fetch_issuer(const char *url, X509 *child,
                                     const struct shd_http_client *http, X509 **ret,
                                     uint8_t **ret_der, size_t *ret_len)
{
    const struct shd_http_request req = {.method = "GET", .url = url};
    struct shd_http_response *resp = NULL;
    SHD_GUARD_CTX(shd_http_client_do(http, &req, &resp, NULL), "fetching AK chain certificate");
    int status = shd_http_response_status(resp);
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);
    if (status != 200 || len == 0 || len > WIF_CERTCHAIN_CERT_MAX) {
        shd_http_response_free(resp);
        shd_error_set_foreign(SHD_FOREIGN_HTTP, (unsigned long)status);
        SHD_BAIL_MSG(status == 200 ? SHD_ERR_INPUT : SHD_ERR_HTTP_STATUS,
                     "AK chain certificate: status %d, %zu bytes", status, len);
    }
    X509 *issuer = NULL;
    shd_result r = shd_crypto_x509_load(body, len, &issuer);
    if (shd_is_err(r)) {
        shd_http_response_free(resp);
        SHD_GUARD_CTX(r, "AK chain certificate");
    }
    SHD_CLEANUP(EVP_PKEY_free_p) EVP_PKEY *key = X509_get_pubkey(issuer);
    bool ok = key != NULL && X509_check_issued(issuer, child) == X509_V_OK &&
              X509_verify(child, key) == 1;
    ERR_clear_error();
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (ok) {
        r = shd_crypto_x509_export_der(issuer, &der, &der_len);
    }
    shd_http_response_free(resp);
    if (!ok || shd_is_err(r)) {
        X509_free(issuer);
        SHD_ENSURE_MSG(ok, SHD_ERR_BAD_CERT,
                       "certificate from the AIA URL did not issue the certificate below it");
        return r;
    }
    *ret = issuer;
    *ret_der = der;
    *ret_len = der_len;
    return SHD_OK;
}

static bool chain_self_signed(X509 *c)
{
    bool self = X509_check_issued(c, c) == X509_V_OK;
    ERR_clear_error();
    return self;
}

static shd_result chain_step(X509 *cur, const struct shd_http_client *http, X509 **ret_next,
                             struct wif_certchain *c)
{
    char urls[WIF_CERTCHAIN_URLS_PER_CERT][CHAIN_URL_MAX];
    size_t n = chain_aia_urls(cur, urls, WIF_CERTCHAIN_URLS_PER_CERT);
    shd_result r = SHD_OK;

    *ret_next = NULL;
    for (size_t i = 0; i < n; i++) {
        X509 *next = NULL;
        r = chain_fetch_issuer(urls[i], cur, http, &next, &c->der[c->n], &c->len[c->n]);
        if (shd_is_ok(r)) {
            c->n++;
            *ret_next = next;
            return SHD_OK;
        }
    }
    return r; /* SHD_OK when there was no URL: the chain ends here */
}

SHD_RESULT wif_certchain_fetch(const uint8_t *leaf, size_t leaf_len,
                               const struct shd_http_client *http, struct wif_certchain *ret)
{
    SHD_ENSURE_REF(leaf);
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(ret);
    X509 *cur = NULL;
    SHD_GUARD_CTX(shd_crypto_x509_load(leaf, leaf_len, &cur), "AK certificate");

    struct wif_certchain c = {0};
    shd_result r = SHD_OK;
    while (c.n < WIF_CERTCHAIN_MAX && !chain_self_signed(cur)) {
        X509 *next = NULL;
        r = chain_step(cur, http, &next, &c);
        if (shd_is_err(r) || next == NULL) {
            break;
        }
        X509_free(cur);
        cur = next;
    }
    X509_free(cur);
    if (shd_is_err(r)) {
        wif_certchain_clear(&c);
        return r;
    }
    *ret = c;
    return SHD_OK;
}

void wif_certchain_clear(struct wif_certchain *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < WIF_CERTCHAIN_MAX; i++) {
        shd_free(c->der[i]);
    }
    shd_memzero(c, sizeof(*c));
}
