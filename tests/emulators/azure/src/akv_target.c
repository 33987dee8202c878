/*
 * akv_target.c - the release target: an attestation token (MAA) verified the way Key Vault
 * does it (azure-formats.md §4.3): find the policy authority that names the token's issuer,
 * fetch <authority>/.well-known/openid-configuration over TLS, then its jwks_uri, verify the
 * token RS256 with the key whose kid the header names, check exp/nbf, evaluate the policy.
 *
 * The issuer is read from the unverified payload only to choose which authority to ask; every
 * decision is made on the verified claims, and the policy evaluator matches the verified iss
 * against the authorities again.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "akv_int.h"
#include "shd/cleanup.h"
#include "shd/codec.h"
#include "shd/errors.h"
#include "shd/jose.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define TARGET_OIDC_PATH "/.well-known/openid-configuration"
#define TARGET_DOC_MAX (256u * 1024u)

SHD_DEFINE_CLEANUP(struct shd_http_response, shd_http_response_free, target_resp_freep)

/* Scheme and host lower-cased, one trailing '/' dropped (release_policy.h's matching rule). */
static bool target_url_norm(const char *s, char *out, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap || n < 9 || strncasecmp(s, "https://", 8) != 0) {
        return false;
    }
    size_t host_end = 8;
    while (host_end < n && s[host_end] != '/') {
        host_end++;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
        out[i] = (i < host_end && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (n > host_end && out[n - 1] == '/') {
        n--;
    }
    out[n] = '\0';
    return true;
}

/* The unverified "iss" (a copy in out), used only to pick the authority to ask for keys. */
static bool target_unverified_iss(const char *token, size_t len, char *out, size_t cap)
{
    const char *dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return false;
    }
    const char *p = dot1 + 1;
    const char *dot2 = memchr(p, '.', len - (size_t)(p - token));
    if (dot2 == NULL) {
        return false;
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (shd_is_err(shd_b64_decode(p, (size_t)(dot2 - p), SHD_B64_URL_NOPAD, &raw, &raw_len))) {
        shd_error_clear();
        return false;
    }
    json_t *claims = NULL;
    bool ok = shd_is_ok(shd_json_parse((const char *)raw, raw_len, NULL, &claims));
    shd_free(raw);
    shd_error_clear();
    const json_t *iss = ok ? json_object_get(claims, "iss") : NULL;
    ok = json_is_string(iss) && json_string_length(iss) < cap;
    if (ok) {
        shd_memcpy(out, json_string_value(iss), json_string_length(iss) + 1);
    }
    json_decref(claims);
    return ok;
}

static shd_result target_get_json(const struct aemu_akv *akv, const char *url, json_t **ret)
{
    struct shd_http_header accept = {"Accept", "application/json"};
    struct shd_http_request req = {
        .method = "GET", .url = url, .headers = &accept, .nheaders = 1};
    SHD_CLEANUP(target_resp_freep) struct shd_http_response *resp = NULL;
    SHD_GUARD(shd_http_client_do(akv->http, &req, &resp, NULL));
    int status = shd_http_response_status(resp);
    SHD_ENSURE_MSG(status == 200, SHD_ERR_HTTP_STATUS, "GET %s: status %d", url, status);
    size_t len = 0;
    const uint8_t *body = shd_http_response_body(resp, &len);
    struct shd_json_limits lim = {.max_bytes = TARGET_DOC_MAX};
    SHD_GUARD_CTX(shd_json_parse((const char *)body, len, &lim, ret), "GET %s", url);
    return SHD_OK;
}

/* OIDC discovery and the key set of an authority. */
static shd_result target_jwks(const struct aemu_akv *akv, const char *authority, json_t **ret)
{
    char url[AKV_URL_MAX];
    size_t n = strlen(authority);
    if (n > 0 && authority[n - 1] == '/') {
        n--;
    }
    int k = snprintf(url, sizeof(url), "%.*s%s", (int)n, authority, TARGET_OIDC_PATH);
    SHD_ENSURE(k > 0 && (size_t)k < sizeof(url), SHD_ERR_TOO_LARGE);
    SHD_CLEANUP_JSON json_t *meta = NULL;
    SHD_GUARD(target_get_json(akv, url, &meta));
    const char *jwks_uri = NULL;
    SHD_GUARD_CTX(shd_json_get_string(meta, "jwks_uri", &jwks_uri), "OpenID metadata");
    SHD_ENSURE_MSG(strncmp(jwks_uri, "https://", 8) == 0, SHD_ERR_INPUT,
                   "OpenID metadata: jwks_uri is not an https URL");
    json_t *jwks = NULL;
    SHD_GUARD(target_get_json(akv, jwks_uri, &jwks));
    if (!json_is_array(json_object_get(jwks, "keys"))) {
        json_decref(jwks);
        SHD_BAIL_MSG(SHD_ERR_INPUT, "the key set has no keys array");
    }
    *ret = jwks;
    return SHD_OK;
}

static void target_msg(char *msg, size_t cap, const char *what)
{
    char cause[SHD_ERROR_FRAME_LEN];
    shd_error_render(cause, sizeof(cause));
    shd_error_clear();
    snprintf(msg, cap, "%s: %s", what, cause);
}

/* Verifies jws with the authority's keys; an outcome other than OK leaves a message. */
static shd_result target_verify(struct aemu_akv *akv, const char *authority, struct shd_jws *jws,
                                enum akv_target_outcome *ret, char *msg, size_t cap)
{
    SHD_CLEANUP_JSON json_t *jwks = NULL;
    shd_result r = target_jwks(akv, authority, &jwks);
    if (shd_is_err(r)) {
        if (r.err == SHD_ERR_NOMEM) {
            return r;
        }
        char what[AKV_URL_MAX + 96];
        snprintf(what, sizeof(what),
                 "AKV.SKR.1012: The specified attestation service %s cannot be reached",
                 authority);
        target_msg(msg, cap, what);
        *ret = AKV_TARGET_UNREACHABLE;
        return SHD_OK;
    }
    r = shd_jws_verify_jwks(jwks, SHD_JWS_RS256, jws);
    if (shd_is_ok(r)) {
        struct shd_jwt_rules rules;
        shd_jwt_rules_init(&rules);
        r = shd_jwt_check(&rules, jws, NULL);
    }
    if (shd_is_err(r)) {
        if (r.err == SHD_ERR_NOMEM) {
            return r;
        }
        target_msg(msg, cap, "Target environment attestation statement cannot be verified");
        *ret = AKV_TARGET_BAD;
        return SHD_OK;
    }
    *ret = AKV_TARGET_OK;
    return SHD_OK;
}

/* The authority of the policy that names iss, or NULL. */
static const char *target_authority(const struct aemu_release_policy *policy, const char *iss)
{
    char want[AKV_URL_MAX];
    char have[AKV_URL_MAX];
    if (!target_url_norm(iss, want, sizeof(want))) {
        return NULL;
    }
    for (size_t i = 0; i < aemu_release_policy_authority_count(policy); i++) {
        const char *a = aemu_release_policy_authority(policy, i);
        if (target_url_norm(a, have, sizeof(have)) && strcmp(have, want) == 0) {
            return a;
        }
    }
    return NULL;
}

static shd_result target_deny_no_authority(const struct aemu_key_version *v, const char *iss,
                                           enum akv_target_outcome *ret, char *msg, size_t cap)
{
    /* Let the evaluator word the denial: with no matching authority it looks at no claim. */
    SHD_CLEANUP_JSON json_t *none = json_object();
    SHD_ENSURE(none != NULL, SHD_ERR_NOMEM);
    struct aemu_release_verdict verdict;
    SHD_GUARD(aemu_release_policy_evaluate(v->policy, iss, none, &verdict));
    SHD_ENSURE(!verdict.allowed, SHD_ERR_INTERNAL);
    snprintf(msg, cap, "%s", verdict.message);
    *ret = AKV_TARGET_DENIED;
    return SHD_OK;
}

static shd_result target_check_jws(struct aemu_akv *akv, const struct aemu_key_version *v,
                                   struct shd_jws *jws, const char *iss,
                                   enum akv_target_outcome *ret, char *msg, size_t cap,
                                   json_t **ret_claims)
{
    const char *authority = target_authority(v->policy, iss);
    if (authority == NULL) {
        return target_deny_no_authority(v, iss, ret, msg, cap);
    }
    SHD_GUARD(target_verify(akv, authority, jws, ret, msg, cap));
    if (*ret != AKV_TARGET_OK) {
        return SHD_OK;
    }
    const json_t *claims = NULL;
    SHD_GUARD(shd_jws_payload_json(jws, &claims));
    const json_t *viss = json_object_get(claims, "iss");
    SHD_ENSURE(json_is_string(viss), SHD_ERR_INTERNAL);
    struct aemu_release_verdict verdict;
    SHD_GUARD(aemu_release_policy_evaluate(v->policy, json_string_value(viss), claims, &verdict));
    if (!verdict.allowed) {
        snprintf(msg, cap, "%s", verdict.message);
        *ret = AKV_TARGET_DENIED;
        return SHD_OK;
    }
    /* A copy: the verified claims belong to jws, which the caller frees. */
    json_t *copy = json_deep_copy(claims);
    SHD_ENSURE(copy != NULL, SHD_ERR_NOMEM);
    *ret_claims = copy;
    return SHD_OK;
}

shd_result akv_target_check(struct aemu_akv *akv, const struct aemu_key_version *v,
                            const char *target, size_t len, enum akv_target_outcome *ret_outcome,
                            char *msg, size_t msg_cap, json_t **ret_claims)
{
    SHD_ENSURE_REF(akv);
    SHD_ENSURE_REF(v);
    SHD_ENSURE_REF(v->policy);
    SHD_ENSURE_REF(target);
    SHD_ENSURE_REF(ret_outcome);
    SHD_ENSURE_REF(ret_claims);
    SHD_ENSURE(msg != NULL && msg_cap > 0, SHD_ERR_NULL);
    msg[0] = '\0';
    char iss[AKV_URL_MAX];
    struct shd_jws *jws = NULL;
    if (shd_is_err(shd_jws_parse(target, len, AKV_TARGET_MAX, &jws))) {
        target_msg(msg, msg_cap, "Target environment attestation statement is not a valid JWT");
        *ret_outcome = AKV_TARGET_BAD;
        return SHD_OK;
    }
    if (!target_unverified_iss(target, len, iss, sizeof(iss))) {
        shd_jws_free(&jws);
        snprintf(msg, msg_cap, "Target environment attestation statement has no issuer");
        *ret_outcome = AKV_TARGET_BAD;
        return SHD_OK;
    }
    json_t *claims = NULL;
    enum akv_target_outcome outcome = AKV_TARGET_BAD;
    shd_result r = target_check_jws(akv, v, jws, iss, &outcome, msg, msg_cap, &claims);
    shd_jws_free(&jws);
    SHD_GUARD(r);
    *ret_outcome = outcome;
    if (outcome == AKV_TARGET_OK) {
        *ret_claims = claims;
    }
    return SHD_OK;
}
