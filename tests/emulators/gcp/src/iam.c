/*
 * iam.c - IAM policy evaluation and the IAM Credentials emulator (iam.h).
 */
#include "iam.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/log.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define IAM_EMAIL_MAX 254u

/* Which permissions each role we know grants (a small subset of Google's role catalogue). */
struct iam_role {
    const char *role;
    const char *const *permissions;
};

static const char *const iam_perm_wi_user[] = {GEMU_IAM_PERM_GET_ACCESS_TOKEN, NULL};
static const char *const iam_perm_token_creator[] = {
    GEMU_IAM_PERM_GET_ACCESS_TOKEN, "iam.serviceAccounts.getOpenIdToken",
    "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt", NULL};
static const char *const iam_perm_decrypter[] = {"cloudkms.cryptoKeyVersions.useToDecrypt", NULL};
static const char *const iam_perm_encrypter[] = {"cloudkms.cryptoKeyVersions.useToEncrypt", NULL};
static const char *const iam_perm_enc_dec[] = {"cloudkms.cryptoKeyVersions.useToEncrypt",
                                               "cloudkms.cryptoKeyVersions.useToDecrypt", NULL};
static const char *const iam_perm_viewer[] = {"cloudkms.cryptoKeyVersions.viewPublicKey", NULL};
static const char *const iam_perm_kms_admin[] = {"cloudkms.keyRings.create",
                                                 "cloudkms.keyRings.get",
                                                 "cloudkms.cryptoKeys.create",
                                                 "cloudkms.cryptoKeys.get",
                                                 "cloudkms.cryptoKeyVersions.viewPublicKey",
                                                 NULL};
static const char *const iam_perm_cc_user[] = {
    "confidentialcomputing.challenges.create", "confidentialcomputing.challenges.verify",
    "confidentialcomputing.locations.get", "confidentialcomputing.locations.list", NULL};

static const struct iam_role iam_roles[] = {
    {"roles/iam.workloadIdentityUser", iam_perm_wi_user},
    {"roles/iam.serviceAccountTokenCreator", iam_perm_token_creator},
    {"roles/cloudkms.cryptoKeyDecrypter", iam_perm_decrypter},
    {"roles/cloudkms.cryptoKeyEncrypter", iam_perm_encrypter},
    {"roles/cloudkms.cryptoKeyEncrypterDecrypter", iam_perm_enc_dec},
    {"roles/cloudkms.publicKeyViewer", iam_perm_viewer},
    {"roles/cloudkms.admin", iam_perm_kms_admin},
    {"roles/confidentialcomputing.workloadUser", iam_perm_cc_user},
};

bool gemu_iam_role_has(const char *role, const char *permission)
{
    if (role == NULL || permission == NULL) {
        return false;
    }
    /* Basic roles: owner grants everything we model. */
    if (strcmp(role, "roles/owner") == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof(iam_roles) / sizeof(iam_roles[0]); i++) {
        if (strcmp(iam_roles[i].role, role) != 0) {
            continue;
        }
        for (const char *const *p = iam_roles[i].permissions; *p != NULL; p++) {
            if (strcmp(*p, permission) == 0) {
                return true;
            }
        }
    }
    return false;
}

bool gemu_iam_policy_allows(const json_t *policy, const char *permission,
                            const struct gemu_principal *p)
{
    if (policy == NULL || permission == NULL || p == NULL) {
        return false;
    }
    const json_t *bindings = json_object_get(policy, "bindings");
    size_t i = 0;
    const json_t *b = NULL;
    json_array_foreach(bindings, i, b)
    {
        const json_t *role = json_object_get(b, "role");
        if (!json_is_string(role) || !gemu_iam_role_has(json_string_value(role), permission)) {
            continue;
        }
        size_t k = 0;
        const json_t *m = NULL;
        json_array_foreach(json_object_get(b, "members"), k, m)
        {
            if (json_is_string(m) && gemu_principal_matches(json_string_value(m), p)) {
                return true;
            }
        }
    }
    return false;
}

shd_result gemu_iam_duration_parse(const char *s, int64_t max_s, int64_t *ret_s)
{
    SHD_ENSURE_REF(s);
    SHD_ENSURE_REF(ret_s);
    size_t n = strlen(s);
    SHD_ENSURE_MSG(n >= 2 && n <= 32 && s[n - 1] == 's', SHD_ERR_INPUT,
                   "invalid duration (want e.g. \"3600s\")");
    int64_t v = 0;
    size_t i = 0;
    for (; i < n - 1 && s[i] != '.'; i++) {
        SHD_ENSURE_MSG(s[i] >= '0' && s[i] <= '9' && i < 12, SHD_ERR_INPUT, "invalid duration");
        v = v * 10 + (s[i] - '0');
    }
    SHD_ENSURE_MSG(i > 0, SHD_ERR_INPUT, "invalid duration");
    if (s[i] == '.') {
        /* Up to nine fraction digits, ignored (lifetimes are whole seconds). */
        size_t frac = 0;
        for (i++; i < n - 1; i++, frac++) {
            SHD_ENSURE_MSG(s[i] >= '0' && s[i] <= '9', SHD_ERR_INPUT, "invalid duration");
        }
        SHD_ENSURE_MSG(frac >= 1 && frac <= 9, SHD_ERR_INPUT, "invalid duration");
    }
    SHD_ENSURE_MSG(v <= max_s, SHD_ERR_INPUT, "duration %llds exceeds %llds", (long long)v,
                   (long long)max_s);
    *ret_s = v;
    return SHD_OK;
}

shd_result gemu_rfc3339(int64_t t, char out[static 31])
{
    time_t tt = (time_t)t;
    struct tm tm;
    SHD_ENSURE(gmtime_r(&tt, &tm) != NULL, SHD_ERR_INPUT);
    size_t n = strftime(out, 31, "%Y-%m-%dT%H:%M:%S.000000000Z", &tm);
    SHD_ENSURE(n == 30, SHD_ERR_INPUT);
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The service                                                                                 */

struct iam_ctx {
    struct gemu_state *st;
};

/* The config.json "serviceAccounts" entry of email, or NULL. */
static const json_t *iam_find_account(const struct gemu_state *st, const char *email)
{
    size_t i = 0;
    const json_t *a = NULL;
    json_array_foreach(json_object_get(st->config, "serviceAccounts"), i, a)
    {
        const json_t *e = json_object_get(a, "email");
        if (json_is_string(e) && strcmp(json_string_value(e), email) == 0) {
            return a;
        }
    }
    return NULL;
}

static shd_result iam_bad_request(const char *msg, struct shd_http_resp *resp)
{
    return gemu_resp_google_error(400, "INVALID_ARGUMENT", msg, resp);
}

/* Reads {"scope":[..],"lifetime":"Ns","delegates":[]}; answers 400 itself on bad input. */
static shd_result iam_parse_request(const struct shd_http_req *req, int64_t *ret_lifetime,
                                    bool *ret_ok, struct shd_http_resp *resp)
{
    *ret_ok = false;
    SHD_CLEANUP_JSON json_t *doc = NULL;
    if (shd_is_err(gemu_json_body(req, &doc))) {
        shd_error_clear();
        return iam_bad_request("Invalid JSON payload received.", resp);
    }
    const json_t *scope = json_object_get(doc, "scope");
    if (scope != NULL && !json_is_array(scope)) {
        return iam_bad_request("Invalid value at 'scope'.", resp);
    }
    const json_t *delegates = json_object_get(doc, "delegates");
    if (delegates != NULL && (!json_is_array(delegates) || json_array_size(delegates) > 0)) {
        return iam_bad_request("Delegation chains are not supported by this emulator.", resp);
    }
    int64_t lifetime = GEMU_IAM_DEFAULT_LIFETIME_S;
    const char *lt = NULL;
    if (shd_is_err(shd_json_get_string_opt(doc, "lifetime", &lt))) {
        shd_error_clear();
        return iam_bad_request("Invalid value at 'lifetime'.", resp);
    }
    if (lt != NULL) {
        if (shd_is_err(gemu_iam_duration_parse(lt, GEMU_IAM_MAX_LIFETIME_S, &lifetime)) ||
            lifetime == 0) {
            shd_error_clear();
            return iam_bad_request("The lifetime requested is not valid: it must be between 1 "
                                   "and 43200 seconds.",
                                   resp);
        }
    }
    *ret_lifetime = lifetime;
    *ret_ok = true;
    return SHD_OK;
}

static shd_result iam_generate_access_token(void *vctx, const struct shd_http_req *req,
                                            struct shd_http_resp *resp)
{
    struct iam_ctx *ctx = vctx;
    struct gemu_state *st = ctx->st;
    struct gemu_path_captures caps;
    if (!gemu_path_match("/v1/projects/*/serviceAccounts/*:generateAccessToken",
                         shd_http_req_path(req), &caps)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    char email[IAM_EMAIL_MAX + 1];
    if (shd_is_err(gemu_pct_decode(caps.v[1], email, sizeof(email)))) {
        shd_error_clear();
        return iam_bad_request("Invalid service account email.", resp);
    }
    int64_t now = (int64_t)time(NULL);
    struct gemu_principal *caller = NULL;
    if (shd_is_err(gemu_tokens_check_bearer(req, now, st->tokens, &caller))) {
        shd_error_clear();
        return gemu_resp_unauthenticated(resp);
    }
    shd_result r = SHD_OK;
    const json_t *account = iam_find_account(st, email);
    if (account == NULL) {
        char msg[IAM_EMAIL_MAX + 64];
        (void)snprintf(msg, sizeof(msg), "Not found; Gaia id not found for email %s", email);
        r = gemu_resp_google_error(404, "NOT_FOUND", msg, resp);
    } else if (!gemu_iam_policy_allows(json_object_get(account, "iamPolicy"),
                                       GEMU_IAM_PERM_GET_ACCESS_TOKEN, caller)) {
        r = gemu_resp_permission_denied(GEMU_IAM_PERM_GET_ACCESS_TOKEN, NULL, "iam.googleapis.com",
                                        resp);
    } else {
        int64_t lifetime = 0;
        bool ok = false;
        r = iam_parse_request(req, &lifetime, &ok, resp);
        char *tok = NULL;
        int64_t expiry = 0;
        struct gemu_principal sa = {.kind = GEMU_PRINCIPAL_SERVICE_ACCOUNT, .subject = email};
        if (shd_is_ok(r) && ok) {
            r = gemu_tokens_issue(&sa, lifetime, now, st->tokens, &tok, &expiry);
        }
        char exp[31];
        if (tok != NULL && shd_is_ok(r)) {
            r = gemu_rfc3339(expiry, exp);
        }
        if (tok != NULL && shd_is_ok(r)) {
            struct shd_json_go_field f[] = {{"accessToken", tok, strlen(tok)},
                                            {"expireTime", exp, strlen(exp)}};
            char *body = NULL;
            size_t len = 0;
            r = shd_json_go_dump_strings(f, 2, &body, &len);
            if (shd_is_ok(r)) {
                shd_http_resp_body_take(200, "application/json; charset=UTF-8", (uint8_t *)body,
                                        len, len + 1, resp);
            }
        }
        if (tok != NULL) {
            shd_free_wipe(tok, strlen(tok));
        }
    }
    gemu_principal_free(caller);
    return r;
}

/*
 * GET /v1/projects/{id or number}: the Cloud Resource Manager look-up google-auth-library makes
 * for getProjectId when the credential file names "cloud_resource_manager_url" (real-clients.md
 * 1.5). Served here so that one listener covers the whole external_account flow.
 */
static shd_result iam_get_project(void *vctx, const struct shd_http_req *req,
                                  struct shd_http_resp *resp)
{
    struct iam_ctx *ctx = vctx;
    const struct gemu_identity *id = &ctx->st->id;
    struct gemu_path_captures caps;
    if (!gemu_path_match("/v1/projects/*", shd_http_req_path(req), &caps)) {
        return gemu_resp_google_error(404, "NOT_FOUND", "The requested URL was not found.", resp);
    }
    struct gemu_principal *caller = NULL;
    if (shd_is_err(gemu_tokens_check_bearer(req, (int64_t)time(NULL), ctx->st->tokens, &caller))) {
        shd_error_clear();
        return gemu_resp_unauthenticated(resp);
    }
    gemu_principal_free(caller);
    if (strcmp(caps.v[0], id->project_id) != 0 && strcmp(caps.v[0], id->project_number) != 0) {
        return gemu_resp_permission_denied("resourcemanager.projects.get", NULL,
                                           "cloudresourcemanager.googleapis.com", resp);
    }
    struct shd_json_go_field f[] = {
        {"projectNumber", id->project_number, strlen(id->project_number)},
        {"projectId", id->project_id, strlen(id->project_id)},
        {"lifecycleState", "ACTIVE", 6},
        {"name", id->project_id, strlen(id->project_id)},
    };
    SHD_CLEANUP_FREE char *body = NULL;
    size_t len = 0;
    SHD_GUARD(shd_json_go_dump_strings(f, 4, &body, &len));
    return shd_http_resp_json(200, body, resp);
}

static const struct gemu_route iam_routes[] = {
    {"GET", "/v1/projects/*", iam_get_project, GEMU_ROUTE_PATTERN},
    {"POST", "/v1/projects/*/serviceAccounts/*:generateAccessToken", iam_generate_access_token,
     GEMU_ROUTE_PATTERN},
};

static void iam_ctx_free(void *ctx)
{
    shd_free(ctx);
}

shd_result gemu_iam_service_new(struct gemu_state *st, struct gemu_service **ret)
{
    SHD_ENSURE_REF(st);
    SHD_ENSURE_REF(ret);
    struct iam_ctx *ctx = shd_alloc(sizeof(*ctx));
    SHD_ENSURE(ctx != NULL, SHD_ERR_NOMEM);
    ctx->st = st;
    struct gemu_service tmpl = {
        .name = GEMU_SVC_IAM,
        .routes = iam_routes,
        .nroutes = sizeof(iam_routes) / sizeof(iam_routes[0]),
        .ctx = ctx,
        .ctx_free = iam_ctx_free,
    };
    shd_result r = gemu_service_new(&tmpl, ret);
    if (shd_is_err(r)) {
        shd_free(ctx);
    }
    return r;
}
