/*
 * sts_verify.c - the STS provider registry and the subject-token checks (sts_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gemu.h"
#include "shd/cleanup.h"
#include "shd/errors.h"
#include "shd/json.h"
#include "shd/jws.h"
#include "shd/mem.h"
#include "shd/safety.h"
#include "sts.h"
#include "sts_int.h"

#define STS_IAM_PREFIX "//iam.googleapis.com/"
#define STS_IAM_HTTPS_PREFIX "https://iam.googleapis.com/"
#define STS_MAX_DOC (256u * 1024u)

/* ------------------------------------------------------------------------------------------ */
/* Registry                                                                                    */

static void sts_provider_free(struct gemu_sts_provider *p)
{
    if (p == NULL) {
        return;
    }
    shd_free(p->name);
    shd_free(p->pool);
    shd_free(p->issuer);
    if (p->audiences != NULL) {
        json_decref(p->audiences);
    }
    if (p->jwks != NULL) {
        json_decref(p->jwks);
    }
    for (size_t i = 0; i < p->nmappings; i++) {
        shd_free(p->mappings[i].target);
        gemu_cel_free(p->mappings[i].expr);
    }
    gemu_cel_free(p->condition);
    shd_free(p);
}

void gemu_sts_registry_clear(struct gemu_sts_registry *reg)
{
    if (reg == NULL) {
        return;
    }
    for (size_t i = 0; i < reg->n; i++) {
        sts_provider_free(reg->providers[i]);
    }
    reg->n = 0;
}

static bool sts_bool_member(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

static shd_result sts_load_mapping(const json_t *cfg, struct gemu_sts_provider *p)
{
    const json_t *map = json_object_get(cfg, "attributeMapping");
    SHD_ENSURE_MSG(json_is_object(map), SHD_ERR_CONFIG, "attributeMapping is required");
    SHD_ENSURE_MSG(json_is_string(json_object_get(map, "google.subject")), SHD_ERR_CONFIG,
                   "attributeMapping must map google.subject");
    const char *key = NULL;
    const json_t *val = NULL;
    json_object_foreach((json_t *)(uintptr_t)map, key, val)
    {
        SHD_ENSURE_MSG(p->nmappings < GEMU_STS_MAX_MAPPINGS, SHD_ERR_CONFIG,
                       "too many attribute mappings");
        SHD_ENSURE_MSG(strcmp(key, "google.subject") == 0 || strcmp(key, "google.groups") == 0 ||
                           strncmp(key, "attribute.", 10) == 0,
                       SHD_ERR_CONFIG, "cannot map '%s'", key);
        SHD_ENSURE_MSG(json_is_string(val), SHD_ERR_CONFIG, "mapping of '%s' is not a string", key);
        struct gemu_sts_mapping *m = &p->mappings[p->nmappings];
        m->target = shd_strdup(key);
        SHD_ENSURE(m->target != NULL, SHD_ERR_NOMEM);
        p->nmappings++;
        SHD_GUARD_CTX(gemu_cel_parse(json_string_value(val), &m->expr), "mapping of '%s'", key);
    }
    return SHD_OK;
}

static shd_result sts_load_provider(const json_t *pool, const json_t *cfg,
                                    struct gemu_sts_provider *p)
{
    const char *pool_name = NULL;
    const char *name = NULL;
    SHD_GUARD(shd_json_get_string(pool, "name", &pool_name));
    SHD_GUARD(shd_json_get_string(cfg, "name", &name));
    size_t pl = strlen(pool_name);
    SHD_ENSURE_MSG(strncmp(name, pool_name, pl) == 0 && strncmp(name + pl, "/providers/", 11) == 0,
                   SHD_ERR_CONFIG, "provider %s is not in pool %s", name, pool_name);
    p->name = shd_strdup(name);
    p->pool = shd_strdup(pool_name);
    SHD_ENSURE(p->name != NULL && p->pool != NULL, SHD_ERR_NOMEM);
    p->disabled = sts_bool_member(pool, "disabled") || sts_bool_member(cfg, "disabled");
    json_t *oidc = NULL;
    SHD_GUARD(shd_json_get_object(cfg, "oidc", &oidc));
    const char *iss = NULL;
    SHD_GUARD(shd_json_get_string(oidc, "issuerUri", &iss));
    SHD_ENSURE_MSG(strncmp(iss, "https://", 8) == 0, SHD_ERR_CONFIG, "issuerUri must be https");
    size_t il = strlen(iss);
    /* gcp-identity.md 4.5: providers are configured with a trailing '/', tokens carry none. */
    while (il > 8 && iss[il - 1] == '/') {
        il--;
    }
    p->issuer = shd_strndup(iss, il);
    SHD_ENSURE(p->issuer != NULL, SHD_ERR_NOMEM);
    json_t *aud = json_object_get(oidc, "allowedAudiences");
    p->audiences = aud != NULL ? json_incref(aud) : json_array();
    SHD_ENSURE_MSG(json_is_array(p->audiences), SHD_ERR_CONFIG, "allowedAudiences is not an array");
    const char *jwks = NULL;
    SHD_GUARD(shd_json_get_string_opt(oidc, "jwksJson", &jwks));
    if (jwks != NULL) {
        SHD_GUARD_CTX(shd_json_parse(jwks, strlen(jwks), NULL, &p->jwks), "jwksJson");
        SHD_ENSURE_MSG(json_is_array(json_object_get(p->jwks, "keys")), SHD_ERR_CONFIG,
                       "jwksJson has no keys");
    }
    SHD_GUARD(sts_load_mapping(cfg, p));
    const char *cond = NULL;
    SHD_GUARD(shd_json_get_string_opt(cfg, "attributeCondition", &cond));
    if (cond != NULL && cond[0] != '\0') {
        SHD_GUARD_CTX(gemu_cel_parse(cond, &p->condition), "attributeCondition");
    }
    return SHD_OK;
}

shd_result gemu_sts_registry_load(const json_t *config, struct gemu_sts_registry *reg)
{
    SHD_ENSURE_REF(config);
    SHD_ENSURE_REF(reg);
    size_t i = 0;
    const json_t *pool = NULL;
    json_array_foreach(json_object_get(config, "workloadIdentityPools"), i, pool)
    {
        size_t k = 0;
        const json_t *cfg = NULL;
        json_array_foreach(json_object_get(pool, "providers"), k, cfg)
        {
            SHD_ENSURE_MSG(reg->n < GEMU_STS_MAX_PROVIDERS, SHD_ERR_CONFIG, "too many providers");
            struct gemu_sts_provider *p = shd_alloc(sizeof(*p));
            SHD_ENSURE(p != NULL, SHD_ERR_NOMEM);
            reg->providers[reg->n++] = p;
            shd_result r = sts_load_provider(pool, cfg, p);
            if (shd_is_err(r)) {
                shd_error_wrap("workloadIdentityPools[%zu].providers[%zu]", i, k);
                return r;
            }
        }
    }
    return SHD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                      */

static void sts_fail(struct gemu_sts_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sts_fail(struct gemu_sts_error *err, const char *code, const char *fmt, ...)
{
    err->error = code;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err->description, sizeof(err->description), fmt, ap);
    va_end(ap);
}

/* The provider resource of an audience "//iam.googleapis.com/<provider>", or NULL. */
static const char *sts_audience_resource(const char *aud)
{
    if (strncmp(aud, STS_IAM_PREFIX, sizeof(STS_IAM_PREFIX) - 1) != 0) {
        return NULL;
    }
    const char *res = aud + sizeof(STS_IAM_PREFIX) - 1;
    struct gemu_path_captures c;
    if (!gemu_path_match("projects/*/locations/global/workloadIdentityPools/*/providers/*", res,
                         &c)) {
        return NULL;
    }
    return res;
}

static const struct gemu_sts_provider *sts_find(const struct gemu_sts_registry *reg,
                                                const char *resource)
{
    for (size_t i = 0; i < reg->n; i++) {
        if (strcmp(reg->providers[i]->name, resource) == 0) {
            return reg->providers[i];
        }
    }
    return NULL;
}

/* GET url through client into a parsed JSON object; false (err set) on any failure. */
static bool sts_fetch_json(const struct shd_http_client *client, const char *url, json_t **ret,
                           struct gemu_sts_error *err)
{
    struct shd_http_request rq = {.method = "GET", .url = url};
    struct shd_http_response *resp = NULL;
    if (client == NULL || shd_is_err(shd_http_client_do(client, &rq, &resp, NULL))) {
        char msg[256];
        (void)shd_error_render(msg, sizeof(msg));
        shd_error_clear();
        sts_fail(err, "invalid_grant", "Unable to fetch %s: %s", url, msg);
        return false;
    }
    bool ok = false;
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);
    struct shd_json_limits lim = {.max_bytes = STS_MAX_DOC};
    if (shd_http_response_status(resp) != 200) {
        sts_fail(err, "invalid_grant", "Unable to fetch %s: HTTP %d", url,
                 shd_http_response_status(resp));
    } else if (shd_is_err(shd_json_parse((const char *)body, len, &lim, ret)) ||
               !json_is_object(*ret)) {
        shd_error_clear();
        if (*ret != NULL) {
            json_decref(*ret);
            *ret = NULL;
        }
        sts_fail(err, "invalid_grant", "The document at %s is not a JSON object.", url);
    } else {
        ok = true;
    }
    shd_http_response_free(resp);
    return ok;
}

/* The provider's JWKS: inline, or discovery -> jwks_uri. *ret: new reference. */
static bool sts_jwks(const struct gemu_sts_provider *p, const struct shd_http_client *client,
                     json_t **ret, struct gemu_sts_error *err)
{
    if (p->jwks != NULL) {
        *ret = json_incref(p->jwks);
        return true;
    }
    char url[1024];
    (void)snprintf(url, sizeof(url), "%s%s", p->issuer, GEMU_DISCOVERY_PATH);
    json_t *disc = NULL;
    if (!sts_fetch_json(client, url, &disc, err)) {
        return false;
    }
    const json_t *uri = json_object_get(disc, "jwks_uri");
    bool ok = json_is_string(uri) && strncmp(json_string_value(uri), "https://", 8) == 0 &&
              strlen(json_string_value(uri)) < sizeof(url);
    if (ok) {
        (void)snprintf(url, sizeof(url), "%s", json_string_value(uri));
    } else {
        sts_fail(err, "invalid_grant", "The discovery document of %s has no https jwks_uri.",
                 p->issuer);
    }
    json_decref(disc);
    return ok && sts_fetch_json(client, url, ret, err);
}

/* Signature check: alg RS256/ES256 from the header, a kid, a key of the issuer. */
static bool sts_verify_signature(const struct gemu_sts_provider *p,
                                 const struct shd_http_client *client, struct shd_jws *jws,
                                 struct gemu_sts_error *err)
{
    const json_t *alg_v = json_object_get(shd_jws_header(jws), "alg");
    const char *alg_s = json_is_string(alg_v) ? json_string_value(alg_v) : "";
    enum shd_jws_alg alg = SHD_JWS_RS256;
    if (strcmp(alg_s, "RS256") == 0) {
        alg = SHD_JWS_RS256;
    } else if (strcmp(alg_s, "ES256") == 0) {
        alg = SHD_JWS_ES256;
    } else {
        sts_fail(err, "invalid_grant",
                 "The ID Token's signing algorithm is not supported; "
                 "use RS256 or ES256.");
        return false;
    }
    if (shd_jws_kid(jws) == NULL) {
        sts_fail(err, "invalid_grant", "The ID Token does not have a \"kid\" header.");
        return false;
    }
    json_t *jwks = NULL;
    if (!sts_jwks(p, client, &jwks, err)) {
        return false;
    }
    shd_result r = shd_jws_verify_jwks(jwks, alg, jws);
    json_decref(jwks);
    if (shd_is_ok(r)) {
        return true;
    }
    int code = shd_error_code();
    shd_error_clear();
    if (code == SHD_ERR_NOT_FOUND) {
        sts_fail(err, "invalid_grant",
                 "The ID Token's key id was not found in the issuer's "
                 "JWKS.");
    } else {
        sts_fail(err, "invalid_grant", "The ID Token's signature could not be verified.");
    }
    return false;
}

static bool sts_int_claim(const json_t *claims, const char *key, bool required, int64_t *ret,
                          struct gemu_sts_error *err)
{
    const json_t *v = json_object_get(claims, key);
    if (v == NULL && !required) {
        return true;
    }
    if (!json_is_integer(v) && !json_is_real(v)) {
        sts_fail(err, "invalid_grant", "The ID Token's \"%s\" claim is missing or not a number.",
                 key);
        return false;
    }
    *ret = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)json_real_value(v);
    return true;
}

static bool sts_aud_ok(const struct gemu_sts_provider *p, const char *aud)
{
    if (json_array_size(p->audiences) == 0) {
        /* Default audiences (gcp-identity.md 4.4): the provider's full name with either prefix. */
        size_t a = sizeof(STS_IAM_PREFIX) - 1;
        size_t b = sizeof(STS_IAM_HTTPS_PREFIX) - 1;
        return (strncmp(aud, STS_IAM_PREFIX, a) == 0 && strcmp(aud + a, p->name) == 0) ||
               (strncmp(aud, STS_IAM_HTTPS_PREFIX, b) == 0 && strcmp(aud + b, p->name) == 0);
    }
    size_t i = 0;
    const json_t *v = NULL;
    json_array_foreach(p->audiences, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), aud) == 0) {
            return true;
        }
    }
    return false;
}

static bool sts_check_claims(const struct gemu_sts_provider *p, const json_t *claims, int64_t now,
                             struct gemu_sts_error *err)
{
    const json_t *iss = json_object_get(claims, "iss");
    if (!json_is_string(iss)) {
        sts_fail(err, "invalid_grant", "The ID Token does not have an \"iss\" claim.");
        return false;
    }
    const char *is = json_string_value(iss);
    size_t il = strlen(is);
    while (il > 8 && is[il - 1] == '/') {
        il--;
    }
    if (il != strlen(p->issuer) || strncmp(is, p->issuer, il) != 0) {
        sts_fail(err, "invalid_grant",
                 "The issuer in ID Token %.200s does not match the expected ones: %.200s.", is,
                 p->issuer);
        return false;
    }
    const json_t *aud = json_object_get(claims, "aud");
    bool aud_ok = json_is_string(aud) && sts_aud_ok(p, json_string_value(aud));
    size_t i = 0;
    const json_t *a = NULL;
    json_array_foreach(aud, i, a)
    {
        aud_ok = aud_ok || (json_is_string(a) && sts_aud_ok(p, json_string_value(a)));
    }
    if (!aud_ok) {
        const json_t *first = json_is_array(aud) ? json_array_get(aud, 0) : aud;
        sts_fail(err, "invalid_grant",
                 "The audience in ID Token [%.200s] does not match the expected audience.",
                 json_is_string(first) ? json_string_value(first) : "");
        return false;
    }
    int64_t iat = 0;
    int64_t exp = 0;
    int64_t nbf = 0;
    if (!sts_int_claim(claims, "iat", true, &iat, err) ||
        !sts_int_claim(claims, "exp", true, &exp, err) ||
        !sts_int_claim(claims, "nbf", false, &nbf, err)) {
        return false;
    }
    if (iat > now + GEMU_STS_SKEW_S || nbf > now + GEMU_STS_SKEW_S) {
        sts_fail(err, "invalid_grant", "ID Token issued at %lld is not yet valid.", (long long)iat);
        return false;
    }
    if (exp + GEMU_STS_SKEW_S <= now) {
        sts_fail(err, "invalid_grant", "ID Token issued at %lld has expired at %lld.",
                 (long long)iat, (long long)exp);
        return false;
    }
    if (exp - iat > GEMU_STS_MAX_TOKEN_LIFETIME_S || exp < iat) {
        sts_fail(err, "invalid_grant",
                 "The ID Token's lifetime (exp - iat) must be less than 48 hours.");
        return false;
    }
    const json_t *sub = json_object_get(claims, "sub");
    if (!json_is_string(sub) || json_string_length(sub) == 0) {
        sts_fail(err, "invalid_grant", "The ID Token does not have a \"sub\" claim.");
        return false;
    }
    return true;
}

/* Evaluates the mapping into {"google.subject":..,"attribute.x":..}. */
static bool sts_map(const struct gemu_sts_provider *p, const json_t *claims, json_t *out,
                    struct gemu_sts_error *err)
{
    struct gemu_cel_var vars[] = {{"assertion", claims}};
    for (size_t i = 0; i < p->nmappings; i++) {
        const struct gemu_sts_mapping *m = &p->mappings[i];
        json_t *v = NULL;
        if (shd_is_err(gemu_cel_eval(m->expr, vars, 1, &v))) {
            char msg[256];
            (void)shd_error_render(msg, sizeof(msg));
            shd_error_clear();
            sts_fail(err, "invalid_grant", "The attribute mapping of '%s' failed: %s", m->target,
                     msg);
            return false;
        }
        bool is_groups = strcmp(m->target, "google.groups") == 0;
        bool ok = json_is_string(v) || (is_groups && json_is_array(v));
        if (ok && strcmp(m->target, "google.subject") == 0 &&
            json_string_length(v) > GEMU_STS_SUBJECT_MAX) {
            json_decref(v);
            sts_fail(err, "invalid_grant",
                     "The mapped attribute 'google.subject' exceeds the %u byte limit.",
                     GEMU_STS_SUBJECT_MAX);
            return false;
        }
        if (!ok || json_object_set_new(out, m->target, v) != 0) {
            if (!ok) {
                json_decref(v);
            }
            sts_fail(err, "invalid_grant", "The attribute mapping of '%s' must give a string.",
                     m->target);
            return false;
        }
    }
    return true;
}

/* attribute = {"x": v} from "attribute.x"; google = {"subject": ..}. */
static bool sts_condition(const struct gemu_sts_provider *p, const json_t *claims,
                          const json_t *mapped, struct gemu_sts_error *err)
{
    if (p->condition == NULL) {
        return true;
    }
    SHD_CLEANUP_JSON json_t *attribute = json_object();
    SHD_CLEANUP_JSON json_t *google = json_object();
    bool ok = attribute != NULL && google != NULL;
    const char *key = NULL;
    json_t *val = NULL;
    json_object_foreach((json_t *)(uintptr_t)mapped, key, val)
    {
        if (ok && strncmp(key, "attribute.", 10) == 0) {
            ok = json_object_set(attribute, key + 10, val) == 0;
        } else if (ok && strncmp(key, "google.", 7) == 0) {
            ok = json_object_set(google, key + 7, val) == 0;
        }
    }
    bool result = false;
    struct gemu_cel_var vars[] = {
        {"assertion", claims}, {"attribute", attribute}, {"google", google}};
    if (ok && shd_is_err(gemu_cel_eval_bool(p->condition, vars, 3, &result))) {
        shd_error_clear();
        result = false;
    }
    if (!ok || !result) {
        sts_fail(err, "unauthorized_client",
                 "The given credential is rejected by the attribute condition.");
        return false;
    }
    return true;
}

static bool sts_check_request(const struct gemu_sts_request *rq, struct gemu_sts_error *err)
{
    if (rq->grant_type == NULL || strcmp(rq->grant_type, GEMU_STS_GRANT_TYPE) != 0) {
        sts_fail(err, rq->grant_type == NULL ? "invalid_request" : "unsupported_grant_type",
                 "Invalid value for \"grant_type\". Expected " GEMU_STS_GRANT_TYPE ".");
        return false;
    }
    if (rq->requested_token_type != NULL &&
        strcmp(rq->requested_token_type, GEMU_STS_TOKEN_TYPE_ACCESS) != 0) {
        sts_fail(err, "invalid_request", "Invalid value for \"requested_token_type\".");
        return false;
    }
    if (rq->subject_token_type == NULL ||
        (strcmp(rq->subject_token_type, GEMU_STS_TOKEN_TYPE_JWT) != 0 &&
         strcmp(rq->subject_token_type, GEMU_STS_TOKEN_TYPE_ID) != 0)) {
        sts_fail(err, "invalid_request", "Invalid value for \"subject_token_type\".");
        return false;
    }
    if (rq->subject_token == NULL || rq->subject_token[0] == '\0') {
        sts_fail(err, "invalid_request", "Missing required field \"subject_token\".");
        return false;
    }
    return true;
}

shd_result gemu_sts_exchange(const struct gemu_sts_registry *reg,
                             const struct shd_http_client *client,
                             const struct gemu_sts_request *rq, int64_t now,
                             struct gemu_principal **ret_principal, struct gemu_sts_error *err)
{
    SHD_ENSURE_REF(reg);
    SHD_ENSURE_REF(rq);
    SHD_ENSURE_REF(ret_principal);
    SHD_ENSURE_REF(err);
    shd_memzero(err, sizeof(*err));
    if (!sts_check_request(rq, err)) {
        return SHD_OK;
    }
    const char *res = rq->audience != NULL ? sts_audience_resource(rq->audience) : NULL;
    if (res == NULL) {
        sts_fail(err, "invalid_request",
                 "Invalid value for \"audience\". This value should be the full resource name "
                 "of the Identity Provider. See "
                 "https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for "
                 "the list of possible formats.");
        return SHD_OK;
    }
    const struct gemu_sts_provider *p = sts_find(reg, res);
    if (p == NULL || p->disabled) {
        sts_fail(err, "invalid_target",
                 "The target service indicated by the \"audience\" parameters is invalid. This "
                 "might either be because the pool or provider is disabled or deleted or "
                 "because it doesn't exist.");
        return SHD_OK;
    }
    struct shd_jws *jws = NULL;
    if (shd_is_err(shd_jws_parse(rq->subject_token, strlen(rq->subject_token), 0, &jws))) {
        shd_error_clear();
        sts_fail(err, "invalid_grant", "Unable to parse the ID Token.");
        return SHD_OK;
    }
    shd_result r = SHD_OK;
    const json_t *claims = NULL;
    SHD_CLEANUP_JSON json_t *mapped = json_object();
    if (mapped == NULL) {
        r = shd_error_set(SHD_ERR_NOMEM, __FILE__, __LINE__);
    } else if (sts_verify_signature(p, client, jws, err)) {
        if (shd_is_err(shd_jws_payload_json(jws, &claims)) || !json_is_object(claims)) {
            shd_error_clear();
            sts_fail(err, "invalid_grant", "The ID Token's payload is not a JSON object.");
        } else if (sts_check_claims(p, claims, now, err) && sts_map(p, claims, mapped, err) &&
                   sts_condition(p, claims, mapped, err)) {
            const json_t *sub = json_object_get(mapped, "google.subject");
            struct gemu_principal fed = {.kind = GEMU_PRINCIPAL_FEDERATED,
                                         .subject = (char *)(uintptr_t)json_string_value(sub),
                                         .pool = p->pool,
                                         .attributes = mapped};
            r = gemu_principal_copy(&fed, ret_principal);
        }
    }
    shd_jws_free(&jws);
    return r;
}
