/*
 * maa.c - Microsoft Azure Attestation for SEV-SNP (maa.h, attest.h; skr-sidecar.md §4).
 */
#include "maa.h"

#include <inttypes.h>
#include <string.h>

#include "attest.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/http_client.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/snp_report.h"
#include "skr.h"
#include "upstream.h"

/* Appends base64url WITH padding (Go base64.URLEncoding) of data. */
static shd_result append_b64url(const uint8_t *data, size_t len, struct shd_buf *buf)
{
    SHD_CLEANUP_FREE char *enc = NULL;
    size_t enc_len = 0;

    SHD_GUARD(shd_b64_encode(data, len, SHD_B64_URL_PAD, &enc, &enc_len));
    SHD_GUARD(shd_buf_append(enc, enc_len, buf));
    return SHD_OK;
}

/* {"Uvm":["<B64URL(reference info)>"]} (maaEndorsements). */
static shd_result endorsements_build(const uint8_t *info, size_t info_len, struct shd_buf *out)
{
    SHD_GUARD(shd_buf_append_str("{\"Uvm\":[\"", out));
    SHD_GUARD(append_b64url(info, info_len, out));
    SHD_GUARD(shd_buf_append_str("\"]}", out));
    return SHD_OK;
}

/* JSON1 = {"SnpReport":..,"VcekCertChain":..[,"Endorsements":..]} (maaReport). */
static shd_result report_json_build(const struct skr_evidence *ev, struct shd_buf *out)
{
    SHD_GUARD(shd_buf_append_str("{\"SnpReport\":\"", out));
    SHD_GUARD(append_b64url(ev->report, sizeof(ev->report), out));
    SHD_GUARD(shd_buf_append_str("\",\"VcekCertChain\":\"", out));
    SHD_GUARD(append_b64url((const uint8_t *)ev->cert_chain_pem, ev->cert_chain_len, out));
    SHD_GUARD(shd_buf_append_str("\"", out));
    if (ev->uvm_reference_info != NULL && ev->uvm_reference_info_len > 0) {
        /* Go: `Endorsements string json:",omitempty"` - only with reference info. */
        struct shd_buf endorse;
        shd_buf_init(SKR_MAA_REQUEST_MAX, 0, &endorse);
        shd_result r =
            endorsements_build(ev->uvm_reference_info, ev->uvm_reference_info_len, &endorse);
        if (shd_is_ok(r)) {
            r = shd_buf_append_str(",\"Endorsements\":\"", out);
        }
        if (shd_is_ok(r)) {
            r = append_b64url(shd_buf_ptr(&endorse), shd_buf_len(&endorse), out);
        }
        shd_buf_free(&endorse);
        SHD_GUARD(r);
        SHD_GUARD(shd_buf_append_str("\"", out));
    }
    SHD_GUARD(shd_buf_append_str("}", out));
    return SHD_OK;
}

static shd_result request_build(const struct skr_evidence *ev, const uint8_t *runtime,
                                size_t runtime_len, uint64_t nonce, struct shd_buf *report,
                                struct shd_buf *out)
{
    SHD_GUARD(report_json_build(ev, report));
    SHD_GUARD(shd_buf_append_str("{\"report\":\"", out));
    SHD_GUARD(append_b64url(shd_buf_ptr(report), shd_buf_len(report), out));
    SHD_GUARD(shd_buf_append_str("\",\"runtimeData\":{\"data\":\"", out));
    SHD_GUARD(append_b64url(runtime, runtime_len, out));
    /* initTimeData is always sent with empty strings: the original disabled it because the
     * Rego policy is not JSON (§4.3). The nonce is a bare JSON number (Go uint64). */
    SHD_GUARD(shd_buf_appendf(out,
                              "\",\"dataType\":\"JSON\"},\"initTimeData\":{\"data\":\"\","
                              "\"dataType\":\"\"},\"nonce\":%" PRIu64 "}",
                              nonce));
    return SHD_OK;
}

shd_result skr_maa_request_build(const struct skr_evidence *ev, const uint8_t *runtime,
                                 size_t runtime_len, uint64_t nonce, char **ret_body,
                                 size_t *ret_len)
{
    struct shd_buf report;
    struct shd_buf out;
    uint8_t *body = NULL;
    size_t len = 0;

    SHD_ENSURE_REF(ev);
    SHD_ENSURE(runtime != NULL || runtime_len == 0, SHD_ERR_NULL);
    SHD_ENSURE(ev->cert_chain_pem != NULL || ev->cert_chain_len == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret_body);
    SHD_ENSURE_REF(ret_len);
    shd_buf_init(SKR_MAA_REQUEST_MAX, 0, &report);
    shd_buf_init(SKR_MAA_REQUEST_MAX, 0, &out);
    shd_result r = request_build(ev, runtime, runtime_len, nonce, &report, &out);
    if (shd_is_ok(r)) {
        r = shd_buf_take(&out, &body, &len);
    }
    shd_buf_free(&report);
    shd_buf_free(&out);
    SHD_GUARD(r);
    *ret_body = (char *)body;
    *ret_len = len;
    return SHD_OK;
}

shd_result skr_maa_url(const char *endpoint, char **ret_url)
{
    struct shd_buf url;
    uint8_t *p = NULL;
    size_t len = 0;

    SHD_ENSURE_REF(ret_url);
    SHD_GUARD(skr_upstream_endpoint_check(endpoint, NULL));
    shd_buf_init(1024, 0, &url);
    shd_result r = shd_buf_appendf(&url, "https://%s/attest/%s?api-version=%s", endpoint,
                                   SKR_MAA_TEE_PATH, SKR_MAA_API_VERSION);
    if (shd_is_ok(r)) {
        r = shd_buf_take(&url, &p, &len);
    }
    shd_buf_free(&url);
    SHD_GUARD(r);
    *ret_url = (char *)p;
    return SHD_OK;
}

static void token_freep(char **t)
{
    if (*t != NULL) {
        shd_free_wipe(*t, strlen(*t) + 1);
        *t = NULL;
    }
}

shd_result skr_maa_post(const struct shd_http_client *client, const char *url, const char *body,
                        size_t body_len, char **ret_token)
{
    static const struct shd_http_header headers[] = {{"Content-Type", "application/json"}};
    const struct shd_http_request req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .nheaders = 1,
        .body = (const uint8_t *)body,
        .body_len = body_len,
    };
    struct shd_http_response *resp = NULL;
    SHD_CLEANUP(token_freep) char *token = NULL;

    SHD_ENSURE_REF(client);
    SHD_ENSURE_REF(url);
    SHD_ENSURE_REF(body);
    SHD_ENSURE_REF(ret_token);
    SHD_GUARD_CTX(skr_upstream_do(client, &req, &resp), "maa post request failed");
    shd_result r = skr_upstream_status_check(resp);
    if (shd_is_err(r)) {
        shd_error_wrap("pulling maa post response failed");
        shd_http_response_free(resp);
        return r;
    }
    size_t len = 0;
    const uint8_t *data = shd_http_response_body(resp, &len);
    r = skr_upstream_json_string(data, len, "token", &token);
    shd_http_response_free(resp);
    if (shd_is_err(r)) {
        shd_error_wrap("unmarshalling maa http response body failed");
        return r;
    }
    SHD_ENSURE_MSG(token[0] != '\0', SHD_ERR_INPUT, "empty token string in maa response");
    *ret_token = SHD_TAKE_PTR(token);
    return SHD_OK;
}

static void evidence_clearp(struct skr_evidence *ev)
{
    skr_evidence_clear(ev);
}

static shd_result maa_fetch(const struct skr_ctx *ctx, const char *url,
                            const struct skr_evidence *ev, const uint8_t *runtime,
                            size_t runtime_len, char **ret_token)
{
    SHD_CLEANUP_FREE char *body = NULL;
    size_t body_len = 0;
    uint64_t nonce = 0;

    SHD_GUARD(shd_crypto_random((uint8_t *)&nonce, sizeof(nonce)));
    SHD_GUARD_CTX(skr_maa_request_build(ev, runtime, runtime_len, nonce, &body, &body_len),
                  "creating new AttestSNPRequestBody failed");
    SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, SKR_LOG_MAA, "posting MAA attestation request",
               SHD_LOG_STR("url", url), SHD_LOG_UINT("bytes", body_len),
               SHD_LOG_UINT("nonce", nonce), SHD_LOG_BOOL("fake_report", ev->fake_report));
    SHD_GUARD(skr_maa_post(ctx->http_maa, url, body, body_len, ret_token));
    return SHD_OK;
}

shd_result skr_maa_attest(const struct skr_ctx *ctx, const char *maa_endpoint,
                          const uint8_t *runtime_data, size_t runtime_len, char **ret_token)
{
    uint8_t report_data[SHD_SNP_REPORT_DATA_LEN];
    SHD_CLEANUP(evidence_clearp) struct skr_evidence ev = {0};
    SHD_CLEANUP_FREE char *url = NULL;
    char *token = NULL;

    SHD_ENSURE_REF(ctx);
    SHD_ENSURE_REF(maa_endpoint);
    SHD_ENSURE(runtime_data != NULL || runtime_len == 0, SHD_ERR_NULL);
    SHD_ENSURE_REF(ret_token);
    /* A malformed endpoint fails where the original's URL would: at the POST. Checked first so
     * that no report is taken for a request that cannot be sent. */
    shd_result r = skr_maa_url(maa_endpoint, &url);
    if (shd_is_err(r)) {
        shd_error_wrap("maa post request failed");
        shd_error_wrap("Retrieving MAA token from MAA endpoint failed");
        return r;
    }
    SHD_GUARD(skr_report_data_build(runtime_data, runtime_len, report_data));
    SHD_GUARD(skr_evidence_collect(ctx, report_data, &ev));
    SHD_GUARD_CTX(maa_fetch(ctx, url, &ev, runtime_data, runtime_len, &token),
                  "Retrieving MAA token from MAA endpoint failed");
    char fp[SHD_LOG_FINGERPRINT_LEN];
    shd_log_token_fingerprint(token, strlen(token), fp);
    SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, SKR_LOG_MAA, "MAA token received",
               SHD_LOG_STR("endpoint", maa_endpoint), SHD_LOG_STR("token", fp));
    *ret_token = token;
    return SHD_OK;
}
