/*
 * api.c - the Unix-socket API of gcp-wif (api.h): one route table, one dispatcher that logs
 * every request once (method, path, status, duration; never bodies or tokens).
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "creds.h"
#include "ctx.h"
#include "gapi.h"
#include "kms.h"
#include "release.h"
#include "reply.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/file.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/jwk.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "shd/secret.h"
#include "wif.h"

typedef shd_result (*api_fn)(const struct wif_ctx *ctx, const struct shd_http_req *req,
                             struct shd_http_resp *resp);

/* ---- helpers ---- */

static int64_t now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* Parses the request body as a JSON object; on failure the 400 answer is already in resp. */
static shd_result body_json(const struct shd_http_req *req, json_t **ret, bool *ret_bad,
                            struct shd_http_resp *resp)
{
    *ret_bad = false;
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    const struct shd_json_limits lim = {.max_bytes = WIF_API_MAX_BODY, .max_depth = 8};
    json_t *doc = NULL;
    shd_result r = shd_json_parse((const char *)body, len, &lim, &doc);
    if (shd_is_ok(r) && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
        r = shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "body is not a JSON object");
    }
    if (shd_is_err(r)) {
        *ret_bad = true;
        return wif_reply_error(400, "request", r, resp);
    }
    *ret = doc;
    return SHD_OK;
}

static shd_result bad_request(const char *what, shd_result cause, struct shd_http_resp *resp)
{
    return wif_reply_error(400, what, cause, resp);
}

/* A fresh access token or the error answer; *ret_token NULL when answered. */
static shd_result access_token(const struct wif_ctx *ctx, char **ret_token, size_t *ret_len,
                               int64_t *ret_expiry, struct shd_http_resp *resp)
{
    *ret_token = NULL;
    shd_result r = wif_creds_access_token(ctx->creds, ret_token, ret_len, ret_expiry);
    if (shd_is_err(r)) {
        *ret_token = NULL;
        return wif_reply_error(0, "credentials", r, resp);
    }
    return SHD_OK;
}

/* ---- handlers ---- */

static shd_result h_status(const struct wif_ctx *ctx, const struct shd_http_req *req,
                           struct shd_http_resp *resp)
{
    (void)req;
    struct wif_creds_status st;
    wif_creds_status_get(ctx->creds, &st);
    int64_t now = now_s();
    struct shd_buf b;
    shd_buf_init(512, 0, &b);
    shd_result r = shd_buf_appendf(
        &b,
        "{\"status\":\"ok\",\"mode\":\"%s\",\"attestation_expires_in\":%lld,"
        "\"access_token_expires_in\":%lld,\"refresh_failures\":%u}",
        ctx->cfg != NULL && ctx->cfg->mode == WIF_MODE_LAUNCHER ? "launcher" : "tpm",
        (long long)(st.attestation_exp > now ? st.attestation_exp - now : 0),
        (long long)(st.access_expiry > now ? st.access_expiry - now : 0), st.refresh_failures);
    if (shd_is_ok(r)) {
        r = shd_http_resp_json(200, shd_buf_str(&b), resp);
    }
    shd_buf_free(&b);
    return r;
}

static shd_result h_token(const struct wif_ctx *ctx, const struct shd_http_req *req,
                          struct shd_http_resp *resp)
{
    (void)req;
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    SHD_GUARD(access_token(ctx, &tok, &len, &expiry, resp));
    if (tok == NULL) {
        return SHD_OK;
    }
    shd_result r = wif_reply_token(tok, len, expiry - now_s(), resp);
    shd_free_wipe(tok, len + 1);
    return r;
}

static shd_result h_identity(const struct wif_ctx *ctx, const struct shd_http_req *req,
                             struct shd_http_resp *resp)
{
    const char *aud = shd_http_req_query(req, "audience");
    char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    shd_result r = wif_creds_attestation_token(aud, ctx->creds, &tok, &len, &exp);
    if (shd_is_err(r)) {
        return wif_reply_error(r.err == SHD_ERR_USAGE ? 400 : 0, "identity", r, resp);
    }
    const struct shd_json_go_field f = {"token", tok, len};
    r = wif_reply_fields(200, &f, 1, true, resp);
    shd_free_wipe(tok, len + 1);
    return r;
}

static shd_result h_public_key(const struct wif_ctx *ctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    const char *name = shd_http_req_query(req, "name");
    if (name == NULL) {
        return bad_request(
            "request",
            shd_error_setf(SHD_ERR_INPUT, __FILE__, __LINE__, "query parameter 'name' is required"),
            resp);
    }
    shd_result r = wif_gapi_kms_name_check(name, true);
    if (shd_is_err(r)) {
        return bad_request("request", r, resp);
    }
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    SHD_GUARD(access_token(ctx, &tok, &len, &expiry, resp));
    if (tok == NULL) {
        return SHD_OK;
    }
    char *pem = NULL;
    char *alg = NULL;
    r = wif_kms_public_key(name, tok, ctx->kms, &pem, &alg);
    shd_free_wipe(tok, len + 1);
    if (shd_is_err(r)) {
        return wif_reply_error(0, "KMS", r, resp);
    }
    const struct shd_json_go_field f[] = {{"pem", pem, strlen(pem)},
                                          {"algorithm", alg, strlen(alg)}};
    r = wif_reply_fields(200, f, 2, false, resp);
    shd_free(pem);
    shd_free(alg);
    return r;
}

/* A base64 field (standard or URL-safe alphabet, padding optional) decoded into a buffer. */
static shd_result b64_field(const json_t *doc, const char *key, uint8_t **ret, size_t *ret_len)
{
    const char *s = NULL;
    size_t n = 0;
    SHD_GUARD(shd_json_get_stringn(doc, key, &s, &n));
    SHD_GUARD_CTX(shd_b64_decode(s, n, SHD_B64_STD | SHD_B64_LENIENT, ret, ret_len), "field '%s'",
                  key);
    return SHD_OK;
}

static shd_result h_asym_decrypt(const struct wif_ctx *ctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    bool bad = false;
    SHD_GUARD(body_json(req, &doc, &bad, resp));
    if (bad) {
        return SHD_OK;
    }
    const char *name = NULL;
    shd_result r = shd_json_get_string(doc, "name", &name);
    SHD_CLEANUP_FREE uint8_t *ct = NULL;
    size_t ct_len = 0;
    if (shd_is_ok(r)) {
        r = b64_field(doc, "ciphertext", &ct, &ct_len);
    }
    if (shd_is_err(r)) {
        return bad_request("request", r, resp);
    }
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    SHD_GUARD(access_token(ctx, &tok, &len, &expiry, resp));
    if (tok == NULL) {
        return SHD_OK;
    }
    struct shd_secret *plain = NULL;
    r = wif_kms_asymmetric_decrypt(name, ct, ct_len, tok, ctx->kms, &plain);
    shd_free_wipe(tok, len + 1);
    if (shd_is_err(r)) {
        return wif_reply_error(0, "KMS", r, resp);
    }
    char *b64 = NULL;
    size_t b64_len = 0;
    r = shd_b64_encode(shd_secret_data(plain), shd_secret_len(plain), SHD_B64_STD_PAD, &b64,
                       &b64_len);
    shd_secret_free(&plain);
    SHD_GUARD(r);
    const struct shd_json_go_field f = {"plaintext", b64, b64_len};
    r = wif_reply_fields(200, &f, 1, true, resp);
    shd_free_wipe(b64, b64_len + 1);
    return r;
}

/* Reads wrapped_key_file: an absolute path, inside --key-dir when that is set. */
static shd_result wrapped_file_read(const struct wif_ctx *ctx, const char *path, uint8_t **ret,
                                    size_t *ret_len)
{
    SHD_ENSURE_MSG(path[0] == '/', SHD_ERR_INPUT, "wrapped_key_file must be an absolute path");
    const char *key_dir = ctx->cfg != NULL ? ctx->cfg->key_dir : NULL;
    if (key_dir == NULL) {
        return shd_file_read(path, WIF_API_WRAPPED_FILE_MAX, 0, ret, ret_len);
    }
    SHD_CLEANUP_FREE char *dir = realpath(key_dir, NULL);
    SHD_CLEANUP_FREE char *real = realpath(path, NULL);
    SHD_ENSURE_MSG(dir != NULL, SHD_ERR_CONFIG, "--key-dir %s cannot be resolved", key_dir);
    SHD_ENSURE_MSG(real != NULL, SHD_ERR_NOT_FOUND, "wrapped_key_file %s not found", path);
    size_t dl = strlen(dir);
    SHD_ENSURE_MSG(strncmp(real, dir, dl) == 0 && (real[dl] == '/' || dl == 1), SHD_ERR_INPUT,
                   "wrapped_key_file lies outside --key-dir");
    /* real has no links left; NOFOLLOW keeps a link swapped in since realpath from leading
     * outside --key-dir through the last component. */
    return shd_file_read(real, WIF_API_WRAPPED_FILE_MAX, SHD_FILE_NOFOLLOW, ret, ret_len);
}

static shd_result release_parse(const struct wif_ctx *ctx, const json_t *doc, const char **ret_key,
                                const json_t **ret_ops, uint8_t **ret_ct, size_t *ret_ct_len)
{
    SHD_GUARD(shd_json_get_string(doc, "kms_key", ret_key));
    SHD_GUARD(wif_gapi_kms_name_check(*ret_key, false));
    const json_t *ops = json_object_get(doc, "key_ops");
    *ret_ops = ops != NULL && !json_is_null(ops) ? ops : NULL;
    if (*ret_ops != NULL) {
        SHD_GUARD(shd_jwk_key_ops_check(*ret_ops));
    }
    const char *file = NULL;
    SHD_GUARD(shd_json_get_string_opt(doc, "wrapped_key_file", &file));
    bool inline_key = json_object_get(doc, "wrapped_key") != NULL;
    SHD_ENSURE_MSG(inline_key != (file != NULL), SHD_ERR_INPUT,
                   "exactly one of wrapped_key and wrapped_key_file is required");
    if (inline_key) {
        return b64_field(doc, "wrapped_key", ret_ct, ret_ct_len);
    }
    return wrapped_file_read(ctx, file, ret_ct, ret_ct_len);
}

static shd_result h_key_release(const struct wif_ctx *ctx, const struct shd_http_req *req,
                                struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *doc = NULL;
    bool bad = false;
    SHD_GUARD(body_json(req, &doc, &bad, resp));
    if (bad) {
        return SHD_OK;
    }
    const char *key = NULL;
    const json_t *ops = NULL;
    SHD_CLEANUP_FREE uint8_t *ct = NULL;
    size_t ct_len = 0;
    shd_result r = release_parse(ctx, doc, &key, &ops, &ct, &ct_len);
    if (shd_is_err(r)) {
        return wif_reply_error(r.err == SHD_ERR_CONFIG ? 500 : 400, "request", r, resp);
    }
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    SHD_GUARD(access_token(ctx, &tok, &len, &expiry, resp));
    if (tok == NULL) {
        return SHD_OK;
    }
    struct shd_secret *plain = NULL;
    r = wif_kms_decrypt(key, ct, ct_len, tok, ctx->kms, &plain);
    shd_free_wipe(tok, len + 1);
    if (shd_is_err(r)) {
        return wif_reply_error(0, "KMS", r, resp);
    }
    char *body = NULL;
    size_t body_len = 0;
    r = wif_release_body(plain, ops, &body, &body_len);
    shd_secret_free(&plain);
    if (shd_is_err(r)) {
        return wif_reply_error(400, "release", r, resp);
    }
    /* The server wipes and frees the body after sending it. */
    shd_http_resp_body_take(200, WIF_CT_JSON, (uint8_t *)body, body_len, body_len + 1, resp);
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, WIF_LOG_API, "key released", SHD_LOG_STR("kms_key", key));
    return SHD_OK;
}

/* ---- routing ---- */

static const struct {
    const char *method;
    const char *path;
    api_fn fn;
} ROUTES[] = {
    {"GET", "/status", h_status},
    {"GET", "/token", h_token},
    {"GET", "/identity", h_identity},
    {"GET", "/kms/publicKey", h_public_key},
    {"POST", "/kms/asymmetricDecrypt", h_asym_decrypt},
    {"POST", "/key/release", h_key_release},
};

#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

static shd_result dispatch(const struct wif_ctx *ctx, const struct shd_http_req *req,
                           struct shd_http_resp *resp)
{
    const char *method = shd_http_req_method(req);
    const char *path = shd_http_req_path(req);
    bool path_known = false;
    for (size_t i = 0; i < NROUTES; i++) {
        if (strcmp(ROUTES[i].path, path) != 0) {
            continue;
        }
        path_known = true;
        if (strcmp(ROUTES[i].method, method) == 0) {
            return ROUTES[i].fn(ctx, req, resp);
        }
    }
    if (path_known) {
        return wif_reply_error_status(405, "method not allowed", resp);
    }
    return wif_reply_error_status(404, "not found", resp);
}

static shd_result server_handler(void *vctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    struct timespec t0;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    shd_result r = dispatch(vctx, req, resp);
    if (shd_log_enabled(SHD_LOG_LEVEL_INFO, WIF_LOG_API)) {
        struct timespec t1;
        (void)clock_gettime(CLOCK_MONOTONIC, &t1);
        long long us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL +
                       (long long)(t1.tv_nsec - t0.tv_nsec) / 1000LL;
        uid_t uid = 0;
        bool unix_peer = shd_http_req_peer(req, &uid, NULL);
        SHD_LOG_KV(SHD_LOG_LEVEL_INFO, WIF_LOG_API, "request",
                   SHD_LOG_STR("method", shd_http_req_method(req)),
                   SHD_LOG_STR("path", shd_http_req_path(req)),
                   SHD_LOG_UINT("status", shd_is_ok(r) ? shd_http_resp_get_status(resp) : 500u),
                   SHD_LOG_INT("uid", unix_peer ? (long long)uid : -1LL), SHD_LOG_INT("us", us));
    }
    return r;
}

static const struct shd_http_route SERVER_ROUTES[] = {
    {NULL, "/", server_handler, SHD_HTTP_ROUTE_PREFIX},
};

void wif_api_server_options(struct wif_ctx *ctx, struct shd_http_server_options *ret)
{
    *ret = (struct shd_http_server_options){
        .routes = SERVER_ROUTES,
        .nroutes = 1,
        .ctx = ctx,
        .not_found = server_handler,
        .method_not_allowed = server_handler,
        .max_body_bytes = WIF_API_MAX_BODY,
    };
}
