/*
 * api.c - the five endpoints of the SKR sidecar (skr-sidecar.md §2) and gin's routing behaviour.
 *
 * Every error answer is ONE JSON object {"error":"<prefix>\n<ERROR_STRING>: <cause chain>"}
 * (D1), written with Go's escaping (shd_json_go_*), Content-Type application/json;
 * charset=utf-8. Handlers share nothing mutable: the certificate state is reached only through
 * skr_evidence_collect / the state's copy accessors.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attest.h"
#include "certs.h"
#include "config.h"
#include "gobind.h"
#include "release.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

const char SKR_ERROR_STRING[] =
    "ERROR: Please refer to the documentation for more information on how to use this sidecar.\n"
    "ACI: https://github.com/microsoft/confidential-sidecar-containers/blob/main/examples/skr/aci/"
    "README.md\n"
    "KATA: https://github.com/microsoft/confidential-sidecar-containers/blob/main/examples/skr/"
    "aks/README.md\n"
    "Troubleshooting: https://github.com/microsoft/confidential-sidecar-containers/blob/main/"
    "examples/skr/TROUBLESHOOTING.md";

#define CT_JSON "application/json; charset=utf-8"
#define CT_PLAIN "text/plain"
#define CT_HTML "text/html; charset=utf-8"
#define ERROR_RENDER_MAX ((size_t)SHD_ERROR_MAX_FRAMES * (SHD_ERROR_FRAME_LEN + 2) + 1)

/* The Go request structs of internal/httpginendpoints (field order as declared there). */
static const struct skr_gobind_field RAW_FIELDS[] = {
    {"runtime_data", "RuntimeData", true},
};
static const struct skr_gobind_struct RAW_ATTEST_DATA = {"RawAttestData", RAW_FIELDS, 1};

static const struct skr_gobind_field MAA_FIELDS[] = {
    {"maa_endpoint", "MAAEndpoint", true},
    {"runtime_data", "RuntimeData", true},
};
static const struct skr_gobind_struct MAA_ATTEST_DATA = {"MAAAttestData", MAA_FIELDS, 2};

static const struct skr_gobind_field KEY_FIELDS[] = {
    {"maa_endpoint", "MAAEndpoint", true},
    {"akv_endpoint", "AKVEndpoint", true},
    {"kid", "KID", true},
    {"access_token", "AccessToken", false},
};
static const struct skr_gobind_struct KEY_RELEASE_DATA = {"KeyReleaseData", KEY_FIELDS, 4};

/* ---- responses ---- */

static shd_result reply_fields(unsigned status, const struct shd_json_go_field *fields, size_t n,
                               bool secret, struct shd_http_resp *resp)
{
    char *json = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump_strings(fields, n, &json, &len));
    if (secret) {
        /* The server wipes and frees it after sending: no other copy is made. */
        shd_http_resp_body_take(status, CT_JSON, (uint8_t *)json, len, len + 1, resp);
        return SHD_OK;
    }
    shd_result r = shd_http_resp_body(status, CT_JSON, json, len, resp);
    shd_free(json);
    return r;
}

/*
 * Answers {"error":"<prefix>\n<ERROR_STRING>: <current error chain>"} and logs the error once.
 */
static shd_result reply_error(unsigned status, const char *prefix, shd_result cause,
                              struct shd_http_resp *resp)
{
    if (cause.err == SHD_ERR_NOMEM) {
        return cause;
    }
    char chain[ERROR_RENDER_MAX];
    (void)shd_error_render(chain, sizeof(chain));
    (void)SHD_LOG_RESULT(status >= 500 ? SHD_LOG_LEVEL_ERROR : SHD_LOG_LEVEL_WARNING, SKR_LOG_API,
                         cause, "%s (HTTP %u)", prefix, status);
    struct shd_buf msg;
    shd_buf_init(sizeof(chain) + sizeof(SKR_ERROR_STRING) + 256, 0, &msg);
    shd_result r = shd_buf_appendf(&msg, "%s\n%s: %s", prefix, SKR_ERROR_STRING, chain);
    if (shd_is_ok(r)) {
        const struct shd_json_go_field f = {"error", shd_buf_str(&msg), shd_buf_len(&msg)};
        r = reply_fields(status, &f, 1, false, resp);
    }
    shd_buf_free(&msg);
    shd_error_clear();
    return r;
}

static shd_result reply_not_found(struct shd_http_resp *resp)
{
    static const char body[] = "404 page not found";
    return shd_http_resp_body(404, CT_PLAIN, body, sizeof(body) - 1, resp);
}

/* gin's redirectTrailingSlash through net/http Redirect: 301 for GET (with Go's small HTML body),
 * 307 otherwise (no body). */
static shd_result reply_redirect(const char *method, const char *target,
                                 struct shd_http_resp *resp)
{
    bool get = strcmp(method, "GET") == 0;
    unsigned status = get ? 301 : 307;
    SHD_GUARD(shd_http_resp_header("Location", target, resp));
    if (!get) {
        shd_http_resp_status(status, resp);
        return SHD_OK;
    }
    char body[256];
    int w = snprintf(body, sizeof(body), "<a href=\"%s\">Moved Permanently</a>.\n\n", target);
    SHD_ENSURE(w > 0 && (size_t)w < sizeof(body), SHD_ERR_INTERNAL);
    return shd_http_resp_body(status, CT_HTML, body, (size_t)w, resp);
}

/* ---- request helpers ---- */

static shd_result bind(const uint8_t *body, size_t len, const struct skr_gobind_struct *st,
                       struct skr_gobind_values *ret, bool *ret_bad, struct shd_http_resp *resp)
{
    *ret_bad = false;
    shd_result r = skr_gobind_decode(body, len, st, ret);
    if (r.err == SHD_ERR_INPUT) {
        *ret_bad = true;
        return reply_error(400, "invalid request format", r, resp);
    }
    return r;
}

/* A field used as a C string (endpoint, kid) must not hide a NUL byte. */
static shd_result check_no_nul(const struct skr_gobind_values *v, size_t idx, const char *name,
                               bool *ret_bad, struct shd_http_resp *resp)
{
    *ret_bad = false;
    if (v->vals[idx] != NULL && strlen(v->vals[idx]) != v->lens[idx]) {
        *ret_bad = true;
        shd_result r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__,
                                      "field %s contains a NUL character", name);
        return reply_error(400, "invalid request format", r, resp);
    }
    return SHD_OK;
}

/* D2: standard or URL-safe alphabet, padded or not, CR/LF (and other white space) ignored. */
static shd_result decode_runtime_data(const struct skr_gobind_values *v, size_t idx,
                                      uint8_t **ret, size_t *ret_len, bool *ret_bad,
                                      struct shd_http_resp *resp)
{
    *ret_bad = false;
    shd_result r = shd_b64_decode(v->vals[idx], v->lens[idx], SHD_B64_STD | SHD_B64_LENIENT, ret,
                                  ret_len);
    if (r.err == SHD_ERR_ENCODING) {
        *ret_bad = true;
        return reply_error(400, "decoding base64-encoded runtime data of request failed", r,
                           resp);
    }
    return r;
}

/* ---- handlers ---- */

static shd_result h_status(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                           struct shd_http_resp *resp)
{
    (void)ctx;
    (void)body;
    (void)len;
    const struct shd_json_go_field f = {"message", "Status OK", 9};
    return reply_fields(200, &f, 1, false, resp);
}

/* Common front of /attest/raw and /attest/combined: bind, policy, runtime data, report. */
static shd_result raw_report(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                             unsigned policy_status, const char *fetch_prefix,
                             unsigned fetch_status, uint8_t report[static SHD_SNP_REPORT_LEN],
                             bool *ret_done, struct shd_http_resp *resp)
{
    *ret_done = true;
    SHD_CLEANUP(skr_gobind_values_clear) struct skr_gobind_values v = {0};
    bool bad = false;
    SHD_GUARD(bind(body, len, &RAW_ATTEST_DATA, &v, &bad, resp));
    if (bad) {
        return SHD_OK;
    }
    SHD_CLEANUP_FREE uint8_t *policy = NULL;
    shd_result r = skr_policy_decode(ctx, &policy, NULL);
    if (shd_is_err(r)) {
        return reply_error(policy_status, "decoding policy from Base64 format failed", r, resp);
    }
    uint8_t *rt = NULL;
    size_t rt_len = 0;
    SHD_GUARD(decode_runtime_data(&v, 0, &rt, &rt_len, &bad, resp));
    if (bad) {
        return SHD_OK;
    }
    uint8_t report_data[SHD_SNP_REPORT_DATA_LEN];
    r = skr_report_data_build(rt, rt_len, report_data);
    shd_free_wipe(rt, rt_len);
    SHD_GUARD(r);
    r = skr_report_get(ctx, report_data, report, NULL);
    if (shd_is_err(r)) {
        return reply_error(fetch_status, fetch_prefix, r, resp);
    }
    *ret_done = false;
    return SHD_OK;
}

static shd_result h_attest_raw(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                               struct shd_http_resp *resp)
{
    uint8_t report[SHD_SNP_REPORT_LEN];
    bool done = false;
    SHD_GUARD(raw_report(ctx, body, len, 403, "failure to fetch attestation report hex", 403,
                         report, &done, resp));
    if (done) {
        return SHD_OK;
    }
    char hex[2 * SHD_SNP_REPORT_LEN + 1];
    SHD_GUARD(shd_hex_encode_into(report, sizeof(report), hex, sizeof(hex)));
    const struct shd_json_go_field f = {"report", hex, 2 * SHD_SNP_REPORT_LEN};
    return reply_fields(200, &f, 1, false, resp);
}

static shd_result h_attest_combined(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                                    struct shd_http_resp *resp)
{
    uint8_t report[SHD_SNP_REPORT_LEN];
    bool done = false;
    SHD_GUARD(raw_report(ctx, body, len, 500, "failure to fetch attestation report bytes", 500,
                         report, &done, resp));
    if (done) {
        return SHD_OK;
    }
    /* §2.3: the start-up certificates, verbatim (never the refreshed ones). */
    SHD_CLEANUP(skr_certs_clear) struct skr_certs certs = {0};
    shd_result r = skr_cert_state_initial(ctx->certs, &certs);
    if (shd_is_err(r)) {
        return reply_error(500, "failure to fetch attestation report bytes", r, resp);
    }
    struct shd_buf chain;
    shd_buf_init(2 * SKR_SECCTX_FILE_MAX, 0, &chain);
    r = shd_buf_append_str(certs.vcek_pem, &chain);
    if (shd_is_ok(r)) {
        r = shd_buf_append_str(certs.chain_pem, &chain);
    }
    SHD_CLEANUP_FREE char *endorsements = NULL;
    size_t endorsements_len = 0;
    if (shd_is_ok(r)) {
        r = shd_b64_encode(shd_buf_ptr(&chain), shd_buf_len(&chain), SHD_B64_STD_PAD,
                           &endorsements, &endorsements_len);
    }
    shd_buf_free(&chain);
    SHD_GUARD(r);
    char evidence[((SHD_SNP_REPORT_LEN + 2) / 3) * 4 + 1];
    size_t evidence_len = 0;
    SHD_GUARD(shd_b64_encode_into(report, sizeof(report), SHD_B64_STD_PAD, evidence,
                                  sizeof(evidence), &evidence_len));
    const char *uvm = ctx->uvm.reference_info_b64 != NULL ? ctx->uvm.reference_info_b64 : "";
    const struct shd_json_go_field f[] = {
        {"endorsed_tcb", certs.tcbm_str, strlen(certs.tcbm_str)},
        {"endorsements", endorsements, endorsements_len},
        {"evidence", evidence, evidence_len},
        {"uvm_endorsements", uvm, strlen(uvm)},
    };
    return reply_fields(200, f, sizeof(f) / sizeof(f[0]), false, resp);
}

static shd_result h_attest_maa(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                               struct shd_http_resp *resp)
{
    SHD_CLEANUP(skr_gobind_values_clear) struct skr_gobind_values v = {0};
    bool bad = false;
    SHD_GUARD(bind(body, len, &MAA_ATTEST_DATA, &v, &bad, resp));
    if (!bad) {
        SHD_GUARD(check_no_nul(&v, 0, "maa_endpoint", &bad, resp));
    }
    if (bad) {
        return SHD_OK;
    }
    uint8_t *rt = NULL;
    size_t rt_len = 0;
    SHD_GUARD(decode_runtime_data(&v, 1, &rt, &rt_len, &bad, resp));
    if (bad) {
        return SHD_OK;
    }
    char *token = NULL;
    shd_result r = skr_maa_attest(ctx, v.vals[0], rt, rt_len, &token);
    shd_free_wipe(rt, rt_len);
    if (shd_is_err(r)) {
        return reply_error(403, "attestation failed", r, resp);
    }
    size_t token_len = strlen(token);
    const struct shd_json_go_field f = {"token", token, token_len};
    r = reply_fields(200, &f, 1, true, resp);
    shd_free_wipe(token, token_len + 1);
    return r;
}

static shd_result h_key_release(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                                struct shd_http_resp *resp)
{
    SHD_CLEANUP(skr_gobind_values_clear) struct skr_gobind_values v = {0};
    bool bad = false;
    SHD_GUARD(bind(body, len, &KEY_RELEASE_DATA, &v, &bad, resp));
    for (size_t i = 0; i < 4 && !bad; i++) {
        SHD_GUARD(check_no_nul(&v, i, KEY_FIELDS[i].json_name, &bad, resp));
    }
    if (bad) {
        return SHD_OK;
    }
    const char *token = v.vals[3] != NULL && v.lens[3] > 0 ? v.vals[3] : NULL;
    char *jwk = NULL;
    size_t jwk_len = 0;
    shd_result r = skr_key_release(ctx, v.vals[0], v.vals[1], v.vals[2], token, &jwk, &jwk_len);
    if (shd_is_err(r)) {
        return reply_error(403, "secure key release failed", r, resp);
    }
    const struct shd_json_go_field f = {"key", jwk, jwk_len};
    r = reply_fields(200, &f, 1, true, resp);
    shd_free_wipe(jwk, jwk_len + 1);
    return r;
}

/* ---- routing ---- */

static const struct {
    const char *method;
    const char *path;
    shd_result (*fn)(const struct skr_ctx *ctx, const uint8_t *body, size_t len,
                     struct shd_http_resp *resp);
} ROUTES[] = {
    {"GET", "/status", h_status},
    {"POST", "/attest/raw", h_attest_raw},
    {"POST", "/attest/combined", h_attest_combined},
    {"POST", "/attest/maa", h_attest_maa},
    {"POST", "/key/release", h_key_release},
};

#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

static long route_find(const char *method, const char *path, size_t path_len)
{
    for (size_t i = 0; i < NROUTES; i++) {
        if (strcmp(ROUTES[i].method, method) == 0 && strlen(ROUTES[i].path) == path_len &&
            strncmp(ROUTES[i].path, path, path_len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

shd_result skr_api_handle(const struct skr_ctx *ctx, const char *method, const char *path,
                          const uint8_t *body, size_t len, struct shd_http_resp *resp)
{
    SHD_ENSURE_REF(ctx);
    SHD_ENSURE_REF(method);
    SHD_ENSURE_REF(path);
    SHD_ENSURE_REF(resp);
    size_t path_len = strlen(path);
    long idx = route_find(method, path, path_len);
    if (idx >= 0) {
        return ROUTES[idx].fn(ctx, body != NULL ? body : (const uint8_t *)"", len, resp);
    }
    /* gin RedirectTrailingSlash: only towards a route of the same method. */
    if (path_len > 1 && path[path_len - 1] == '/' && route_find(method, path, path_len - 1) >= 0) {
        char target[64];
        (void)snprintf(target, sizeof(target), "%.*s", (int)(path_len - 1), path);
        return reply_redirect(method, target, resp);
    }
    return reply_not_found(resp);
}

static shd_result server_handler(void *ctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    struct timespec t0;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    const char *method = shd_http_req_method(req);
    const char *path = shd_http_req_path(req);
    shd_result r = skr_api_handle(ctx, method, path, body, len, resp);
    if (shd_log_enabled(SHD_LOG_LEVEL_INFO, SKR_LOG_API)) {
        struct timespec t1;
        (void)clock_gettime(CLOCK_MONOTONIC, &t1);
        long long us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL +
                       (long long)(t1.tv_nsec - t0.tv_nsec) / 1000LL;
        SHD_LOG_KV(SHD_LOG_LEVEL_INFO, SKR_LOG_API, "request", SHD_LOG_STR("method", method),
                   SHD_LOG_STR("path", path),
                   SHD_LOG_UINT("status", shd_is_ok(r) ? shd_http_resp_get_status(resp) : 500u),
                   SHD_LOG_INT("us", us));
    }
    return r;
}

static const struct shd_http_route SERVER_ROUTES[] = {
    {NULL, "/", server_handler, SHD_HTTP_ROUTE_PREFIX},
};

void skr_api_server_options(struct skr_ctx *ctx, struct shd_http_server_options *ret)
{
    *ret = (struct shd_http_server_options){
        .routes = SERVER_ROUTES,
        .nroutes = 1,
        .ctx = ctx,
        .not_found = server_handler,
        .method_not_allowed = server_handler,
        .max_body_bytes = SKR_API_MAX_BODY,
    };
}
