/*
 * imds.c - IMDS managed-identity tokens, THIM certificates and the /emu/faults control
 * endpoints (see imds.h, faults.h).
 */
#include "imds.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "faults.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/crypto.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "util.h"

#define IMDS_JSON "application/json; charset=utf-8"
#define IMDS_RESOURCE_MAX 512u
#define IMDS_GUID_LEN 36u

struct imds_ctx {
    const struct aemu_state *st;
};

/* {"error":"invalid_request","error_description":"<desc>"} (real-clients.md §1.2). */
static shd_result imds_error(unsigned status, const char *error, const char *desc,
                             struct shd_http_resp *resp)
{
    SHD_CLEANUP_JSON json_t *doc =
        json_pack("{s:s, s:s}", "error", error, "error_description", desc);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_json_dump(doc, JSON_COMPACT | JSON_PRESERVE_ORDER, &body, &len));
    return shd_http_resp_body(status, IMDS_JSON, body, len, resp);
}

static bool imds_has_metadata(const struct shd_http_req *req)
{
    const char *v = shd_http_req_header(req, "Metadata");
    return v != NULL && strcasecmp(v, "true") == 0;
}

static bool imds_is_guid(const char *s)
{
    if (strlen(s) != IMDS_GUID_LEN) {
        return false;
    }
    for (size_t i = 0; i < IMDS_GUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex) {
            return false;
        }
    }
    return true;
}

/* A resource is an absolute URI of printable ASCII ("https://vault.azure.net"). */
static bool imds_resource_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > IMDS_RESOURCE_MAX || strchr(s, ':') == NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\') {
            return false;
        }
    }
    return true;
}

/* A stable object id per client id: the first 16 bytes of SHA-256("oid:" || client_id). */
static shd_result imds_oid(const char *client_id, char out[static IMDS_GUID_LEN + 1])
{
    char in[64];
    int n = snprintf(in, sizeof(in), "oid:%s", client_id);
    SHD_ENSURE(n > 0 && (size_t)n < sizeof(in), SHD_ERR_INTERNAL);
    uint8_t d[SHD_CRYPTO_SHA256_LEN];
    SHD_GUARD(shd_crypto_sha256((const uint8_t *)in, (size_t)n, d));
    char hex[33];
    SHD_GUARD(shd_hex_encode_into(d, 16, hex, sizeof(hex)));
    n = snprintf(out, IMDS_GUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                 hex + 16, hex + 20);
    SHD_ENSURE(n == (int)IMDS_GUID_LEN, SHD_ERR_INTERNAL);
    return SHD_OK;
}

struct imds_ask {
    const char *resource;
    const char *client_id;
    const char *object_id; /* NULL: derived from the client id */
    int64_t now;
};

static shd_result imds_jwt(const struct aemu_state *st, const struct imds_ask *a, char **ret_token)
{
    char oid[IMDS_GUID_LEN + 1];
    if (a->object_id != NULL) {
        shd_memcpy(oid, a->object_id, IMDS_GUID_LEN + 1);
    } else {
        SHD_GUARD(imds_oid(a->client_id, oid));
    }
    uint8_t rnd[16];
    SHD_GUARD(shd_crypto_random(rnd, sizeof(rnd)));
    SHD_CLEANUP_FREE char *uti = NULL;
    SHD_GUARD(shd_b64_encode(rnd, sizeof(rnd), SHD_B64_URL_NOPAD, &uti, NULL));
    SHD_CLEANUP_JSON json_t *claims = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "aud",
        a->resource, "iss", st->aad_issuer, "iat", (json_int_t)a->now, "nbf", (json_int_t)a->now,
        "exp", (json_int_t)(a->now + AEMU_IMDS_TOKEN_LIFETIME_S), "appid", a->client_id, "appidacr",
        "2", "idp", st->aad_issuer, "oid", oid, "sub", oid, "tid", st->tenant_id, "uti", uti, "ver",
        "1.0", "xms_az_rid", AEMU_IMDS_RESOURCE_ID);
    SHD_ENSURE(claims != NULL, SHD_ERR_NOMEM);
    SHD_CLEANUP_FREE char *payload = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_json_dump(claims, JSON_COMPACT | JSON_PRESERVE_ORDER, &payload, &len));
    struct shd_jws_sign_header hdr = {.kid = st->aad_kid, .typ = "JWT"};
    return shd_jws_sign(&hdr, (const uint8_t *)payload, len, st->aad_key, SHD_JWS_RS256, ret_token,
                        NULL);
}

/* The token answer; the body carries a credential, so it is handed over to be wiped. */
static shd_result imds_token_answer(const struct aemu_state *st, const struct imds_ask *a,
                                    struct shd_http_resp *resp)
{
    char *token = NULL;
    SHD_GUARD(imds_jwt(st, a, &token));
    char exp_in[16];
    char exp_on[24];
    char nbf[24];
    (void)snprintf(exp_in, sizeof(exp_in), "%d", AEMU_IMDS_TOKEN_LIFETIME_S);
    (void)snprintf(exp_on, sizeof(exp_on), "%lld",
                   (long long)(a->now + AEMU_IMDS_TOKEN_LIFETIME_S));
    (void)snprintf(nbf, sizeof(nbf), "%lld", (long long)a->now);
    struct shd_json_go_field f[] = {
        {"access_token", token, strlen(token)},
        {"refresh_token", "", 0},
        {"client_id", a->client_id, strlen(a->client_id)},
        {"expires_in", exp_in, strlen(exp_in)},
        {"expires_on", exp_on, strlen(exp_on)},
        {"ext_expires_in", exp_in, strlen(exp_in)},
        {"not_before", nbf, strlen(nbf)},
        {"resource", a->resource, strlen(a->resource)},
        {"token_type", "Bearer", 6},
    };
    char *body = NULL;
    size_t len = 0;
    shd_result r = shd_json_go_dump_strings(f, sizeof(f) / sizeof(f[0]), &body, &len);
    shd_free_wipe(token, strlen(token) + 1);
    SHD_GUARD(r);
    shd_http_resp_body_take(200, IMDS_JSON, (uint8_t *)body, len, len + 1, resp);
    return SHD_OK;
}

static shd_result imds_token(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const struct aemu_state *st = ((const struct imds_ctx *)ctx)->st;
    if (!imds_has_metadata(req)) {
        return imds_error(400, "invalid_request", "Required metadata header not specified", resp);
    }
    const char *api = shd_http_req_query(req, "api-version");
    if (api == NULL || api[0] == '\0') {
        return imds_error(400, "invalid_request",
                          "Required query variable 'api-version' is missing", resp);
    }
    struct imds_ask a = {
        .resource = shd_http_req_query(req, "resource"),
        .client_id = shd_http_req_query(req, "client_id"),
        .object_id = shd_http_req_query(req, "object_id"),
        .now = (int64_t)time(NULL),
    };
    if (a.resource == NULL || a.resource[0] == '\0') {
        return imds_error(400, "invalid_request", "Required query variable 'resource' is missing",
                          resp);
    }
    if (!imds_resource_ok(a.resource)) {
        return imds_error(400, "invalid_resource", "The resource is not a valid URI", resp);
    }
    if ((a.client_id != NULL && !imds_is_guid(a.client_id)) ||
        (a.object_id != NULL && !imds_is_guid(a.object_id))) {
        return imds_error(400, "invalid_request", "Identity not found", resp);
    }
    if (a.client_id == NULL) {
        a.client_id = AEMU_IMDS_DEFAULT_CLIENT_ID;
    }
    return imds_token_answer(st, &a, resp);
}

static shd_result imds_thim(void *ctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    const struct aemu_state *st = ((const struct imds_ctx *)ctx)->st;
    if (!imds_has_metadata(req)) {
        return imds_error(400, "invalid_request", "Required metadata header not specified", resp);
    }
    return shd_http_resp_body(200, IMDS_JSON, st->thim_json, strlen(st->thim_json), resp);
}

/* ------------------------------------------------------------------------------------------ */
/* /emu/faults                                                                                 */

static shd_result imds_faults_add(void *ctx, const struct shd_http_req *req,
                                  struct shd_http_resp *resp)
{
    const struct aemu_state *st = ((const struct imds_ctx *)ctx)->st;
    size_t len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    struct aemu_fault f;
    shd_result r = aemu_fault_parse((const char *)body, len, &f);
    if (shd_is_ok(r)) {
        r = aemu_faults_add(&f, st->faults);
    }
    if (shd_is_err(r)) {
        char msg[512];
        (void)shd_error_render(msg, sizeof(msg));
        return shd_http_resp_json_error(400, msg, resp);
    }
    SHD_LOG_KV(SHD_LOG_LEVEL_INFO, "faults", "fault rule added", SHD_LOG_STR("svc", f.service),
               SHD_LOG_STR("path_prefix", f.path_prefix), SHD_LOG_UINT("count", f.count),
               SHD_LOG_UINT("status", f.status), SHD_LOG_UINT("delay_ms", f.delay_ms),
               SHD_LOG_BOOL("drop", f.drop));
    return shd_http_resp_json(201, "{\"status\":\"added\"}", resp);
}

static shd_result imds_faults_clear(void *ctx, const struct shd_http_req *req,
                                    struct shd_http_resp *resp)
{
    (void)req;
    const struct aemu_state *st = ((const struct imds_ctx *)ctx)->st;
    aemu_faults_clear(st->faults);
    SHD_LOG_INFO("faults", "fault rules cleared");
    return shd_http_resp_json(200, "{\"status\":\"cleared\"}", resp);
}

static shd_result imds_faults_list(void *ctx, const struct shd_http_req *req,
                                   struct shd_http_resp *resp)
{
    (void)req;
    const struct aemu_state *st = ((const struct imds_ctx *)ctx)->st;
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(aemu_faults_list(st->faults, &body, &len));
    return shd_http_resp_body(200, IMDS_JSON, body, len, resp);
}

static const struct aemu_route imds_routes[] = {
    {"GET", "/metadata/identity/oauth2/token", imds_token, AEMU_ROUTE_SLASH_OPT},
    {"GET", "/metadata/THIM/amd/certification", imds_thim, AEMU_ROUTE_SLASH_OPT},
    {"POST", "/emu/faults", imds_faults_add, AEMU_ROUTE_EXACT},
    {"DELETE", "/emu/faults", imds_faults_clear, AEMU_ROUTE_EXACT},
    {"GET", "/emu/faults", imds_faults_list, AEMU_ROUTE_EXACT},
};

static void imds_ctx_free(void *ctx)
{
    shd_free(ctx);
}

shd_result aemu_imds_service_new(const struct aemu_state *st, struct aemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct imds_ctx *ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    struct aemu_service tmpl = {
        .name = AEMU_SVC_IMDS,
        .routes = imds_routes,
        .nroutes = sizeof(imds_routes) / sizeof(imds_routes[0]),
        .ctx = ctx,
        .ctx_free = imds_ctx_free,
    };
    shd_result r = aemu_service_new(&tmpl, ret);
    if (shd_is_err(r)) {
        shd_free(ctx);
    }
    return r;
}
