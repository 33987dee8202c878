/*
 * aad.c - Key Vault's bearer challenge and token check (aad.h).
 */
#include "aad.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "shd/errors.h"
#include "shd/jose.h"
#include "shd/json.h"
#include "shd/mem.h"
#include "shd/safety.h"

#define AAD_TENANT_MAX 64u

static bool aad_tenant_ok(const char *t)
{
    size_t n = strnlen(t, AAD_TENANT_MAX + 1);
    if (n == 0 || n > AAD_TENANT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

shd_result aemu_aad_challenge(bool managed_hsm, const char *tenant, char *out, size_t cap)
{
    SHD_ENSURE_REF(tenant);
    SHD_ENSURE_REF(out);
    SHD_ENSURE_MSG(aad_tenant_ok(tenant), SHD_ERR_CONFIG, "tenant id is not a GUID-like token");
    /* The value goes into a header: the tenant check above keeps quotes and CR/LF out. */
    int n = snprintf(out, cap, "Bearer authorization=\"%s%s\", resource=\"%s\"",
                     managed_hsm ? AEMU_AAD_AUTHORITY_MHSM : AEMU_AAD_AUTHORITY_VAULT, tenant,
                     managed_hsm ? AEMU_AAD_RESOURCE_MHSM : AEMU_AAD_RESOURCE_VAULT);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0) {
            out[0] = '\0';
        }
        SHD_BAIL(SHD_ERR_TOO_LARGE);
    }
    return SHD_OK;
}

/* "Bearer <token>" (scheme case-insensitive, RFC 9110 §11.1) -> the token, or NULL. */
static const char *aad_bearer_token(const char *authorization, size_t *ret_len)
{
    if (authorization == NULL) {
        return NULL;
    }
    const char *p = authorization;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
        return NULL;
    }
    p += 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    *ret_len = n;
    return p;
}

static bool aad_aud_matches(const char *aud, const char *resource)
{
    size_t rn = strlen(resource);
    size_t an = strlen(aud);
    return strncmp(aud, resource, rn) == 0 && (an == rn || (an == rn + 1 && aud[rn] == '/'));
}

/* Audience: a string, or an array of which one entry matches (RFC 7519 §4.1.3). */
static bool aad_aud_check(const json_t *claims, const char *resource, char *msg, size_t cap)
{
    const json_t *aud = json_object_get(claims, "aud");
    const char *shown = "";
    if (json_is_string(aud)) {
        shown = json_string_value(aud);
        if (aad_aud_matches(shown, resource)) {
            return true;
        }
    } else if (json_is_array(aud)) {
        size_t i;
        const json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (json_is_string(v) && aad_aud_matches(json_string_value(v), resource)) {
                return true;
            }
        }
    }
    /* The real service's wording (AKV10022); the found value is peer data: cut and quote-free. */
    char found[128];
    size_t k = 0;
    for (const char *s = shown; *s != '\0' && k + 1 < sizeof(found); s++) {
        found[k++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') ? *s : '?';
    }
    found[k] = '\0';
    snprintf(msg, cap, "AKV10022: Invalid audience. Expected %s, found: %s.", resource, found);
    return false;
}

static void aad_deny(const char *what, char *msg, size_t cap)
{
    char cause[SHD_ERROR_FRAME_LEN];
    shd_error_render(cause, sizeof(cause));
    shd_error_clear();
    snprintf(msg, cap, "Token validation failed: %s: %s.", what, cause);
}

static shd_result aad_check_token(const struct aemu_aad_verifier *ver, const char *token,
                                  size_t len, char *msg, size_t cap, bool *ret_ok)
{
    *ret_ok = false;
    struct shd_jws *jws = NULL;
    if (shd_is_err(shd_jws_parse(token, len, AEMU_AAD_TOKEN_MAX, &jws))) {
        aad_deny("malformed token", msg, cap);
        return SHD_OK;
    }
    shd_result r = shd_jws_verify_key(ver->issuer_key, SHD_JWS_RS256, jws);
    if (shd_is_err(r)) {
        shd_jws_free(&jws);
        if (r.err == SHD_ERR_NOMEM) {
            return r;
        }
        aad_deny("signature", msg, cap);
        return SHD_OK;
    }
    const json_t *claims = NULL;
    if (shd_is_err(shd_jws_payload_json(jws, &claims)) || !json_is_object(claims)) {
        shd_jws_free(&jws);
        aad_deny("claims", msg, cap);
        return SHD_OK;
    }
    if (!aad_aud_check(claims, ver->resource, msg, cap)) {
        shd_jws_free(&jws);
        return SHD_OK;
    }
    const json_t *iss = json_object_get(claims, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), ver->issuer) != 0) {
        shd_jws_free(&jws);
        snprintf(msg, cap, "AKV10032: Invalid issuer. Expected %s.", ver->issuer);
        return SHD_OK;
    }
    struct shd_jwt_rules rules;
    shd_jwt_rules_init(&rules);
    rules.now = ver->now;
    if (shd_is_err(shd_jwt_claims_check(claims, &rules))) {
        shd_jws_free(&jws);
        aad_deny("lifetime", msg, cap);
        return SHD_OK;
    }
    shd_jws_free(&jws);
    *ret_ok = true;
    return SHD_OK;
}

shd_result aemu_aad_check(const struct aemu_aad_verifier *ver, const char *authorization,
                          enum aemu_aad_outcome *ret_outcome, char *msg, size_t msg_cap)
{
    SHD_ENSURE_REF(ver);
    SHD_ENSURE_REF(ver->issuer_key);
    SHD_ENSURE_REF(ver->issuer);
    SHD_ENSURE_REF(ver->resource);
    SHD_ENSURE_REF(ret_outcome);
    SHD_ENSURE(msg != NULL && msg_cap > 0, SHD_ERR_NULL);
    msg[0] = '\0';
    size_t len = 0;
    const char *token = aad_bearer_token(authorization, &len);
    if (token == NULL) {
        *ret_outcome = AEMU_AAD_MISSING;
        return SHD_OK;
    }
    bool ok = false;
    SHD_GUARD(aad_check_token(ver, token, len, msg, msg_cap, &ok));
    *ret_outcome = ok ? AEMU_AAD_OK : AEMU_AAD_INVALID;
    return SHD_OK;
}
