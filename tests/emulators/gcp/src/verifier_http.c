/*
 * verifier_http.c - the Confidential Computing API v1 routes (verifier.h) on the gemu service
 * plug-in shape (gemu.h): locations, challenges, verifyAttestation, verifyConfidentialSpace.
 */
#include <string.h>
#include <time.h>

#include "gemu.h"
#include "tokens.h"
#include "verifier.h"

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/http_server.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define LOG_MODULE "verifier"
#define REGION_MAX 63u

struct verifier_ctx {
    struct gemu_state *st;
    struct gemu_verifier *v;
};

/* Regions ListLocations reports (the instance's own region is added when missing). */
static const char *const known_regions[] = {"asia-east1",  "europe-west1", "europe-west4",
                                            "us-central1", "us-east1",     "us-west1"};

static int64_t now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static bool region_valid(const char *r)
{
    size_t n = strlen(r);

    if (n == 0 || n > REGION_MAX) {
        return false;
    }
    for (const char *p = r; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            return false;
        }
    }
    return true;
}

static shd_result invalid(const char *msg, struct shd_http_resp *resp)
{
    char text[1024];

    snprintf(text, sizeof(text), "The request was invalid: invalid request: %s", msg);
    return gemu_resp_google_error(400, "INVALID_ARGUMENT", text, resp);
}

/*
 * The checks every route shares: `$alt` (google-cloud-go adds "json;enum-encoding=int"), the
 * Bearer token, the project. Returns true when the request may proceed; otherwise resp holds
 * the error answer.
 */
static bool preamble(const struct verifier_ctx *ctx, const struct shd_http_req *req,
                     const char *project, struct shd_http_resp *resp, shd_result *ret)
{
    const char *alt = shd_http_req_query(req, "$alt");
    struct gemu_principal *who = NULL;
    const struct gemu_identity *id = &ctx->st->id;

    if (alt != NULL && strcmp(alt, "json") != 0 && strcmp(alt, "json;enum-encoding=int") != 0) {
        *ret = invalid("unsupported $alt (only json is served)", resp);
        return false;
    }
    if (shd_is_err(gemu_tokens_check_bearer(req, now_s(), ctx->st->tokens, &who))) {
        shd_error_clear();
        *ret = gemu_resp_google_error(
            401, "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            resp);
        return false;
    }
    gemu_principal_free(who);
    if (strcmp(project, id->project_id) != 0 && strcmp(project, id->project_number) != 0) {
        *ret = gemu_resp_google_error(403, "PERMISSION_DENIED",
                                      "Permission 'confidentialcomputing.locations.get' denied "
                                      "on resource (or it may not exist).",
                                      resp);
        return false;
    }
    return true;
}

static shd_result send_json(const json_t *doc, struct shd_http_resp *resp)
{
    SHD_CLEANUP_FREE char *text = NULL;
    size_t len = 0;

    SHD_GUARD(shd_json_go_dump(doc, 0, &text, &len));
    return shd_http_resp_json(200, text, resp);
}

static json_t *location_json(const char *project, const char *region)
{
    char name[320];

    if (snprintf(name, sizeof(name), "projects/%s/locations/%s", project, region) >=
        (int)sizeof(name)) {
        return NULL;
    }
    return json_pack("{s:s,s:s}", "name", name, "locationId", region);
}

static shd_result h_list(void *arg, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct verifier_ctx *ctx = arg;
    struct gemu_path_captures caps;
    SHD_CLEANUP_JSON json_t *locs = json_array();
    SHD_CLEANUP_JSON json_t *doc = NULL;
    char own[GEMU_PATH_CAPTURE_MAX + 1];
    const char *zone = ctx->st->id.zone;
    const char *dash = strrchr(zone, '-');
    bool have_own = false;
    shd_result r = SHD_OK;

    SHD_ENSURE(locs != NULL, SHD_ERR_NOMEM);
    if (!gemu_path_match("/v1/projects/*/locations", shd_http_req_path(req), &caps)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    if (!preamble(ctx, req, caps.v[0], resp, &r)) {
        return r;
    }
    /* util.GetRegion: the zone minus its last "-x". */
    snprintf(own, sizeof(own), "%.*s", dash == NULL ? (int)strlen(zone) : (int)(dash - zone), zone);
    for (size_t i = 0; i < sizeof(known_regions) / sizeof(known_regions[0]); i++) {
        have_own = have_own || strcmp(known_regions[i], own) == 0;
        SHD_ENSURE(json_array_append_new(locs, location_json(caps.v[0], known_regions[i])) == 0,
                   SHD_ERR_NOMEM);
    }
    if (!have_own && region_valid(own)) {
        SHD_ENSURE(json_array_append_new(locs, location_json(caps.v[0], own)) == 0, SHD_ERR_NOMEM);
    }
    doc = json_pack("{s:O}", "locations", locs);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    return send_json(doc, resp);
}

static shd_result h_get(void *arg, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct verifier_ctx *ctx = arg;
    struct gemu_path_captures caps;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    shd_result r = SHD_OK;

    if (!gemu_path_match("/v1/projects/*/locations/*", shd_http_req_path(req), &caps)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    if (!preamble(ctx, req, caps.v[0], resp, &r)) {
        return r;
    }
    if (!region_valid(caps.v[1])) {
        return gemu_resp_google_error(404, "NOT_FOUND", "Location not found.", resp);
    }
    doc = location_json(caps.v[0], caps.v[1]);
    SHD_ENSURE(doc != NULL, SHD_ERR_NOMEM);
    return send_json(doc, resp);
}

static shd_result h_create(void *arg, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct verifier_ctx *ctx = arg;
    struct gemu_path_captures caps;
    struct gemu_challenge ch;
    SHD_CLEANUP_FREE char *text = NULL;
    SHD_CLEANUP_JSON json_t *body = NULL;
    char parent[320];
    size_t len = 0;
    const uint8_t *b = shd_http_req_body(req, &len);
    shd_result r = SHD_OK;

    if (!gemu_path_match("/v1/projects/*/locations/*/challenges", shd_http_req_path(req), &caps)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    if (!preamble(ctx, req, caps.v[0], resp, &r)) {
        return r;
    }
    if (!region_valid(caps.v[1])) {
        return gemu_resp_google_error(404, "NOT_FOUND", "Location not found.", resp);
    }
    /* The body is a Challenge ({}); its fields are output-only. */
    if (len > 0 &&
        (shd_is_err(shd_json_parse((const char *)b, len, NULL, &body)) || !json_is_object(body))) {
        shd_error_clear();
        return invalid("the body must be a JSON object", resp);
    }
    if (snprintf(parent, sizeof(parent), "projects/%s/locations/%s", caps.v[0], caps.v[1]) >=
        (int)sizeof(parent)) {
        return invalid("resource name too long", resp);
    }
    SHD_GUARD(gemu_verifier_challenge_new(parent, ctx->v, &ch));
    SHD_GUARD(gemu_challenge_to_json(&ch, &text));
    shd_memzero(&ch, sizeof(ch));
    return shd_http_resp_json(200, text, resp);
}

static shd_result verify_error(shd_result r, struct shd_http_resp *resp)
{
    char msg[768];

    shd_error_render(msg, sizeof(msg));
    SHD_LOG_INFO(LOG_MODULE, "verification refused: %s", msg);
    if (r.err == SHD_ERR_NOT_FOUND) {
        return gemu_resp_google_error(404, "NOT_FOUND", msg, resp);
    }
    if (shd_error_type_of(r.err) == SHD_ERR_T_INTERNAL) {
        return gemu_resp_google_error(500, "INTERNAL", "Internal error encountered.", resp);
    }
    return invalid(msg, resp);
}

static shd_result h_verify(void *arg, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    static const struct {
        const char *tmpl;
        enum gemu_verify_method method;
        const char *member;
    } kinds[] = {
        {"/v1/projects/*/locations/*/challenges/*:verifyAttestation", GEMU_VERIFY_ATTESTATION,
         "oidcClaimsToken"},
        {"/v1/projects/*/locations/*/challenges/*:verifyConfidentialSpace",
         GEMU_VERIFY_CONFIDENTIAL_SPACE, "attestationToken"},
    };
    struct verifier_ctx *ctx = arg;
    struct gemu_path_captures caps;
    char name[GEMU_CHALLENGE_NAME_MAX + 1];
    char *token = NULL;
    size_t len = 0, out_len = 0;
    const uint8_t *body = shd_http_req_body(req, &len);
    shd_result r = SHD_OK;

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct shd_json_go_field f = {.key = kinds[i].member};
        char *out = NULL;

        if (!gemu_path_match(kinds[i].tmpl, shd_http_req_path(req), &caps)) {
            continue;
        }
        if (!preamble(ctx, req, caps.v[0], resp, &r)) {
            return r;
        }
        if (snprintf(name, sizeof(name), "projects/%s/locations/%s/challenges/%s", caps.v[0],
                     caps.v[1], caps.v[2]) >= (int)sizeof(name)) {
            return gemu_resp_google_error(404, "NOT_FOUND", "challenge not found", resp);
        }
        r = gemu_verifier_verify(kinds[i].method, name, body, len, ctx->v, &token);
        if (shd_is_err(r)) {
            return verify_error(r, resp);
        }
        f.val = token;
        f.val_len = strlen(token);
        r = shd_json_go_dump_strings(&f, 1, &out, &out_len);
        shd_free_wipe(token, f.val_len);
        SHD_GUARD(r);
        shd_http_resp_body_take(200, "application/json", (uint8_t *)out, out_len, out_len + 1,
                                resp);
        return SHD_OK;
    }
    return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
}

static const struct gemu_route verifier_routes[] = {
    {"GET", "/v1/projects/*/locations", h_list, GEMU_ROUTE_PATTERN},
    {"GET", "/v1/projects/*/locations/*", h_get, GEMU_ROUTE_PATTERN},
    {"POST", "/v1/projects/*/locations/*/challenges", h_create, GEMU_ROUTE_PATTERN},
    {"POST", "/v1/projects/*/locations/*/challenges/*:verifyAttestation", h_verify,
     GEMU_ROUTE_PATTERN},
    {"POST", "/v1/projects/*/locations/*/challenges/*:verifyConfidentialSpace", h_verify,
     GEMU_ROUTE_PATTERN},
};

static void verifier_ctx_free(void *arg)
{
    struct verifier_ctx *ctx = arg;

    if (ctx == NULL) {
        return;
    }
    gemu_verifier_free(ctx->v);
    shd_free(ctx);
}

shd_result gemu_verifier_service_new(struct gemu_state *st, struct gemu_service **ret)
{
    struct gemu_verifier_config cfg = {0};
    struct verifier_ctx *ctx;
    struct gemu_service tmpl = {
        .name = GEMU_SVC_VERIFIER,
        .routes = verifier_routes,
        .nroutes = sizeof(verifier_routes) / sizeof(verifier_routes[0]),
        .ctx_free = verifier_ctx_free,
    };
    shd_result r;

    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    cfg.signing_key = st->verifier_key;
    cfg.signing_kid = st->verifier_kid;
    cfg.google_key = st->google_key;
    cfg.google_kid = st->google_kid;
    cfg.ak_root = st->ak_root_cert;
    cfg.project_id = st->id.project_id;
    cfg.project_number = st->id.project_number;
    ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    r = gemu_verifier_new(&cfg, &ctx->v);
    if (shd_is_ok(r)) {
        tmpl.ctx = ctx;
        r = gemu_service_new(&tmpl, ret);
    }
    if (shd_is_err(r)) {
        verifier_ctx_free(ctx);
    }
    return r;
}
