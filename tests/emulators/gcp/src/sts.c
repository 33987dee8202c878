/*
 * sts.c - the STS emulator's HTTP surface: POST /v1/token with a form-encoded or JSON body
 * (sts.h).
 */
#include "sts.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "sts_int.h"
#include "tokens.h"

/* Form fields we read, and the most fields a form may have. */
#define STS_FORM_MAX_FIELDS 16u

struct sts_ctx {
    struct gemu_state *st;
    struct gemu_sts_registry reg;
    struct shd_http_client *client;
};

/* A decoded form: names and values point into buf (one NUL-separated copy of the body). */
struct sts_form {
    char *buf;
    size_t buf_len;
    const char *names[STS_FORM_MAX_FIELDS];
    const char *values[STS_FORM_MAX_FIELDS];
    size_t n;
};

static int sts_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes one application/x-www-form-urlencoded component in place ('+' is a space). */
static bool sts_form_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%') {
            int hi = p[1] != '\0' ? sts_hex(p[1]) : -1;
            int lo = hi >= 0 && p[2] != '\0' ? sts_hex(p[2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                return false;
            }
            *o++ = (char)((hi << 4) | lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return true;
}

/* Splits body into fields; duplicates and malformed escapes make it invalid (false). */
static bool sts_form_parse(const uint8_t *body, size_t len, struct sts_form *f)
{
    f->buf = shd_strndup((const char *)body, len);
    f->buf_len = len;
    if (f->buf == NULL || strlen(f->buf) != len) {
        return false;
    }
    char *p = f->buf;
    while (*p != '\0') {
        char *amp = strchr(p, '&');
        if (amp != NULL) {
            *amp = '\0';
        }
        if (*p != '\0') {
            char *eq = strchr(p, '=');
            if (eq == NULL || f->n >= STS_FORM_MAX_FIELDS) {
                return false;
            }
            *eq = '\0';
            if (!sts_form_decode(p) || !sts_form_decode(eq + 1)) {
                return false;
            }
            for (size_t i = 0; i < f->n; i++) {
                if (strcmp(f->names[i], p) == 0) {
                    return false;
                }
            }
            f->names[f->n] = p;
            f->values[f->n] = eq + 1;
            f->n++;
        }
        if (amp == NULL) {
            break;
        }
        p = amp + 1;
    }
    return true;
}

static const char *sts_form_get(const struct sts_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->names[i], name) == 0) {
            return f->values[i];
        }
    }
    return NULL;
}

static void sts_form_clear(struct sts_form *f)
{
    if (f->buf != NULL) {
        shd_free_wipe(f->buf, f->buf_len + 1);
    }
    shd_memzero(f, sizeof(*f));
}

/* A string member of the JSON form (camelCase, or snake_case as a convenience). */
static const char *sts_json_get(const json_t *doc, const char *camel, const char *snake)
{
    const json_t *v = json_object_get(doc, camel);
    if (v == NULL) {
        v = json_object_get(doc, snake);
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static shd_result sts_oauth_error(const char *error, const char *desc, struct shd_http_resp *resp)
{
    struct shd_json_go_field f[] = {{"error", error, strlen(error)},
                                    {"error_description", desc, strlen(desc)}};
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump_strings(f, 2, &body, &len));
    return shd_http_resp_body(400, "application/json; charset=utf-8", body, len, resp);
}

static shd_result sts_success(struct sts_ctx *ctx, const struct gemu_principal *p,
                              struct shd_http_resp *resp)
{
    char *tok = NULL;
    SHD_GUARD(gemu_tokens_issue(p, GEMU_STS_LIFETIME_S, (int64_t)time(NULL), ctx->st->tokens, &tok,
                                NULL));
    size_t tl = strlen(tok);
    struct shd_buf b;
    shd_buf_init(16u * 1024u, SHD_BUF_SECRET, &b);
    shd_result r = shd_buf_appendf(&b,
                                   "{\"access_token\":\"%s\",\"issued_token_type\":\"%s\","
                                   "\"token_type\":\"Bearer\",\"expires_in\":%d}",
                                   tok, GEMU_STS_TOKEN_TYPE_ACCESS, GEMU_STS_LIFETIME_S);
    shd_free_wipe(tok, tl);
    uint8_t *body = NULL;
    size_t len = 0;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&b, &body, &len);
    }
    shd_buf_free(&b);
    SHD_GUARD(r);
    shd_http_resp_body_take(200, "application/json; charset=utf-8", body, len, len + 1, resp);
    char fp[SHD_LOG_FINGERPRINT_LEN];
    shd_log_token_fingerprint(p->subject, strlen(p->subject), fp);
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "gemu-sts", "federated token issued",
               SHD_LOG_STR("pool", p->pool), SHD_LOG_STR("subject", fp));
    return SHD_OK;
}

static shd_result sts_token(void *vctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct sts_ctx *ctx = vctx;
    const char *ct = shd_http_req_header(req, "Content-Type");
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    struct gemu_sts_request rq;
    shd_memzero(&rq, sizeof(rq));
    struct sts_form form;
    shd_memzero(&form, sizeof(form));
    json_t *doc = NULL;
    shd_result r = SHD_OK;
    bool parsed = false;
    if (ct != NULL && strncasecmp(ct, "application/json", 16) == 0) {
        if (shd_is_ok(shd_json_parse((const char *)body, len, NULL, &doc)) && json_is_object(doc)) {
            rq.grant_type = sts_json_get(doc, "grantType", "grant_type");
            rq.audience = sts_json_get(doc, "audience", "audience");
            rq.scope = sts_json_get(doc, "scope", "scope");
            rq.requested_token_type =
                sts_json_get(doc, "requestedTokenType", "requested_token_type");
            rq.subject_token = sts_json_get(doc, "subjectToken", "subject_token");
            rq.subject_token_type = sts_json_get(doc, "subjectTokenType", "subject_token_type");
            parsed = true;
        }
        shd_error_clear();
    } else if (ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        if (sts_form_parse(body, len, &form)) {
            rq.grant_type = sts_form_get(&form, "grant_type");
            rq.audience = sts_form_get(&form, "audience");
            rq.scope = sts_form_get(&form, "scope");
            rq.requested_token_type = sts_form_get(&form, "requested_token_type");
            rq.subject_token = sts_form_get(&form, "subject_token");
            rq.subject_token_type = sts_form_get(&form, "subject_token_type");
            parsed = true;
        }
    }
    if (!parsed) {
        r = sts_oauth_error("invalid_request",
                            "The request body must be application/x-www-form-urlencoded or "
                            "application/json.",
                            resp);
    } else {
        struct gemu_principal *p = NULL;
        struct gemu_sts_error err;
        r = gemu_sts_exchange(&ctx->reg, ctx->client, &rq, (int64_t)time(NULL), &p, &err);
        if (shd_is_ok(r) && err.error != NULL) {
            SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "gemu-sts", "token exchange rejected",
                       SHD_LOG_STR("error", err.error), SHD_LOG_STR("why", err.description));
            r = sts_oauth_error(err.error, err.description, resp);
        } else if (shd_is_ok(r)) {
            r = sts_success(ctx, p, resp);
        }
        gemu_principal_free(p);
    }
    if (doc != NULL) {
        json_decref(doc);
    }
    sts_form_clear(&form);
    return r;
}

static const struct gemu_route sts_routes[] = {
    {"POST", "/v1/token", sts_token, GEMU_ROUTE_EXACT},
};

static void sts_ctx_free(void *vctx)
{
    struct sts_ctx *ctx = vctx;
    if (ctx == NULL) {
        return;
    }
    gemu_sts_registry_clear(&ctx->reg);
    shd_http_client_free(ctx->client);
    shd_free(ctx);
}

shd_result gemu_sts_service_new(struct gemu_state *st, struct gemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct sts_ctx *ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    shd_result r = gemu_sts_registry_load(st->config, &ctx->reg);
    if (shd_is_ok(r)) {
        r = gemu_http_client_new(st, &ctx->client);
    }
    struct gemu_service tmpl = {
        .name = GEMU_SVC_STS,
        .routes = sts_routes,
        .nroutes = sizeof(sts_routes) / sizeof(sts_routes[0]),
        .ctx = ctx,
        .ctx_free = sts_ctx_free,
    };
    if (shd_is_ok(r)) {
        r = gemu_service_new(&tmpl, ret);
    }
    if (shd_is_err(r)) {
        sts_ctx_free(ctx);
    }
    return r;
}
