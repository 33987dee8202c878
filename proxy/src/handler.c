/*
 * handler.c - routes (a table, STYLE.md rule 4), CORS and the proxied exchange.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#include "envelope.h"
#include "envelope_gzip.h"
#include "forward.h"
#include "headers.h"
#include "keystore.h"
#include "proxy.h"
#include "proxy_log.h"
#include "server.h"
#include "unwrap.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define ERROR_TYPE "text/html; charset=utf-8"
#define ERROR_MAX 1024u
/* The proxy seals responses like the Node SDK: 16-byte IVs. */
#define RESPONSE_IV_LEN 16u

typedef shd_result (*route_fn)(const struct proxy_ctx *ctx, struct proxy_request *req,
                               struct proxy_response *resp);

/* ---- system endpoints ---- */

static shd_result json_reply(unsigned status, const char *json, struct proxy_response *resp)
{
    return proxy_response_set(status, JSON_TYPE, json, strlen(json), resp);
}

static shd_result r_health(const struct proxy_ctx *ctx, struct proxy_request *req,
                           struct proxy_response *resp)
{
    (void)req;
    if (!proxy_keystore_ready(ctx->ks)) {
        return json_reply(503, "{\"status\":\"starting\"}", resp);
    }
    return json_reply(200, "{\"status\":\"ok\"}", resp);
}

static shd_result r_public_key(const struct proxy_ctx *ctx, struct proxy_request *req,
                               struct proxy_response *resp)
{
    const char *pem = NULL;

    (void)req;
    if (shd_is_err(proxy_keystore_public_pem(ctx->ks, &pem, NULL))) {
        shd_error_clear();
        return json_reply(503, "{\"error\":\"the key is not ready\"}", resp);
    }
    SHD_CLEANUP_FREE char *escaped = NULL;
    SHD_GUARD(shd_http_json_escape(pem, &escaped));
    struct shd_buf b;
    shd_buf_init(64 * 1024, 0, &b);
    shd_result r = shd_buf_appendf(&b, "{\"publicKey\":\"%s\"}", escaped);
    if (shd_is_ok(r)) {
        r = json_reply(200, shd_buf_str(&b), resp);
    }
    shd_buf_free(&b);
    return r;
}

static shd_result r_log_level(const struct proxy_ctx *ctx, struct proxy_request *req,
                              struct proxy_response *resp)
{
    char json[64];

    (void)req;
    (void)snprintf(json, sizeof(json), "{\"level\":\"%s\"}", ctx->cfg->pino_level);
    return json_reply(200, json, resp);
}

struct route {
    const char *method;
    const char *path;
    route_fn fn;
};

/* Only these exact GET paths; anything else under /polaris-container goes to the workload. */
static const struct route ROUTES[] = {
    {"GET", "/polaris-container/health", r_health},
    {"GET", "/polaris-container/publicKey", r_public_key},
    {"GET", "/polaris-container/logLevel", r_log_level},
};

/* ---- errors ---- */

/* 400 "Error processing request: <message>", never encrypted (§1.5). */
static shd_result error_reply(unsigned status, const char *message, struct proxy_response *resp)
{
    struct shd_buf b;
    shd_buf_init(ERROR_MAX + sizeof(PROXY_ERROR_PREFIX), 0, &b);
    shd_result r = shd_buf_appendf(&b, "%s%.*s", PROXY_ERROR_PREFIX, (int)ERROR_MAX, message);
    if (shd_is_ok(r)) {
        proxy_headers_clear(&resp->headers);
        r = proxy_response_set(status, ERROR_TYPE, shd_buf_ptr(&b), shd_buf_len(&b), resp);
    }
    shd_buf_free(&b);
    return r;
}

/*
 * A rejected request: one log line with the category (rate-limited, peers cause these), and
 * the message to the client. Every envelope failure gets the same text (STYLE.md rule 20).
 */
static shd_result reject(unsigned status, shd_result why, struct proxy_response *resp)
{
    char chain[ERROR_MAX];

    (void)shd_error_render(chain, sizeof(chain));
    SHD_LOG_RATELIMITED(SHD_LOG_LEVEL_WARNING, PROXY_LOG_HTTP, 1000, 20,
                        "request rejected: status=%u category=%s: %s", status,
                        shd_error_type_str(shd_error_type_of(why.err)), chain);
    if (why.err == SHD_ERR_DECRYPT) {
        return error_reply(status, PROXY_ENVELOPE_DECRYPT_MSG, resp);
    }
    if (why.err == SHD_ERR_INPUT && strstr(chain, PROXY_MSG_RESPONSE_KEY) != NULL) {
        return error_reply(status, PROXY_MSG_RESPONSE_KEY, resp);
    }
    return error_reply(status, chain, resp);
}

static shd_result upstream_failed(shd_result why, struct proxy_response *resp)
{
    switch (why.err) {
    case SHD_ERR_CONNECT:
        return reject(400, why, resp);
    case SHD_ERR_TOO_LARGE:
    case SHD_ERR_INPUT:
        return reject(502, why, resp);
    default:
        /* ECONNRESET and friends: 504, empty body, the express-http-proxy header (§1.5). */
        (void)reject(504, why, resp);
        proxy_response_clear(resp);
        SHD_GUARD(proxy_response_header(PROXY_TIMEOUT_HEADER, PROXY_TIMEOUT_VALUE, resp));
        return proxy_response_set(504, NULL, "", 0, resp);
    }
}

/* ---- the proxied exchange ---- */

static bool is_gzip(const struct proxy_headers *h)
{
    const char *ce = proxy_headers_get(h, "content-encoding");
    return ce != NULL && strcasecmp(ce, "gzip") == 0;
}

/* Seals the body to the client's key as base64 text; gzip around it when the workload gzipped
 * (express-http-proxy gunzips before its decorator and gzips after, §1.3). */
static shd_result body_seal(const struct proxy_config *cfg, EVP_PKEY *key,
                            const struct proxy_upstream_response *up, struct proxy_response *resp)
{
    const uint8_t *plain = shd_buf_ptr(&up->body);
    size_t plain_len = shd_buf_len(&up->body);
    uint8_t *inflated = NULL;
    size_t inflated_len = 0;
    bool gz = is_gzip(&up->headers) && plain_len > 0;

    if (gz) {
        SHD_GUARD_CTX(proxy_gzip_inflate(plain, plain_len, cfg->max_response, &inflated,
                                         &inflated_len),
                      "workload response");
        plain = inflated;
        plain_len = inflated_len;
    }
    char *text = NULL;
    size_t text_len = 0;
    shd_result r = proxy_envelope_seal_b64(plain, plain_len, key, RESPONSE_IV_LEN, &text,
                                           &text_len);
    shd_free_wipe(inflated, inflated != NULL ? inflated_len + 1 : 0);
    SHD_GUARD_CTX(r, "sealing the response");
    if (!gz) {
        proxy_response_take(up->status, (uint8_t *)text, text_len, text_len + 1, resp);
        return SHD_OK;
    }
    uint8_t *zipped = NULL;
    size_t zipped_len = 0;
    r = proxy_gzip_deflate((const uint8_t *)text, text_len, &zipped, &zipped_len);
    shd_free(text);
    SHD_GUARD(r);
    proxy_response_take(up->status, zipped, zipped_len, zipped_len, resp);
    return SHD_OK;
}

static bool response_has_body(const char *method, unsigned status)
{
    return strcmp(method, "HEAD") != 0 && status >= 200 && status != 204 && status != 304;
}

static shd_result response_build(const struct proxy_config *cfg, const struct proxy_inner *in,
                                 const char *method, struct proxy_upstream_response *up,
                                 struct proxy_response *resp)
{
    const char *connection = proxy_headers_get(&up->headers, "connection");

    for (size_t i = 0; i < up->headers.n; i++) {
        const struct proxy_header *h = &up->headers.v[i];
        if (!proxy_header_is_hop(h->name, connection)) {
            SHD_GUARD(proxy_headers_add(h->name, strlen(h->name), h->value, strlen(h->value),
                                        &resp->headers));
        }
    }
    if (in->response_key != NULL && response_has_body(method, up->status)) {
        return body_seal(cfg, in->response_key, up, resp);
    }
    /* Pass-through: move the workload's buffer, no copy. */
    uint8_t *body = NULL;
    size_t len = 0;
    SHD_GUARD(shd_buf_take(&up->body, &body, &len));
    proxy_response_take(up->status, body, len, len + 1, resp);
    return SHD_OK;
}

static shd_result pass(const struct proxy_ctx *ctx, struct proxy_request *req,
                       struct proxy_response *resp)
{
    const struct proxy_config *cfg = ctx->cfg;
    bool needs_key = cfg->input_encryption;

    if (needs_key && !proxy_keystore_ready(ctx->ks)) {
        return error_reply(503, "the key is not ready", resp);
    }
    struct proxy_inner in;
    shd_result r = proxy_inner_build(cfg, ctx->ks, req, &in);
    if (shd_is_err(r) && needs_key && !proxy_keystore_ready(ctx->ks)) {
        /* The key process went away during this request (it logged why): not the client's
         * fault, and the proxy is about to stop. */
        shd_error_clear();
        return error_reply(503, "the key is not ready", resp);
    }
    if (shd_is_err(r)) {
        return reject(400, r, resp);
    }
    const struct proxy_upstream_request up_req = {
        .method = req->method,
        .target = in.target,
        .headers = &in.headers,
        .body = in.body,
        .body_len = in.body_len,
    };
    struct proxy_upstream_response up;
    proxy_upstream_response_init(cfg, &up);
    r = proxy_forward(cfg, &up_req, req->conn_slot, &up);
    if (shd_is_err(r)) {
        r = upstream_failed(r, resp);
    } else {
        r = response_build(cfg, &in, req->method, &up, resp);
        if (shd_is_err(r)) {
            /* A bad client key or an undecodable gzip body: Polaris answers 400 here too. */
            proxy_response_clear(resp);
            r = reject(400, r, resp);
        }
    }
    proxy_upstream_response_clear(&up);
    proxy_inner_clear(&in);
    return r;
}

/* ---- CORS (cors with origin "*", methods GET,POST,PUT,DELETE, §1.2 step 3) ---- */

static bool cors_list_ok(const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        bool ok = proxy_header_is_token(p, 1) || *p == ',' || *p == ' ';
        if (!ok) {
            return false;
        }
    }
    return strlen(s) <= 1024;
}

static shd_result cors_preflight(struct proxy_request *req, struct proxy_response *resp)
{
    SHD_GUARD(proxy_response_header("Access-Control-Allow-Methods", "GET,POST,PUT,DELETE", resp));
    const char *asked = proxy_headers_get(&req->headers, "access-control-request-headers");
    if (asked != NULL && cors_list_ok(asked)) {
        SHD_GUARD(proxy_response_header("Access-Control-Allow-Headers", asked, resp));
        SHD_GUARD(proxy_response_header("Vary", "Access-Control-Request-Headers", resp));
    }
    return proxy_response_set(204, NULL, "", 0, resp);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

shd_result proxy_handle(void *vctx, struct proxy_request *req, struct proxy_response *resp)
{
    const struct proxy_ctx *ctx = vctx;
    uint64_t start = now_ms();
    shd_result r = SHD_OK;
    bool routed = false;

    SHD_ENSURE(ctx != NULL && req != NULL && resp != NULL, SHD_ERR_NULL);
    if (ctx->cfg->cors && strcmp(req->method, "OPTIONS") == 0) {
        r = cors_preflight(req, resp);
        routed = true;
    }
    for (size_t i = 0; !routed && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        if (strcmp(req->method, ROUTES[i].method) == 0 && strcmp(req->path, ROUTES[i].path) == 0) {
            r = ROUTES[i].fn(ctx, req, resp);
            routed = true;
        }
    }
    if (!routed) {
        r = pass(ctx, req, resp);
    }
    SHD_GUARD(r);
    if (ctx->cfg->cors) {
        SHD_GUARD(proxy_response_header("Access-Control-Allow-Origin", "*", resp));
    }
    /* Method, status, sizes, time: never the path, headers or bodies (§6.6). */
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, PROXY_LOG_HTTP, "request", SHD_LOG_STR("method", req->method),
               SHD_LOG_UINT("status", resp->status), SHD_LOG_UINT("in", req->body_len),
               SHD_LOG_UINT("out", resp->len), SHD_LOG_UINT("ms", now_ms() - start));
    return SHD_OK;
}

void proxy_conn_free(void *conn_ctx)
{
    proxy_forward_slot_free(conn_ctx);
}
