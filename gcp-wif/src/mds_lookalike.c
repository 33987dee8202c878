/*
 * mds_lookalike.c - the metadata-server look-alike (mds_lookalike.h).
 */
#include "mds_lookalike.h"

#include <string.h>
#include <time.h>

#include "creds.h"
#include "ctx.h"
#include "reply.h"
#include "shd/buf.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "wif.h"

#define MDS_PREFIX "/computeMetadata/v1/"
#define CT_TEXT "application/text"
#define SA_PREFIX "instance/service-accounts/default/"

typedef shd_result (*mds_fn)(const struct wif_ctx *ctx, const struct shd_http_req *req,
                             struct shd_http_resp *resp);

static shd_result flavor(struct shd_http_resp *resp)
{
    return shd_http_resp_header("Metadata-Flavor", "Google", resp);
}

static shd_result text(unsigned status, const char *s, struct shd_http_resp *resp)
{
    SHD_GUARD(flavor(resp));
    return shd_http_resp_body(status, CT_TEXT, s, strlen(s), resp);
}

static shd_result not_found(struct shd_http_resp *resp)
{
    return text(404, "Not Found\n", resp);
}

/* A failure of the credential chain: logged once, then 500 with the cause (like Google's
 * metadata server, which answers 500 with a text message when it cannot mint a token). */
static shd_result upstream_error(const char *what, shd_result r, struct shd_http_resp *resp)
{
    if (r.err == SHD_ERR_NOMEM) {
        return r;
    }
    (void)SHD_LOG_RESULT(SHD_LOG_LEVEL_WARNING, WIF_LOG_MDS, r, "%s failed", what);
    char chain[SHD_ERROR_FRAME_LEN];
    (void)shd_error_render(chain, sizeof(chain));
    shd_error_clear();
    struct shd_buf b;
    shd_buf_init(sizeof(chain) + 64, 0, &b);
    shd_result w = shd_buf_appendf(&b, "%s: %s\n", what, chain);
    if (shd_is_ok(w)) {
        w = text(r.err == SHD_ERR_USAGE ? 400u : 500u, shd_buf_str(&b), resp);
    }
    shd_buf_free(&b);
    return w;
}

static shd_result h_instance(const struct wif_ctx *ctx, const struct shd_http_req *req,
                             struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return text(200, "id\nname\nservice-accounts/\nzone\n", resp);
}

static shd_result h_token(const struct wif_ctx *ctx, const struct shd_http_req *req,
                          struct shd_http_resp *resp)
{
    (void)req;
    char *tok = NULL;
    size_t len = 0;
    int64_t expiry = 0;
    shd_result r = wif_creds_access_token(ctx->creds, &tok, &len, &expiry);
    if (shd_is_err(r)) {
        return upstream_error("token", r, resp);
    }
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    r = flavor(resp);
    if (shd_is_ok(r)) {
        r = wif_reply_token(tok, len, expiry - (int64_t)ts.tv_sec, resp);
    }
    shd_free_wipe(tok, len + 1);
    return r;
}

static shd_result h_identity(const struct wif_ctx *ctx, const struct shd_http_req *req,
                             struct shd_http_resp *resp)
{
    const char *aud = shd_http_req_query(req, "audience");
    if (aud == NULL || aud[0] == '\0') {
        return text(400, "non-empty audience parameter required\n", resp);
    }
    char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    shd_result r = wif_creds_attestation_token(aud, ctx->creds, &tok, &len, &exp);
    if (shd_is_err(r)) {
        return upstream_error("identity", r, resp);
    }
    r = flavor(resp);
    if (shd_is_ok(r)) {
        shd_http_resp_body_take(200, CT_TEXT, (uint8_t *)tok, len, len + 1, resp);
        return SHD_OK;
    }
    shd_free_wipe(tok, len + 1);
    return r;
}

static shd_result value(const char *v, struct shd_http_resp *resp)
{
    if (v == NULL) {
        return not_found(resp);
    }
    return text(200, v, resp);
}

static shd_result h_email(const struct wif_ctx *ctx, const struct shd_http_req *req,
                          struct shd_http_resp *resp)
{
    (void)req;
    return value(ctx->cfg != NULL ? ctx->cfg->service_account : NULL, resp);
}

static shd_result h_scopes(const struct wif_ctx *ctx, const struct shd_http_req *req,
                           struct shd_http_resp *resp)
{
    (void)ctx;
    (void)req;
    return text(200, WIF_SCOPE_CLOUD_PLATFORM "\n", resp);
}

static shd_result h_project_id(const struct wif_ctx *ctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    (void)req;
    return value(ctx->cfg != NULL ? ctx->cfg->project : NULL, resp);
}

static shd_result h_project_number(const struct wif_ctx *ctx, const struct shd_http_req *req,
                                   struct shd_http_resp *resp)
{
    (void)req;
    return value(ctx->cfg != NULL ? ctx->cfg->project_number : NULL, resp);
}

static shd_result h_zone(const struct wif_ctx *ctx, const struct shd_http_req *req,
                         struct shd_http_resp *resp)
{
    (void)req;
    const struct wif_config *cfg = ctx->cfg;
    if (cfg == NULL || cfg->zone == NULL) {
        return not_found(resp);
    }
    /* projects/<number>/zones/<zone>, as GCE answers (clients keep the last segment). */
    struct shd_buf b;
    shd_buf_init(1024, 0, &b);
    const char *proj = cfg->project_number != NULL ? cfg->project_number
                       : cfg->project != NULL      ? cfg->project
                                                   : "0";
    shd_result r = shd_buf_appendf(&b, "projects/%s/zones/%s", proj, cfg->zone);
    if (shd_is_ok(r)) {
        r = text(200, shd_buf_str(&b), resp);
    }
    shd_buf_free(&b);
    return r;
}

static const struct {
    const char *path; /* below /computeMetadata/v1/ */
    mds_fn fn;
} ROUTES[] = {
    {"instance", h_instance},
    {"instance/", h_instance},
    {SA_PREFIX "token", h_token},
    {SA_PREFIX "identity", h_identity},
    {SA_PREFIX "email", h_email},
    {SA_PREFIX "scopes", h_scopes},
    {"instance/zone", h_zone},
    {"project/project-id", h_project_id},
    {"project/numeric-project-id", h_project_number},
};

static shd_result dispatch(const struct wif_ctx *ctx, const struct shd_http_req *req,
                           struct shd_http_resp *resp)
{
    const char *path = shd_http_req_path(req);
    if (strncmp(path, MDS_PREFIX, strlen(MDS_PREFIX)) != 0) {
        return not_found(resp);
    }
    const char *f = shd_http_req_header(req, "Metadata-Flavor");
    if (f == NULL || strcmp(f, "Google") != 0) {
        return text(403, "Missing Metadata-Flavor:Google header.\n", resp);
    }
    if (shd_http_req_header(req, "X-Forwarded-For") != NULL) {
        return text(403, "Request forbidden: X-Forwarded-For header present.\n", resp);
    }
    if (strcmp(shd_http_req_method(req), "GET") != 0) {
        return text(405, "Method Not Allowed\n", resp);
    }
    const char *rest = path + strlen(MDS_PREFIX);
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        if (strcmp(ROUTES[i].path, rest) == 0) {
            return ROUTES[i].fn(ctx, req, resp);
        }
    }
    return not_found(resp);
}

static shd_result server_handler(void *vctx, const struct shd_http_req *req,
                                 struct shd_http_resp *resp)
{
    shd_result r = dispatch(vctx, req, resp);
    SHD_LOG_KV(SHD_LOG_LEVEL_DEBUG, WIF_LOG_MDS, "request",
               SHD_LOG_STR("method", shd_http_req_method(req)),
               SHD_LOG_STR("path", shd_http_req_path(req)),
               SHD_LOG_UINT("status", shd_is_ok(r) ? shd_http_resp_get_status(resp) : 500u));
    return r;
}

static const struct shd_http_route SERVER_ROUTES[] = {
    {NULL, "/", server_handler, SHD_HTTP_ROUTE_PREFIX},
};

void wif_mds_lookalike_server_options(struct wif_ctx *ctx, struct shd_http_server_options *ret)
{
    *ret = (struct shd_http_server_options){
        .routes = SERVER_ROUTES,
        .nroutes = 1,
        .ctx = ctx,
        .not_found = server_handler,
        .method_not_allowed = server_handler,
        .max_body_bytes = 4096,
    };
}
