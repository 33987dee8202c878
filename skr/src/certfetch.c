/*
 * certfetch.c - the certificate fetchers of skr-sidecar.md §4.2 (LocalTHIM, AzCache, AMD KDS) and
 * the THIM GET of D8, as a table keyed by the certcache endpoint type (STYLE.md rule 4).
 */
#include <string.h>

#include <openssl/x509.h>
#include <stdio.h>

#include "certs.h"
#include "config.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define URL_MAX 2048

SHD_DEFINE_CLEANUP(struct shd_http_response, shd_http_response_free, http_response_free_p)

/*
 * GET url; a 2xx body is returned (shd_alloc'd, NUL-terminated). A final non-2xx status gives
 * "GET request failed with status code <n>: <body>" like the original's fetchWithRetry; an
 * exhausted retry keeps the client's message and never returns empty data (D6).
 */
static shd_result http_get(const struct shd_http_client *http, const char *url, bool metadata,
                           char **ret_body, size_t *ret_len)
{
    const struct shd_http_header hdr[] = {{"Metadata", "true"}};
    const struct shd_http_request req = {
        .method = "GET", .url = url, .headers = metadata ? hdr : NULL, .nheaders = metadata};
    SHD_CLEANUP(http_response_free_p) struct shd_http_response *resp = NULL;
    SHD_CLEANUP(http_response_free_p) struct shd_http_response *last = NULL;
    shd_result r = shd_http_client_do(http, &req, &resp, &last);
    if (shd_is_err(r)) {
        if (last != NULL) {
            size_t blen = 0;
            const uint8_t *body = shd_http_response_body(last, &blen);
            shd_error_wrap("GET request failed with status code %d: %.*s",
                           shd_http_response_status(last), (int)(blen > 256 ? 256 : blen),
                           (const char *)body);
        }
        return r;
    }
    int status = shd_http_response_status(resp);
    size_t blen = 0;
    const uint8_t *body = shd_http_response_body(resp, &blen);
    SHD_ENSURE_MSG(status >= 200 && status <= 299, SHD_ERR_HTTP_STATUS,
                   "GET request failed with status code %d: %.*s", status,
                   (int)(blen > 256 ? 256 : blen), (const char *)body);
    char *copy = (char *)shd_memdup(body, blen);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret_body = copy;
    if (ret_len != NULL) {
        *ret_len = blen;
    }
    return SHD_OK;
}

shd_result skr_certs_fetch_thim(const struct shd_http_client *http, const char *url,
                                struct skr_certs *ret)
{
    SHD_ENSURE_REF(http);
    SHD_ENSURE_REF(url);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(http_get(http, url, true, &body, &len));
    SHD_GUARD_CTX(skr_thim_parse(body, len, false, ret), "Parse THIM Certs from bytes failed.");
    return SHD_OK;
}

/* A DER INTEGER 0..255 (an SPL); "take byte [2]" of the original breaks for values >= 0x80. */
static shd_result der_small_uint(const uint8_t *p, size_t n, uint8_t *ret)
{
    SHD_ENSURE_MSG(n >= 3 && p[0] == 0x02 && p[1] == n - 2 && n - 2 <= 2, SHD_ERR_INPUT,
                   "SPL extension is not a small DER INTEGER");
    if (n == 4) {
        SHD_ENSURE_MSG(p[2] == 0x00 && p[3] >= 0x80, SHD_ERR_INPUT, "SPL INTEGER out of range");
        *ret = p[3];
        return SHD_OK;
    }
    SHD_ENSURE_MSG(p[2] < 0x80, SHD_ERR_INPUT, "negative SPL INTEGER");
    *ret = p[2];
    return SHD_OK;
}

shd_result skr_certs_vcek_tcbm(const char *pem, size_t len, uint64_t *ret)
{
    SHD_ENSURE_REF(pem);
    SHD_ENSURE_REF(ret);
    SHD_CLEANUP(shd_crypto_x509_chain_free_p) STACK_OF(X509) *chain = NULL;
    if (shd_is_err(shd_crypto_x509_chain_load((const uint8_t *)pem, len, &chain))) {
        SHD_BAIL_MSG(SHD_ERR_INPUT, "No certificate chain found");
    }
    X509 *vcek = NULL;
    for (int i = 0; i < sk_X509_num(chain) && vcek == NULL; i++) {
        X509 *c = sk_X509_value(chain, i);
        char cn[64] = {0};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn,
                                      (int)sizeof(cn)) > 0 &&
            strcmp(cn, "SEV-VCEK") == 0) {
            vcek = c;
        }
    }
    SHD_ENSURE_MSG(vcek != NULL, SHD_ERR_INPUT, "No certificate chain found");
    /* §4.2: blSPL, teeSPL, spl_4..spl_7, snpSPL, ucodeSPL into TCB bytes 0..7. */
    static const char *const OIDS[8] = {
        "1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2", "1.3.6.1.4.1.3704.1.3.4",
        "1.3.6.1.4.1.3704.1.3.5", "1.3.6.1.4.1.3704.1.3.6", "1.3.6.1.4.1.3704.1.3.7",
        "1.3.6.1.4.1.3704.1.3.3", "1.3.6.1.4.1.3704.1.3.8",
    };
    uint64_t tcb = 0;
    for (unsigned i = 0; i < 8; i++) {
        const uint8_t *v = NULL;
        size_t vlen = 0;
        SHD_GUARD_CTX(shd_crypto_x509_ext_value(vcek, OIDS[i], &v, &vlen), "VCEK TCB");
        uint8_t spl = 0;
        SHD_GUARD_CTX(der_small_uint(v, vlen, &spl), "VCEK extension %s", OIDS[i]);
        tcb |= (uint64_t)spl << (8 * i);
    }
    *ret = tcb;
    return SHD_OK;
}

static shd_result set_certs(char *vcek, char *chain, uint64_t tcbm, struct skr_certs *ret)
{
    char tcbm_str[17];
    (void)snprintf(tcbm_str, sizeof(tcbm_str), "%016llx", (unsigned long long)tcbm);
    ret->vcek_pem = vcek;
    ret->chain_pem = chain;
    ret->tcbm = tcbm;
    ret->tcbm_str = shd_strdup(tcbm_str);
    SHD_ENSURE(ret->tcbm_str != NULL, SHD_ERR_NOMEM);
    return SHD_OK;
}

static shd_result fetch_local_thim(const struct skr_ctx *ctx, uint64_t tcb,
                                   const char *chip_hex, struct skr_certs *ret)
{
    (void)tcb;
    (void)chip_hex;
    char url[URL_MAX];
    int w = snprintf(url, sizeof(url), "http://%s", ctx->args.certcache.endpoint);
    SHD_ENSURE(w > 0 && (size_t)w < sizeof(url), SHD_ERR_TOO_LARGE);
    SHD_GUARD_CTX(skr_certs_fetch_thim(ctx->http_imds, url, ret),
                  "pulling certchain response from local THIM URL '%s' failed", url);
    return SHD_OK;
}

static shd_result fetch_azcache(const struct skr_ctx *ctx, uint64_t tcb, const char *chip_hex,
                                struct skr_certs *ret)
{
    const struct skr_certcache *cc = &ctx->args.certcache;
    char url[URL_MAX];
    int w = snprintf(url, sizeof(url), "https://%s/%s/certificates/%s/%llx?%s%s%s", cc->endpoint,
                     cc->tee_type != NULL ? cc->tee_type : "", chip_hex, (unsigned long long)tcb,
                     cc->api_version != NULL ? cc->api_version : "",
                     cc->client_id != NULL && cc->client_id[0] != '\0' ? "&" : "",
                     cc->client_id != NULL ? cc->client_id : "");
    SHD_ENSURE(w > 0 && (size_t)w < sizeof(url), SHD_ERR_TOO_LARGE);
    if (cc->client_id == NULL || cc->client_id[0] == '\0') {
        SHD_LOG_WARNING(SKR_LOG_CERTS, "AzCache request without a client_id");
    }
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD_CTX(http_get(ctx->http, url, false, &body, &len),
                  "pulling certchain response from AzCache URL '%s' failed", url);
    uint64_t tcbm = 0;
    SHD_GUARD(skr_certs_vcek_tcbm(body, len, &tcbm));
    /* The body is VCEK + ASK + ARK; keep it whole as the "VCEK" part and no separate chain, so
     * that vcek_pem + chain_pem is exactly what the service returned. */
    char *empty = shd_strdup("");
    SHD_ENSURE(empty != NULL, SHD_ERR_NOMEM);
    return set_certs(SHD_TAKE_PTR(body), empty, tcbm, ret);
}

static shd_result fetch_amd(const struct skr_ctx *ctx, uint64_t tcb, const char *chip_hex,
                            struct skr_certs *ret)
{
    const struct skr_certcache *cc = &ctx->args.certcache;
    const char *tee = cc->tee_type != NULL ? cc->tee_type : "";
    char url[URL_MAX];
    /* Legacy TCB bytes (Milan/Genoa): 0 bl, 1 tee, 6 snp, 7 ucode (§4.2). */
    int w = snprintf(url, sizeof(url),
                     "https://%s/%s/%s?ucodeSPL=%u&snpSPL=%u&teeSPL=%u&blSPL=%u", cc->endpoint,
                     tee, chip_hex, (unsigned)((tcb >> 56) & 0xff), (unsigned)((tcb >> 48) & 0xff),
                     (unsigned)((tcb >> 8) & 0xff), (unsigned)(tcb & 0xff));
    SHD_ENSURE(w > 0 && (size_t)w < sizeof(url), SHD_ERR_TOO_LARGE);
    SHD_CLEANUP_FREE char *der = NULL;
    size_t der_len = 0;
    SHD_GUARD_CTX(http_get(ctx->http, url, false, &der, &der_len),
                  "pulling certchain response from AMD URL '%s' failed", url);
    SHD_CLEANUP_FREE char *b64 = NULL;
    size_t b64_len = 0;
    SHD_GUARD(shd_b64_encode((const uint8_t *)der, der_len, SHD_B64_STD_PAD, &b64, &b64_len));
    struct shd_buf pem;
    shd_buf_init((size_t)1 << 20, 0, &pem);
    shd_result r = shd_buf_append_str("-----BEGIN CERTIFICATE-----\n", &pem);
    for (size_t i = 0; shd_is_ok(r) && i < b64_len; i += 64) {
        r = shd_buf_append(b64 + i, b64_len - i > 64 ? 64 : b64_len - i, &pem);
        if (shd_is_ok(r)) {
            r = shd_buf_append("\n", 1, &pem);
        }
    }
    if (shd_is_ok(r)) {
        r = shd_buf_append_str("-----END CERTIFICATE-----\n", &pem);
    }
    uint8_t *vcek = NULL;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&pem, &vcek, NULL);
    }
    shd_buf_free(&pem);
    SHD_GUARD(r);
    SHD_CLEANUP_FREE char *vcek_pem = (char *)vcek;
    w = snprintf(url, sizeof(url), "https://%s/%s/cert_chain", cc->endpoint, tee);
    SHD_ENSURE(w > 0 && (size_t)w < sizeof(url), SHD_ERR_TOO_LARGE);
    SHD_CLEANUP_FREE char *chain = NULL;
    SHD_GUARD_CTX(http_get(ctx->http, url, false, &chain, NULL),
                  "pulling certchain response from AMD URL '%s' failed", url);
    return set_certs(SHD_TAKE_PTR(vcek_pem), SHD_TAKE_PTR(chain), tcb, ret);
}

static const struct {
    enum skr_cert_endpoint_type type;
    shd_result (*fetch)(const struct skr_ctx *ctx, uint64_t tcb, const char *chip_hex,
                        struct skr_certs *ret);
} FETCHERS[] = {
    {SKR_CERT_ENDPOINT_LOCAL_THIM, fetch_local_thim},
    {SKR_CERT_ENDPOINT_AZCACHE, fetch_azcache},
    {SKR_CERT_ENDPOINT_AMD, fetch_amd},
};

shd_result skr_certs_refresh(const struct skr_ctx *ctx, uint64_t reported_tcb,
                             const uint8_t chip_id[static SHD_SNP_CHIP_ID_LEN],
                             struct skr_certs *ret)
{
    SHD_ENSURE_REF(ctx);
    SHD_ENSURE_REF(ret);
    const struct skr_certcache *cc = &ctx->args.certcache;
    /* The original checks the endpoint first, then the type. */
    SHD_ENSURE_MSG(cc->endpoint != NULL && cc->endpoint[0] != '\0', SHD_ERR_CONFIG,
                   "failed to retrieve cert chain: certificate endpoint not set");
    SHD_ENSURE_MSG(cc->type != SKR_CERT_ENDPOINT_INVALID && cc->type != SKR_CERT_ENDPOINT_NONE,
                   SHD_ERR_CONFIG, "invalid endpoint type: %s",
                   cc->type_name != NULL ? cc->type_name : "");
    char chip_hex[2 * SHD_SNP_CHIP_ID_LEN + 1];
    SHD_GUARD(shd_hex_encode_into(chip_id, SHD_SNP_CHIP_ID_LEN, chip_hex, sizeof(chip_hex)));
    for (size_t i = 0; i < sizeof(FETCHERS) / sizeof(FETCHERS[0]); i++) {
        if (FETCHERS[i].type == cc->type) {
            struct skr_certs c = {0};
            shd_result r = FETCHERS[i].fetch(ctx, reported_tcb, chip_hex, &c);
            if (shd_is_err(r)) {
                skr_certs_clear(&c);
                return r;
            }
            *ret = c;
            return SHD_OK;
        }
    }
    SHD_BAIL(SHD_ERR_INTERNAL);
}
