/*
 * mds.c - the metadata server emulator and the emulator's control endpoints (mds.h).
 */
#include "mds.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "emu_files.h"
#include "faults.h"
#include "shd/buf.h"
#include "shd/cleanup.h"
#include "shd/crypto_x509.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "tokens.h"

#define MDS_V1 "/computeMetadata/v1"
#define MDS_SA MDS_V1 "/instance/service-accounts/"
#define MDS_EVENTLOG_MAX (4u * 1024u * 1024u)
#define MDS_TEXT "application/text"

struct mds_ctx {
    struct gemu_state *st;
};

static shd_result mds_flavor(struct shd_http_resp *resp)
{
    return shd_http_resp_header("Metadata-Flavor", "Google", resp);
}

static shd_result mds_text(unsigned status, const char *text, struct shd_http_resp *resp)
{
    SHD_GUARD(shd_http_resp_body(status, MDS_TEXT, text, strlen(text), resp));
    return mds_flavor(resp);
}

static shd_result mds_not_found(struct shd_http_resp *resp)
{
    SHD_GUARD(shd_http_resp_body(404, "text/html; charset=UTF-8", "Not Found\n", 10, resp));
    return mds_flavor(resp);
}

/* The request header check every /computeMetadata/ answer starts with. False: answered 403. */
static bool mds_check_flavor(const struct shd_http_req *req, struct shd_http_resp *resp,
                             shd_result *r)
{
    const char *f = shd_http_req_header(req, "Metadata-Flavor");
    if (f != NULL && strcmp(f, "Google") == 0) {
        return true;
    }
    *r = mds_text(403, "Missing Metadata-Flavor:Google header.\n", resp);
    return false;
}

/* The service-account part of the path: "default" or the VM account's e-mail. */
static bool mds_sa_ok(const struct gemu_state *st, const char *who)
{
    return strcmp(who, "default") == 0 || strcmp(who, st->id.vm_service_account) == 0;
}

static shd_result mds_value(void *vctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct mds_ctx *ctx = vctx;
    const struct gemu_identity *id = &ctx->st->id;
    shd_result r = SHD_OK;
    if (!mds_check_flavor(req, resp, &r)) {
        return r;
    }
    const char *path = shd_http_req_path(req);
    char zone[256];
    (void)snprintf(zone, sizeof(zone), "projects/%s/zones/%s", id->project_number, id->zone);
    struct {
        const char *path;
        const char *value;
    } const values[] = {
        {MDS_V1 "/project/project-id", id->project_id},
        {MDS_V1 "/project/numeric-project-id", id->project_number},
        {MDS_V1 "/instance/id", id->instance_id},
        {MDS_V1 "/instance/name", id->instance_name},
        {MDS_V1 "/instance/zone", zone},
        {MDS_V1 "/instance", "attributes/\nid\nname\nservice-accounts/\nzone\n"},
        {MDS_V1 "/instance/", "attributes/\nid\nname\nservice-accounts/\nzone\n"},
        {MDS_V1 "/instance/service-accounts/", "default/\n"},
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        if (strcmp(path, values[i].path) == 0) {
            return mds_text(200, values[i].value, resp);
        }
    }
    if (strcmp(path, MDS_V1 "/instance/attributes/") == 0) {
        const char *rec = shd_http_req_query(req, "recursive");
        if (rec != NULL && strcasecmp(rec, "true") == 0) {
            SHD_GUARD(shd_http_resp_json(200, "{}", resp));
            return mds_flavor(resp);
        }
        return mds_text(200, "", resp);
    }
    return mds_not_found(resp);
}

static shd_result mds_email(void *vctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct mds_ctx *ctx = vctx;
    shd_result r = SHD_OK;
    if (!mds_check_flavor(req, resp, &r)) {
        return r;
    }
    struct gemu_path_captures c;
    if (!gemu_path_match(MDS_SA "*/email", shd_http_req_path(req), &c) ||
        !mds_sa_ok(ctx->st, c.v[0])) {
        return mds_not_found(resp);
    }
    return mds_text(200, ctx->st->id.vm_service_account, resp);
}

static shd_result mds_token(void *vctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct mds_ctx *ctx = vctx;
    shd_result r = SHD_OK;
    if (!mds_check_flavor(req, resp, &r)) {
        return r;
    }
    struct gemu_path_captures c;
    if (!gemu_path_match(MDS_SA "*/token", shd_http_req_path(req), &c) ||
        !mds_sa_ok(ctx->st, c.v[0])) {
        return mds_not_found(resp);
    }
    struct gemu_principal p = {.kind = GEMU_PRINCIPAL_SERVICE_ACCOUNT,
                               .subject = ctx->st->id.vm_service_account};
    char *tok = NULL;
    SHD_GUARD(gemu_tokens_issue(&p, GEMU_MDS_TOKEN_LIFETIME_S, (int64_t)time(NULL), ctx->st->tokens,
                                &tok, NULL));
    size_t tl = strlen(tok);
    struct shd_buf b;
    shd_buf_init(8192, SHD_BUF_SECRET, &b);
    r = shd_buf_appendf(&b, "{\"access_token\":\"%s\",\"expires_in\":%d,\"token_type\":\"Bearer\"}",
                        tok, GEMU_MDS_TOKEN_LIFETIME_S);
    shd_free_wipe(tok, tl);
    uint8_t *body = NULL;
    size_t len = 0;
    if (shd_is_ok(r)) {
        r = shd_buf_take(&b, &body, &len);
    }
    shd_buf_free(&b);
    SHD_GUARD(r);
    shd_http_resp_body_take(200, "application/json", body, len, len + 1, resp);
    return mds_flavor(resp);
}

shd_result gemu_mds_identity_token(const struct gemu_state *st, const char *audience, bool full,
                                   bool licenses, int64_t now, char **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(audience);
    SHD_ENSURE_REF(ret);
    const struct gemu_identity *id = &st->id;
    SHD_CLEANUP_JSON json_t *claims =
        json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:s,s:s}", "aud", audience, "azp",
                  id->vm_service_account_id, "email", id->vm_service_account, "email_verified", 1,
                  "exp", (json_int_t)(now + GEMU_MDS_ID_TOKEN_LIFETIME_S), "iat", (json_int_t)now,
                  "iss", GEMU_GOOGLE_ISSUER, "sub", id->vm_service_account_id);
    SHD_ENSURE(claims != NULL, SHD_ERR_INPUT);
    if (full) {
        int64_t number = 0;
        for (const char *p = id->project_number; *p != '\0'; p++) {
            number = number * 10 + (*p - '0');
        }
        /* gcp-identity.md 3.5: project_number is a number, instance_id a string. */
        json_t *ce =
            json_pack("{s:I,s:s,s:s,s:s,s:I,s:s}", "instance_creation_timestamp",
                      (json_int_t)id->instance_creation_timestamp, "instance_id", id->instance_id,
                      "instance_name", id->instance_name, "project_id", id->project_id,
                      "project_number", (json_int_t)number, "zone", id->zone);
        SHD_ENSURE(ce != NULL, SHD_ERR_NOMEM);
        if (licenses && json_object_set_new(ce, "license_id", json_array()) != 0) {
            json_decref(ce);
            SHD_BAIL(SHD_ERR_NOMEM);
        }
        SHD_ENSURE(
            json_object_set_new(claims, "google", json_pack("{s:o}", "compute_engine", ce)) == 0,
            SHD_ERR_NOMEM);
    }
    return gemu_jwt_sign(st->google_key, st->google_kid, claims, ret);
}

static shd_result mds_identity(void *vctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    struct mds_ctx *ctx = vctx;
    shd_result r = SHD_OK;
    if (!mds_check_flavor(req, resp, &r)) {
        return r;
    }
    struct gemu_path_captures c;
    if (!gemu_path_match(MDS_SA "*/identity", shd_http_req_path(req), &c) ||
        !mds_sa_ok(ctx->st, c.v[0])) {
        return mds_not_found(resp);
    }
    const char *aud = shd_http_req_query(req, "audience");
    if (aud == NULL || aud[0] == '\0') {
        return mds_text(400, "non-empty audience parameter required\n", resp);
    }
    if (strlen(aud) > GEMU_MDS_AUDIENCE_MAX) {
        return mds_text(400, "audience parameter too long\n", resp);
    }
    const char *fmt = shd_http_req_query(req, "format");
    if (fmt != NULL && strcmp(fmt, "full") != 0 && strcmp(fmt, "standard") != 0) {
        return mds_text(400, "format must be standard or full\n", resp);
    }
    const char *lic = shd_http_req_query(req, "licenses");
    bool full = fmt != NULL && strcmp(fmt, "full") == 0;
    bool licenses = lic != NULL && strcasecmp(lic, "true") == 0;
    SHD_CLEANUP_FREE char *jwt = NULL;
    SHD_GUARD(gemu_mds_identity_token(ctx->st, aud, full, licenses, (int64_t)time(NULL), &jwt));
    SHD_GUARD(shd_http_resp_body(200, "text/html; charset=utf-8", jwt, strlen(jwt), resp));
    return mds_flavor(resp);
}

/* ---- emulator extras ---- */

static shd_result mds_der(X509 *cert, struct shd_http_resp *resp)
{
    SHD_CLEANUP_FREE uint8_t *der = NULL;
    size_t len = 0;
    SHD_GUARD(shd_crypto_x509_export_der(cert, &der, &len));
    return shd_http_resp_body(200, "application/pkix-cert", der, len, resp);
}

static shd_result mds_ak_intermediate(void *vctx, const struct shd_http_req *req,
                                      struct shd_http_resp *resp)
{
    (void)req;
    struct mds_ctx *ctx = vctx;
    return mds_der(ctx->st->ak_ca_cert, resp);
}

static shd_result mds_ak_root(void *vctx, const struct shd_http_req *req,
                              struct shd_http_resp *resp)
{
    (void)req;
    struct mds_ctx *ctx = vctx;
    return mds_der(ctx->st->ak_root_cert, resp);
}

static shd_result mds_eventlog(void *vctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    (void)req;
    struct mds_ctx *ctx = vctx;
    char path[4096];
    SHD_GUARD(emu_path_join(ctx->st->state_dir, GEMU_EVENTLOG_FILE, path, sizeof(path)));
    uint8_t *data = NULL;
    size_t len = 0;
    shd_result r = emu_file_read(path, MDS_EVENTLOG_MAX, EMU_FILE_NOFOLLOW, &data, &len);
    if (shd_is_err(r)) {
        shd_error_clear();
        return shd_http_resp_json_error(404, "no event log (serve with --vtpm)", resp);
    }
    r = shd_http_resp_body(200, "application/octet-stream", data, len, resp);
    shd_free(data);
    return r;
}

static shd_result mds_faults(void *vctx, const struct shd_http_req *req, struct shd_http_resp *resp)
{
    struct mds_ctx *ctx = vctx;
    struct gemu_faults *f = ctx->st->faults;
    const char *method = shd_http_req_method(req);
    if (strcmp(method, "DELETE") == 0) {
        gemu_faults_clear(f);
        return shd_http_resp_json(200, "[]", resp);
    }
    if (strcmp(method, "POST") == 0) {
        size_t len = 0;
        const uint8_t *body = shd_http_req_body(req, &len);
        struct gemu_fault rule;
        shd_result r = gemu_fault_parse((const char *)body, len, &rule);
        if (shd_is_ok(r)) {
            r = gemu_faults_add(&rule, f);
        }
        if (shd_is_err(r)) {
            char msg[512];
            (void)shd_error_render(msg, sizeof(msg));
            shd_error_clear();
            return shd_http_resp_json_error(400, msg, resp);
        }
    }
    SHD_CLEANUP_FREE char *list = NULL;
    size_t len = 0;
    SHD_GUARD(gemu_faults_list(f, &list, &len));
    return shd_http_resp_json(200, list, resp);
}

static shd_result mds_fallback(void *vctx, const struct shd_http_req *req,
                               struct shd_http_resp *resp)
{
    (void)vctx;
    shd_result r = SHD_OK;
    if (strncmp(shd_http_req_path(req), "/computeMetadata/", 17) == 0 &&
        !mds_check_flavor(req, resp, &r)) {
        return r;
    }
    return mds_not_found(resp);
}

static const struct gemu_route mds_routes[] = {
    {"GET", MDS_SA "*/email", mds_email, GEMU_ROUTE_PATTERN},
    {"GET", MDS_SA "*/token", mds_token, GEMU_ROUTE_PATTERN},
    {"GET", MDS_SA "*/identity", mds_identity, GEMU_ROUTE_PATTERN},
    {"GET", MDS_V1 "/", mds_value, GEMU_ROUTE_PREFIX},
    {"GET", MDS_V1 "/instance", mds_value, GEMU_ROUTE_EXACT},
    {"GET", GEMU_AK_INTERMEDIATE_PATH, mds_ak_intermediate, GEMU_ROUTE_EXACT},
    {"GET", GEMU_AK_ROOT_PATH, mds_ak_root, GEMU_ROUTE_EXACT},
    {"GET", GEMU_EVENTLOG_PATH, mds_eventlog, GEMU_ROUTE_EXACT},
    {"GET", "/emu/faults", mds_faults, GEMU_ROUTE_EXACT},
    {"POST", "/emu/faults", mds_faults, GEMU_ROUTE_EXACT},
    {"DELETE", "/emu/faults", mds_faults, GEMU_ROUTE_EXACT},
};

static void mds_ctx_free(void *ctx)
{
    shd_free(ctx);
}

shd_result gemu_mds_service_new(struct gemu_state *st, struct gemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct mds_ctx *ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    struct gemu_service tmpl = {
        .name = GEMU_SVC_MDS,
        .routes = mds_routes,
        .nroutes = sizeof(mds_routes) / sizeof(mds_routes[0]),
        .ctx = ctx,
        .not_found = mds_fallback,
        .ctx_free = mds_ctx_free,
    };
    shd_result r = gemu_service_new(&tmpl, ret);
    if (shd_is_err(r)) {
        shd_free(ctx);
    }
    return r;
}
